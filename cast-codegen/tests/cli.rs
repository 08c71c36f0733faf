//! The command-line contract: what scripts and users rely on.

use std::{path::Path, process::Command};

fn cast_codegen() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cast-codegen"));
    command.env_remove("CAST_MASTER_KEY").env_remove("CAST_MASTER_KEY_FILE");
    command
}

fn spec() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/test-server/openapi.json")
        .display()
        .to_string()
}

fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().expect("run cast-codegen");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (ok, stdout, _) = run(cast_codegen().arg("--help"));
    assert!(ok);
    for command in ["generate", "tools", "check", "secret"] {
        assert!(
            stdout.contains(&format!("  {command} ")),
            "{command} missing from:\n{stdout}"
        );
    }
    let (ok, stdout, _) = run(cast_codegen().args(["generate", "--help"]));
    assert!(ok);
    for flag in [
        "--out",
        "--name",
        "--config",
        "--enable",
        "--disable",
        "--only",
        "--enable-all",
        "--runtime-path",
    ] {
        assert!(stdout.contains(flag), "{flag} missing from generate --help");
    }
}

#[test]
fn tools_prints_the_table_with_reasons() {
    let (ok, stdout, _) = run(cast_codegen().args(["tools", &spec()]));
    assert!(ok);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("TOOL") && lines[0].ends_with("WHY"));
    let delete = lines
        .iter()
        .find(|l| l.starts_with("deleteItem"))
        .expect("deleteItem row");
    assert!(
        delete.contains(" no ") && delete.contains("--enable deleteItem"),
        "{delete}"
    );
    // What tools/list will cost an agent: each served tool, then the whole list.
    let cost: Vec<&str> = lines.iter().copied().filter(|l| l.contains(" bytes  ~")).collect();
    assert!(cost.iter().any(|l| l.starts_with("listItems ")), "{stdout}");
    assert!(
        !cost.iter().any(|l| l.starts_with("deleteItem ")),
        "disabled tools cost nothing: {stdout}"
    );
    let total = lines.iter().find(|l| l.starts_with("tools/list: ")).expect("a total");
    assert!(
        total.contains(" tools, ") && total.contains(" bytes, ~") && total.contains(" tokens"),
        "{total}"
    );
    let (_, stdout, _) =
        run(cast_codegen().args(["tools", &spec(), "--enable", "deleteItem", "--disable", "listUsers"]));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("deleteItem") && l.contains(" ask ")),
        "an enabled destructive tool asks the user first: {stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("listUsers") && l.contains(" no ")));
}

#[test]
fn unknown_tool_names_are_errors_with_a_suggestion() {
    let (ok, _, stderr) = run(cast_codegen().args(["check", &spec(), "--enable", "deleteitem"]));
    assert!(!ok);
    assert!(
        stderr.contains("error[C0201]: --enable names `deleteitem`, but the spec has no such operation"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: did you mean `deleteItem`?"), "{stderr}");
}

#[test]
fn bad_specs_say_where_and_what() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"openapi\": \"3.0.0\", \"paths\": {").expect("write");
    let (ok, _, stderr) = run(cast_codegen().args(["check"]).arg(&bad));
    assert!(!ok);
    assert!(
        stderr.starts_with("error[C0004]: invalid JSON at line 1, column 31: EOF while parsing an object\n  --> #/\n"),
        "{stderr}"
    );

    let version = dir.path().join("v4.yaml");
    std::fs::write(&version, "openapi: 4.0.0\ninfo: {title: x, version: '1'}\npaths: {}\n").expect("write");
    let (ok, _, stderr) = run(cast_codegen().args(["check"]).arg(&version));
    assert!(!ok);
    assert!(
        stderr.contains("error[C0011]: unsupported OpenAPI version `4.0.0`"),
        "{stderr}"
    );
    assert!(stderr.contains("--> #/openapi"), "{stderr}");

    let (ok, _, stderr) = run(cast_codegen().args(["check", "/no/such/spec.json"]));
    assert!(!ok && stderr.contains("cannot read `/no/such/spec.json`"), "{stderr}");
}

#[test]
fn generate_never_overwrites_files_it_did_not_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("crate");
    let (ok, _, stderr) = run(cast_codegen().args(["generate", &spec(), "--out"]).arg(&out));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("generated cast-test-api-mcp"), "{stderr}");
    assert!(out.join("src/tools/get_item.rs").is_file());
    assert!(
        !out.join("src/tools/delete_item.rs").exists(),
        "destructive tools are off by default"
    );

    // Regenerating with deleteItem on adds its file and keeps the settings in cast.toml.
    let (ok, _, stderr) = run(cast_codegen()
        .args(["generate", &spec(), "--enable", "deleteItem", "--out"])
        .arg(&out));
    assert!(ok, "{stderr}");
    assert!(out.join("src/tools/delete_item.rs").is_file());
    let (ok, _, stderr) = run(cast_codegen().args(["generate", &spec(), "--out"]).arg(&out));
    assert!(ok && stderr.contains("using the settings in"), "{stderr}");
    assert!(
        out.join("src/tools/delete_item.rs").is_file(),
        "cast.toml kept deleteItem enabled"
    );

    std::fs::write(out.join("README.md"), "# my notes\n").expect("user file");
    let (ok, _, stderr) = run(cast_codegen().args(["generate", &spec(), "--out"]).arg(&out));
    assert!(
        !ok && stderr.contains("refusing to overwrite a file") && stderr.contains("README.md"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("README.md")).expect("read"),
        "# my notes\n"
    );
}

#[test]
fn secrets_come_from_stdin_and_never_show() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, master, _) = run(cast_codegen().args(["secret", "new-master-key"]));
    assert!(ok);
    let master = master.trim().to_owned();
    assert_eq!(master.len(), 44, "32 bytes of base64");

    let sealed = dir.path().join("key.sealed");
    let mut child = cast_codegen()
        .args(["secret", "seal", "--out"])
        .arg(&sealed)
        .env("CAST_MASTER_KEY", &master)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"cast_0123456789abcdef0123456789abcdef\n")
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("sealed a credential for the `X-Api-Key` header"),
        "{stderr}"
    );

    let (ok, stdout, stderr) = run(cast_codegen()
        .args(["secret", "inspect"])
        .arg(&sealed)
        .env("CAST_MASTER_KEY", &master));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("purpose:     upstream-credential") && stdout.contains("header:      X-Api-Key"));
    assert!(stdout.contains("fingerprint: "));
    for text in [&stdout, &stderr, &String::from_utf8_lossy(&output.stdout).into_owned()] {
        assert!(!text.contains("cast_0123456789abcdef"), "the credential leaked: {text}");
        assert!(!text.contains(&master), "the master key leaked: {text}");
    }
    let bytes = std::fs::read(&sealed).expect("read");
    assert!(!String::from_utf8_lossy(&bytes).contains("cast_0123456789abcdef"));

    assert!(stdout.contains("created:     20"), "{stdout}");

    // Master-key rotation: rekey under a new key; the old key no longer opens it, the new one does.
    let new_master = dir.path().join("new.key");
    let (ok, _, stderr) = run(cast_codegen()
        .args(["secret", "new-master-key", "--out"])
        .arg(&new_master));
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(cast_codegen()
        .args(["secret", "rekey"])
        .arg(&sealed)
        .arg("--new-master-key-file")
        .arg(&new_master)
        .env("CAST_MASTER_KEY", &master));
    assert!(ok && stderr.contains("re-encrypted 1 sealed file(s)"), "{stderr}");
    let (_, stdout, _) = run(cast_codegen()
        .args(["secret", "inspect"])
        .arg(&sealed)
        .env("CAST_MASTER_KEY", &master));
    assert!(
        stdout.contains("fingerprint: unavailable (") && stdout.contains("cannot decrypt"),
        "{stdout}"
    );
    let (_, stdout, _) = run(cast_codegen()
        .args(["secret", "inspect"])
        .arg(&sealed)
        .env("CAST_MASTER_KEY_FILE", &new_master));
    assert!(
        stdout.contains("fingerprint: ") && !stdout.contains("unavailable"),
        "{stdout}"
    );
    // A wrong current key stops the rotation before anything is written.
    let before = std::fs::read(&sealed).expect("read");
    let (ok, _, stderr) = run(cast_codegen()
        .args(["secret", "rekey"])
        .arg(&sealed)
        .arg("--new-master-key-file")
        .arg(&new_master)
        .env("CAST_MASTER_KEY", &master));
    assert!(!ok && stderr.contains("cannot decrypt"), "{stderr}");
    assert_eq!(std::fs::read(&sealed).expect("read"), before);

    let (ok, _, stderr) = run(cast_codegen()
        .args(["secret", "seal", "--out"])
        .arg(dir.path().join("x")));
    assert!(!ok && stderr.contains("no master key: set CAST_MASTER_KEY"), "{stderr}");
}

#[test]
fn tools_says_which_credentials_are_sealed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = dir.path().join("api.sealed");
    std::fs::write(&sealed, b"CASTSEAL").expect("write");
    let config = dir.path().join("cast.toml");
    std::fs::write(
        &config,
        format!("[credentials]\napiKey = {:?}\n", sealed.display().to_string()),
    )
    .expect("write");
    let (ok, stdout, stderr) = run(cast_codegen().args(["tools", &spec(), "--config"]).arg(&config));
    assert!(ok, "{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("listUsers") && l.contains("apiKey (sealed)")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("getStatus") && l.contains(" none ")),
        "{stdout}"
    );
    let (_, stdout, _) = run(cast_codegen().args(["tools", &spec()]));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("listUsers") && l.contains("apiKey (no credential)")),
        "{stdout}"
    );
}

#[test]
fn connect_prints_a_generated_folders_client_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("items");
    let (ok, _, stderr) = run(cast_codegen().args(["generate", &spec(), "--out"]).arg(&out));
    assert!(ok, "{stderr}");
    let connect_md = std::fs::read_to_string(out.join("CONNECT.md")).expect("CONNECT.md is generated");
    assert!(connect_md.contains("## VS Code"), "{connect_md}");

    let (ok, stdout, stderr) = run(cast_codegen()
        .args([
            "connect",
            "--client",
            "codex",
            "--url",
            "https://mcp.example.com/mcp",
            "--key-file",
            "key.sealed",
        ])
        .arg(&out));
    assert!(ok, "{stderr}");
    assert_eq!(
        stderr.lines().count(),
        2,
        "where each snippet goes, on stderr: {stderr}"
    );
    let at = stdout
        .find("[mcp_servers.cast-test-api-mcp]\nurl")
        .expect("the http table");
    let (stdio, http) = stdout.split_at(at);
    let stdio: toml::Table = toml::from_str(stdio).expect("stdio TOML");
    let entry = &stdio["mcp_servers"]["cast-test-api-mcp"];
    let command = entry["command"].as_str().expect("command");
    assert!(
        Path::new(command).is_absolute() && command.ends_with("/items/target/release/cast-test-api-mcp"),
        "{command}"
    );
    let key_file = entry["env"]["CAST_KEY_FILE"].as_str().expect("key file");
    assert!(
        Path::new(key_file).is_absolute() && key_file.ends_with("/key.sealed"),
        "{key_file}"
    );
    let http: toml::Table = toml::from_str(http).expect("http TOML");
    assert_eq!(
        http["mcp_servers"]["cast-test-api-mcp"]["bearer_token_env_var"].as_str(),
        Some("CAST_TOKEN")
    );

    let (ok, _, stderr) = run(cast_codegen().args(["connect", "--client", "emacs"]).arg(&out));
    assert!(!ok);
    assert!(stderr.contains("there is no client `emacs`; choose one of"), "{stderr}");
    let (ok, _, stderr) = run(cast_codegen().args(["connect"]).arg(dir.path().join("nothing")));
    assert!(!ok);
    assert!(stderr.contains("is it a folder cast-codegen generated?"), "{stderr}");
}
