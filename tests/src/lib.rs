//! The end-to-end harness: the test server in-process, a generated server built
//! with cargo and run as a child process, and rmcp as a real MCP client.
//!
//! Generated crates share one target folder (`target/generated`) so their
//! dependencies compile once for all tests.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use cast_codegen::{Generator, Settings, Source};
use cast_runtime::{
    Secret,
    sealed::{self, MasterKey, PURPOSE_UPSTREAM, SealedHeader},
};
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData, RoleClient,
    model::{
        CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
        ElicitationAction, ElicitationCapability, FormElicitationCapability, Implementation, ProtocolVersion,
    },
    service::RequestContext,
    service::RunningService,
    transport::{
        ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess,
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use tokio::io::{AsyncBufReadExt, BufReader};

pub mod report;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The target folder every generated crate builds in.
pub fn generated_target_dir() -> PathBuf {
    std::env::var_os("CAST_GENERATED_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/generated"))
}

/// `cargo SUBCOMMAND --manifest-path DIR/Cargo.toml` for a generated crate, in the shared
/// target folder. Dependencies are built without debug info: a generated server's debug
/// binary is then about a quarter of its size (56 instead of 210 MB), which matters when a
/// test run builds dozens of them on a small CI disk. Every test uses this, so the
/// dependencies are built once.
pub fn generated_cargo(subcommand: &str, dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO"));
    command
        .args([subcommand, "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", generated_target_dir())
        .env("CARGO_PROFILE_DEV_DEBUG", "0");
    command
}

/// Generates a crate from `spec_url` into `out`, depending on this workspace's runtime.
pub fn generate(spec: &str, settings: Settings, out: &Path) -> Result<cast_codegen::Generated> {
    std::fs::create_dir_all(out)?;
    let runtime = cast_codegen::write::relative_path(out, &workspace_root().join("cast-runtime"));
    let generated = Generator::new(settings.with_runtime_path(runtime))
        .generate_source(&Source::new(spec))
        .map_err(|d| anyhow::anyhow!("generation failed:\n{d}"))?;
    generated.write_to(out, false).map_err(anyhow::Error::msg)?;
    Ok(generated)
}

/// Builds the crate in `dir` and returns the path of its binary.
pub fn build(dir: &Path, crate_name: &str) -> Result<PathBuf> {
    // The workspace lock pins the same dependency versions, so nothing is built twice.
    std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock"))?;
    let status = generated_cargo("build", dir).status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of {} failed", dir.display());
    }
    Ok(generated_target_dir().join("debug").join(crate_name))
}

/// Deletes what [`build`] left for `crate_name`: a debug binary is tens of megabytes, and a
/// test that builds many crates (the corpus) would otherwise fill a small CI disk.
pub fn remove_binary(crate_name: &str) -> Result<()> {
    let debug = generated_target_dir().join("debug");
    let stem = format!("{}-", crate_name.replace('-', "_"));
    let mut doomed = vec![debug.join(crate_name)];
    for entry in std::fs::read_dir(debug.join("deps"))? {
        let path = entry?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&stem))
        {
            doomed.push(path);
        }
    }
    for path in doomed {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", path.display()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A master key and a place to keep sealed files.
#[derive(Debug)]
pub struct Vault {
    /// Holds the files.
    pub dir: tempfile::TempDir,
    /// The master key, base64.
    pub master_b64: String,
}

impl Vault {
    /// A fresh master key in a fresh folder.
    pub fn new() -> Result<Self> {
        Ok(Self {
            dir: tempfile::tempdir()?,
            master_b64: MasterKey::generate().to_base64().to_string(),
        })
    }

    /// Seals `value` for `header` into `name` (atomically, so it doubles as rotation).
    pub fn seal(&self, name: &str, header: &str, value: &str) -> Result<PathBuf> {
        let master = MasterKey::from_base64(&self.master_b64, "test")?;
        let header = SealedHeader {
            purpose: PURPOSE_UPSTREAM.to_owned(),
            label: header.to_owned(),
        };
        let bytes = sealed::seal(&master, &header, &Secret::new(value)).map_err(anyhow::Error::msg)?;
        let path = self.dir.path().join(name);
        sealed::write_atomic(&path, &bytes)?;
        Ok(path)
    }
}

/// Collected stderr of a child process, for leak checks.
pub type Log = Arc<Mutex<String>>;

fn collect_stderr(stderr: impl tokio::io::AsyncRead + Unpin + Send + 'static, log: Log) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
            log.push_str(&line);
            log.push('\n');
        }
    });
}

/// How a generated server process is started.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The binary.
    pub binary: PathBuf,
    /// Environment for it.
    pub env: Vec<(String, String)>,
}

impl Launch {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .args(args)
            .env_remove("CAST_KEY_FILE")
            .env_remove("CAST_MASTER_KEY")
            .env_remove("CAST_MASTER_KEY_FILE");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command.kill_on_drop(true);
        command
    }

    /// Starts `BIN stdio` and connects an rmcp client with the `initialize` handshake.
    pub async fn stdio(&self, log: &Log) -> Result<RunningService<RoleClient, ClientConfig>> {
        stdio_client(self.command(&["stdio"]), log).await
    }

    /// [`Launch::stdio`] with `handler` as the client (say, one whose user answers questions).
    pub async fn stdio_as<H: ClientHandler>(
        &self,
        log: &Log,
        handler: H,
        lifecycle: ClientLifecycleMode,
    ) -> Result<RunningService<RoleClient, H>> {
        stdio_client_as(self.command(&["stdio"]), log, handler, lifecycle).await
    }

    /// Starts `BIN http --listen 127.0.0.1:0`; returns the child and the MCP endpoint URL.
    pub async fn http(&self, log: &Log) -> Result<(tokio::process::Child, String)> {
        self.http_with(log, &["--listen", "127.0.0.1:0"]).await
    }

    /// Starts `BIN http ARGS…`; returns the child and the MCP endpoint URL.
    pub async fn http_with(&self, log: &Log, args: &[&str]) -> Result<(tokio::process::Child, String)> {
        let mut command_args = vec!["http"];
        command_args.extend_from_slice(args);
        self.listening(log, &command_args).await
    }

    /// Starts `BIN ARGS…` (ARGS start a server listening on HTTP; `BIN` may be a wrapper
    /// such as a shell); returns the child and the MCP endpoint URL.
    pub async fn listening(&self, log: &Log, args: &[&str]) -> Result<(tokio::process::Child, String)> {
        let mut child = self
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning the server")?;
        let stderr = child.stderr.take().context("stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                log.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&format!("{line}\n"));
                if let Some(at) = line.find("listening on ") {
                    let rest = &line[at + "listening on ".len()..];
                    // A text line ends the URL at a space, a JSON line at the message's quote.
                    let url = rest
                        .split(|c: char| c.is_whitespace() || c == '"')
                        .next()
                        .unwrap_or_default();
                    return Ok::<_, anyhow::Error>(url.to_owned());
                }
            }
            bail!(
                "the server exited before listening:\n{}",
                log.lock().unwrap_or_else(|e| e.into_inner())
            )
        })
        .await
        .context("waiting for the server to listen")??;
        collect_stderr(lines.into_inner(), log.clone());
        Ok((child, url))
    }

    /// Runs `BIN ARGS` to completion; returns (success, stdout, stderr).
    pub async fn output(&self, args: &[&str]) -> Result<(bool, String, String)> {
        let output = self.command(args).stdin(Stdio::null()).output().await?;
        Ok((
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }

    /// Runs `BIN ARGS` to completion; returns (success, stderr).
    pub async fn run(&self, args: &[&str]) -> Result<(bool, String)> {
        let output = self.command(args).stdin(Stdio::null()).output().await?;
        Ok((
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }
}

/// Starts `command` and connects an rmcp client to its stdio with the `initialize`
/// handshake; its stderr goes to `log`.
pub async fn stdio_client(
    command: tokio::process::Command,
    log: &Log,
) -> Result<RunningService<RoleClient, ClientConfig>> {
    stdio_client_as(command, log, ClientConfig::default(), ClientLifecycleMode::Initialize).await
}

/// [`stdio_client`] with `handler` as the client, in either protocol era.
pub async fn stdio_client_as<H: ClientHandler>(
    command: tokio::process::Command,
    log: &Log,
    handler: H,
    lifecycle: ClientLifecycleMode,
) -> Result<RunningService<RoleClient, H>> {
    let (transport, stderr) = TokioChildProcess::builder(command.configure(|_| {}))
        .stderr(Stdio::piped())
        .spawn()
        .context("spawning the server")?;
    if let Some(stderr) = stderr {
        collect_stderr(stderr, log.clone());
    }
    handler
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .context("MCP over stdio")
}

/// The path of `entry` in the npm package `name@version`, installed from the npm
/// registry into `target/npm` on first use (real clients are tested as users get them).
pub fn npm_package(name: &str, version: &str, entry: &str) -> Result<PathBuf> {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = workspace_root().join("target/npm");
    let package = prefix.join("node_modules").join(name);
    let installed = std::fs::read_to_string(package.join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|manifest| manifest["version"] == version);
    if !installed {
        std::fs::create_dir_all(&prefix)?;
        let status = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("{name}@{version}"))
            .status()
            .context("running npm (Node.js and npm are needed for this test)")?;
        if !status.success() {
            bail!("npm install {name}@{version} failed");
        }
    }
    Ok(package.join(entry))
}

/// The folder holding the PyPI package `name==version` (for `PYTHONPATH`), installed from
/// PyPI into `target/pip` on first use.
pub fn pip_package(name: &str, version: &str) -> Result<PathBuf> {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let target = workspace_root().join("target/pip").join(format!("{name}-{version}"));
    if !target.join(".installed").exists() {
        let status = std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-warn-script-location",
                "--target",
            ])
            .arg(&target)
            .arg(format!("{name}=={version}"))
            .status()
            .context("running pip (Python 3 and pip are needed for this test)")?;
        if !status.success() {
            bail!("pip install {name}=={version} failed");
        }
        std::fs::write(target.join(".installed"), "")?;
    }
    Ok(target)
}

/// A plain HTTP client for tests that look at status codes and headers.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A JSON-RPC `tools/call` over plain HTTP, stateless (2026-07-28 headers and `_meta`);
/// returns the JSON-RPC answer, or what went wrong below it.
pub async fn stateless_call(
    client: &reqwest::Client,
    url: &str,
    tool: &str,
    args: serde_json::Value,
) -> std::result::Result<serde_json::Value, String> {
    stateless_call_with_meta(client, url, tool, args, serde_json::json!({})).await
}

/// [`stateless_call`] with more `_meta` (a `traceparent`, say).
pub async fn stateless_call_with_meta(
    client: &reqwest::Client,
    url: &str,
    tool: &str,
    args: serde_json::Value,
    meta: serde_json::Value,
) -> std::result::Result<serde_json::Value, String> {
    let mut meta = meta;
    meta["io.modelcontextprotocol/protocolVersion"] = serde_json::json!("2026-07-28");
    meta["io.modelcontextprotocol/clientCapabilities"] = serde_json::json!({});
    let body = serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": tool, "arguments": args, "_meta": meta
    } });
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
}

/// Connects to an HTTP endpoint speaking the 2026-07-28 protocol (`server/discover`, stateless).
pub async fn connect_discover(url: &str) -> Result<RunningService<RoleClient, ClientConfig>> {
    connect_discover_as(url, None).await
}

fn http_transport(url: &str, token: Option<&str>) -> StreamableHttpClientTransport<reqwest::Client> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    StreamableHttpClientTransport::from_config(config)
}

/// [`connect_discover`] with `Authorization: Bearer TOKEN`.
pub async fn connect_discover_as(url: &str, token: Option<&str>) -> Result<RunningService<RoleClient, ClientConfig>> {
    let transport = http_transport(url, token);
    ClientConfig::default()
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .context("MCP discover over HTTP")
}

/// Connects to an HTTP endpoint with the older `initialize` handshake.
pub async fn connect_initialize(url: &str) -> Result<RunningService<RoleClient, ClientConfig>> {
    connect_initialize_as(url, None).await
}

/// [`connect_initialize`] with `Authorization: Bearer TOKEN`.
pub async fn connect_initialize_as(url: &str, token: Option<&str>) -> Result<RunningService<RoleClient, ClientConfig>> {
    let transport = http_transport(url, token);
    ClientConfig::default()
        .serve_with_lifecycle(transport, ClientLifecycleMode::Initialize)
        .await
        .context("MCP initialize over HTTP")
}

/// Connects `handler` over HTTP in either era (`Discover` for 2026-07-28, `Initialize`).
pub async fn connect_http_as<H: ClientHandler>(
    url: &str,
    handler: H,
    lifecycle: ClientLifecycleMode,
) -> Result<RunningService<RoleClient, H>> {
    handler
        .serve_with_lifecycle(http_transport(url, None), lifecycle)
        .await
        .context("MCP over HTTP")
}

/// The 2026-07-28 lifecycle, for [`connect_http_as`] and [`Launch::stdio_as`].
pub fn discover() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    }
}

/// A client whose user gives every question the same answer, and which keeps the
/// questions it was asked. It declares form elicitation, as a client that can ask does.
#[derive(Debug, Clone)]
pub struct Answering {
    /// What the user does.
    pub action: ElicitationAction,
    /// Whether an accepting user ticks the box (`confirm: true`).
    pub ticks: bool,
    /// The messages the user was shown.
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl Answering {
    /// A user who answers `action`, ticking the box when accepting.
    pub fn new(action: ElicitationAction) -> Self {
        Self {
            action,
            ticks: true,
            asked: Arc::default(),
        }
    }

    /// The questions asked so far.
    pub fn questions(&self) -> Vec<String> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ClientHandler for Answering {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation =
            Some(ElicitationCapability::default().with_form(FormElicitationCapability::default()));
        ClientConfig::new(capabilities, Implementation::new("answering-client", "1.0.0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> std::result::Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            self.asked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(message.clone());
        }
        let result = ElicitResult::new(self.action.clone());
        Ok(match self.action {
            ElicitationAction::Accept => result.with_content(serde_json::json!({ "confirm": self.ticks })),
            _ => result,
        })
    }
}

/// Calls a tool with JSON arguments.
pub async fn call<H: ClientHandler>(
    client: &RunningService<RoleClient, H>,
    tool: &str,
    args: serde_json::Value,
) -> Result<CallToolResult> {
    let serde_json::Value::Object(args) = args else {
        bail!("arguments must be an object")
    };
    Ok(client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await?)
}

/// All text content of a result, joined.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A spec shaped like large payment and CRM APIs: `cycles × per_cycle` component schemas,
/// each an object whose expandable properties are `anyOf` a string id or another component
/// of its cycle (so every component reaches every other of its cycle by many paths), and
/// `operations` operations, each reading one component and writing another.
pub fn stress_spec(cycles: usize, per_cycle: usize, operations: usize) -> serde_json::Value {
    use serde_json::json;
    let name = |cycle: usize, i: usize| format!("C{cycle}_{}", i % per_cycle);
    let expandable = |cycle: usize, i: usize| {
        json!({ "anyOf": [
            { "type": "string", "description": "The id." },
            { "$ref": format!("#/components/schemas/{}", name(cycle, i)) }
        ] })
    };
    let mut schemas = serde_json::Map::new();
    for cycle in 0..cycles {
        for i in 0..per_cycle {
            schemas.insert(
                name(cycle, i),
                json!({
                    "type": "object",
                    "description": format!("Object {i} of family {cycle}."),
                    "properties": {
                        "id": { "type": "string" },
                        "amount": { "type": "integer", "minimum": 0 },
                        "next": expandable(cycle, i + 1),
                        "skip": expandable(cycle, i + 7),
                        "back": expandable(cycle, i + per_cycle - 1),
                        "metadata": { "type": "object", "additionalProperties": { "type": "string" } }
                    },
                    "required": ["id"]
                }),
            );
        }
    }
    let mut paths = serde_json::Map::new();
    for op in 0..operations {
        let (cycle, i) = (op % cycles, op * 13);
        let schema = |i: usize| json!({ "$ref": format!("#/components/schemas/{}", name(cycle, i)) });
        paths.insert(
            format!("/objects{op}/{{id}}"),
            json!({
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "get": {
                    "operationId": format!("get{op}"),
                    "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": schema(i) } } } }
                },
                "post": {
                    "operationId": format!("update{op}"),
                    "requestBody": { "content": { "application/json": { "schema": schema(i + 1) } } },
                    "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": schema(i) } } } }
                }
            }),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Stress", "version": "1.0.0" },
        "servers": [{ "url": "https://api.example.com" }],
        "paths": paths,
        "components": { "schemas": schemas }
    })
}

/// A `/proc/PID/status` field counted in KiB (`VmRSS`, `VmHWM`); 0 where it cannot be read.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Descriptors the process holds open.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}
