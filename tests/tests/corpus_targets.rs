//! Every spec the tests use, generated as a user would (default settings), meets the
//! corpus targets: schemas a client can compile, no credential argument, readable names
//! and descriptions, no deprecated tool, no input schema over 64 kB. Time and memory are
//! measured in release by `corpus-report`, whose committed output must cover every spec.

use cast_codegen::{Generator, Source};
use cast_e2e::{report, workspace_root};

#[test]
fn every_spec_meets_the_corpus_targets_with_default_settings() {
    let mut missed = Vec::new();
    let mut rows = Vec::new();
    for spec in report::specs() {
        let source = Source::new(&spec.display().to_string());
        match Generator::new(report::settings(&spec)).generate_source(&source) {
            Ok(generated) => {
                let row = report::row(&spec, &generated);
                missed.extend(report::missed_targets(&row));
                rows.push(row);
            }
            Err(diagnostics) => missed.push(format!("{}: generation failed:\n{diagnostics}", spec.display())),
        }
    }
    println!("{}", report::markdown(&rows));
    assert!(rows.len() >= 20, "{} specs", rows.len());
    assert!(missed.is_empty(), "targets missed:\n{}", missed.join("\n"));
}

#[test]
fn the_committed_report_covers_every_spec() {
    let path = workspace_root().join("tests/corpus/REPORT.md");
    let report = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for spec in report::specs() {
        let name = spec.file_name().expect("name").to_string_lossy().into_owned();
        assert!(
            report.contains(&format!("| {name} |")),
            "{name} is not in {}: run `cargo run --release -p cast-e2e --bin corpus-report`",
            path.display()
        );
    }
}
