//! The corpus report: for every spec under `tests/corpus` and `tests/specs`, what the
//! generated server costs an agent and whether its tools can work, with generation time
//! and peak memory measured in a process of its own per spec. Writes
//! `tests/corpus/REPORT.md` and exits non-zero when a target is missed.
//!
//! ```sh
//! cargo run --release -p cast-e2e --bin corpus-report
//! ```

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};

use cast_codegen::{Generator, Source};
use cast_e2e::{
    report::{self, Lean, Row},
    workspace_root,
};

/// The file name the synthetic spec's row starts with.
const SYNTHETIC: &str = "synthetic-stress";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, spec] = args.as_slice()
        && flag == "--one"
    {
        return measure_one(Path::new(spec));
    }
    let mut rows = Vec::new();
    for spec in report_specs() {
        let output = Command::new(&args[0]).arg("--one").arg(&spec).output();
        match output {
            Ok(output) if output.status.success() => {
                let line = String::from_utf8_lossy(&output.stdout);
                match parse_row(&spec, &line) {
                    Some(row) => rows.push(row),
                    None => {
                        eprintln!("{}: unreadable measurement: {line}", spec.display());
                        return ExitCode::FAILURE;
                    }
                }
            }
            Ok(output) => {
                eprintln!("{}: {}", spec.display(), String::from_utf8_lossy(&output.stderr));
                return ExitCode::FAILURE;
            }
            Err(err) => {
                eprintln!("cannot run {}: {err}", args[0]);
                return ExitCode::FAILURE;
            }
        }
    }
    // The synthetic spec is a worst case for comparison across versions, not an API a
    // user brings: it is shown, and held to no target.
    let missed: Vec<String> = rows
        .iter()
        .filter(|row| !row.spec.starts_with(SYNTHETIC))
        .flat_map(report::missed_targets)
        .collect();
    let mut text = String::from(
        "# Corpus report\n\nWhat each spec the tests use becomes with default settings (destructive and deprecated \
         operations off), measured by `cargo run --release -p cast-e2e --bin corpus-report`, which rewrites this \
         file. Generation time and peak memory are of a release build generating in a process of its own \
         (parse, lower, emit; nothing written). Byte counts are of the JSON `tools/list` sends; \"duplicated \
         bytes\" is the share of schema bytes that repeat a subtree of 128 bytes or more sent earlier in the same \
         list. \"lean\" is `output_schemas = false` with `[schemas] examples = false, max_description_chars = 120`; \
         \"catalog mode\" is `[tools] mode = \"catalog\"`, three tools in front of every operation; \"deferred\" is what \
         a client that defers schemas (Claude Code, Codex) shows the model: tool names and instructions. Tokens are \
         estimated at 4 bytes each (measured against o200k_base: BENCHMARKS.md). Targets: no invalid schema, no credential argument, no name told apart by a hash alone, no \
         description that is only method and path, no deprecated tool served by default, no input schema over \
         64 kB, no spec over 2 s or 500 MB to generate. The last row is synthetic (`cast_e2e::stress_spec`: 2,000 \
         components in mutual reference cycles, each of its 400 tools carrying its family of 100), a worst case \
         kept for comparison and held to no target.\n\n",
    );
    text.push_str(&report::markdown(&rows));
    text.push_str(&match missed.is_empty() {
        true => "\nEvery target is met.\n".to_owned(),
        false => format!(
            "\nMissed:\n\n{}\n",
            missed.iter().map(|m| format!("- {m}\n")).collect::<String>()
        ),
    });
    let path = workspace_root().join("tests/corpus/REPORT.md");
    if let Err(err) = std::fs::write(&path, &text) {
        eprintln!("cannot write {}: {err}", path.display());
        return ExitCode::FAILURE;
    }
    println!("{text}");
    if missed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Every spec the tests use, and a generated stress spec.
fn report_specs() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut specs = report::specs();
    // Shaped like large payment and CRM APIs: 2,000 mutually referencing, expandable
    // components, which once took generation past the machine's memory.
    let stress = root.join(format!("target/corpus-report/{SYNTHETIC}-2000-components.json"));
    let written = std::fs::create_dir_all(stress.parent().expect("a folder")).and_then(|()| {
        std::fs::write(
            &stress,
            serde_json::to_vec(&cast_e2e::stress_spec(20, 100, 200)).unwrap_or_default(),
        )
    });
    match written {
        Ok(()) => specs.push(stress),
        Err(err) => eprintln!("cannot write {}: {err}", stress.display()),
    }
    specs
}

/// In the child: generate once, print the row's numbers as one JSON line.
fn measure_one(spec: &Path) -> ExitCode {
    let started = Instant::now();
    let source = Source::new(&spec.display().to_string());
    let generated = match Generator::new(report::settings(spec)).generate_source(&source) {
        Ok(generated) => generated,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return ExitCode::FAILURE;
        }
    };
    let millis = started.elapsed().as_millis();
    let peak_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    let mut row = report::row(spec, &generated);
    drop(generated);
    // After the measured run, so neither its time nor its memory counts.
    let bytes_with = |lean| {
        Generator::new(report::lean_settings(spec, lean))
            .generate_source(&source)
            .ok()
            .map(|generated| report::list_bytes(&generated))
    };
    row.lean_bytes = bytes_with(Lean::All);
    row.no_examples_bytes = bytes_with(Lean::NoExamples);
    row.short_descriptions_bytes = bytes_with(Lean::ShortDescriptions);
    println!("{}", report::to_json(&row, millis, peak_kib));
    ExitCode::SUCCESS
}

fn parse_row(spec: &Path, line: &str) -> Option<Row> {
    let mut row = report::from_json(line.trim())?;
    if row.spec.is_empty() {
        row.spec = spec.file_name()?.to_string_lossy().into_owned();
    }
    Some(row)
}
