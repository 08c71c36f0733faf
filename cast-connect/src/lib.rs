//! Paste-ready client configurations for a Cast-generated MCP server.
//!
//! One place knows how each client wants its MCP servers written: `cast-codegen`
//! renders them into the generated crate's `CONNECT.md`, and `cast-codegen connect` and
//! the server's own `NAME connect` print them with the user's paths and URL.
//!
//! No snippet ever holds a secret: the upstream key stays in its sealed file, the master
//! key in its file (`CAST_MASTER_KEY_FILE`, never the key itself), and an inbound token
//! is only ever referred to: an environment variable, or a prompt the client keeps.
#![deny(missing_docs)]

use serde_json::{Value, json};

/// The environment variable snippets read an inbound token from.
pub const TOKEN_ENV: &str = "CAST_TOKEN";

/// The server a client should reach, and how.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's name, as clients list it (the generated crate's name).
    pub name: String,
    /// The program a client starts for stdio.
    pub command: String,
    /// The sealed upstream credential the stdio server reads (a path, never the key).
    pub key_file: Option<String>,
    /// The master key's file (a path, never the key).
    pub master_key_file: String,
    /// The streamable HTTP endpoint, for clients that connect to a running server.
    pub url: String,
    /// How the HTTP endpoint authenticates callers.
    pub auth: InboundAuth,
}

/// How the HTTP endpoint knows its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundAuth {
    /// A bearer token from `NAME token new`, which the snippet refers to and never holds.
    Token,
    /// OAuth 2.1 access tokens: clients that implement MCP authorization sign in on their own.
    OAuth,
    /// None (a loopback server, or one behind something that authenticates).
    None,
}

impl InboundAuth {
    /// `token`, `oauth` or `none`, as the `connect` commands take it.
    pub fn parse(text: &str) -> Result<InboundAuth, String> {
        match text {
            "token" => Ok(InboundAuth::Token),
            "oauth" => Ok(InboundAuth::OAuth),
            "none" => Ok(InboundAuth::None),
            other => Err(format!("`{other}` is not token, oauth or none")),
        }
    }
}

/// A client that snippets are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Claude Desktop: `claude_desktop_config.json`.
    ClaudeDesktop,
    /// Claude Code: `.mcp.json` and `claude mcp add`.
    ClaudeCode,
    /// Cursor: `.cursor/mcp.json`.
    Cursor,
    /// VS Code: `.vscode/mcp.json`.
    VsCode,
    /// Windsurf: `~/.codeium/windsurf/mcp_config.json`.
    Windsurf,
    /// OpenAI Codex CLI: `~/.codex/config.toml`.
    Codex,
    /// Gemini CLI: `~/.gemini/settings.json`.
    Gemini,
    /// `mcp-remote`, for clients that start only stdio servers but must reach an HTTP one.
    McpRemote,
}

impl Client {
    /// Every client, in the order `CONNECT.md` lists them.
    pub const ALL: [Client; 8] = [
        Client::ClaudeDesktop,
        Client::ClaudeCode,
        Client::Cursor,
        Client::VsCode,
        Client::Windsurf,
        Client::Codex,
        Client::Gemini,
        Client::McpRemote,
    ];

    /// The name `--client` takes.
    pub fn id(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "claude-desktop",
            Client::ClaudeCode => "claude-code",
            Client::Cursor => "cursor",
            Client::VsCode => "vscode",
            Client::Windsurf => "windsurf",
            Client::Codex => "codex",
            Client::Gemini => "gemini",
            Client::McpRemote => "mcp-remote",
        }
    }

    /// The client's name for people.
    pub fn title(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "Claude Desktop",
            Client::ClaudeCode => "Claude Code",
            Client::Cursor => "Cursor",
            Client::VsCode => "VS Code",
            Client::Windsurf => "Windsurf",
            Client::Codex => "Codex CLI",
            Client::Gemini => "Gemini CLI",
            Client::McpRemote => "mcp-remote (stdio-only clients, remote server)",
        }
    }

    /// The client named `id`, or an error listing the names there are.
    pub fn parse(id: &str) -> Result<Client, String> {
        Client::ALL.into_iter().find(|c| c.id() == id).ok_or_else(|| {
            let ids: Vec<&str> = Client::ALL.iter().map(|c| c.id()).collect();
            format!("there is no client `{id}`; choose one of {}", ids.join(", "))
        })
    }
}

/// What a snippet is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON document (or the part of one to merge in).
    Json,
    /// A TOML table.
    Toml,
    /// A shell command line.
    Shell,
}

impl Format {
    /// The Markdown fence's language.
    pub fn fence(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Toml => "toml",
            Format::Shell => "sh",
        }
    }
}

/// One paste-ready piece of configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The client it is for.
    pub client: Client,
    /// `stdio` (the client starts the server) or `http` (it connects to a running one).
    pub transport: &'static str,
    /// Where it goes: a file to merge it into, or where to run it.
    pub place: &'static str,
    /// What it is written in.
    pub format: Format,
    /// The snippet.
    pub text: String,
}

/// What `connect` knows on the user's machine; everything else gets a placeholder.
#[derive(Debug, Clone, Default)]
pub struct Local<'a> {
    /// The server's name.
    pub name: &'a str,
    /// The server's binary.
    pub command: Option<&'a std::path::Path>,
    /// `--key-file`, when given.
    pub key_file: Option<&'a std::path::Path>,
    /// Whether the server takes an upstream credential at all.
    pub takes_credential: bool,
    /// `--url`.
    pub url: Option<&'a str>,
    /// `--auth`.
    pub auth: Option<InboundAuth>,
    /// Whether a tokens file was named (`--inbound-tokens`).
    pub tokens_file_given: bool,
}

/// The endpoint a local server listens on by default.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/mcp";

impl Target {
    /// The target for a server on this machine: paths made absolute (a client starts the
    /// server from a folder of its own), the master key's file from `CAST_MASTER_KEY_FILE`,
    /// and a token unless the URL is loopback and no tokens file was named.
    pub fn local(local: Local<'_>) -> Target {
        let absolute = |path: &std::path::Path| {
            std::path::absolute(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string()
        };
        let url = local.url.unwrap_or(DEFAULT_URL);
        let auth = local.auth.unwrap_or(if local.tokens_file_given || !is_loopback(url) {
            InboundAuth::Token
        } else {
            InboundAuth::None
        });
        Target {
            name: local.name.to_owned(),
            command: local.command.map(absolute).unwrap_or_else(|| local.name.to_owned()),
            key_file: local.takes_credential.then(|| {
                local
                    .key_file
                    .map(absolute)
                    .unwrap_or_else(|| "/absolute/path/to/key.sealed".to_owned())
            }),
            master_key_file: std::env::var_os("CAST_MASTER_KEY_FILE")
                .map(|path| absolute(std::path::Path::new(&path)))
                .unwrap_or_else(|| "/absolute/path/to/master.key".to_owned()),
            url: url.to_owned(),
            auth,
        }
    }

    /// `connect`'s output: one client's snippets on stdout (where each goes on stderr,
    /// so stdout pastes as it is), or with no client, all of them as Markdown.
    pub fn print(&self, client: Option<&str>) -> Result<(), String> {
        match client {
            None => print!("{}", self.markdown()),
            Some(id) => {
                for snippet in self.snippets_for(Client::parse(id)?) {
                    eprintln!("# {} — {}", snippet.transport, snippet.place);
                    println!("{}", snippet.text.trim_end());
                }
            }
        }
        Ok(())
    }

    /// Every snippet for `client`.
    pub fn snippets_for(&self, client: Client) -> Vec<Snippet> {
        let snippet = |transport, place, format, text| Snippet {
            client,
            transport,
            place,
            format,
            text,
        };
        let json = |value: Value| serde_json::to_string_pretty(&value).unwrap_or_default();
        let name = self.name.as_str();
        let stdio = self.stdio_entry();
        let env_header = |reference: &str| self.header(reference);
        match client {
            Client::ClaudeDesktop => {
                let mut snippets = vec![snippet(
                    "stdio",
                    "claude_desktop_config.json (Settings → Developer → Edit Config)",
                    Format::Json,
                    json(json!({ "mcpServers": { name: stdio } })),
                )];
                // Claude Desktop starts only local programs from its file: a remote server
                // is reached through mcp-remote.
                snippets.push(snippet(
                    "http",
                    "claude_desktop_config.json, for a server elsewhere",
                    Format::Json,
                    json(json!({ "mcpServers": { name: self.mcp_remote_entry() } })),
                ));
                snippets
            }
            Client::ClaudeCode => {
                let mut stdio_typed = stdio.clone();
                stdio_typed
                    .as_object_mut()
                    .expect("an object")
                    .insert("type".into(), json!("stdio"));
                let mut http = json!({ "type": "http", "url": self.url });
                if let Some(headers) = env_header(&format!("${{{TOKEN_ENV}}}")) {
                    http["headers"] = headers;
                }
                let mut add_stdio = format!("claude mcp add {}", shell_word(name));
                for (variable, value) in self.stdio_env() {
                    add_stdio.push_str(&format!(" --env {}", shell_word(&format!("{variable}={value}"))));
                }
                add_stdio.push_str(&format!(" -- {} stdio", shell_word(&self.command)));
                let mut add_http = format!(
                    "claude mcp add --transport http {} {}",
                    shell_word(name),
                    shell_word(&self.url)
                );
                if self.auth == InboundAuth::Token {
                    add_http.push_str(&format!(" --header \"Authorization: Bearer ${TOKEN_ENV}\""));
                }
                vec![
                    snippet(
                        "stdio",
                        ".mcp.json (project) or `claude mcp add`",
                        Format::Json,
                        json(json!({ "mcpServers": { name: stdio_typed } })),
                    ),
                    snippet("stdio", "a shell", Format::Shell, add_stdio),
                    snippet(
                        "http",
                        ".mcp.json (project)",
                        Format::Json,
                        json(json!({ "mcpServers": { name: http } })),
                    ),
                    snippet("http", "a shell", Format::Shell, add_http),
                ]
            }
            Client::Cursor => {
                // `mcpServers` with the URL under `url` and the token as the client writes a variable.
                let place = ".cursor/mcp.json (project) or ~/.cursor/mcp.json";
                let http = self.url_entry("url", &format!("${{env:{TOKEN_ENV}}}"));
                vec![
                    snippet(
                        "stdio",
                        place,
                        Format::Json,
                        json(json!({ "mcpServers": { name: stdio } })),
                    ),
                    snippet(
                        "http",
                        place,
                        Format::Json,
                        json(json!({ "mcpServers": { name: http } })),
                    ),
                ]
            }
            Client::VsCode => {
                let mut stdio_typed = stdio.clone();
                stdio_typed
                    .as_object_mut()
                    .expect("an object")
                    .insert("type".into(), json!("stdio"));
                let mut http = json!({ "type": "http", "url": self.url });
                let mut document = json!({});
                if let Some(headers) = env_header("${input:cast-token}") {
                    http["headers"] = headers;
                    // VS Code asks once and keeps the answer in its secret storage.
                    document["inputs"] = json!([{
                        "type": "promptString",
                        "id": "cast-token",
                        "description": format!("{name} token (from `{name} token new`)"),
                        "password": true
                    }]);
                }
                document["servers"] = json!({ name: http });
                vec![
                    snippet(
                        "stdio",
                        ".vscode/mcp.json",
                        Format::Json,
                        json(json!({ "servers": { name: stdio_typed } })),
                    ),
                    snippet("http", ".vscode/mcp.json", Format::Json, json(document)),
                ]
            }
            Client::Windsurf => {
                // `mcpServers` with the URL under `serverUrl` and the token as the client writes a variable.
                let place = "~/.codeium/windsurf/mcp_config.json";
                let http = self.url_entry("serverUrl", &format!("${{env:{TOKEN_ENV}}}"));
                vec![
                    snippet(
                        "stdio",
                        place,
                        Format::Json,
                        json(json!({ "mcpServers": { name: stdio } })),
                    ),
                    snippet(
                        "http",
                        place,
                        Format::Json,
                        json(json!({ "mcpServers": { name: http } })),
                    ),
                ]
            }
            Client::Codex => {
                let table = toml_key(name);
                let mut stdio_toml = format!(
                    "[mcp_servers.{table}]\ncommand = {}\nargs = [\"stdio\"]\n",
                    toml_string(&self.command)
                );
                let env = self.stdio_env();
                if !env.is_empty() {
                    stdio_toml.push_str(&format!("\n[mcp_servers.{table}.env]\n"));
                    for (variable, value) in env {
                        stdio_toml.push_str(&format!("{variable} = {}\n", toml_string(&value)));
                    }
                }
                let mut http_toml = format!("[mcp_servers.{table}]\nurl = {}\n", toml_string(&self.url));
                if self.auth == InboundAuth::Token {
                    // Codex reads the token from this variable when it connects.
                    http_toml.push_str(&format!("bearer_token_env_var = {}\n", toml_string(TOKEN_ENV)));
                }
                vec![
                    snippet("stdio", "~/.codex/config.toml", Format::Toml, stdio_toml),
                    snippet("http", "~/.codex/config.toml", Format::Toml, http_toml),
                ]
            }
            Client::Gemini => {
                // `mcpServers` with the URL under `httpUrl` and the token as the client writes a variable.
                let place = "~/.gemini/settings.json or .gemini/settings.json";
                let http = self.url_entry("httpUrl", &format!("${TOKEN_ENV}"));
                vec![
                    snippet(
                        "stdio",
                        place,
                        Format::Json,
                        json(json!({ "mcpServers": { name: stdio } })),
                    ),
                    snippet(
                        "http",
                        place,
                        Format::Json,
                        json(json!({ "mcpServers": { name: http } })),
                    ),
                ]
            }
            Client::McpRemote => {
                let mut line = format!("npx -y mcp-remote {}", shell_word(&self.url));
                if self.auth == InboundAuth::Token {
                    line.push_str(&format!(" --header \"Authorization:Bearer ${{{TOKEN_ENV}}}\""));
                }
                vec![
                    snippet("http", "a stdio client's command line", Format::Shell, line),
                    snippet(
                        "http",
                        "a stdio client's JSON config (mcpServers)",
                        Format::Json,
                        json(json!({ "mcpServers": { name: self.mcp_remote_entry() } })),
                    ),
                ]
            }
        }
    }

    /// Every snippet for every client.
    pub fn snippets(&self) -> Vec<Snippet> {
        Client::ALL.into_iter().flat_map(|c| self.snippets_for(c)).collect()
    }

    /// The environment the stdio server needs: where its files are, never what is in them.
    fn stdio_env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(key_file) = &self.key_file {
            env.push(("CAST_KEY_FILE", key_file.clone()));
        }
        env.push(("CAST_MASTER_KEY_FILE", self.master_key_file.clone()));
        env
    }

    /// `{ "command", "args", "env" }`, the stdio entry most clients share.
    fn stdio_entry(&self) -> Value {
        let env: serde_json::Map<String, Value> = self
            .stdio_env()
            .into_iter()
            .map(|(variable, value)| (variable.to_owned(), json!(value)))
            .collect();
        json!({ "command": self.command, "args": ["stdio"], "env": env })
    }

    /// `npx -y mcp-remote URL --header …` as a stdio entry. mcp-remote expands `${VAR}`
    /// in its arguments from the environment the client gives it; the placeholder there
    /// is where the user pastes the token, in their own config, never in a shared file.
    fn mcp_remote_entry(&self) -> Value {
        let mut args = vec![json!("-y"), json!("mcp-remote"), json!(self.url)];
        if self.auth == InboundAuth::Token {
            // No space inside an argument: some clients split arguments on spaces.
            args.push(json!("--header"));
            args.push(json!("Authorization:${AUTH_HEADER}"));
            let placeholder = format!("Bearer <token from `{} token new`>", self.name);
            return json!({ "command": "npx", "args": args, "env": { "AUTH_HEADER": placeholder } });
        }
        json!({ "command": "npx", "args": args })
    }

    /// `{ KEY: url, "headers": … }`: an HTTP entry whose URL is under `key` (each client names
    /// it its own way) and whose token is `reference`.
    fn url_entry(&self, key: &str, reference: &str) -> Value {
        let mut entry = json!({ key: self.url });
        if let Some(headers) = self.header(reference) {
            entry["headers"] = headers;
        }
        entry
    }

    /// The `headers` object that sends the token, written as the client refers to it.
    fn header(&self, reference: &str) -> Option<Value> {
        (self.auth == InboundAuth::Token).then(|| json!({ "Authorization": format!("Bearer {reference}") }))
    }

    /// `CONNECT.md`: every client's snippets, with where each goes.
    pub fn markdown(&self) -> String {
        let name = &self.name;
        let mut out = format!(
            "# Connect a client to {name}\n\n\
             `{name} connect [--client NAME] [--url URL]` prints these with this machine's paths; \
             `cast-codegen connect DIR` does the same for a generated folder.\n\n\
             No snippet holds a secret. Over stdio the server reads its sealed key (`CAST_KEY_FILE`) and the \
             master key's file (`CAST_MASTER_KEY_FILE`); keep both readable by you only. Over HTTP "
        );
        out.push_str(match self.auth {
            InboundAuth::Token => {
                "the client sends a token made with `NAME token new --name LABEL`, read from the \
                 `CAST_TOKEN` environment variable (or, in VS Code, asked for once and kept in its secret storage). \
                 Set `CAST_TOKEN` in the environment the client starts from, not in a file you share.\n\n"
            }
            InboundAuth::OAuth => {
                "clients that implement MCP authorization follow the server's 401 to its \
                 authorization server and sign in; nothing to paste but the URL.\n\n"
            }
            InboundAuth::None => {
                "this endpoint asks callers for nothing: keep it on loopback, or behind \
                 something that authenticates every caller.\n\n"
            }
        });
        out = out.replace("NAME token new", &format!("{name} token new"));
        for client in Client::ALL {
            out.push_str(&format!("## {}\n\n", client.title()));
            for snippet in self.snippets_for(client) {
                out.push_str(&format!(
                    "{} — {}:\n\n```{}\n{}\n```\n\n",
                    snippet.transport,
                    snippet.place,
                    snippet.format.fence(),
                    snippet.text.trim_end()
                ));
            }
        }
        out.trim_end().to_owned() + "\n"
    }
}

/// Whether `url`'s host is this machine.
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// `word` as one shell word: left bare when nothing in it is special.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A TOML basic string: JSON's escapes are all TOML escapes too.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// A TOML key: bare when it can be.
fn toml_key(key: &str) -> String {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

#[cfg(test)]
mod tests;
