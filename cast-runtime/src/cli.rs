//! The command line of every generated server: `NAME stdio`, `NAME http --listen ADDR`, `NAME tools`.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::{
    api::{Api, Redirects},
    credential::SealedCredential,
    inbound::{Inbound, ResourceServer, TokenFile},
    sealed::{MasterKey, PURPOSE_UPSTREAM, SealedHeader},
    secret::Secret,
    server::{Server, ServerOptions},
    upstream::{DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_STRUCTURED_BYTES, Upstream, UpstreamConfig},
};

#[derive(Debug, Parser)]
struct Cli {
    /// Sealed upstream credential (made with `cast-codegen secret seal`). Replacing the file rotates the key live.
    #[arg(long, env = "CAST_KEY_FILE", global = true)]
    key_file: Option<PathBuf>,
    /// A sealed credential for a named security scheme: `SCHEME=FILE`. Repeatable.
    #[arg(
        long = "credential",
        env = "CAST_CREDENTIALS",
        value_delimiter = ',',
        global = true,
        value_name = "SCHEME=FILE"
    )]
    credentials: Vec<String>,
    /// Upstream base URL; overrides the spec's `servers`.
    #[arg(long, env = "CAST_BASE_URL", global = true)]
    base_url: Option<String>,
    /// Upstream request timeout in seconds (connecting, sending and reading the answer);
    /// `[tools.timeouts]` in cast.toml sets it per tool.
    #[arg(long, env = "CAST_TIMEOUT_SECS", default_value_t = 30, global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout_secs: u64,
    /// Upstream connect timeout in seconds.
    #[arg(long, env = "CAST_CONNECT_TIMEOUT_SECS", default_value_t = 10, global = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    connect_timeout_secs: u64,
    /// Tries after the first for idempotent operations that failed to connect or got
    /// 429, 502, 503 or 504 (backoff with jitter, `Retry-After` honoured up to 10 s).
    #[arg(long, env = "CAST_RETRIES", default_value_t = 2, global = true)]
    retries: u32,
    /// Tool calls run at once at most; past it a call waits up to 2 s, then is refused as busy.
    #[arg(long, env = "CAST_MAX_CONCURRENT_CALLS", default_value_t = crate::server::DEFAULT_MAX_CONCURRENT_CALLS,
          global = true, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_concurrent_calls: u32,
    /// On SIGTERM or SIGINT (or, over stdio, at the end of input): stop taking calls, let
    /// calls in flight finish for this many seconds, then cancel what remains and exit 0.
    #[arg(
        long,
        env = "CAST_SHUTDOWN_GRACE",
        default_value_t = 25,
        global = true,
        value_name = "SECS"
    )]
    shutdown_grace: u64,
    /// Which upstream redirects to follow: `none`, or `same-origin` (at most 5, only to the
    /// upstream's own scheme, host and port). [default: as generated, `follow_redirects` in cast.toml]
    #[arg(long, env = "CAST_FOLLOW_REDIRECTS", global = true, value_name = "none|same-origin")]
    follow_redirects: Option<RedirectsArg>,
    /// Upstream responses are cut at this many bytes (the result says so).
    #[arg(long, env = "CAST_MAX_RESPONSE_BYTES", default_value_t = DEFAULT_MAX_RESPONSE_BYTES, global = true)]
    max_response_bytes: usize,
    /// JSON responses up to this size also come back as `structuredContent`; larger ones as text only.
    #[arg(long, env = "CAST_MAX_STRUCTURED_BYTES", default_value_t = DEFAULT_MAX_STRUCTURED_BYTES, global = true)]
    max_structured_bytes: usize,
    /// A cut response's whole body, up to this size, is held for `resources/read` and linked
    /// from the result (`resource_link`); larger ones are only cut. 0 holds none.
    #[arg(long, env = "CAST_SPILL_MAX_BYTES", default_value_t = crate::spill::DEFAULT_SPILL_MAX_BYTES, global = true)]
    spill_max_bytes: usize,
    /// All held bodies together at most; the oldest go first.
    #[arg(long, env = "CAST_SPILL_MEMORY_BYTES", default_value_t = crate::spill::DEFAULT_SPILL_MEMORY_BYTES, global = true)]
    spill_memory_bytes: usize,
    /// How long a held body can be read.
    #[arg(long, env = "CAST_SPILL_TTL_SECS", default_value_t = crate::spill::DEFAULT_SPILL_TTL.as_secs(), global = true, value_name = "SECS")]
    spill_ttl_secs: u64,
    /// Serve only the tools whose operation is read-only, whatever was enabled at build time.
    #[arg(long, env = "CAST_READ_ONLY", global = true)]
    read_only: bool,
    /// Inbound bearer tokens: a file of token hashes (made with `token new`). Editing it
    /// (deleting a line revokes a token) takes effect without restart.
    #[arg(long, env = "CAST_INBOUND_TOKENS_FILE", global = true, value_name = "FILE")]
    inbound_tokens: Option<PathBuf>,
    /// Log lines as JSON objects (one per line, for collectors) or as text for people.
    /// [default: json when stderr is not a terminal, else pretty]
    #[arg(long, env = "CAST_LOG_FORMAT", global = true, value_name = "json|pretty")]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token: prints it once on stdout and appends its label, SHA-256 hash and
    /// scopes to the tokens file (--inbound-tokens); the file never holds the token.
    New {
        /// A name for the token, shown in logs (`ci`, `alice-laptop`).
        #[arg(long)]
        name: String,
        /// A scope the token carries (`[inbound.scopes]` in cast.toml). Repeatable.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RedirectsArg {
    None,
    SameOrigin,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP over stdin/stdout (for clients that start the server themselves).
    Stdio,
    /// Serve MCP over streamable HTTP at `/mcp` (both the 2026-07-28 and the `initialize` protocol eras).
    Http {
        /// Address to listen on; port 0 picks a free port (the bound address is printed on stderr).
        #[arg(long, env = "CAST_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Host names accepted in the `Host` header (DNS-rebinding protection); `*` accepts any.
        /// Defaults to loopback names only.
        #[arg(long = "allowed-host", env = "CAST_ALLOWED_HOSTS", value_delimiter = ',')]
        allowed_hosts: Vec<String>,
        /// Browser origins accepted in the `Origin` header, and answered with CORS headers so pages
        /// there can call the server. Without any, requests that carry an Origin are refused.
        #[arg(long = "allowed-origin", env = "CAST_ALLOWED_ORIGINS", value_delimiter = ',')]
        allowed_origins: Vec<String>,
        /// Keep per-client sessions for `initialize`-era clients (needs sticky routing behind a load balancer).
        /// By default every request is served statelessly, so any replica can answer it.
        #[arg(long, env = "CAST_SESSIONS")]
        sessions: bool,
        /// Accept JWT access tokens of this OAuth 2.1 authorization server (its keys are found
        /// through RFC 8414 or OpenID discovery). Needs --resource.
        #[arg(long, env = "CAST_OAUTH_ISSUER", value_name = "URL", requires = "resource")]
        oauth_issuer: Option<String>,
        /// This server's canonical URI (e.g. `https://mcp.example.com/mcp`): tokens must name it
        /// as their audience. Needs --oauth-issuer.
        #[arg(long, env = "CAST_RESOURCE", value_name = "URL", requires = "oauth_issuer")]
        resource: Option<String>,
        /// A request head must arrive within this many seconds; idle keep-alive connections close after it.
        #[arg(long, env = "CAST_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
              value_parser = clap::value_parser!(u64).range(1..))]
        header_read_timeout_secs: u64,
        /// Connections served with keep-alive at once; more are served one request each, with a 1 s header timeout.
        #[arg(long, env = "CAST_MAX_CONNECTIONS", default_value_t = 512)]
        max_connections: usize,
        /// With --sessions: sessions kept at most (new ones are refused past it).
        #[arg(long, env = "CAST_MAX_SESSIONS", default_value_t = crate::sessions::DEFAULT_MAX_SESSIONS)]
        max_sessions: usize,
        /// With --sessions: a session unused this many seconds is closed.
        #[arg(long, env = "CAST_SESSION_IDLE_SECS", default_value_t = crate::sessions::DEFAULT_SESSION_IDLE.as_secs(),
              value_parser = clap::value_parser!(u64).range(1..))]
        session_idle_secs: u64,
        /// Serve a non-loopback address without inbound authentication. Anyone who can reach
        /// the port can then call every tool with the upstream credential: use it only behind
        /// something that authenticates every caller. Logged as a warning at every start.
        #[arg(long, env = "CAST_ALLOW_UNAUTHENTICATED")]
        allow_unauthenticated: bool,
    },
    /// Inbound bearer tokens for the HTTP transport.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the tools this server offers and exit.
    Tools,
    /// Print paste-ready configuration for MCP clients (Claude Desktop and Code, Cursor,
    /// VS Code, Windsurf, Codex, Gemini, mcp-remote) with this binary's path and the
    /// credential files given; never a key or a token.
    Connect {
        /// Only this client's snippets, on stdout (where each goes on stderr).
        #[arg(long, value_name = "NAME")]
        client: Option<String>,
        /// The HTTP endpoint clients reach [default: http://127.0.0.1:8080/mcp].
        #[arg(long)]
        url: Option<String>,
        /// How the endpoint knows callers [default: token when --inbound-tokens is given
        /// or the URL is not loopback, else none].
        #[arg(long, value_name = "token|oauth|none", value_parser = cast_connect::InboundAuth::parse)]
        auth: Option<cast_connect::InboundAuth>,
    },
    /// Exit 0 when the HTTP server at this address answers `/healthz`, 1 otherwise (a
    /// container's HEALTHCHECK: the image needs no shell, curl or wget).
    #[command(alias = "health")]
    Healthcheck {
        /// The server's address; an unspecified one (`0.0.0.0`) is reached on loopback.
        #[arg(long, env = "CAST_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Sign in to an OAuth 2.0 authorization-code scheme (PKCE): prints the URL to open,
    /// receives the redirect on 127.0.0.1, and seals the refresh token into the scheme's
    /// credential file (`--key-file` or `--credential SCHEME=FILE`).
    Login {
        /// The scheme [default: the first authorization-code scheme].
        #[arg(long)]
        scheme: Option<String>,
        /// The OAuth client id [default: the one in the credential file, else dynamic registration].
        #[arg(long, env = "CAST_OAUTH_CLIENT_ID")]
        client_id: Option<String>,
    },
}

/// Runs a generated server: parses the command line, loads the credential, serves.
pub fn main(api: &'static Api) -> ExitCode {
    let matches = Cli::command()
        .name(api.name)
        .version(api.version)
        .about(api.title)
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    init_logging(cli.log_format);
    // Over stdio one client sends one request at a time, mostly: a single thread serves it
    // without waking and handing work between worker threads on every message.
    let mut builder = if matches!(cli.command, Command::Stdio) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(run(api, cli));
    // What had to finish has (calls drained or their grace spent); a read of stdin still
    // blocked in its thread must not hold the exit.
    runtime.shutdown_background();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `GET /healthz` over plain HTTP/1.1 within 3 seconds.
async fn health(listen: SocketAddr) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut address = listen;
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = vec![0; 64];
        let read = stream.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..read]).into_owned())
    };
    match tokio::time::timeout(Duration::from_secs(3), probe).await {
        Ok(Ok(head)) if head.starts_with("HTTP/1.1 200") => Ok(()),
        Ok(Ok(head)) => Err(format!(
            "unhealthy: {address}/healthz answered {}",
            head.lines().next().unwrap_or("nothing")
        )),
        Ok(Err(err)) => Err(format!("unhealthy: cannot reach {address}: {err}")),
        Err(_) => Err(format!("unhealthy: {address} did not answer within 3 s")),
    }
}

/// The log filter without `CAST_LOG`: one line per tool call, start and stop.
const DEFAULT_LOG: &str = "info,rmcp=warn";

fn init_logging(format: Option<LogFormat>) {
    use std::io::IsTerminal as _;
    // The transport library logs every request at info: at the default level a session
    // would be mostly its lines, so they show from `CAST_LOG=debug` on (warnings always).
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG));
    let terminal = std::io::stderr().is_terminal();
    let format = format.unwrap_or(if terminal { LogFormat::Pretty } else { LogFormat::Json });
    // stdout belongs to the MCP stdio transport: logs only ever go to stderr.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.with_ansi(terminal).try_init(),
    };
}

/// Where each scheme's sealed credential lives (slots follow `api.schemes`), and whether
/// the path came from cast.toml's `[credentials]` rather than a flag. Precedence:
/// `--credential SCHEME=FILE`, then `--key-file` (the first scheme), then `[credentials]`.
/// Schemes may share a name: one credential the spec takes in several places (Slack's
/// `token` as a query parameter, a header and a form field), configured once.
fn credential_paths(
    api: &Api,
    key_file: Option<&Path>,
    named: &[String],
) -> Result<Vec<Option<(PathBuf, bool)>>, String> {
    let mut slots: Vec<Option<(PathBuf, bool)>> = api.schemes.iter().map(|_| None).collect();
    let named_slots = |name: &str| -> Vec<usize> {
        (0..api.schemes.len())
            .filter(|&index| api.schemes[index].name == name)
            .collect()
    };
    for (scheme, path) in api.credential_files {
        for index in named_slots(scheme) {
            slots[index] = Some((PathBuf::from(path), true));
        }
    }
    if let Some(path) = key_file {
        if api.schemes.is_empty() {
            return Err(format!(
                "--key-file {} was given, but this server was generated without upstream auth; set [auth] in cast.toml and regenerate",
                path.display()
            ));
        }
        slots[0] = Some((path.to_path_buf(), false));
    }
    for entry in named {
        let Some((name, path)) = entry.split_once('=') else {
            return Err(format!("--credential takes SCHEME=FILE, got `{entry}`"));
        };
        let indices = named_slots(name);
        if indices.is_empty() {
            let mut known: Vec<String> = api.schemes.iter().map(|s| format!("`{}`", s.name)).collect();
            known.dedup();
            let known = if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            };
            return Err(format!(
                "--credential names the scheme `{name}`, but this server has {known}"
            ));
        }
        for index in indices {
            slots[index] = Some((PathBuf::from(path), false));
        }
    }
    Ok(slots)
}

/// Opens one sealed credential per configured scheme (slots follow `api.schemes`), and
/// gives back the master key when it was needed for them.
fn load_credentials(
    api: &Api,
    key_file: Option<PathBuf>,
    named: &[String],
) -> Result<(Vec<Option<SealedCredential>>, Option<MasterKey>), String> {
    let mut slots: Vec<Option<SealedCredential>> = api.schemes.iter().map(|_| None).collect();
    let mut wanted: Vec<(usize, PathBuf)> = Vec::new();
    for (index, slot) in credential_paths(api, key_file.as_deref(), named)?
        .into_iter()
        .enumerate()
    {
        match slot {
            // A file cast.toml names but that is not there yet (before `login`, say) leaves the
            // scheme unconfigured instead of stopping the server; a flag's file must exist.
            Some((path, true)) if !path.exists() => tracing::warn!(
                scheme = api.schemes[index].name,
                file = %path.display(),
                "the credential file named in cast.toml does not exist"
            ),
            Some((path, _)) => wanted.push((index, path)),
            None => {}
        }
    }
    let mut loaded_master = None;
    if !wanted.is_empty() {
        let master = MasterKey::from_env().map_err(|e| e.to_string())?;
        // A master key kept in a file can be rotated under a running server.
        let master_file = match std::env::var_os(crate::sealed::MASTER_KEY_ENV) {
            Some(_) => None,
            None => std::env::var_os(crate::sealed::MASTER_KEY_FILE_ENV).map(PathBuf::from),
        };
        for (index, path) in wanted {
            let scheme = api.schemes[index];
            let expected = SealedHeader {
                purpose: PURPOSE_UPSTREAM.to_owned(),
                label: scheme.kind.label().to_owned(),
            };
            let credential = SealedCredential::open(path, master.clone(), expected)
                .map_err(|e| e.to_string())?
                .with_master_file(master_file.clone());
            tracing::info!(scheme = scheme.name, file = %credential.path().display(), "upstream credential loaded");
            slots[index] = Some(credential);
        }
        loaded_master = Some(master);
    }
    let mut warned = std::collections::HashSet::new();
    for (scheme, slot) in api.schemes.iter().zip(&slots) {
        if slot.is_none() && warned.insert(scheme.name) {
            tracing::warn!(
                scheme = scheme.name,
                "no credential configured for this scheme (--key-file / --credential {}=FILE): requests that need it are sent without one",
                scheme.name
            );
        }
    }
    Ok((slots, loaded_master))
}

async fn run(api: &'static Api, cli: Cli) -> Result<(), String> {
    if let Command::Connect { client, url, auth } = &cli.command {
        return connect(api, &cli, client.as_deref(), url.as_deref(), *auth);
    }
    if let Command::Healthcheck { listen } = cli.command {
        return health(listen).await;
    }
    if let Command::Login { scheme, client_id } = &cli.command {
        return login(api, &cli, scheme.as_deref(), client_id.clone()).await;
    }
    if let Command::Token {
        command: TokenCommand::New { name, scopes },
    } = &cli.command
    {
        let path = cli
            .inbound_tokens
            .as_deref()
            .ok_or("say where the tokens file is: --inbound-tokens FILE (or CAST_INBOUND_TOKENS_FILE)")?;
        let unknown: Vec<&str> = scopes
            .iter()
            .map(String::as_str)
            .filter(|s| !api.inbound_scopes.iter().any(|(known, _)| known == s))
            .collect();
        if !unknown.is_empty() {
            eprintln!(
                "warning: this server's [inbound.scopes] names no scope {}; the token grants nothing through it",
                unknown.join(", ")
            );
        }
        let token = crate::inbound::new_token(path, name, scopes)?;
        println!("{}", token.as_str());
        eprintln!(
            "added token `{name}` to {}; it is shown only this once: give it to the client (`Authorization: Bearer <token>`)",
            path.display()
        );
        return Ok(());
    }
    if let Command::Tools = cli.command {
        for tool in api.tools {
            println!("{:<32} {:<7} {}", tool.name, tool.method.as_str(), tool.path_template);
        }
        return Ok(());
    }
    let (credentials, loaded_master) = load_credentials(api, cli.key_file, &cli.credentials)?;
    let base_url = cli.base_url.as_deref().unwrap_or(api.base_url);
    let redirects = match cli.follow_redirects {
        Some(RedirectsArg::None) => Redirects::None,
        Some(RedirectsArg::SameOrigin) => Redirects::SameOrigin,
        None => api.redirects,
    };
    let upstream = Upstream::new(UpstreamConfig {
        base_url,
        base_url_overridden: cli.base_url.is_some(),
        redirects,
        schemes: api.schemes,
        always: api.always,
        credentials,
        static_headers: api.static_headers,
        timeout: Duration::from_secs(cli.timeout_secs),
        connect_timeout: Duration::from_secs(cli.connect_timeout_secs),
        tool_timeouts: api.tool_timeouts,
        retry: crate::upstream::RetryPolicy {
            retries: cli.retries,
            ..Default::default()
        },
        max_response_bytes: cli.max_response_bytes,
        max_structured_bytes: cli.max_structured_bytes,
        spill: crate::spill::SpillConfig {
            max_bytes: cli.spill_max_bytes,
            memory_bytes: cli.spill_memory_bytes,
            ttl: Duration::from_secs(cli.spill_ttl_secs),
        },
    })?;
    // Only a server with tools to confirm needs the master key besides its credentials;
    // without one, its confirmations are sealed under a key of this process.
    let master_key = match loaded_master {
        Some(key) => Some(key),
        None if api.tools.iter().any(|t| t.confirm) => match MasterKey::from_env() {
            Ok(key) => Some(key),
            Err(crate::sealed::SealError::NoMasterKey) => None,
            Err(other) => return Err(other.to_string()),
        },
        None => None,
    };
    let options = ServerOptions {
        max_concurrent_calls: cli.max_concurrent_calls,
        read_only: cli.read_only,
        master_key,
    };
    let server = Server::new(api, upstream, options)?;
    if server.confirmed() > 0 {
        tracing::info!(
            tools = server.confirmed(),
            resumable_by = if server.confirmations_shared() {
                "any replica with this master key"
            } else {
                "this process only (no master key)"
            },
            "calls to these tools wait for the user's yes ([tools.confirm])"
        );
    }
    if cli.read_only {
        tracing::info!(
            served = server.served(),
            of = api.tools.len(),
            "read-only: tools that write or destroy are not served (--read-only / CAST_READ_ONLY)"
        );
    }
    tracing::info!(
        server = api.name,
        version = api.version,
        tools = server.served(),
        upstream = base_url,
        redirects = ?redirects,
        "starting"
    );
    match cli.command {
        Command::Stdio => crate::stdio::serve(server, Duration::from_secs(cli.shutdown_grace)).await,
        Command::Http {
            listen,
            allowed_hosts,
            allowed_origins,
            sessions,
            oauth_issuer,
            resource,
            allow_unauthenticated,
            header_read_timeout_secs,
            max_connections,
            max_sessions,
            session_idle_secs,
        } => {
            let tokens = cli.inbound_tokens.map(TokenFile::open).transpose()?;
            let jwt = match (oauth_issuer, resource) {
                (Some(issuer), Some(resource)) => Some(ResourceServer::new(
                    &issuer,
                    &resource,
                    api.inbound_scopes.iter().map(|(s, _)| (*s).to_owned()).collect(),
                    Duration::from_secs(cli.timeout_secs),
                )?),
                _ => None,
            };
            let options = crate::serve::HttpOptions {
                listen,
                allowed_hosts,
                allowed_origins,
                sessions,
                inbound: Inbound::new(tokens, jwt),
                allow_unauthenticated,
                metrics: crate::observe::Metrics::install(),
                limits: crate::serve::Limits {
                    header_read_timeout: Duration::from_secs(header_read_timeout_secs),
                    max_connections,
                    shutdown_grace: Duration::from_secs(cli.shutdown_grace),
                    max_sessions,
                    session_idle: Duration::from_secs(session_idle_secs),
                },
            };
            crate::serve::serve(server, options).await
        }
        Command::Tools
        | Command::Connect { .. }
        | Command::Login { .. }
        | Command::Token { .. }
        | Command::Healthcheck { .. } => Ok(()),
    }
}

/// `connect`: the snippets for this binary, its credential file and the URL.
fn connect(
    api: &Api,
    cli: &Cli,
    client: Option<&str>,
    url: Option<&str>,
    auth: Option<cast_connect::InboundAuth>,
) -> Result<(), String> {
    let command = std::env::current_exe().ok();
    let configured = api.credential_files.first().map(|(_, path)| Path::new(*path));
    let target = cast_connect::Target::local(cast_connect::Local {
        name: api.name,
        command: command.as_deref(),
        key_file: cli.key_file.as_deref().or(configured),
        takes_credential: !api.schemes.is_empty(),
        url,
        auth,
        tokens_file_given: cli.inbound_tokens.is_some(),
    });
    target.print(client)
}

/// The authorization-code sign-in: PKCE (S256), a random `state` checked on return,
/// the redirect received on a loopback listener with a random port (RFC 8252).
async fn login(api: &'static Api, cli: &Cli, scheme: Option<&str>, client_id: Option<String>) -> Result<(), String> {
    use oauth2::{
        AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope,
        TokenResponse, TokenUrl, basic::BasicClient,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let is_user = |s: &&crate::api::Scheme| {
        matches!(
            s.kind,
            crate::api::SchemeKind::OAuth2AuthorizationCode { .. } | crate::api::SchemeKind::OpenIdConnect { .. }
        )
    };
    let (index, chosen) = api
        .schemes
        .iter()
        .enumerate()
        .find(|(_, s)| is_user(s) && scheme.is_none_or(|name| s.name == name))
        .ok_or_else(|| {
            format!(
                "this server has no OAuth 2.0 authorization-code scheme{}",
                scheme.map(|n| format!(" named `{n}`")).unwrap_or_default()
            )
        })?;
    let file = credential_paths(api, cli.key_file.as_deref(), &cli.credentials)?
        .swap_remove(index)
        .map(|(path, _)| path)
        .ok_or_else(|| format!("say where to keep the sign-in: --credential {}=FILE", chosen.name))?;
    let master = MasterKey::from_env().map_err(|e| e.to_string())?;
    let expected = SealedHeader {
        purpose: PURPOSE_UPSTREAM.to_owned(),
        label: chosen.kind.label().to_owned(),
    };
    let previous: Option<crate::oauth::UserGrant> = crate::sealed::open_file(&master, &file, &expected)
        .ok()
        .and_then(|secret| serde_json::from_str(secret.expose()).ok());

    let http = crate::http::credential_client(
        Duration::from_secs(cli.timeout_secs),
        Duration::from_secs(cli.connect_timeout_secs),
    )?;
    let (endpoints, scopes, openid) = match chosen.kind {
        crate::api::SchemeKind::OAuth2AuthorizationCode {
            authorize_url,
            token_url,
            scopes,
        } => {
            let endpoints = crate::oauth::Endpoints {
                authorization: authorize_url.to_owned(),
                token: token_url.to_owned(),
                registration: None,
            };
            (endpoints, scopes, false)
        }
        crate::api::SchemeKind::OpenIdConnect { discovery_url, scopes } => {
            (crate::oauth::discover(&http, discovery_url).await?, scopes, true)
        }
        _ => unreachable!("filtered above"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let redirect = format!(
        "http://127.0.0.1:{}/callback",
        listener.local_addr().map_err(|e| e.to_string())?.port()
    );
    let (client_id, client_secret) = match (client_id, previous) {
        (Some(id), _) => (id, None),
        (None, Some(grant)) => (grant.client_id, grant.client_secret),
        (None, None) => {
            let registered = crate::oauth::register(
                &http,
                endpoints.registration.as_deref(),
                &endpoints.authorization,
                &redirect,
                api.name,
            )
            .await?;
            eprintln!(
                "registered OAuth client `{}` with the authorization server",
                registered.0
            );
            registered
        }
    };
    let mut oauth = BasicClient::new(ClientId::new(client_id.clone()))
        .set_auth_uri(AuthUrl::new(endpoints.authorization.clone()).map_err(|e| e.to_string())?)
        .set_token_uri(TokenUrl::new(endpoints.token.clone()).map_err(|e| e.to_string())?)
        .set_redirect_uri(RedirectUrl::new(redirect.clone()).map_err(|e| e.to_string())?);
    if let Some(secret) = &client_secret {
        oauth = oauth.set_client_secret(ClientSecret::new(secret.clone()));
    }
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = oauth.authorize_url(CsrfToken::new_random).set_pkce_challenge(challenge);
    if openid {
        request = request.add_scope(Scope::new("openid".to_owned()));
    }
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    let (url, state) = request.url();
    eprintln!("open this URL to sign in: {url}");
    if std::env::var_os("CAST_NO_BROWSER").is_none() {
        for opener in ["xdg-open", "open"] {
            if opener_command(opener, url.as_str())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .is_ok()
            {
                break;
            }
        }
    }

    // One redirect back; anything else on the port gets a 400 and is ignored.
    let code = tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            let (mut stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let mut buffer = vec![0u8; 8192];
            let read = stream.read(&mut buffer).await.map_err(|e| e.to_string())?;
            let head = String::from_utf8_lossy(&buffer[..read]);
            let target = head.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("");
            let query = target.strip_prefix("/callback?").unwrap_or("");
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let (status, page, outcome) = match (get("state"), get("code"), get("error")) {
                (Some(s), Some(code), _) if s == *state.secret() => ("200 OK", "Signed in. You can close this tab.", Some(Ok(code))),
                (_, _, Some(error)) => ("400 Bad Request", "Sign-in failed.", Some(Err(format!("the authorization server said: {error}")))),
                (Some(_), _, _) => ("400 Bad Request", "State mismatch.", Some(Err("the redirect's state does not match: not ours, ignored".to_owned()))),
                _ => ("400 Bad Request", "Not a sign-in redirect.", None),
            };
            let response = format!("HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}", page.len());
            let _ = stream.write_all(response.as_bytes()).await;
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    })
    .await
    .map_err(|_| "no sign-in within 5 minutes".to_owned())??;

    let send = |request: oauth2::http::Request<Vec<u8>>| {
        let http = http.clone();
        async move { crate::oauth::exchange_public(&http, request).await }
    };
    // The server's error text may quote the code, the verifier or the client secret.
    let needles = crate::redact::Needles::of(
        [
            Some(code.as_str()),
            Some(verifier.secret().as_str()),
            client_secret.as_deref(),
        ]
        .into_iter()
        .flatten(),
    );
    let token = oauth
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&send)
        .await
        .map_err(|e| needles.redact_str(&format!("the code exchange failed: {e}")))?;
    let refresh_token = token
        .refresh_token()
        .ok_or("the authorization server returned no refresh token (ask for offline access)")?
        .secret()
        .clone();
    let grant = crate::oauth::UserGrant {
        client_id,
        client_secret,
        refresh_token,
    };
    let text = Secret::new(serde_json::to_string(&grant).map_err(|e| e.to_string())?);
    let bytes = crate::sealed::seal(&master, &expected, &text).map_err(str::to_owned)?;
    crate::sealed::write_atomic(&file, &bytes).map_err(|e| e.to_string())?;
    eprintln!(
        "signed in to `{}`; the refresh token is sealed in {}",
        chosen.name,
        file.display()
    );
    Ok(())
}

/// The browser opener for `login`. It is a program found on `PATH`, so it gets none
/// of the `CAST_*` environment: the master key never reaches another process.
fn opener_command(program: &str, url: &str) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    command.arg(url);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CAST_") {
            command.env_remove(name);
        }
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Scheme, SchemeKind};

    #[test]
    fn a_credential_named_once_reaches_every_scheme_of_that_name() {
        static API: Api = Api {
            schemes: &[
                Scheme {
                    name: "chatAuth",
                    kind: SchemeKind::Bearer,
                },
                Scheme {
                    name: "token",
                    kind: SchemeKind::Query { name: "token" },
                },
                Scheme {
                    name: "token",
                    kind: SchemeKind::Field { name: "token" },
                },
            ],
            credential_files: &[("chatAuth", "/etc/chat.sealed")],
            ..Api::BASE
        };
        let slots = credential_paths(&API, None, &["token=/run/token.sealed".to_owned()]).expect("paths");
        let paths: Vec<Option<&str>> = slots
            .iter()
            .map(|slot| slot.as_ref().and_then(|(path, _)| path.to_str()))
            .collect();
        assert_eq!(
            paths,
            [
                Some("/etc/chat.sealed"),
                Some("/run/token.sealed"),
                Some("/run/token.sealed")
            ]
        );
        let unknown = credential_paths(&API, None, &["nope=/x".to_owned()]).expect_err("unknown scheme");
        assert_eq!(
            unknown,
            "--credential names the scheme `nope`, but this server has `chatAuth`, `token`"
        );
    }
}
