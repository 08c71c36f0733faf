//! The credential never leaves its origin, tried as an attacker would: one generated
//! server with every kind of credential, a real MCP client, the test server as an
//! upstream that echoes credentials in every encoding and redirects anywhere it is told,
//! and a recording listener on another port of 127.0.0.1 that must never be reached.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
};

use base64::Engine as _;
use cast_codegen::Settings;
use cast_e2e::{Launch, Log, Vault, build, call, generate, text, workspace_root};
use cast_test_server::{LEAK_FORMS, Mode, TestServer, generate_key, start};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

/// Responses are cut here, so that an echo can be placed across the cut.
const CUT: usize = 4096;

fn query_params() -> Value {
    json!([
        { "name": "source", "in": "query", "required": true, "schema": { "type": "string" } },
        { "name": "form", "in": "query", "schema": { "type": "string" } },
        { "name": "type", "in": "query", "schema": { "type": "string" } },
        { "name": "at", "in": "query", "schema": { "type": "integer" } }
    ])
}

fn spec(base: &str) -> Value {
    let ok = json!({ "200": { "description": "echo" } });
    let leak = |id: &str, scheme: Value| json!({ "get": { "operationId": id, "security": [scheme], "parameters": query_params(), "responses": ok } });
    let status = json!({ "name": "status", "in": "path", "required": true, "schema": { "type": "integer" } });
    let to = json!({ "name": "to", "in": "query", "schema": { "type": "string" } });
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Leak", "version": "1.0.0" },
        "servers": [{ "url": base }],
        "components": { "securitySchemes": {
            "key": { "type": "apiKey", "in": "header", "name": "X-Api-Key" },
            "basic": { "type": "http", "scheme": "basic" },
            "query": { "type": "apiKey", "in": "query", "name": "api_key" },
            "cookie": { "type": "apiKey", "in": "cookie", "name": "session" },
            "bearer": { "type": "http", "scheme": "bearer" },
            "oauth": { "type": "oauth2", "flows": { "clientCredentials": {
                "tokenUrl": format!("{base}/oauth/token"), "scopes": {}
            } } }
        } },
        "paths": {
            "/leak/static": leak("leakStatic", json!({ "key": [], "basic": [], "query": [], "cookie": [] })),
            "/leak/bearer": leak("leakBearer", json!({ "bearer": [] })),
            "/leak/oauth": leak("leakOauth", json!({ "oauth": [] })),
            // Credentials the spec asks for as arguments: sent from sealed files, never asked of the agent.
            "/leak/params": { "get": {
                "operationId": "leakParams",
                "security": [],
                "parameters": query_params().as_array().expect("list").iter().cloned().chain([
                    json!({ "name": "access_token", "in": "query", "required": true, "description": "An access token", "schema": { "type": "string" } }),
                    json!({ "name": "X-Registry-Auth", "in": "header", "description": "Base64-encoded auth configuration", "schema": { "type": "string" } }),
                ]).collect::<Vec<_>>(),
                "responses": ok
            } },
            "/leak/form": { "post": {
                "operationId": "leakForm",
                "security": [],
                "parameters": query_params(),
                "requestBody": { "required": true, "content": { "application/x-www-form-urlencoded": { "schema": {
                    "type": "object", "required": ["token"], "properties": {
                        "token": { "type": "string", "description": "Authentication token. Requires scope: `leak`" },
                        "note": { "type": "string" }
                    }
                } } } },
                "responses": ok
            } },
            "/leak/json": { "post": {
                "operationId": "leakJson",
                "security": [],
                "parameters": query_params(),
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "properties": {
                        "client_secret": { "type": "string", "description": "The client secret of the application" },
                        "note": { "type": "string" }
                    }
                } } } },
                "responses": ok
            } },
            "/redirect/{status}": {
                "get": {
                    "operationId": "redirectGet",
                    "security": [{ "key": [], "query": [] }],
                    "parameters": [status, to],
                    "responses": ok
                },
                "post": {
                    "operationId": "redirectPost",
                    "security": [{ "key": [], "query": [] }],
                    "parameters": [status, to],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": {
                        "type": "object", "properties": { "note": { "type": "string" } }
                    } } } },
                    "responses": ok
                }
            }
        }
    })
}

/// One upstream for every test here, on a thread of its own (each test has its own
/// runtime): the generated crate bakes in its token URL, so it is built once against it.
fn upstream() -> &'static TestServer {
    static UPSTREAM: OnceLock<TestServer> = OnceLock::new();
    UPSTREAM.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let server = start(
                    SocketAddr::from(([127, 0, 0, 1], 0)),
                    Mode::OAuth {
                        token_lifetime_secs: 3600,
                    },
                    generate_key(),
                )
                .await
                .expect("test server");
                sender.send(server).expect("send");
                std::future::pending::<()>().await;
            });
        });
        receiver.recv().expect("the upstream started")
    })
}

/// The leak server, built once for every test here.
fn binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let dir = workspace_root().join("target/leak");
        std::fs::create_dir_all(&dir).expect("dir");
        let spec_path = dir.join("leak.json");
        std::fs::write(&spec_path, spec(upstream().base_url()).to_string()).expect("spec");
        let settings = Settings::from_toml(
            "name = \"leak-mcp\"\n[auth]\nsecret_headers = [\"X-Tenant-Token\"]\n[tools]\nenable_all = true\n",
            "cast.toml",
        )
        .expect("settings");
        let out = dir.join("leak-mcp");
        let generated = generate(spec_path.to_str().expect("UTF-8"), settings, &out).expect("generate");
        assert!(!generated.diagnostics.has_errors(), "{}", generated.diagnostics);
        build(&out, "leak-mcp").expect("build")
    })
}

/// A listener that counts every connection made to it.
struct Recorder {
    url: String,
    connections: Arc<AtomicUsize>,
}

async fn recorder() -> Recorder {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    Recorder { url, connections }
}

/// Every credential of the leak server, sealed, with the launch that uses them.
struct Keyed {
    launch: Launch,
    /// (tool, where the upstream finds it, value) for each credential.
    sources: Vec<(&'static str, &'static str, String)>,
    /// Every secret: the values above, the OAuth client secret and the master key.
    secrets: Vec<String>,
    _vault: Vault,
}

fn keyed(oauth_client_secret: &str, extra_env: &[(&str, &str)]) -> Keyed {
    let vault = Vault::new().expect("vault");
    let random = || generate_key()[5..21].to_owned();
    let sources = vec![
        ("leakStatic", "x-api-key", format!("cast_hdr_{}", random())),
        ("leakStatic", "authorization", format!("cast:pw/{}+x", random())),
        ("leakStatic", "api_key", format!("cast_qry_{}", random())),
        ("leakStatic", "session", format!("cast_ck_{}", random())),
        ("leakStatic", "x-tenant-token", format!("cast_tnt_{}", random())),
        ("leakBearer", "authorization", format!("cast_brr_{}", random())),
        ("leakParams", "access_token", format!("cast_at_{}", random())),
        ("leakParams", "x-registry-auth", format!("cast_reg_{}", random())),
        ("leakForm", "token", format!("cast_tok&={}", random())),
        ("leakJson", "client_secret", format!("cast_cs\"{}", random())),
    ];
    let labels = [
        ("key", "X-Api-Key"),
        ("basic", "Authorization"),
        ("query", "api_key"),
        ("cookie", "session"),
        ("X-Tenant-Token", "X-Tenant-Token"),
        ("bearer", "Authorization"),
        ("access_token", "access_token"),
        ("X-Registry-Auth", "X-Registry-Auth"),
        ("token", "token"),
        ("client_secret", "client_secret"),
    ];
    let mut named = Vec::new();
    for ((scheme, label), (_, _, value)) in labels.iter().zip(&sources) {
        let file = vault.seal(&format!("{scheme}.sealed"), label, value).expect("seal");
        named.push(format!("{scheme}={}", file.display()));
    }
    let client = format!("cast-client:{oauth_client_secret}");
    let file = vault.seal("oauth.sealed", "oauth2-client", &client).expect("seal");
    named.push(format!("oauth={}", file.display()));
    let mut env = vec![
        ("CAST_MASTER_KEY".to_owned(), vault.master_b64.clone()),
        ("CAST_CREDENTIALS".to_owned(), named.join(",")),
        ("CAST_MAX_RESPONSE_BYTES".to_owned(), CUT.to_string()),
        ("CAST_LOG".to_owned(), "trace".to_owned()),
    ];
    env.extend(extra_env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let mut secrets: Vec<String> = sources.iter().map(|(.., v)| v.clone()).collect();
    secrets.extend([oauth_client_secret.to_owned(), client, vault.master_b64.clone()]);
    Keyed {
        launch: Launch {
            binary: binary().clone(),
            env,
        },
        sources,
        secrets,
        _vault: vault,
    }
}

/// JSON string escapes undone, leniently, as a model reading the text could.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('u') => {
                chars.next();
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) if hex.len() == 4 => {
                        out.push(decoded);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    _ => out.push_str("\\u"),
                }
            }
            Some(&next) => {
                chars.next();
                out.push(next);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Which form of `secret` appears in `haystack`, raw or behind JSON escapes, if any.
/// A form's first 10 characters count too: a secret cut in half is still leaked.
fn leaked(haystack: &str, secret: &str) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let pct = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string();
    let embedded = STANDARD.encode(format!("x-echo: {secret}\r\n"));
    let forms = [
        secret.to_owned(),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        pct.clone(),
        pct.to_ascii_lowercase(),
        // Past the characters that carry bits of `x-echo: `, before those of `\r\n`.
        embedded[11..embedded.len() - 4].to_owned(),
    ];
    let views = [haystack.to_owned(), unescape(haystack), unescape(&unescape(haystack))];
    for form in forms {
        let prefix: String = form.chars().take(10).collect();
        if let Some(view) = views.iter().find(|view| view.contains(&prefix)) {
            let at = view.find(&prefix).unwrap_or(0);
            return Some(format!("`{form}` (seen as …{}…)", &view[at.saturating_sub(20)..]));
        }
    }
    None
}

/// Everything a client sees of a result: the text and the whole result as sent.
fn shown(result: &CallToolResult) -> String {
    format!(
        "{}\n{}",
        text(result),
        serde_json::to_string(result).expect("serializes")
    )
}

fn check(failures: &mut Vec<String>, what: &str, haystack: &str, secrets: &[String]) {
    for secret in secrets {
        if let Some(form) = leaked(haystack, secret) {
            failures.push(format!("{what}: {form}"));
        }
    }
}

#[tokio::test]
async fn no_form_of_any_credential_comes_back_to_the_client_or_the_log() {
    let server = upstream();
    let keyed = keyed(&server.key(), &[]);
    let log: Log = Default::default();
    let client = keyed.launch.stdio(&log).await.expect("connect");
    let mut sources = keyed.sources.clone();
    // The access token is bought at the first call; the upstream says which it was.
    sources.push(("leakOauth", "authorization", String::new()));
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for (tool, source, _) in &sources {
        for form in LEAK_FORMS {
            for kind in ["json", "text"] {
                for at in [None, Some(CUT)] {
                    let mut args = json!({ "source": source, "form": form, "type": kind });
                    if let Some(at) = at {
                        args["at"] = json!(at);
                    }
                    let result = call(&client, tool, args).await.expect("call");
                    let label = format!("{tool} {source} {form} {kind} at={at:?}");
                    if result.is_error != Some(false) {
                        failures.push(format!("{label}: failed: {}", text(&result)));
                    } else if at.is_none() && !text(&result).contains("[redacted]") {
                        failures.push(format!("{label}: nothing was redacted: {}", text(&result)));
                    }
                    if at.is_some()
                        && result
                            .meta
                            .as_ref()
                            .is_none_or(|m| !m.0.contains_key("io.cast/truncated"))
                    {
                        failures.push(format!("{label}: the echo did not straddle the cut"));
                    }
                    // The whole body a cut result links to is held redacted too.
                    if at.is_some() {
                        let link = result.content.iter().find_map(|c| match c {
                            rmcp::model::ContentBlock::ResourceLink(link) => Some(link.uri.clone()),
                            _ => None,
                        });
                        match link {
                            Some(uri) => match client
                                .read_resource(rmcp::model::ReadResourceRequestParams::new(uri))
                                .await
                            {
                                Ok(whole) => results.push((
                                    format!("{label}: the whole body"),
                                    serde_json::to_string(&whole.contents).expect("json"),
                                )),
                                Err(error) => failures.push(format!("{label}: the whole body: {error}")),
                            },
                            None => failures.push(format!("{label}: no link to the whole body")),
                        }
                    }
                    results.push((label, shown(&result)));
                }
            }
        }
    }
    client.cancel().await.expect("close");
    let mut secrets = keyed.secrets.clone();
    let tokens = server.issued_tokens();
    assert!(!tokens.is_empty(), "an OAuth token was issued and sent");
    secrets.extend(tokens);
    for (label, shown) in &results {
        check(&mut failures, label, shown, &secrets);
    }
    let log = log.lock().expect("log").clone();
    check(&mut failures, "stderr at CAST_LOG=trace", &log, &secrets);
    assert!(
        failures.is_empty(),
        "{} leaks:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn credentials_the_spec_asks_as_arguments_are_neither_offered_nor_taken() {
    let keyed = keyed(&upstream().key(), &[]);
    let log: Log = Default::default();
    let client = keyed.launch.stdio(&log).await.expect("connect");
    let tools = client.list_all_tools().await.expect("tools/list");
    let credentials = ["access_token", "X-Registry-Auth", "token", "client_secret"];
    for tool in tools
        .iter()
        .filter(|t| ["leakParams", "leakForm", "leakJson"].contains(&&*t.name))
    {
        let properties = tool
            .input_schema
            .get("properties")
            .and_then(Value::as_object)
            .expect("properties");
        let offered: Vec<&String> = properties
            .keys()
            .filter(|k| credentials.contains(&k.as_str()))
            .collect();
        assert!(offered.is_empty(), "`{}` offers {offered:?}", tool.name);
        assert!(
            properties.contains_key("source"),
            "`{}` keeps its other arguments",
            tool.name
        );
    }
    // An agent that knows the name still cannot put its own value there.
    let result = call(
        &client,
        "leakForm",
        json!({ "source": "token", "token": "agent-chosen" }),
    )
    .await
    .expect("call");
    assert_eq!(result.is_error, Some(true));
    assert!(text(&result).contains("`token`: no such argument"), "{}", text(&result));
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn redirects_never_take_the_request_elsewhere() {
    let server = upstream();
    let recorder = recorder().await;
    let keyed = keyed(&server.key(), &[]);
    let log: Log = Default::default();
    let client = keyed.launch.stdio(&log).await.expect("connect");
    let steal = format!("{}/steal", recorder.url);
    let same_origin = format!("{}/echo/landed", server.base_url());
    let mut failures = Vec::new();
    for status in [301, 302, 303, 307, 308] {
        for (tool, to) in [
            ("redirectGet", &steal),
            ("redirectPost", &steal),
            ("redirectGet", &same_origin),
        ] {
            let mut args = json!({ "status": status, "to": to });
            if tool == "redirectPost" {
                args["note"] = json!("a body for the upstream only");
            }
            let result = call(&client, tool, args).await.expect("call");
            let shown = text(&result);
            let named = format!("upstream answered HTTP {status} ");
            if result.is_error != Some(true) || !shown.contains(&named) || !shown.contains("redirects are not followed")
            {
                failures.push(format!("{tool} {status} → {to}: {shown}"));
            }
        }
    }
    client.cancel().await.expect("close");
    let log = log.lock().expect("log").clone();
    check(&mut failures, "stderr", &log, &keyed.secrets);
    assert_eq!(
        recorder.connections.load(Ordering::SeqCst),
        0,
        "the other port was reached"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn same_origin_redirects_are_followed_when_allowed_and_no_others() {
    let server = upstream();
    let recorder = recorder().await;
    let keyed = keyed(&server.key(), &[("CAST_FOLLOW_REDIRECTS", "same-origin")]);
    let log: Log = Default::default();
    let client = keyed.launch.stdio(&log).await.expect("connect");
    let (key, query_key) = (&keyed.sources[0].2, &keyed.sources[2].2);

    // Absolute and relative Locations on the upstream's own origin are followed, and
    // the credentials go with the request there (the echo shows them redacted).
    for to in [format!("{}/echo/landed", server.base_url()), "/echo/landed".to_owned()] {
        let result = call(&client, "redirectGet", json!({ "status": 302, "to": to }))
            .await
            .expect("call");
        let echo = result.structured_content.clone().unwrap_or_default();
        assert_eq!(result.is_error, Some(false), "{}", text(&result));
        assert_eq!(echo["path"], "/echo/landed");
        assert_eq!(echo["headers"]["x-api-key"], "[redacted]");
        assert_eq!(echo["query"], "api_key=[redacted]");
        assert!(!shown(&result).contains(key.as_str()) && !shown(&result).contains(query_key.as_str()));
    }
    // 307 keeps the method and the body; 303 turns into a GET without one.
    let kept = call(
        &client,
        "redirectPost",
        json!({ "status": 307, "to": "/echo/kept", "note": "kept" }),
    )
    .await
    .expect("call");
    let echo = kept.structured_content.clone().unwrap_or_default();
    assert_eq!(
        (echo["method"].as_str(), echo["body"].as_str()),
        (Some("POST"), Some(r#"{"note":"kept"}"#))
    );
    let seen = call(
        &client,
        "redirectPost",
        json!({ "status": 303, "to": "/echo/seen", "note": "kept" }),
    )
    .await
    .expect("call");
    let echo = seen.structured_content.clone().unwrap_or_default();
    assert_eq!(
        (echo["method"].as_str(), echo["body"].as_str()),
        (Some("GET"), Some(""))
    );

    // Another origin is refused, whatever the status; so is a loop.
    for status in [301, 302, 303, 307, 308] {
        let result = call(
            &client,
            "redirectGet",
            json!({ "status": status, "to": format!("{}/steal", recorder.url) }),
        )
        .await
        .expect("call");
        assert_eq!(result.is_error, Some(true));
        assert!(
            text(&result).contains("leads away from the upstream's origin"),
            "{}",
            text(&result)
        );
    }
    let looped = call(&client, "redirectGet", json!({ "status": 302, "to": "/redirect/302" }))
        .await
        .expect("call");
    assert!(text(&looped).contains("more than 5 redirects"), "{}", text(&looped));
    client.cancel().await.expect("close");
    assert_eq!(
        recorder.connections.load(Ordering::SeqCst),
        0,
        "the other port was reached"
    );
    let mut failures = Vec::new();
    check(&mut failures, "stderr", &log.lock().expect("log"), &keyed.secrets);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn an_authorization_server_that_quotes_the_client_secret_is_redacted() {
    let wrong = format!("wrong_{}", &generate_key()[5..]);
    let keyed = keyed(&wrong, &[]);
    let log: Log = Default::default();
    let client = keyed.launch.stdio(&log).await.expect("connect");
    let result = call(&client, "leakOauth", json!({ "source": "authorization" }))
        .await
        .expect("call");
    client.cancel().await.expect("close");
    let shown = shown(&result);
    assert_eq!(result.is_error, Some(true));
    assert!(shown.contains("invalid_client"), "{shown}");
    assert!(
        shown.contains("cast-client:[redacted]") || shown.contains("`[redacted]`"),
        "{shown}"
    );
    let mut failures = Vec::new();
    check(&mut failures, "result", &shown, &keyed.secrets);
    check(&mut failures, "stderr", &log.lock().expect("log"), &keyed.secrets);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
