//! Holds under load, faults and shutdown: a generated server against the test server's
//! fault routes (slow, stalled, reset, dropped, failing with and without `Retry-After`,
//! invalid, huge), through real MCP clients. Bounded in count and time, loopback only.

use std::{net::SocketAddr, path::PathBuf, sync::OnceLock, time::Duration};

use cast_codegen::Settings;
use cast_e2e::{Launch, Log, Vault, build, call, connect_initialize, generate, text, workspace_root};
use cast_test_server::{Mode, TestServer, generate_key, start};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

fn binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let spec_path = workspace_root().join("tests/faults/faults-3.0.json");
        let out = workspace_root().join("target/faults/faults-mcp");
        let settings = Settings::default().with_name("faults-mcp").with_all_enabled();
        let generated = generate(spec_path.to_str().expect("UTF-8"), settings, &out).expect("generate");
        assert!(!generated.diagnostics.has_errors(), "{}", generated.diagnostics);
        build(&out, "faults-mcp").expect("build")
    })
}

async fn upstream() -> TestServer {
    start(SocketAddr::from(([127, 0, 0, 1], 0)), Mode::None, generate_key())
        .await
        .expect("test server")
}

fn launch(upstream: &TestServer, extra: &[(&str, &str)]) -> Launch {
    let mut env = vec![("CAST_BASE_URL".to_owned(), upstream.base_url().to_owned())];
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Launch {
        binary: binary().clone(),
        env,
    }
}

fn attempts(result: &CallToolResult) -> u64 {
    result
        .meta
        .as_ref()
        .and_then(|m| m.0.get("io.cast/attempts"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
}

/// Waits, bounded, for `condition` to hold.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} did not happen within 5 s");
}

#[tokio::test]
async fn retries_happen_only_where_allowed_and_say_so() {
    let server = upstream().await;
    let client = launch(&server, &[]).stdio(&Default::default()).await.expect("connect");
    let go = |tool: &'static str, args: Value| {
        let client = &client;
        async move { call(client, tool, args).await.expect("call") }
    };

    // 503 twice, then success: three tries, and the result says so.
    let healed = go("status", json!({ "code": "503", "fail": "2", "key": "a" })).await;
    assert_eq!(
        (healed.is_error, attempts(&healed), server.fault_hits("a")),
        (Some(false), 3, 3),
        "{}",
        text(&healed)
    );
    // Still failing after the last try: the upstream's error, after three tries.
    let failed = go("status", json!({ "code": "502", "fail": "9", "key": "b" })).await;
    assert_eq!(
        (failed.is_error, attempts(&failed), server.fault_hits("b")),
        (Some(true), 3, 3)
    );
    assert!(
        text(&failed).starts_with("upstream returned HTTP 502"),
        "{}",
        text(&failed)
    );
    // POST is not idempotent: never tried again.
    let posted = go("statusPost", json!({ "code": "503", "fail": "1", "key": "c" })).await;
    assert_eq!((posted.is_error, server.fault_hits("c")), (Some(true), 1));
    // 429 with Retry-After: waited for, then tried again.
    let started = std::time::Instant::now();
    let limited = go(
        "status",
        json!({ "code": "429", "fail": "1", "retry_after": "1", "key": "d" }),
    )
    .await;
    assert_eq!((limited.is_error, server.fault_hits("d")), (Some(false), 2));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    // A Retry-After past the cap is not waited for; a 500 is not transient.
    let far = go(
        "status",
        json!({ "code": "503", "fail": "1", "retry_after": "3600", "key": "e" }),
    )
    .await;
    assert_eq!((far.is_error, server.fault_hits("e")), (Some(true), 1));
    let broken = go("status", json!({ "code": "500", "fail": "1", "key": "f" })).await;
    assert_eq!((broken.is_error, server.fault_hits("f")), (Some(true), 1));
    // A connection dropped before an answer is tried again (the pooled connection is
    // closed first, so the call needs a new one).
    go("slow", json!({ "ms": "0", "close": "1" })).await;
    server.drop_connections(1);
    let reconnected = go("slow", json!({ "ms": "0", "key": "g" })).await;
    assert_eq!(
        (reconnected.is_error, attempts(&reconnected)),
        (Some(false), 2),
        "{}",
        text(&reconnected)
    );
    // A body cut mid-way is a clean tool error (after the tries a GET gets).
    let reset = go("reset", json!({ "key": "h" })).await;
    assert_eq!((reset.is_error, server.fault_hits("h")), (Some(true), 3));
    assert!(
        text(&reset).contains("the response body could not be read"),
        "{}",
        text(&reset)
    );
    // Invalid JSON is text, and a body far larger than the cap is cut, not held.
    let invalid = go("invalidJson", json!({})).await;
    assert_eq!(
        (invalid.is_error, invalid.structured_content.is_none()),
        (Some(false), true)
    );
    let huge = go("huge", json!({ "bytes": (64 * 1024 * 1024).to_string() })).await;
    assert_eq!(huge.is_error, Some(false));
    assert!(
        huge.meta
            .as_ref()
            .is_some_and(|m| m.0.contains_key("io.cast/truncated"))
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn timeouts_are_validated_and_cancellation_drops_the_upstream_request() {
    let server = upstream().await;
    let (ok, stderr) = launch(&server, &[])
        .run(&["--timeout-secs", "0", "stdio"])
        .await
        .expect("run");
    assert!(!ok && stderr.contains("--timeout-secs"), "{stderr}");

    let client = launch(&server, &[("CAST_TIMEOUT_SECS", "1")])
        .stdio(&Default::default())
        .await
        .expect("connect");
    let stalled = call(&client, "stall", json!({ "key": "t" })).await.expect("call");
    assert_eq!(stalled.is_error, Some(true));
    assert!(text(&stalled).contains("timed out"), "{}", text(&stalled));
    eventually("the timed-out request to end upstream", || {
        server.faults_in_flight() == 0
    })
    .await;
    client.cancel().await.ok();

    // A client that cancels its call: the upstream sees the request go away at once.
    let client = launch(&server, &[]).stdio(&Default::default()).await.expect("connect");
    let request = rmcp::model::ClientRequest::CallToolRequest(rmcp::model::CallToolRequest::new(
        rmcp::model::CallToolRequestParams::new("stall"),
    ));
    let handle = client
        .send_cancellable_request(request, rmcp::service::PeerRequestOptions::default())
        .await
        .expect("send");
    eventually("the call to reach the upstream", || server.faults_in_flight() == 1).await;
    handle.cancel(Some("the user gave up".into())).await.expect("cancel");
    eventually("the cancelled request to end upstream", || {
        server.faults_in_flight() == 0
    })
    .await;
    client.cancel().await.ok();
}

#[tokio::test]
async fn past_the_concurrency_cap_a_call_is_refused_as_busy_then_service_recovers() {
    let server = upstream().await;
    let client = launch(&server, &[("CAST_MAX_CONCURRENT_CALLS", "2")])
        .stdio(&Default::default())
        .await
        .expect("connect");
    let slow = |key: &'static str| call(&client, "slow", json!({ "ms": "4000", "key": key }));
    let (a, b, c) = tokio::join!(slow("c1"), slow("c2"), async {
        // Arrives once the two slots are taken, waits its 2 s, and is refused.
        tokio::time::sleep(Duration::from_millis(300)).await;
        call(&client, "slow", json!({ "ms": "0", "key": "c3" })).await
    });
    let (a, b, c) = (a.expect("call"), b.expect("call"), c.expect("call"));
    assert_eq!((a.is_error, b.is_error), (Some(false), Some(false)));
    assert_eq!(c.is_error, Some(true));
    assert!(text(&c).starts_with("busy: 2 calls are in flight"), "{}", text(&c));
    assert!(c.meta.as_ref().is_some_and(|m| m.0.contains_key("io.cast/busy")));
    assert_eq!(server.fault_hits("c3"), 0, "a refused call sends nothing");
    let after = call(&client, "slow", json!({ "ms": "0", "key": "c4" }))
        .await
        .expect("call");
    assert_eq!(after.is_error, Some(false));
    client.cancel().await.ok();
}

/// Sends SIGTERM to `child`, as Docker and Kubernetes do.
fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status();
    assert!(status.expect("kill").success());
}

/// Every call accepted before the signal gets its real answer, then the process exits 0
/// within the grace period.
async fn every_answer_then_exit_0(
    child: &mut tokio::process::Child,
    calls: Vec<tokio::task::JoinHandle<Result<Value, String>>>,
) {
    for call in calls {
        let answer = call.await.expect("join").expect("every accepted call gets its answer");
        assert_eq!(answer["result"]["isError"], false, "{answer}");
        assert_eq!(answer["result"]["structuredContent"]["ok"], true, "{answer}");
    }
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits within the grace period")
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
}

/// One stateless `tools/call` on a connection of its own.
async fn http_call(url: &str, tool: &str, args: Value) -> Result<Value, String> {
    cast_e2e::stateless_call(&cast_e2e::http_client(), url, tool, args).await
}

fn rss_kib(pid: u32) -> u64 {
    cast_e2e::proc_status_kib(pid, "VmRSS")
}

/// The process's peak resident memory so far.
fn peak_rss_kib(pid: u32) -> u64 {
    cast_e2e::proc_status_kib(pid, "VmHWM")
}

#[tokio::test]
async fn sigterm_lets_accepted_calls_finish_refuses_new_ones_and_exits_0() {
    let server = upstream().await;
    let log: Log = Default::default();
    let (mut child, url) = launch(&server, &[("CAST_SHUTDOWN_GRACE", "10")])
        .http(&log)
        .await
        .expect("serve");
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(
                async move { http_call(&url, "slow", json!({ "ms": "2000", "key": format!("drain{i}") })).await },
            )
        })
        .collect();
    eventually("every call to reach the upstream", || server.faults_in_flight() == 10).await;
    sigterm(&child);
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp").to_owned();
    eventually("new connections to be refused", || {
        std::net::TcpStream::connect(&address).is_err()
    })
    .await;
    every_answer_then_exit_0(&mut child, calls).await;
    assert!(log.lock().expect("log").contains("shut down: every call finished"));
}

/// Over stdio, the end of input (or a SIGTERM) ends the session, but every call already
/// sent is answered first; then the process exits 0.
#[tokio::test]
async fn over_stdio_calls_sent_before_the_end_of_input_or_a_sigterm_are_answered() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let server = upstream().await;
    for ending in ["end of input", "SIGTERM"] {
        let mut child = tokio::process::Command::new(binary())
            .arg("stdio")
            .env("CAST_BASE_URL", server.base_url())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        let mut lines = vec![
            json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": { "name": "faults", "version": "1" } } }),
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        ];
        for id in 2..6 {
            lines.push(json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                "name": "slow", "arguments": { "ms": "1500", "key": format!("{ending}{id}") } } }));
        }
        for line in &lines {
            stdin.write_all(format!("{line}\n").as_bytes()).await.expect("write");
        }
        stdin.flush().await.expect("flush");
        if ending == "SIGTERM" {
            let keys = (2..6).map(|id| format!("{ending}{id}")).collect::<Vec<_>>();
            eventually("every call to reach the upstream", || {
                keys.iter().all(|key| server.fault_hits(key) == 1)
            })
            .await;
            sigterm(&child);
            // Input stays open: only the signal ends the session.
            std::mem::forget(stdin);
        } else {
            drop(stdin);
        }
        let stdout = child.stdout.take().expect("stdout");
        let mut answers = Vec::new();
        let mut reader = BufReader::new(stdout).lines();
        let read_all = async {
            while let Some(line) = reader.next_line().await.expect("read") {
                answers.push(serde_json::from_str::<Value>(&line).expect("JSON-RPC"));
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read_all)
            .await
            .expect("the output ends");
        let exit = tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .expect("exits")
            .expect("wait");
        assert!(exit.success(), "{ending}: {exit:?}");
        for id in 2..6 {
            let answer = answers
                .iter()
                .find(|a| a["id"] == id)
                .unwrap_or_else(|| panic!("{ending}: call {id} got no answer: {answers:?}"));
            assert_eq!(answer["result"]["structuredContent"]["ok"], true, "{ending}: {answer}");
        }
    }
}

/// The same drain while the key is being rotated: calls in flight under the old key and
/// calls sent under the new one all get their answers.
#[tokio::test]
async fn sigterm_during_a_key_rotation_loses_no_call() {
    let old_key = generate_key();
    let header = "X-Api-Key".to_owned();
    let server = start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Mode::ApiKey { header },
        old_key.clone(),
    )
    .await
    .expect("test server");
    let vault = Vault::new().expect("vault");
    let key_file = vault.seal("key.sealed", "X-Api-Key", &old_key).expect("seal");
    let mut launch = launch(&server, &[("CAST_SHUTDOWN_GRACE", "10")]);
    launch.env.extend([
        ("CAST_MASTER_KEY".to_owned(), vault.master_b64.clone()),
        ("CAST_KEY_FILE".to_owned(), key_file.display().to_string()),
    ]);
    let log: Log = Default::default();
    let (mut child, url) = launch.http(&log).await.expect("serve");
    let batch = |name: &'static str| -> Vec<_> {
        (0..5)
            .map(|i| {
                let url = url.clone();
                let key = format!("{name}{i}");
                tokio::spawn(async move { http_call(&url, "slowWithKey", json!({ "ms": "2000", "key": key })).await })
            })
            .collect()
    };
    let reached = |name: &str| (0..5).all(|i| server.fault_hits(&format!("{name}{i}")) == 1);
    let mut calls = batch("old");
    eventually("the first calls to reach the upstream", || reached("old")).await;
    // The API issues a new key and the operator reseals it, while those calls are in flight.
    let new_key = generate_key();
    server.accept_key(new_key.clone());
    vault.seal("key.sealed", "X-Api-Key", &new_key).expect("rotate");
    calls.extend(batch("new"));
    eventually("the next calls to reach the upstream", || reached("new")).await;
    server.revoke_key(&old_key);
    // A key file deleted by mistake: the key in memory stays in use, and one warning says so.
    std::fs::remove_file(&key_file).expect("delete");
    for i in 0..3 {
        let answer = http_call(&url, "slowWithKey", json!({ "ms": "0", "key": format!("gone{i}") }))
            .await
            .expect("call");
        assert_eq!(answer["result"]["structuredContent"]["ok"], true, "{answer}");
    }
    let warnings = log
        .lock()
        .expect("log")
        .matches("cannot read the credential file")
        .count();
    assert_eq!(warnings, 1, "{}", log.lock().expect("log"));
    sigterm(&child);
    every_answer_then_exit_0(&mut child, calls).await;
    let seen = server.seen();
    for i in 0..5 {
        let with = |name: &str| {
            seen.iter()
                .find(|s| s.uri.contains(&format!("key={name}{i}")))
                .and_then(|s| s.credential.clone())
        };
        assert_eq!(with("old").as_deref(), Some(old_key.as_str()));
        assert_eq!(
            with("new").as_deref(),
            Some(new_key.as_str()),
            "sent after the rotation"
        );
    }
}

#[tokio::test]
async fn slow_half_open_connections_cannot_take_the_health_endpoint_down() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = upstream().await;
    let log: Log = Default::default();
    // 256 descriptors, as a small container gets; 300 connections that never finish a request.
    let launch = launch(&server, &[]);
    let shell = Launch {
        binary: PathBuf::from("/bin/sh"),
        env: launch.env.clone(),
    };
    let script = format!("ulimit -n 256 && exec {} \"$@\"", launch.binary.display());
    let (mut child, url) = shell
        .listening(
            &log,
            &[
                "-c",
                &script,
                "sh",
                "http",
                "--listen",
                "127.0.0.1:0",
                "--max-connections",
                "32",
                "--header-read-timeout-secs",
                "10",
            ],
        )
        .await
        .expect("serve");
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp").to_owned();
    let mut slow = Vec::new();
    for _ in 0..300 {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await {
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").await;
            slow.push(stream);
        }
    }
    // The health check gets through while the slow connections are still open.
    let mut healthy = false;
    for _ in 0..40 {
        if let Ok(Ok(mut stream)) =
            tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(&address)).await
        {
            let _ = stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .await;
            let mut answer = String::new();
            if tokio::time::timeout(Duration::from_secs(2), stream.read_to_string(&mut answer))
                .await
                .is_ok()
                && answer.starts_with("HTTP/1.1 200")
            {
                healthy = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "/healthz stayed unreachable");
    drop(slow);
    child.kill().await.ok();
}

#[tokio::test]
async fn the_session_cap_refuses_new_sessions_until_one_closes() {
    let server = upstream().await;
    let log: Log = Default::default();
    let (_child, url) = launch(&server, &[])
        .http_with(&log, &["--listen", "127.0.0.1:0", "--sessions", "--max-sessions", "2"])
        .await
        .expect("serve");
    let first = connect_initialize(&url).await.expect("first session");
    let _second = connect_initialize(&url).await.expect("second session");
    assert!(connect_initialize(&url).await.is_err(), "a third session past the cap");
    first.cancel().await.ok();
    let mut third = None;
    for _ in 0..40 {
        if let Ok(client) = connect_initialize(&url).await {
            third = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(third.is_some(), "a closed session makes room");
    assert!(
        log.lock()
            .expect("log")
            .contains("new session refused: the session cap is reached")
    );
}

#[tokio::test]
async fn sixty_concurrent_megabyte_answers_cost_memory_in_proportion_to_them() {
    let server = upstream().await;
    let log: Log = Default::default();
    let (child, url) = launch(&server, &[("CAST_LOG", "warn,cast_runtime::serve=info")])
        .http(&log)
        .await
        .expect("serve");
    let pid = child.id().expect("pid");
    let small = http_call(&url, "hugeJson", json!({ "bytes": "1000" }))
        .await
        .expect("warm-up");
    assert!(small["result"]["structuredContent"]["items"].is_array(), "{small}");
    let before = peak_rss_kib(pid);
    // 60 lists of about 1 MB: past the structured-content cap, so text only, never parsed.
    let calls = (0..60).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { http_call(&url, "hugeJson", json!({ "bytes": "1000000" })).await })
    });
    for answer in futures_util::future::join_all(calls).await {
        let answer = answer.expect("join").expect("call");
        let result = &answer["result"];
        assert_eq!(result["isError"], false);
        assert!(result["structuredContent"].is_null());
        assert!(
            result["content"][0]["text"]
                .as_str()
                .is_some_and(|t| t.len() >= 1_000_000)
        );
    }
    let peak = peak_rss_kib(pid);
    eprintln!("60 concurrent 1 MB JSON answers: peak RSS {before} KiB before, {peak} KiB at peak");
    // Each answer is held as its bytes, then written out once as JSON-RPC: a few copies of
    // 1 MB per call in flight, not the 20 they once cost (1.24 GB for these 60).
    assert!(
        peak < before + 60 * 4 * 1024,
        "peak RSS grew from {before} KiB to {peak} KiB"
    );
}

#[tokio::test]
async fn thousands_of_calls_under_faults_all_end_cleanly_and_nothing_leaks() {
    let server = upstream().await;
    let log: Log = Default::default();
    let (child, url) = launch(
        &server,
        &[
            ("CAST_LOG", "warn,cast_runtime::serve=info"),
            ("CAST_MAX_CONCURRENT_CALLS", "256"),
        ],
    )
    .http(&log)
    .await
    .expect("serve");
    let pid = child.id().expect("pid");
    let warm = http_call(&url, "slow", json!({ "ms": "0" })).await.expect("warm-up");
    assert_eq!(warm["result"]["isError"], false);
    let (rss_before, fds_before) = (rss_kib(pid), cast_e2e::open_fds(pid));

    // 2,000 calls, 200 at a time over HTTP: fast, slow, flaky (healed by a retry), failing,
    // and large; each must end with its real result or a clean tool error.
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(200));
    let mut tasks = Vec::new();
    for i in 0..2000usize {
        let (url, semaphore) = (url.clone(), semaphore.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire().await.expect("permit");
            let (tool, args, expect_error) = match i % 5 {
                0 => ("slow", json!({ "ms": "0" }), false),
                1 => ("slow", json!({ "ms": "50" }), false),
                2 => (
                    "status",
                    json!({ "code": "503", "fail": "1", "key": format!("load{i}") }),
                    false,
                ),
                3 => ("status", json!({ "code": "404" }), true),
                _ => ("huge", json!({ "bytes": "300000" }), false),
            };
            let answer = http_call(&url, tool, args).await?;
            let result = &answer["result"];
            let is_error = result["isError"].as_bool();
            let tries = result["_meta"]["io.cast/attempts"].as_u64().unwrap_or(1);
            let text = result["content"][0]["text"].as_str().unwrap_or_default();
            let flaky = i % 5 == 2;
            // A flaky call heals with one retry, or (past the shared retry budget) comes
            // back at once as the upstream's clean 503.
            let correct = match (flaky, is_error) {
                (true, Some(false)) => tries == 2 && result["structuredContent"]["ok"] == true,
                (true, Some(true)) => tries == 1 && text.starts_with("upstream returned HTTP 503"),
                (false, Some(error)) => error == expect_error && tries == 1,
                (_, None) => false,
            };
            if correct {
                Ok(())
            } else {
                Err(format!("call {i} ({tool}): {answer}"))
            }
        }));
    }
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(err) = task.await.expect("join") {
            failures.push(err);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 2000 calls went wrong, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    // Counted at the upstream: retries only for the flaky calls, at most one each, and
    // within the budget (a burst of 50 plus a fifth of the calls).
    let flaky_hits: Vec<usize> = (0..2000)
        .filter(|i| i % 5 == 2)
        .map(|i| server.fault_hits(&format!("load{i}")))
        .collect();
    assert!(flaky_hits.iter().all(|hits| (1..=2).contains(hits)), "{flaky_hits:?}");
    let retries = flaky_hits.iter().filter(|&&hits| hits == 2).count();
    assert!(
        (300..=50 + 2000 / 5).contains(&retries),
        "{retries} of 400 flaky calls were retried"
    );
    eventually("the upstream to be idle", || server.faults_in_flight() == 0).await;
    // What stays open is the upstream pool's idle connections (32 at most), no more.
    eventually("connections to be released", || {
        cast_e2e::open_fds(pid) <= fds_before + 32 + 4
    })
    .await;
    let rss_after = rss_kib(pid);
    assert!(
        rss_after < rss_before + 64 * 1024,
        "memory stayed up: {rss_before} KiB before, {rss_after} KiB after"
    );

    // Hundreds over stdio too.
    let client = launch(&server, &[]).stdio(&Default::default()).await.expect("connect");
    let results = futures_join(&client, 300).await;
    assert!(results.iter().all(|r| r.is_error == Some(false)), "a stdio call failed");
    client.cancel().await.ok();
}

async fn futures_join(
    client: &rmcp::service::RunningService<rmcp::RoleClient, rmcp::model::ClientConfig>,
    count: usize,
) -> Vec<CallToolResult> {
    let calls = (0..count).map(|i| async move {
        let key = format!("stdio{i}");
        let args = json!({ "code": "503", "fail": if i % 10 == 0 { "1" } else { "0" }, "key": key });
        call(client, "status", args).await.expect("call")
    });
    futures_util::future::join_all(calls).await
}
