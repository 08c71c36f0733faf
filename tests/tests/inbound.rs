//! Only the agents you allow: inbound authentication on the HTTP transport, through
//! real MCP clients (rmcp, and mcp-remote from npm) against a generated server, with
//! the test server as the upstream and as the OAuth 2.1 authorization server.

use std::{net::SocketAddr, path::PathBuf, sync::OnceLock, time::Duration};

use cast_codegen::Settings;
use cast_e2e::{
    Launch, Log, Vault, build, call, connect_discover_as, connect_initialize_as, generate, text, workspace_root,
};
use cast_test_server::{Mode, TestServer, generate_key, start};
use serde_json::{Value, json};

/// What `[inbound.scopes]` the server is generated with.
const SCOPES: &str =
    "[inbound.scopes]\n\"items.read\" = [\"read\"]\n\"items.write\" = [\"write\"]\nadmin = [\"destructive\"]\n";
/// A canonical URI for the server; tokens must carry it as their audience.
const RESOURCE: &str = "http://localhost/mcp";

fn binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let spec = workspace_root().join("examples/test-server/openapi.json");
        let out = workspace_root().join("target/inbound/inbound-mcp");
        let settings = Settings::from_toml(
            &format!("name = \"inbound-mcp\"\n[tools]\nenable = [\"deleteItem\"]\n{SCOPES}"),
            "cast.toml",
        )
        .expect("settings");
        let generated = generate(spec.to_str().expect("UTF-8"), settings, &out).expect("generate");
        assert!(generated.diagnostics.is_empty(), "{}", generated.diagnostics);
        build(&out, "inbound-mcp").expect("build")
    })
}

async fn server(mode: Mode) -> TestServer {
    start(SocketAddr::from(([127, 0, 0, 1], 0)), mode, generate_key())
        .await
        .expect("test server")
}

/// A launch of the inbound server against `upstream`, its key sealed.
fn launch(upstream: &TestServer, vault: &Vault, extra: &[(&str, String)]) -> Launch {
    let key = vault.seal("key.sealed", "X-Api-Key", &upstream.key()).expect("seal");
    let mut env = vec![
        ("CAST_MASTER_KEY".to_owned(), vault.master_b64.clone()),
        ("CAST_KEY_FILE".to_owned(), key.display().to_string()),
        ("CAST_BASE_URL".to_owned(), upstream.base_url().to_owned()),
        ("CAST_LOG".to_owned(), "trace".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    Launch {
        binary: binary().clone(),
        env,
    }
}

async fn new_token(launch: &Launch, file: &std::path::Path, name: &str, scopes: &[&str]) -> String {
    let mut args = vec![
        "token",
        "new",
        "--inbound-tokens",
        file.to_str().expect("UTF-8"),
        "--name",
        name,
    ];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    let (ok, stdout, stderr) = launch.output(&args).await.expect("token new");
    assert!(ok, "{stderr}");
    stdout.trim().to_owned()
}

/// A raw `tools/call` POST, to see the HTTP status and `WWW-Authenticate` a client gets.
async fn raw_call(url: &str, token: Option<&str>, tool: &str) -> (u16, String, Value) {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": tool, "arguments": { "name": "x" } } });
    let mut request = cast_e2e::http_client()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or_default();
    (status, challenge, body)
}

async fn tool_names(url: &str, token: &str, log: &Log) -> Vec<String> {
    let client = match connect_initialize_as(url, Some(token)).await {
        Ok(client) => client,
        Err(err) => {
            let log = log.lock().expect("log");
            let refusals: Vec<&str> = log.lines().filter(|l| l.contains("cast::inbound")).collect();
            panic!("connect: {err:#}\nrefusals:\n{}", refusals.join("\n"));
        }
    };
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    client.cancel().await.expect("close");
    names.sort();
    names
}

fn assert_no_leak(haystack: &str, secrets: &[String]) {
    for secret in secrets {
        if let Some(at) = haystack.find(secret.as_str()) {
            let line_start = haystack[..at].rfind('\n').map_or(0, |i| i + 1);
            let shown: String = haystack[line_start..at].chars().take(300).collect();
            panic!("a secret reached the log, after: {shown}");
        }
    }
}

#[tokio::test]
async fn static_tokens_admit_only_listed_callers_and_revocation_is_live() {
    let upstream = server(Mode::ApiKey {
        header: "X-Api-Key".into(),
    })
    .await;
    let vault = Vault::new().expect("vault");
    let tokens = vault.dir.path().join("inbound-tokens");
    let launch = launch(&upstream, &vault, &[]);
    let reader = new_token(&launch, &tokens, "reader", &["items.read"]).await;
    let admin = new_token(&launch, &tokens, "admin", &["items.read", "items.write", "admin"]).await;
    assert!(reader.starts_with("cast_mcp_") && reader != admin);
    let file = std::fs::read_to_string(&tokens).expect("tokens file");
    assert!(
        !file.contains(&reader) && !file.contains(&admin),
        "the file holds hashes only"
    );

    let log: Log = Default::default();
    let (_child, url) = launch
        .http_with(
            &log,
            &[
                "--listen",
                "127.0.0.1:0",
                "--inbound-tokens",
                tokens.to_str().expect("UTF-8"),
            ],
        )
        .await
        .expect("serve");

    // No token, a wrong one: 401 with a challenge, and no MCP client gets in.
    let (status, challenge, body) = raw_call(&url, None, "listItems").await;
    assert_eq!((status, challenge.as_str()), (401, "Bearer"), "{body}");
    let (status, challenge, _) = raw_call(&url, Some("cast_mcp_not-a-real-token"), "listItems").await;
    assert_eq!(status, 401);
    assert!(challenge.starts_with("Bearer error=\"invalid_token\""), "{challenge}");
    assert!(connect_initialize_as(&url, None).await.is_err());
    assert!(connect_discover_as(&url, Some("wrong")).await.is_err());

    // The right tokens, each seeing what its scopes grant.
    assert_eq!(
        tool_names(&url, &reader, &log).await,
        ["getItem", "getStatus", "listItems", "listUsers"]
    );
    assert_eq!(
        tool_names(&url, &admin, &log).await,
        [
            "createItem",
            "deleteItem",
            "getItem",
            "getStatus",
            "listItems",
            "listUsers",
            "updateItem"
        ]
    );
    let (status, challenge, _) = raw_call(&url, Some(&reader), "deleteItem").await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"admin\""),
        "{challenge}"
    );
    let client = connect_discover_as(&url, Some(&reader)).await.expect("connect");
    let listed = call(&client, "listItems", json!({})).await.expect("call");
    assert_eq!(listed.is_error, Some(false), "{}", text(&listed));
    assert!(call(&client, "createItem", json!({ "name": "x" })).await.is_err());

    // Revoke `reader` by deleting its line, add another: both take effect at once.
    let kept: String = std::fs::read_to_string(&tokens)
        .expect("read")
        .lines()
        .filter(|l| !l.starts_with("reader "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&tokens, kept).expect("revoke");
    assert!(
        call(&client, "listItems", json!({})).await.is_err(),
        "a revoked token still works"
    );
    client.cancel().await.ok();
    let late = new_token(&launch, &tokens, "late", &["items.read"]).await;
    assert_eq!(tool_names(&url, &late, &log).await.len(), 4);

    // The upstream never saw an inbound token, and the log names callers, never tokens.
    for seen in upstream.seen() {
        assert!(!seen.headers.to_ascii_lowercase().contains("authorization"), "{seen:?}");
    }
    let log = log.lock().expect("log").clone();
    assert!(
        log.contains(r#""caller":"reader""#),
        "the call's log line names the token"
    );
    let hashes: Vec<String> = file
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(str::to_owned)
        .collect();
    assert_eq!(hashes.len(), 2);
    assert_no_leak(&log, &[reader, admin, late, upstream.key()]);
    assert_no_leak(&log, &hashes);
}

#[tokio::test]
async fn jwt_access_tokens_are_checked_like_a_resource_server_must() {
    let upstream = server(Mode::ApiKey {
        header: "X-Api-Key".into(),
    })
    .await;
    let issuer = server(Mode::Issuer {
        token_lifetime_secs: 300,
    })
    .await;
    let vault = Vault::new().expect("vault");
    let launch = launch(
        &upstream,
        &vault,
        &[
            ("CAST_OAUTH_ISSUER", issuer.base_url().to_owned()),
            ("CAST_RESOURCE", RESOURCE.to_owned()),
        ],
    );
    let log: Log = Default::default();
    let (_child, url) = launch
        .http_with(&log, &["--listen", "127.0.0.1:0"])
        .await
        .expect("serve");
    let base = url.trim_end_matches("/mcp").to_owned();

    // Protected Resource Metadata (RFC 9728), at the path-suffixed and the plain well-known URL.
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let document: Value = cast_e2e::http_client()
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("metadata")
            .json()
            .await
            .expect("JSON");
        assert_eq!(document["resource"], RESOURCE);
        assert_eq!(document["authorization_servers"], json!([issuer.base_url()]));
        assert_eq!(
            document["scopes_supported"],
            json!(["admin", "items.read", "items.write"])
        );
        assert_eq!(document["bearer_methods_supported"], json!(["header"]));
    }
    let (status, challenge, _) = raw_call(&url, None, "listItems").await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge,
        "Bearer resource_metadata=\"http://localhost/.well-known/oauth-protected-resource/mcp\""
    );
    assert_eq!(
        cast_e2e::http_client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .expect("health")
            .status(),
        200
    );

    // A token from the issuer's token endpoint, as a client would get it (RFC 8707 resource).
    let issued: Value = cast_e2e::http_client()
        .post(format!("{}/oauth/token", issuer.base_url()))
        .basic_auth("cast-client", Some(issuer.key()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&resource={}&scope=items.read",
            percent_encoding::utf8_percent_encode(RESOURCE, percent_encoding::NON_ALPHANUMERIC)
        ))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("JSON");
    let reader = issued["access_token"].as_str().expect("access token").to_owned();
    assert_eq!(
        tool_names(&url, &reader, &log).await,
        ["getItem", "getStatus", "listItems", "listUsers"]
    );
    let (status, challenge, _) = raw_call(&url, Some(&reader), "createItem").await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains("error=\"insufficient_scope\", error_description="),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"items.write\""), "{challenge}");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = |change: Value| {
        let mut claims = json!({ "iss": issuer.base_url(), "aud": RESOURCE, "sub": "alice",
            "scope": "items.read items.write admin", "iat": now, "exp": now + 300 });
        for (key, value) in change.as_object().expect("object") {
            claims[key] = value.clone();
        }
        claims
    };
    let admin = issuer.mint_jwt(None, &claims(json!({})));
    assert_eq!(tool_names(&url, &admin, &log).await.len(), 7);

    // Each broken token is refused with `invalid_token` and says why.
    // One character inside the signature changed (not the last, whose low bits may be padding).
    let mut tampered = admin.clone().into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    let unsigned = {
        use base64::Engine as _;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(json!({ "alg": "none", "typ": "JWT", "kid": "k1" })),
            b64(claims(json!({})))
        )
    };
    let hmac_with_public_key = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("k1".into());
        let public = issuer.public_key("k1").expect("k1");
        jsonwebtoken::encode(
            &header,
            &claims(json!({})),
            &jsonwebtoken::EncodingKey::from_secret(&public).expect("key"),
        )
        .expect("HS256")
    };
    let cases = [
        (
            "wrong audience",
            issuer.mint_jwt(None, &claims(json!({ "aud": "https://other.example/mcp" }))),
            "was not issued for",
        ),
        (
            "wrong issuer",
            issuer.mint_jwt(None, &claims(json!({ "iss": "https://evil.example" }))),
            "was not issued by",
        ),
        (
            "expired",
            issuer.mint_jwt(None, &claims(json!({ "exp": now - 600 }))),
            "has expired",
        ),
        (
            "not yet valid",
            issuer.mint_jwt(None, &claims(json!({ "nbf": now + 600 }))),
            "not valid yet",
        ),
        ("bad signature", tampered, "signature does not verify"),
        ("alg none", unsigned, "not a JWT this server accepts"),
        (
            "HMAC with the public key",
            hmac_with_public_key,
            "are not accepted: only asymmetric",
        ),
    ];
    for (what, token, why) in &cases {
        let (status, challenge, _) = raw_call(&url, Some(token), "listItems").await;
        assert_eq!(status, 401, "{what}");
        assert!(
            challenge.contains("error=\"invalid_token\"") && challenge.contains(why),
            "{what}: {challenge}"
        );
    }

    // A key rotated in at the issuer is found by refetching its key set once (refetches
    // are at least a second apart, so made-up key ids cannot flood the issuer).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = issuer.jwks_requests();
    issuer.add_signing_key("k2", true);
    let rotated = issuer.mint_jwt(Some("k2"), &claims(json!({})));
    assert_eq!(tool_names(&url, &rotated, &log).await.len(), 7);
    assert_eq!(issuer.jwks_requests(), before + 1, "one refetch for the new key");
    // An unknown key id: one refetch (after the minimum interval), then refused without another.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    issuer.add_signing_key("rogue", false);
    let rogue = issuer.mint_jwt(Some("rogue"), &claims(json!({})));
    for _ in 0..3 {
        let (status, challenge, _) = raw_call(&url, Some(&rogue), "listItems").await;
        assert_eq!(status, 401);
        assert!(
            challenge.contains("signing key is not one of the issuer's"),
            "{challenge}"
        );
    }
    assert_eq!(
        issuer.jwks_requests(),
        before + 2,
        "unknown key ids are refetched once, not per request"
    );

    for seen in upstream.seen() {
        assert!(!seen.headers.to_ascii_lowercase().contains("authorization"), "{seen:?}");
    }
    let log = log.lock().expect("log").clone();
    let mut secrets = vec![reader, admin, rotated, rogue, upstream.key()];
    secrets.extend(cases.into_iter().map(|(_, token, _)| token));
    assert_no_leak(&log, &secrets);
}

#[tokio::test]
async fn a_reachable_address_needs_inbound_auth_or_words_that_waive_it() {
    let upstream = server(Mode::None).await;
    let vault = Vault::new().expect("vault");
    let launch = launch(&upstream, &vault, &[]);
    let (ok, stderr) = launch.run(&["http", "--listen", "0.0.0.0:0"]).await.expect("run");
    assert!(!ok);
    assert!(
        stderr.contains("error: refusing to listen on 0.0.0.0:0 without inbound authentication"),
        "{stderr}"
    );
    let log: Log = Default::default();
    let (mut child, url) = launch
        .http_with(&log, &["--listen", "0.0.0.0:0", "--allow-unauthenticated"])
        .await
        .expect("serves when told in words");
    assert!(url.contains(":"), "{url}");
    assert!(
        log.lock()
            .expect("log")
            .contains("inbound authentication is off (--allow-unauthenticated)")
    );
    child.kill().await.ok();
}

#[tokio::test]
async fn mcp_remote_reaches_the_server_with_a_static_token_header() {
    let upstream = server(Mode::ApiKey {
        header: "X-Api-Key".into(),
    })
    .await;
    let vault = Vault::new().expect("vault");
    let tokens = vault.dir.path().join("inbound-tokens");
    let launch = launch(&upstream, &vault, &[]);
    let token = new_token(&launch, &tokens, "remote", &["items.read"]).await;
    let log: Log = Default::default();
    let (_child, url) = launch
        .http_with(
            &log,
            &[
                "--listen",
                "127.0.0.1:0",
                "--inbound-tokens",
                tokens.to_str().expect("UTF-8"),
            ],
        )
        .await
        .expect("serve");

    // The client config exactly as `connect` prints it, with the token pasted where it says.
    let (ok, stdout, stderr) = launch
        .output(&[
            "connect",
            "--client",
            "mcp-remote",
            "--url",
            &url,
            "--inbound-tokens",
            tokens.to_str().expect("UTF-8"),
        ])
        .await
        .expect("connect");
    assert!(ok, "{stderr}");
    assert!(
        [token.as_str(), vault.master_b64.as_str(), upstream.key().as_str()]
            .iter()
            .all(|s| !stdout.contains(s)),
        "no secret in a snippet"
    );
    let config: serde_json::Value =
        serde_json::from_str(&stdout[stdout.find("\n{").expect("the JSON snippet")..]).expect("the snippet is JSON");
    let entry = &config["mcpServers"]["inbound-mcp"];
    assert_eq!(entry["command"], "npx");
    let args: Vec<&str> = entry["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string"))
        .collect();
    assert_eq!(args[..3], ["-y", "mcp-remote", url.as_str()]);
    let placeholder = entry["env"]["AUTH_HEADER"].as_str().expect("where the token goes");
    assert!(placeholder.starts_with("Bearer <"), "{placeholder}");

    let proxy = cast_e2e::npm_package("mcp-remote", "0.15.1", "dist/proxy.js").expect("mcp-remote from npm");
    let home = tempfile::tempdir().expect("home");
    let mut command = tokio::process::Command::new("node");
    command
        .arg(proxy)
        .args(&args[2..])
        .env("AUTH_HEADER", format!("Bearer {token}"))
        .env("HOME", home.path())
        .env("MCP_REMOTE_CONFIG_DIR", home.path())
        .kill_on_drop(true);
    let client = cast_e2e::stdio_client(command, &Default::default())
        .await
        .expect("mcp-remote connects");
    let tools = client.list_all_tools().await.expect("tools");
    assert_eq!(tools.len(), 4, "the token's scope shows the read tools only");
    let listed = call(&client, "listItems", json!({})).await.expect("call");
    assert_eq!(listed.is_error, Some(false), "{}", text(&listed));
    client.cancel().await.ok();
    assert!(log.lock().expect("log").contains(r#""caller":"remote""#));
}
