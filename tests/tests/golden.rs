//! Golden crates: each spec below is generated and compared byte for byte with the
//! crate committed under `tests/golden/NAME/`; the committed crates must build
//! without a warning under clippy. Bless changes with `CAST_BLESS=1 cargo test --test golden`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use cast_codegen::{Generator, Settings, Source};
use cast_e2e::{generated_cargo, workspace_root};

/// (golden folder name, spec path, settings)
fn cases() -> Vec<(String, PathBuf, Settings)> {
    let root = workspace_root();
    let mut cases = vec![(
        "cast-test-api-mcp".to_owned(),
        root.join("examples/test-server/openapi.json"),
        Settings::default(),
    )];
    // Real specs from the corpus that exercise bodies, styles and servers.
    for spec in [
        "petstore-expanded-3.0.yaml",
        "uspto-3.0.yaml",
        "twilio-api-v2010-3.0.json",
        "asana-3.0.yaml",
    ] {
        let stem = spec.rsplit_once('.').map_or(spec, |(stem, _)| stem).replace('.', "-");
        // One golden serves a destructive tool, so a confirmed tool is compiled too.
        let settings = match spec {
            "petstore-expanded-3.0.yaml" => Settings::default().with_enabled("deletePet"),
            _ => Settings::default(),
        };
        cases.push((format!("{stem}-mcp"), root.join("tests/corpus").join(spec), settings));
    }
    // Hand-written edge cases: one spec each, generated with the defaults.
    let mut specs: Vec<PathBuf> = std::fs::read_dir(root.join("tests/specs"))
        .expect("tests/specs")
        .flatten()
        .map(|e| e.path())
        .collect();
    specs.sort();
    for spec in specs {
        let stem = spec.file_stem().expect("name").to_string_lossy().replace('.', "-");
        cases.push((format!("{stem}-mcp"), spec, Settings::default()));
    }
    cases
}

fn golden_dir(name: &str) -> PathBuf {
    workspace_root().join("tests/golden").join(name)
}

fn generate(name: &str, spec: &Path, settings: Settings) -> BTreeMap<String, String> {
    // Goldens live three levels below the root: the runtime path is fixed, so output is too.
    let settings = settings.with_name(name).with_runtime_path("../../../cast-runtime");
    let source = Source::new(spec.to_str().expect("UTF-8 path"));
    Generator::new(settings)
        .generate_source(&source)
        .unwrap_or_else(|d| panic!("{name}: {d}"))
        .files
}

fn committed(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(dir)
                .expect("inside")
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "Cargo.lock" || rel == "target" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(rel, std::fs::read_to_string(&path).expect("golden files are text"));
            }
        }
    }
    files
}

#[test]
fn generated_crates_match_the_goldens() {
    let bless = std::env::var_os("CAST_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, spec, settings) in cases() {
        let name = name.as_str();
        let fresh = generate(name, &spec, settings.clone());
        assert_eq!(
            fresh,
            generate(name, &spec, settings),
            "{name}: generation is not deterministic"
        );
        let dir = golden_dir(name);
        if bless {
            let _ = std::fs::remove_dir_all(dir.join("src"));
            cast_codegen::write::write(&fresh, &dir, true).expect("bless");
            continue;
        }
        let old = committed(&dir);
        for (path, text) in &fresh {
            match old.get(path) {
                None => stale.push(format!("{name}/{path}: missing from the golden")),
                Some(old_text) if old_text != text => stale.push(format!("{name}/{path}: differs")),
                Some(_) => {}
            }
        }
        stale.extend(
            old.keys()
                .filter(|p| !fresh.contains_key(*p))
                .map(|p| format!("{name}/{p}: no longer generated")),
        );
    }
    assert!(
        stale.is_empty(),
        "goldens are stale (rerun with CAST_BLESS=1 and review the diff):\n{}",
        stale.join("\n")
    );
}

#[test]
fn golden_crates_pass_clippy_without_warnings() {
    for (name, _, _) in cases() {
        let dir = golden_dir(&name);
        std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("lock");
        let output = generated_cargo("clippy", &dir)
            .args(["--", "-D", "warnings"])
            .output()
            .expect("cargo clippy");
        assert!(
            output.status.success(),
            "{name}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
