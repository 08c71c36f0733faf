//! The generated Kubernetes manifests are valid objects by the Kubernetes schemas (strict:
//! no field the API would drop), checked with `kubernetes-validate` from PyPI. No cluster
//! or container engine runs here; the properties themselves are checked where they are
//! emitted (cast-codegen's emit tests).

use cast_e2e::{pip_package, workspace_root};

#[test]
fn every_golden_kubernetes_manifest_is_valid_by_schema() {
    let validator = pip_package("kubernetes-validate", "1.37.0").expect("kubernetes-validate from PyPI");
    let goldens = workspace_root().join("tests/golden");
    let mut manifests: Vec<_> = std::fs::read_dir(&goldens)
        .expect("goldens")
        .map(|entry| entry.expect("entry").path().join("deploy/kubernetes.yaml"))
        .filter(|path| path.exists())
        .collect();
    manifests.sort();
    assert!(manifests.len() >= 9, "every golden crate has one: {manifests:?}");
    let validate = |files: &[std::path::PathBuf]| {
        std::process::Command::new("python3")
            .args([
                "-m",
                "kubernetes_validate",
                "--strict",
                "--kubernetes-version",
                "1.33.0",
            ])
            .args(files)
            .env("PYTHONPATH", &validator)
            .output()
            .expect("run kubernetes-validate")
    };
    let output = validate(&manifests);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    // One line per object: four objects in each manifest, every one valid.
    let valid = report
        .lines()
        .filter(|l| l.starts_with("INFO") && l.contains(" passed"))
        .count();
    assert_eq!(valid, manifests.len() * 4, "{report}");

    // The validator does refuse what the API would not take.
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.yaml");
    let text = std::fs::read_to_string(&manifests[0]).expect("manifest");
    std::fs::write(
        &broken,
        text.replacen("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", 1),
    )
    .expect("write");
    let refused = validate(&[broken]);
    assert!(!refused.status.success(), "a misspelt field fails strict validation");
}
