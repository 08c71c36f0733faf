//! Every snippet parses, and has the shape its client documents.

use super::*;

fn target(auth: InboundAuth) -> Target {
    Target {
        name: "items-mcp".to_owned(),
        command: "/home/a b/items-mcp/target/release/items-mcp".to_owned(),
        key_file: Some("/home/a b/secrets/key.sealed".to_owned()),
        master_key_file: "/home/a b/secrets/master.key".to_owned(),
        url: "https://mcp.example.com/mcp".to_owned(),
        auth,
    }
}

fn parsed(snippet: &Snippet) -> Value {
    match snippet.format {
        Format::Json => serde_json::from_str(&snippet.text)
            .unwrap_or_else(|e| panic!("{:?} {}: {e}\n{}", snippet.client, snippet.transport, snippet.text)),
        Format::Toml => {
            let table: toml::Table =
                toml::from_str(&snippet.text).unwrap_or_else(|e| panic!("{:?}: {e}\n{}", snippet.client, snippet.text));
            serde_json::to_value(table).expect("TOML as JSON")
        }
        Format::Shell => panic!("not a document"),
    }
}

fn one(target: &Target, client: Client, transport: &str, format: Format) -> Snippet {
    let mut found: Vec<Snippet> = target
        .snippets_for(client)
        .into_iter()
        .filter(|s| s.transport == transport && s.format == format)
        .collect();
    assert_eq!(found.len(), 1, "{client:?} {transport} {format:?}");
    found.remove(0)
}

/// The stdio entry's `command`, `args` and `env`, as every JSON client reads them.
fn assert_stdio_entry(entry: &Value) {
    assert_eq!(
        entry["command"], "/home/a b/items-mcp/target/release/items-mcp",
        "{entry}"
    );
    assert_eq!(entry["args"], json!(["stdio"]));
    assert_eq!(
        entry["env"],
        json!({ "CAST_KEY_FILE": "/home/a b/secrets/key.sealed", "CAST_MASTER_KEY_FILE": "/home/a b/secrets/master.key" })
    );
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn claude_desktop_starts_the_server_or_mcp_remote() {
    let target = target(InboundAuth::Token);
    let mut both = target.snippets_for(Client::ClaudeDesktop).into_iter();
    let stdio = parsed(&both.next().expect("stdio"));
    assert_eq!(keys(&stdio), ["mcpServers"]);
    assert_stdio_entry(&stdio["mcpServers"]["items-mcp"]);
    let remote = parsed(&both.next().expect("remote"));
    let entry = &remote["mcpServers"]["items-mcp"];
    assert_eq!(entry["command"], "npx");
    assert_eq!(
        entry["args"],
        json!([
            "-y",
            "mcp-remote",
            "https://mcp.example.com/mcp",
            "--header",
            "Authorization:${AUTH_HEADER}"
        ])
    );
    assert_eq!(entry["env"]["AUTH_HEADER"], "Bearer <token from `items-mcp token new`>");
}

#[test]
fn claude_code_json_has_types_and_the_cli_lines_are_one_command_each() {
    let target = target(InboundAuth::Token);
    let stdio = parsed(&one(&target, Client::ClaudeCode, "stdio", Format::Json));
    let entry = &stdio["mcpServers"]["items-mcp"];
    assert_eq!(entry["type"], "stdio");
    assert_stdio_entry(entry);
    let http = parsed(&one(&target, Client::ClaudeCode, "http", Format::Json));
    assert_eq!(
        http["mcpServers"]["items-mcp"],
        json!({ "type": "http", "url": "https://mcp.example.com/mcp", "headers": { "Authorization": "Bearer ${CAST_TOKEN}" } })
    );
    assert_eq!(
        one(&target, Client::ClaudeCode, "stdio", Format::Shell).text,
        "claude mcp add items-mcp --env 'CAST_KEY_FILE=/home/a b/secrets/key.sealed' --env 'CAST_MASTER_KEY_FILE=/home/a b/secrets/master.key' -- '/home/a b/items-mcp/target/release/items-mcp' stdio"
    );
    assert_eq!(
        one(&target, Client::ClaudeCode, "http", Format::Shell).text,
        "claude mcp add --transport http items-mcp https://mcp.example.com/mcp --header \"Authorization: Bearer $CAST_TOKEN\""
    );
}

#[test]
fn cursor_and_windsurf_name_the_url_as_each_documents() {
    let target = target(InboundAuth::Token);
    let cursor = parsed(&one(&target, Client::Cursor, "http", Format::Json));
    assert_eq!(
        cursor["mcpServers"]["items-mcp"],
        json!({ "url": "https://mcp.example.com/mcp", "headers": { "Authorization": "Bearer ${env:CAST_TOKEN}" } })
    );
    assert_stdio_entry(&parsed(&one(&target, Client::Cursor, "stdio", Format::Json))["mcpServers"]["items-mcp"]);
    let windsurf = parsed(&one(&target, Client::Windsurf, "http", Format::Json));
    assert_eq!(
        windsurf["mcpServers"]["items-mcp"]["serverUrl"],
        "https://mcp.example.com/mcp"
    );
    assert!(windsurf["mcpServers"]["items-mcp"].get("url").is_none());
    assert_stdio_entry(&parsed(&one(&target, Client::Windsurf, "stdio", Format::Json))["mcpServers"]["items-mcp"]);
}

#[test]
fn vs_code_uses_servers_and_asks_for_the_token_as_a_password_input() {
    let target = target(InboundAuth::Token);
    let http = parsed(&one(&target, Client::VsCode, "http", Format::Json));
    assert_eq!(
        keys(&http),
        ["inputs", "servers"],
        "VS Code's file has `servers`, not `mcpServers`"
    );
    let input = &http["inputs"][0];
    assert_eq!(input["type"], "promptString");
    assert_eq!(input["password"], true);
    let server = &http["servers"]["items-mcp"];
    assert_eq!(server["type"], "http");
    assert_eq!(
        server["headers"]["Authorization"],
        format!("Bearer ${{input:{}}}", input["id"].as_str().expect("id"))
    );
    let stdio = parsed(&one(&target, Client::VsCode, "stdio", Format::Json));
    assert_eq!(stdio["servers"]["items-mcp"]["type"], "stdio");
    assert_stdio_entry(&stdio["servers"]["items-mcp"]);
}

#[test]
fn codex_tables_are_toml_with_a_bearer_token_variable() {
    let target = target(InboundAuth::Token);
    let http = parsed(&one(&target, Client::Codex, "http", Format::Toml));
    assert_eq!(
        http,
        json!({ "mcp_servers": { "items-mcp": { "url": "https://mcp.example.com/mcp", "bearer_token_env_var": "CAST_TOKEN" } } })
    );
    let stdio = parsed(&one(&target, Client::Codex, "stdio", Format::Toml));
    assert_stdio_entry(&stdio["mcp_servers"]["items-mcp"]);
    // A name that is not a bare key is quoted.
    let odd = Target {
        name: "items mcp".to_owned(),
        ..target
    };
    let quoted = parsed(&one(&odd, Client::Codex, "http", Format::Toml));
    assert!(quoted["mcp_servers"]["items mcp"].is_object(), "{quoted}");
}

#[test]
fn gemini_uses_http_url() {
    let target = target(InboundAuth::Token);
    let http = parsed(&one(&target, Client::Gemini, "http", Format::Json));
    assert_eq!(
        http["mcpServers"]["items-mcp"],
        json!({ "httpUrl": "https://mcp.example.com/mcp", "headers": { "Authorization": "Bearer $CAST_TOKEN" } })
    );
    assert_stdio_entry(&parsed(&one(&target, Client::Gemini, "stdio", Format::Json))["mcpServers"]["items-mcp"]);
}

#[test]
fn without_tokens_no_client_sends_a_header() {
    for auth in [InboundAuth::OAuth, InboundAuth::None] {
        let target = target(auth);
        for snippet in target.snippets() {
            assert!(
                !snippet.text.contains("Authorization") && !snippet.text.contains("bearer_token_env_var"),
                "{auth:?} {:?}: {}",
                snippet.client,
                snippet.text
            );
            if snippet.format != Format::Shell {
                parsed(&snippet);
            }
        }
    }
}

#[test]
fn connect_md_has_every_client_and_every_snippet() {
    let target = target(InboundAuth::Token);
    let markdown = target.markdown();
    for client in Client::ALL {
        assert!(markdown.contains(&format!("## {}\n", client.title())), "{client:?}");
    }
    for snippet in target.snippets() {
        assert!(markdown.contains(snippet.text.trim_end()), "{:?}", snippet.client);
    }
    assert!(markdown.contains("`items-mcp token new --name LABEL`"));
}

#[test]
fn unknown_clients_are_named_with_the_choices() {
    assert_eq!(Client::parse("vscode"), Ok(Client::VsCode));
    let err = Client::parse("emacs").expect_err("unknown");
    assert!(
        err.starts_with("there is no client `emacs`; choose one of claude-desktop, claude-code,"),
        "{err}"
    );
}

#[test]
fn a_local_target_sends_a_token_unless_it_is_loopback_without_tokens() {
    let local = |url: Option<&'static str>, tokens| {
        Target::local(Local {
            name: "items-mcp",
            takes_credential: true,
            url,
            tokens_file_given: tokens,
            ..Local::default()
        })
        .auth
    };
    assert_eq!(local(None, false), InboundAuth::None);
    assert_eq!(local(Some("http://localhost:9000/mcp"), false), InboundAuth::None);
    assert_eq!(local(Some("http://[::1]:9000/mcp"), false), InboundAuth::None);
    assert_eq!(local(None, true), InboundAuth::Token);
    assert_eq!(local(Some("https://mcp.example.com/mcp"), false), InboundAuth::Token);
    assert_eq!(
        local(Some("http://127.0.0.1.example.com/mcp"), false),
        InboundAuth::Token
    );
    let target = Target::local(Local {
        name: "items-mcp",
        key_file: Some(std::path::Path::new("key.sealed")),
        takes_credential: true,
        ..Local::default()
    });
    let key_file = target.key_file.expect("a key file");
    assert!(std::path::Path::new(&key_file).is_absolute(), "{key_file}");
}
