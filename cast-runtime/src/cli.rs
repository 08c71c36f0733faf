//! The command line of every generated server: `NAME stdio`, `NAME http --listen ADDR`, `NAME tools`.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use rmcp::{
    ServiceExt,
    transport::{
        StreamableHttpServerConfig, StreamableHttpService, streamable_http_server::session::local::LocalSessionManager,
    },
};

use crate::{
    api::Api,
    credential::SealedCredential,
    sealed::{MasterKey, PURPOSE_UPSTREAM, SealedHeader},
    server::Server,
    upstream::{DEFAULT_MAX_RESPONSE_BYTES, Upstream, UpstreamConfig},
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
    /// Upstream request timeout in seconds.
    #[arg(long, env = "CAST_TIMEOUT_SECS", default_value_t = 30, global = true)]
    timeout_secs: u64,
    /// Upstream responses are cut at this many bytes (the result says so).
    #[arg(long, env = "CAST_MAX_RESPONSE_BYTES", default_value_t = DEFAULT_MAX_RESPONSE_BYTES, global = true)]
    max_response_bytes: usize,
    #[command(subcommand)]
    command: Command,
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
        /// Browser origins accepted in the `Origin` header. Without any, requests that carry an Origin are refused.
        #[arg(long = "allowed-origin", env = "CAST_ALLOWED_ORIGINS", value_delimiter = ',')]
        allowed_origins: Vec<String>,
        /// Keep per-client sessions for `initialize`-era clients (needs sticky routing behind a load balancer).
        /// By default every request is served statelessly, so any replica can answer it.
        #[arg(long, env = "CAST_SESSIONS")]
        sessions: bool,
    },
    /// Print the tools this server offers and exit.
    Tools,
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
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(api, cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // stdout belongs to the MCP stdio transport: logs only ever go to stderr.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Opens one sealed credential per configured scheme (slots follow `api.schemes`).
/// `--key-file` is the credential of the first scheme; `--credential NAME=FILE` names any.
fn load_credentials(
    api: &Api,
    key_file: Option<PathBuf>,
    named: &[String],
) -> Result<Vec<Option<SealedCredential>>, String> {
    let mut slots: Vec<Option<SealedCredential>> = api.schemes.iter().map(|_| None).collect();
    let mut wanted: Vec<(usize, PathBuf)> = Vec::new();
    let names = || {
        api.schemes
            .iter()
            .map(|s| format!("`{}`", s.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(path) = key_file {
        if api.schemes.is_empty() {
            return Err(format!(
                "--key-file {} was given, but this server was generated without upstream auth; set [auth] in cast.toml and regenerate",
                path.display()
            ));
        }
        wanted.push((0, path));
    }
    for entry in named {
        let Some((name, path)) = entry.split_once('=') else {
            return Err(format!("--credential takes SCHEME=FILE, got `{entry}`"));
        };
        let Some(index) = api.schemes.iter().position(|s| s.name == name) else {
            return Err(format!(
                "--credential names the scheme `{name}`, but this server has {}",
                if api.schemes.is_empty() {
                    "none".to_owned()
                } else {
                    names()
                }
            ));
        };
        wanted.push((index, PathBuf::from(path)));
    }
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
    }
    for (scheme, slot) in api.schemes.iter().zip(&slots) {
        if slot.is_none() {
            tracing::warn!(
                scheme = scheme.name,
                "no credential configured for this scheme (--key-file / --credential {}=FILE): requests that need it are sent without one",
                scheme.name
            );
        }
    }
    Ok(slots)
}

async fn run(api: &'static Api, cli: Cli) -> Result<(), String> {
    if let Command::Tools = cli.command {
        for tool in api.tools {
            println!("{:<32} {:<7} {}", tool.name, tool.method.as_str(), tool.path_template);
        }
        return Ok(());
    }
    let credentials = load_credentials(api, cli.key_file, &cli.credentials)?;
    let base_url = cli.base_url.as_deref().unwrap_or(api.base_url);
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(format!(
            "the upstream base URL `{base_url}` is not an absolute http(s) URL; pass --base-url or set CAST_BASE_URL"
        ));
    }
    let upstream = Upstream::new(UpstreamConfig {
        base_url,
        base_url_overridden: cli.base_url.is_some(),
        schemes: api.schemes,
        credentials,
        static_headers: api.static_headers,
        timeout: Duration::from_secs(cli.timeout_secs),
        max_response_bytes: cli.max_response_bytes,
    })?;
    let server = Server::new(api, upstream)?;
    tracing::info!(
        server = api.name,
        version = api.version,
        tools = api.tools.len(),
        upstream = base_url,
        "starting"
    );
    match cli.command {
        Command::Stdio => {
            let running = server
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|e| format!("stdio transport failed: {e}"))?;
            running
                .waiting()
                .await
                .map_err(|e| format!("stdio transport failed: {e}"))?;
            Ok(())
        }
        Command::Http {
            listen,
            allowed_hosts,
            allowed_origins,
            sessions,
        } => serve_http(server, listen, allowed_hosts, allowed_origins, sessions).await,
        Command::Tools => Ok(()),
    }
}

async fn serve_http(
    server: Server,
    listen: SocketAddr,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
    sessions: bool,
) -> Result<(), String> {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(sessions)
        .with_json_response(!sessions)
        .with_max_request_body_bytes(4 * 1024 * 1024);
    if allowed_hosts.iter().any(|h| h == "*") {
        config = config.disable_allowed_hosts();
    } else if !allowed_hosts.is_empty() {
        config = config.with_allowed_hosts(allowed_hosts);
    }
    config = if allowed_origins.is_empty() {
        // rmcp skips Origin checks on an empty list; a browser page must never reach
        // this server unless an origin was allowed explicitly (DNS rebinding).
        config.enforce_origin_validation()
    } else {
        config.with_allowed_origins(allowed_origins)
    };
    let shutdown = config.cancellation_token.clone();
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        config,
    );
    let router = axum::Router::new()
        .nest_service("/mcp", service)
        .route("/healthz", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %local, "listening on http://{local}/mcp");
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
        })
        .await
        .map_err(|e| format!("HTTP server failed: {e}"))
}
