//! Measures Cast's token estimate (`cast_codegen::cost::BYTES_PER_TOKEN`) against OpenAI's
//! `o200k_base` tokenizer on the `tools/list` payload of every corpus spec, with default
//! settings. Run once when the estimate or the payload's shape changes:
//!
//! ```sh
//! cargo run --release -p cast-e2e --features tokenizer --bin token-estimate
//! ```

use cast_codegen::{Generator, Source, cost};
use cast_e2e::{report, workspace_root};

fn main() {
    let bpe = tiktoken_rs::o200k_base().expect("the o200k_base ranks are in the crate");
    let dir = workspace_root().join("tests/corpus");
    let mut specs: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "yaml"))
        .collect();
    specs.sort();
    println!(
        "| spec | tools/list bytes | o200k tokens | bytes per token | estimate | error |\n|---|---:|---:|---:|---:|---:|"
    );
    let (mut all_bytes, mut all_tokens) = (0usize, 0usize);
    let mut worst: f64 = 0.0;
    for spec in specs {
        let source = Source::new(&spec.display().to_string());
        let Ok(generated) = Generator::new(report::settings(&spec)).generate_source(&source) else {
            continue;
        };
        let tools: Vec<serde_json::Value> = generated.api.enabled_tools().map(|t| cost::listed(t, true)).collect();
        if tools.is_empty() {
            continue;
        }
        let text = serde_json::json!({ "tools": tools }).to_string();
        let tokens = bpe.encode_ordinary(&text).len();
        let estimate = cost::estimate_tokens(text.len());
        let error = (estimate as f64 - tokens as f64) / tokens as f64;
        worst = worst.max(error.abs());
        (all_bytes, all_tokens) = (all_bytes + text.len(), all_tokens + tokens);
        println!(
            "| {} | {} | {tokens} | {:.2} | {estimate} | {:+.1}% |",
            spec.file_name().expect("name").to_string_lossy(),
            text.len(),
            text.len() as f64 / tokens as f64,
            100.0 * error
        );
    }
    println!(
        "\nAll: {all_bytes} bytes, {all_tokens} tokens, {:.2} bytes per token; the estimate's worst error {:.1}%.",
        all_bytes as f64 / all_tokens as f64,
        100.0 * worst
    );
}
