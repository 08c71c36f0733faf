//! Spec-driven upstream auth, end to end: for each kind of scheme the test server
//! speaks, generate from its /openapi.json, seal the credential(s), call tools through
//! a real MCP client, and check what the upstream saw and that no secret leaked.

use std::net::SocketAddr;

use cast_codegen::Settings;
use cast_e2e::{Launch, Vault, build, call, generate, text, workspace_root};
use cast_test_server::{Mode, TestServer, generate_key, start};
use serde_json::json;

struct Case {
    name: &'static str,
    mode: Mode,
    /// (scheme name, sealing label, value from the key) per credential; the first is `--key-file`.
    credentials: fn(&str) -> Vec<(&'static str, &'static str, String)>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "bearer",
            mode: Mode::Bearer,
            credentials: |k| vec![("bearer", "Authorization", k.to_owned())],
        },
        Case {
            name: "basic",
            mode: Mode::Basic,
            credentials: |k| vec![("basic", "Authorization", format!("cast:{k}"))],
        },
        Case {
            name: "query",
            mode: Mode::Query { name: "api_key".into() },
            credentials: |k| vec![("queryKey", "api_key", k.to_owned())],
        },
        Case {
            name: "cookie",
            mode: Mode::Cookie { name: "session".into() },
            credentials: |k| vec![("cookieKey", "session", k.to_owned())],
        },
        Case {
            name: "both",
            mode: Mode::Both,
            credentials: |k| {
                vec![
                    ("apiKey", "X-Api-Key", k.to_owned()),
                    ("queryKey", "api_key", k.to_owned()),
                ]
            },
        },
    ]
}

async fn upstream(mode: Mode) -> TestServer {
    start(SocketAddr::from(([127, 0, 0, 1], 0)), mode, generate_key())
        .await
        .expect("test server")
}

#[tokio::test]
async fn every_scheme_kind_reaches_the_upstream_and_nothing_leaks() {
    let mut failures = Vec::new();
    for case in cases() {
        let server = upstream(case.mode.clone()).await;
        let key = server.key();
        let spec = format!("{}/openapi.json", server.base_url());
        let crate_name = format!("auth-{}-mcp", case.name);
        let out = workspace_root().join("target/auth").join(&crate_name);
        let binary = tokio::task::spawn_blocking({
            let (out, crate_name) = (out.clone(), crate_name.clone());
            move || {
                generate(&spec, Settings::default().with_name(&crate_name), &out).expect("generate");
                build(&out, &crate_name).expect("build")
            }
        })
        .await
        .expect("join");

        let vault = Vault::new().expect("vault");
        let mut env = vec![
            ("CAST_MASTER_KEY".to_owned(), vault.master_b64.clone()),
            ("CAST_LOG".to_owned(), "trace".to_owned()),
        ];
        let mut secrets = vec![key.clone(), vault.master_b64.clone()];
        let mut named = Vec::new();
        for (index, (scheme, label, value)) in (case.credentials)(&key).into_iter().enumerate() {
            let file = vault.seal(&format!("{scheme}.sealed"), label, &value).expect("seal");
            if index == 0 {
                env.push(("CAST_KEY_FILE".into(), file.display().to_string()));
            } else {
                named.push(format!("{scheme}={}", file.display()));
            }
            secrets.push(value);
        }
        if !named.is_empty() {
            env.push(("CAST_CREDENTIALS".into(), named.join(",")));
        }
        let log = Default::default();
        let client = Launch { binary, env }.stdio(&log).await.expect("connect");

        let listed = call(&client, "listItems", json!({ "limit": 5 })).await.expect("call");
        if listed.is_error != Some(false) {
            failures.push(format!("{}: listItems failed: {}", case.name, text(&listed)));
        }
        let seen = server.seen();
        if seen.last().and_then(|s| s.credential.as_deref()) != Some(key.as_str()) {
            failures.push(format!("{}: the upstream saw {:?}", case.name, seen.last()));
        }
        // `security: []`: the public operation is called without any credential.
        let status = call(&client, "getStatus", json!({})).await.expect("call");
        let seen = server.seen();
        let last = seen.last().expect("seen");
        if status.is_error != Some(false) || last.credential.is_some() || last.uri.contains("api_key") {
            failures.push(format!(
                "{}: the public operation carried a credential: {last:?}",
                case.name
            ));
        }
        client.cancel().await.expect("close");
        let log = log.lock().expect("log").clone();
        for secret in &secrets {
            if log.contains(secret.as_str()) || format!("{listed:?}{status:?}").contains(secret.as_str()) {
                failures.push(format!("{}: a secret leaked", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn with_every_static_scheme_at_once_an_echoing_upstream_gets_nothing_back_to_the_client() {
    let server = upstream(Mode::None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("echo.json");
    std::fs::write(
        &spec,
        json!({
            "openapi": "3.0.3",
            "info": { "title": "Echo", "version": "1.0.0" },
            "servers": [{ "url": server.base_url() }],
            "components": { "securitySchemes": {
                "key": { "type": "apiKey", "in": "header", "name": "X-Api-Key" },
                "basic": { "type": "http", "scheme": "basic" },
                "query": { "type": "apiKey", "in": "query", "name": "api_key" },
                "cookie": { "type": "apiKey", "in": "cookie", "name": "session" }
            } },
            "security": [{ "key": [], "basic": [], "query": [], "cookie": [] }],
            "paths": { "/echo/leak": { "get": { "operationId": "echoLeak", "responses": { "200": { "description": "echo" } } } } }
        })
        .to_string(),
    )
    .expect("write spec");
    let settings = Settings::from_toml(
        "name = \"echo-leak-mcp\"\n[auth]\nsecret_headers = [\"X-Tenant-Token\"]\n",
        "cast.toml",
    )
    .expect("settings");
    let out = workspace_root().join("target/auth/echo-leak-mcp");
    let binary = tokio::task::spawn_blocking({
        let (spec, out) = (spec.clone(), out.clone());
        move || {
            generate(spec.to_str().expect("UTF-8"), settings, &out).expect("generate");
            build(&out, "echo-leak-mcp").expect("build")
        }
    })
    .await
    .expect("join");
    let vault = Vault::new().expect("vault");
    let secrets = [
        ("key", "X-Api-Key", "cast_echo_header_0123456789"),
        ("basic", "Authorization", "cast:s3cret-pass"),
        ("query", "api_key", "cast_echo_query_0123456789"),
        ("cookie", "session", "cast_echo_cookie_0123456789"),
        ("X-Tenant-Token", "X-Tenant-Token", "cast_echo_tenant_0123456789"),
    ];
    let mut named = Vec::new();
    for (scheme, label, value) in secrets {
        let file = vault.seal(&format!("{scheme}.sealed"), label, value).expect("seal");
        named.push(format!("{scheme}={}", file.display()));
    }
    let env = vec![
        ("CAST_MASTER_KEY".to_owned(), vault.master_b64.clone()),
        ("CAST_CREDENTIALS".to_owned(), named.join(",")),
        ("CAST_LOG".to_owned(), "trace".to_owned()),
    ];
    let log = Default::default();
    let client = Launch { binary, env }.stdio(&log).await.expect("connect");
    let result = call(&client, "echoLeak", json!({})).await.expect("call");
    client.cancel().await.expect("close");

    // The upstream received every credential; the client sees each one redacted.
    let echoed = result.structured_content.clone().expect("echo");
    assert_eq!(echoed["headers"]["x-api-key"], "[redacted]");
    assert_eq!(echoed["headers"]["authorization"], "Basic [redacted]");
    assert_eq!(echoed["headers"]["cookie"], "session=[redacted]");
    assert_eq!(echoed["headers"]["x-tenant-token"], "[redacted]");
    assert_eq!(echoed["query"], "api_key=[redacted]");
    let shown = format!("{result:?}");
    let log = log.lock().expect("log").clone();
    // Each value, and the base64 form basic auth sends.
    let base64_basic = "Y2FzdDpzM2NyZXQtcGFzcw==";
    for secret in secrets
        .iter()
        .map(|(_, _, v)| *v)
        .chain(["s3cret-pass", base64_basic, &vault.master_b64])
    {
        assert!(!shown.contains(secret), "{secret} reached the client: {shown}");
        assert!(!log.contains(secret), "{secret} reached the log");
    }
}

#[tokio::test]
async fn oauth_client_credentials_tokens_are_fetched_renewed_and_retried() {
    let server = upstream(Mode::OAuth { token_lifetime_secs: 2 }).await;
    let key = server.key();
    let spec = format!("{}/openapi.json", server.base_url());
    let out = workspace_root().join("target/auth/auth-oauth-mcp");
    let binary = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            let toml = "name = \"auth-oauth-mcp\"\n[auth.token_params]\naudience = \"https://api.example.com\"\n";
            let settings = Settings::from_toml(toml, "cast.toml").expect("settings");
            let generated = generate(&spec, settings, &out).expect("generate");
            assert!(generated.diagnostics.is_empty(), "{}", generated.diagnostics);
            build(&out, "auth-oauth-mcp").expect("build")
        }
    })
    .await
    .expect("join");
    let vault = Vault::new().expect("vault");
    let client_credential = format!("cast-client:{key}");
    let file = vault
        .seal("oauth.sealed", "oauth2-client", &client_credential)
        .expect("seal");
    let env = vec![
        ("CAST_MASTER_KEY".to_owned(), vault.master_b64.clone()),
        ("CAST_KEY_FILE".to_owned(), file.display().to_string()),
        ("CAST_LOG".to_owned(), "trace".to_owned()),
    ];
    let log = Default::default();
    let client = Launch { binary, env }.stdio(&log).await.expect("connect");

    let first = call(&client, "listUsers", json!({})).await.expect("call");
    assert_eq!(first.is_error, Some(false), "{}", text(&first));
    assert_eq!(server.token_requests(), 1);
    assert_eq!(
        server.last_token_param("audience").as_deref(),
        Some("https://api.example.com")
    );
    assert_eq!(server.last_token_param("scope").as_deref(), Some("items users"));
    let again = call(&client, "listItems", json!({})).await.expect("call");
    assert_eq!(again.is_error, Some(false), "{}", text(&again));
    assert_eq!(server.token_requests(), 1, "the cached token is reused");

    // The 2-second token expires mid-run: it is renewed before use.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let later = call(&client, "listUsers", json!({})).await.expect("call");
    assert_eq!(later.is_error, Some(false), "{}", text(&later));
    assert_eq!(server.token_requests(), 2);

    // Revoked early: the 401 triggers one renewal and a retry, invisible to the client.
    server.revoke_tokens();
    let retried = call(&client, "listUsers", json!({})).await.expect("call");
    assert_eq!(retried.is_error, Some(false), "{}", text(&retried));
    assert_eq!(server.token_requests(), 3);

    // Public operations still go without a token.
    call(&client, "getStatus", json!({})).await.expect("call");
    assert_eq!(server.seen().last().expect("seen").credential, None);
    client.cancel().await.expect("close");
    let tokens: Vec<String> = server.seen().iter().filter_map(|s| s.credential.clone()).collect();
    assert!(tokens.len() >= 4 && tokens.iter().all(|t| t.starts_with("tok_")));
    let log = log.lock().expect("log").clone();
    for secret in tokens
        .iter()
        .map(String::as_str)
        .chain([key.as_str(), client_credential.as_str()])
    {
        assert!(!log.contains(secret), "a secret reached the log");
    }
    assert!(log.contains("OAuth 2.0 token obtained"));
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_a_clear_tool_error() {
    let server = upstream(Mode::OAuth {
        token_lifetime_secs: 60,
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let spec = dir.path().join("oauth.json");
    std::fs::write(
        &spec,
        json!({
            "openapi": "3.0.3",
            "info": { "title": "OAuth down", "version": "1.0.0" },
            "servers": [{ "url": server.base_url() }],
            "components": { "securitySchemes": { "oauth": { "type": "oauth2", "flows": { "clientCredentials": {
                "tokenUrl": format!("http://{closed}/oauth/token"), "scopes": {} } } } } },
            "security": [{ "oauth": [] }],
            "paths": { "/api/users": { "get": { "operationId": "listUsers", "responses": { "200": { "description": "ok" } } } } }
        })
        .to_string(),
    )
    .expect("write");
    let out = workspace_root().join("target/auth/oauth-down-mcp");
    let binary = tokio::task::spawn_blocking({
        let (spec, out) = (spec.clone(), out.clone());
        move || {
            generate(
                spec.to_str().expect("UTF-8"),
                Settings::default().with_name("oauth-down-mcp"),
                &out,
            )
            .expect("generate");
            build(&out, "oauth-down-mcp").expect("build")
        }
    })
    .await
    .expect("join");
    let vault = Vault::new().expect("vault");
    let file = vault
        .seal("oauth.sealed", "oauth2-client", "cast-client:s3cret-client")
        .expect("seal");
    let env = vec![
        ("CAST_MASTER_KEY".to_owned(), vault.master_b64.clone()),
        ("CAST_KEY_FILE".to_owned(), file.display().to_string()),
    ];
    let client = Launch { binary, env }
        .stdio(&Default::default())
        .await
        .expect("connect");
    let result = call(&client, "listUsers", json!({})).await.expect("a tool result");
    client.cancel().await.expect("close");
    assert_eq!(result.is_error, Some(true));
    let message = text(&result);
    assert!(
        message.starts_with(&format!(
            "cannot get an OAuth 2.0 token from http://{closed}/oauth/token"
        )),
        "{message}"
    );
    assert!(!message.contains("s3cret-client"), "{message}");
    assert!(server.seen().is_empty(), "no unauthenticated request went upstream");
}

/// One HTTP GET, as a browser would send it; returns the status line, the `Location` header and the body.
async fn browser_get(url: &str) -> (String, Option<String>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(authority).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    let location = head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.trim().to_owned())
    });
    (status, location, body.to_owned())
}

#[tokio::test]
async fn oauth_sign_in_with_pkce_dynamic_registration_and_rotating_refresh_tokens() {
    sign_in_and_refresh(Mode::OAuthUser { token_lifetime_secs: 2 }, "auth-user-mcp", "oauth").await;
}

#[tokio::test]
async fn openid_connect_sign_in_through_the_discovery_document() {
    sign_in_and_refresh(Mode::Oidc { token_lifetime_secs: 2 }, "auth-oidc-mcp", "oidc").await;
}

/// `login` (dynamic registration, PKCE, the redirect followed like a browser), then calls
/// that refresh from the sealed refresh token, rotate it, and fail clearly once it is revoked.
async fn sign_in_and_refresh(mode: Mode, crate_name: &'static str, scheme: &str) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let server = upstream(mode).await;
    let spec = format!("{}/openapi.json", server.base_url());
    let out = workspace_root().join("target/auth").join(crate_name);
    let binary = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            let generated = generate(&spec, Settings::default().with_name(crate_name), &out).expect("generate");
            assert!(generated.diagnostics.is_empty(), "{}", generated.diagnostics);
            build(&out, crate_name).expect("build")
        }
    })
    .await
    .expect("join");
    let vault = Vault::new().expect("vault");
    let file = vault.dir.path().join("user.sealed");
    // The browser opener is whatever `xdg-open` is on PATH: this one records what it was given.
    let opener_dir = tempfile::tempdir().expect("tempdir");
    let opener = opener_dir.path().join("xdg-open");
    // Written under another name, then renamed: the test never reads it half-written.
    std::fs::write(
        &opener,
        "#!/bin/sh\nd=\"$(dirname \"$0\")\"\nenv > \"$d/opener.tmp\" && mv \"$d/opener.tmp\" \"$d/opener.env\"\n",
    )
    .expect("opener");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let path = format!(
        "{}:{}",
        opener_dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = vec![
        ("CAST_MASTER_KEY".to_owned(), vault.master_b64.clone()),
        ("CAST_KEY_FILE".to_owned(), file.display().to_string()),
        ("CAST_LOG".to_owned(), "trace".to_owned()),
        ("PATH".to_owned(), path),
    ];

    // `login`: no client id anywhere, so it registers one (RFC 7591), then waits for the redirect.
    let mut login = tokio::process::Command::new(&binary)
        .arg("login")
        .envs(env.iter().cloned())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("login");
    let mut lines = BufReader::new(login.stderr.take().expect("stderr")).lines();
    let mut transcript = String::new();
    let url = loop {
        let line = lines.next_line().await.expect("read").expect("login printed the URL");
        transcript.push_str(&line);
        transcript.push('\n');
        if let Some(url) = line.split("open this URL to sign in: ").nth(1) {
            break url.to_owned();
        }
    };
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("state="),
        "{url}"
    );
    // The "browser": the authorization server redirects to the loopback listener.
    let (status, location, _) = browser_get(&url).await;
    assert!(status.contains("302"), "{status}");
    let callback = location.expect("redirect");
    assert!(callback.starts_with("http://127.0.0.1:"), "{callback}");
    let (status, _, page) = browser_get(&callback).await;
    assert!(status.contains("200") && page.contains("Signed in"), "{status} {page}");
    assert!(login.wait().await.expect("wait").success());
    // The opener runs on its own, so it may finish after the sign-in does.
    let opener_env = opener_dir.path().join("opener.env");
    for _ in 0..100 {
        if opener_env.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let seen_by_opener = std::fs::read_to_string(&opener_env).expect("the opener ran");
    assert!(seen_by_opener.contains("PATH="), "{seen_by_opener}");
    assert!(
        !seen_by_opener.contains("CAST_") && !seen_by_opener.contains(&vault.master_b64),
        "the opener was given Cast's environment:\n{seen_by_opener}"
    );
    while let Ok(Some(line)) = lines.next_line().await {
        transcript.push_str(&line);
        transcript.push('\n');
    }
    assert!(transcript.contains("registered OAuth client `dyn_"), "{transcript}");
    assert!(transcript.contains(&format!("signed in to `{scheme}`")), "{transcript}");
    assert_eq!(server.registered_clients(), 1);
    let sealed_after_login = std::fs::read(&file).expect("sealed sign-in");

    // The server refreshes an access token from the sealed refresh token, and seals the rotated one.
    let log = Default::default();
    let client = Launch { binary, env }.stdio(&log).await.expect("connect");
    let first = call(&client, "listUsers", json!({})).await.expect("call");
    assert_eq!(first.is_error, Some(false), "{}", text(&first));
    assert_ne!(
        std::fs::read(&file).expect("read"),
        sealed_after_login,
        "the rotated refresh token was sealed"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let later = call(&client, "listItems", json!({})).await.expect("call");
    assert_eq!(later.is_error, Some(false), "{}", text(&later));
    assert_eq!(server.token_requests(), 3, "login, then two refreshes");
    // The refresh token is revoked: a clear, actionable tool error, not a crash.
    server.revoke_sign_ins();
    let expired = call(&client, "listUsers", json!({})).await.expect("a tool result");
    assert_eq!(expired.is_error, Some(true));
    assert!(
        text(&expired).contains("the sign-in has expired or was revoked"),
        "{}",
        text(&expired)
    );
    assert!(text(&expired).contains("run `login` again"), "{}", text(&expired));
    client.cancel().await.expect("close");

    let log = log.lock().expect("log").clone();
    // Tokens, refresh tokens and codes the test server issues: a prefix and 32 hex digits.
    let issued = |text: &str| {
        ["rt_", "tok_", "code_"].iter().any(|prefix| {
            text.match_indices(prefix).any(|(at, _)| {
                let tail = &text[at + prefix.len()..];
                tail.len() >= 32 && tail[..32].bytes().all(|b| b.is_ascii_hexdigit())
            })
        })
    };
    assert!(!issued(&log), "a token reached the server log:\n{log}");
    assert!(!issued(&transcript), "a token reached the login output:\n{transcript}");
}

#[tokio::test]
async fn cast_toml_names_the_sealed_credential_and_tools_says_so() {
    let server = upstream(Mode::ApiKey {
        header: "X-Api-Key".into(),
    })
    .await;
    let key = server.key();
    let vault = Vault::new().expect("vault");
    let sealed = vault.seal("api.sealed", "X-Api-Key", &key).expect("seal");
    let toml = format!(
        "name = \"cast-toml-creds-mcp\"\n\n[credentials]\napiKey = {:?}\n",
        sealed.display().to_string()
    );
    let settings = Settings::from_toml(&toml, "cast.toml").expect("settings");

    let spec_url = format!("{}/openapi.json", server.base_url());
    let out = workspace_root().join("target/auth/cast-toml-creds-mcp");
    let (binary, generated) = tokio::task::spawn_blocking({
        let (out, spec_url) = (out.clone(), spec_url.clone());
        move || {
            let generated = generate(&spec_url, settings, &out).expect("generate");
            (build(&out, "cast-toml-creds-mcp").expect("build"), generated)
        }
    })
    .await
    .expect("join");
    assert_eq!(
        generated.api.credential_files,
        [("apiKey".to_owned(), sealed.display().to_string())]
    );

    // No --key-file, no CAST_KEY_FILE: the file named in cast.toml is used.
    let env = vec![("CAST_MASTER_KEY".to_owned(), vault.master_b64.clone())];
    let client = Launch { binary, env }
        .stdio(&Default::default())
        .await
        .expect("connect");
    let result = call(&client, "listUsers", json!({})).await.expect("call");
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    assert_eq!(
        server.seen().last().expect("seen").credential.as_deref(),
        Some(key.as_str())
    );
    client.cancel().await.expect("close");

    let bad = Settings::from_toml("[credentials]\nnoSuch = \"x\"\n", "cast.toml").expect("settings");
    let err = tokio::task::spawn_blocking(move || generate(&spec_url, bad, &out).expect_err("unknown scheme"))
        .await
        .expect("join");
    assert!(
        err.to_string().contains("[credentials] names the scheme `noSuch`"),
        "{err}"
    );
}
