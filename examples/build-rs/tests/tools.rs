//! The build.rs path yields the same tools as the generated crate.

#[test]
fn build_rs_generates_the_tools() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cast-example-build"))
        .arg("tools")
        .output()
        .expect("run the example");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> = stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(
        names,
        [
            "listItems",
            "createItem",
            "getItem",
            "updateItem",
            "getStatus",
            "listUsers"
        ]
    );
    assert!(stdout.contains("GET     /api/items/{id}"), "{stdout}");
}
