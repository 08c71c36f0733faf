//! Malformed and mutated specs give diagnostics, never a panic. Deterministic and
//! bounded, so it runs in every CI build; `fuzz/` has the open-ended cargo-fuzz target.

use std::panic::{AssertUnwindSafe, catch_unwind};

use cast_codegen::{Generator, Settings, Source};
use serde_json::{Value, json};

/// xorshift64*: a fixed seed gives the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replaces the `target`-th node (pre-order) with `replacement`, or drops a key of it.
fn mutate(value: &mut Value, target: &mut usize, replacement: &Value, drop_key: bool) -> bool {
    if *target == 0 {
        if drop_key
            && let Value::Object(map) = value
            && let Some(key) = map.keys().next().cloned()
        {
            map.remove(&key);
        } else {
            *value = replacement.clone();
        }
        return true;
    }
    *target -= 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|item| mutate(item, target, replacement, drop_key)),
        Value::Object(map) => map.values_mut().any(|item| mutate(item, target, replacement, drop_key)),
        _ => false,
    }
}

fn generate(bytes: &[u8]) -> Result<(), String> {
    let generator = Generator::new(Settings::default().with_all_enabled());
    match catch_unwind(AssertUnwindSafe(|| {
        generator.generate(bytes, &Source::new("mutant.json"))
    })) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(diagnostics)) if !diagnostics.is_empty() => Ok(()),
        Ok(Err(_)) => Err("failed without a diagnostic".to_owned()),
        Err(_) => Err("panicked".to_owned()),
    }
}

#[test]
fn structural_mutations_never_panic() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let seeds = [
        "examples/test-server/openapi.json",
        "tests/specs/hostile-names-3.0.yaml",
        "tests/specs/cycles-3.0.yaml",
        "tests/specs/idioms-3.1.yaml",
        "tests/specs/idioms-2.0.json",
        "tests/wire/wire-3.0.json",
    ];
    let replacements = [
        json!(null),
        json!(7),
        json!(-1.5e308),
        json!("x"),
        json!(""),
        json!({}),
        json!([]),
        json!({ "$ref": "#/components/schemas/Missing" }),
        json!({ "$ref": "#" }),
        json!({ "type": ["array", "null"], "items": { "$ref": "#/paths" } }),
        json!([{ "name": "", "in": "path" }]),
        json!({ "{x}": { "get": {} } }),
    ];
    let mut rng = Rng(0x00C0_FFEE_D00D_F00D);
    let mut failures = Vec::new();
    let mut runs = 0;
    for seed in seeds {
        let text = std::fs::read_to_string(format!("{root}/{seed}")).expect("seed spec");
        let doc: Value = if seed.ends_with(".json") {
            serde_json::from_str(&text).expect("json")
        } else {
            yaml_serde::from_str(&text).expect("yaml")
        };
        let nodes = count_nodes(&doc);
        for _ in 0..250 {
            let mut mutant = doc.clone();
            for _ in 0..1 + rng.below(3) {
                let mut target = rng.below(nodes);
                let replacement = &replacements[rng.below(replacements.len())];
                let drop_key = rng.below(4) == 0;
                mutate(&mut mutant, &mut target, replacement, drop_key);
            }
            let bytes = serde_json::to_vec(&mutant).expect("serialize");
            runs += 1;
            if let Err(why) = generate(&bytes) {
                failures.push(format!(
                    "{seed}: {why}: {}",
                    String::from_utf8_lossy(&bytes).chars().take(300).collect::<String>()
                ));
            }
        }
        // Byte-level damage too: truncations and flipped bytes of the raw file.
        for _ in 0..100 {
            let mut bytes = text.clone().into_bytes();
            if rng.below(2) == 0 {
                bytes.truncate(rng.below(bytes.len()));
            } else {
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 << rng.below(8);
            }
            runs += 1;
            if let Err(why) = generate(&bytes) {
                failures.push(format!("{seed} (bytes): {why}"));
            }
        }
    }
    assert!(runs >= 2000);
    assert!(
        failures.is_empty(),
        "{} of {runs} mutants failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
