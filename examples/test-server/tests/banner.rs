//! The banner is a contract: scripts read `listening:` and `key:` from it.

use std::io::{BufRead, BufReader};

#[test]
fn banner_prints_address_and_key_and_the_server_answers() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cast-test-server"))
        .args(["--mode", "apikey", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut url = None;
    let mut key = None;
    while url.is_none() || key.is_none() {
        let line = lines.next().expect("a banner line").expect("utf-8");
        if let Some(rest) = line.strip_prefix("listening: ") {
            url = Some(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix("key: ") {
            key = Some(rest.to_owned());
        }
    }
    let (url, key) = (url.expect("url"), key.expect("key"));
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
    assert!(
        key.starts_with("cast_") && key.len() == 37 && key[5..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{key}"
    );
}
