//! The peer benchmark: a generated Cast server next to the OpenAPI-to-MCP servers a user
//! would pick instead (FastMCP's `from_openapi` from PyPI, `rmcp-openapi-server` from
//! crates.io), all fronting the same upstream (`cast-test-server`, in this process) and
//! driven by the same Rust MCP client (rmcp), over stdio and streamable HTTP. Every figure
//! of every server comes from one run; each is the median of `--runs` repetitions.
//!
//! `bench/peers/run` installs the alternatives (`bench/peers/setup`) and runs this:
//! `cargo run --release -p cast-e2e --bin cast-peers [-- --runs 3 --calls 300 --skip-github]`
//!
//! Measured per server:
//! - cold start: spawn → first `tools/list` answered (initialize included), stdio;
//! - `tools/list` latency (median of 20) and size of the tools array as JSON;
//! - per-call latency p50/p99 over stdio for a small GET, a JSON POST and a 100 KB JSON
//!   response, next to the same request made directly to the upstream (the floor);
//! - server CPU per call (utime + stime of the server process over the calls, from
//!   `/proc/PID/stat`), and peak resident memory (`VmHWM`);
//! - HTTP throughput at concurrency 1, 8 and 64 (small GET), next to the direct upstream's.
//!
//! With `github-api-3.0.json` (767 operations, all enabled) it measures cold start,
//! `tools/list` and memory only: nothing is called upstream.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use cast_codegen::Settings;
use cast_e2e::{Vault, generate, proc_status_kib, workspace_root};
use cast_test_server::{Mode, TestServer, generate_key, start};
use rmcp::{
    ClientLifecycleMode, ClientServiceExt, RoleClient,
    model::{CallToolRequestParams, ClientConfig},
    service::RunningService,
    transport::{
        StreamableHttpClientTransport, TokioChildProcess, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::json;

struct Options {
    runs: usize,
    calls: usize,
    github: bool,
    only: Option<String>,
    /// Record Cast's stdio server with `perf record` and print where its time goes.
    profile: bool,
}

fn options() -> Result<Options> {
    let mut options = Options {
        runs: 3,
        calls: 300,
        github: true,
        only: None,
        profile: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--runs" => options.runs = value()?.parse::<usize>()?.max(1),
            "--calls" => options.calls = value()?.parse::<usize>()?.max(10),
            "--skip-github" => options.github = false,
            "--only" => options.only = Some(value()?),
            "--profile" => options.profile = true,
            other => {
                bail!("unknown argument `{other}` (known: --runs N, --calls N, --skip-github, --only NAME, --profile)")
            }
        }
    }
    Ok(options)
}

fn profile_data() -> PathBuf {
    peers_dir().join("cast-stdio.perf.data")
}

/// Where the benchmark keeps what it builds and installs.
fn peers_dir() -> PathBuf {
    workspace_root().join("target/peers")
}

/// A server under test: how to start it over stdio and over HTTP for a spec.
#[derive(Debug, Clone)]
struct Peer {
    name: &'static str,
    kind: Kind,
    /// Run the stdio server under `perf record` (`--profile`).
    profiled: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    /// A generated server: its binary for the bench spec and, if built, for GitHub.
    Cast {
        bench: PathBuf,
        github: Option<PathBuf>,
        vault: Arc<Vault>,
        key_file: PathBuf,
    },
    FastMcp {
        python: PathBuf,
    },
    RmcpOpenapi {
        binary: PathBuf,
    },
}

/// The spec a peer serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Bench,
    Github,
}

impl Api {
    fn spec(self) -> PathBuf {
        match self {
            Api::Bench => workspace_root().join("bench/peers/bench-3.0.json"),
            Api::Github => workspace_root().join("tests/corpus/github-api-3.0.json"),
        }
    }
}

impl Peer {
    /// The command that serves `api` with `upstream` as its base URL: over stdio, or over
    /// HTTP on `port`. `None` when the peer has no build for `api`.
    fn command(&self, api: Api, upstream: &TestServer, port: Option<u16>) -> Option<tokio::process::Command> {
        let base = match api {
            Api::Bench => upstream.base_url().to_owned(),
            Api::Github => "http://127.0.0.1:9".to_owned(),
        };
        let spec = api.spec();
        let mut command = match &self.kind {
            Kind::Cast {
                bench,
                github,
                vault,
                key_file,
            } => {
                let binary = match api {
                    Api::Bench => bench.clone(),
                    Api::Github => github.clone()?,
                };
                let mut command = if port.is_none() && self.profiled {
                    let mut perf = tokio::process::Command::new("perf");
                    perf.args(["record", "--quiet", "-F", "4999", "-g", "-o"])
                        .arg(profile_data())
                        .arg("--")
                        .arg(binary);
                    perf
                } else {
                    tokio::process::Command::new(binary)
                };
                match port {
                    None => command.arg("stdio"),
                    Some(port) => command.args(["http", "--listen", &format!("127.0.0.1:{port}")]),
                };
                command
                    .env("CAST_BASE_URL", &base)
                    .env("CAST_MASTER_KEY", &vault.master_b64)
                    .env("CAST_LOG", "warn");
                if api == Api::Bench {
                    command.env("CAST_KEY_FILE", key_file);
                }
                command
            }
            Kind::FastMcp { python } => {
                let mut command = tokio::process::Command::new(python);
                command
                    .arg(workspace_root().join("bench/peers/fastmcp_server.py"))
                    .arg(&spec)
                    .arg(&base);
                match port {
                    None => command.arg("stdio"),
                    Some(port) => command.args(["http", &port.to_string()]),
                };
                command
                    .env("BENCH_KEY", upstream.key())
                    .env("FASTMCP_LOG_LEVEL", "WARNING");
                command
            }
            Kind::RmcpOpenapi { binary } => {
                // It serves HTTP only.
                let port = port?;
                let mut command = tokio::process::Command::new(binary);
                command
                    .arg(&spec)
                    .args(["--base-url", &base])
                    .args(["--header", &format!("X-Api-Key: {}", upstream.key())])
                    .args(["--bind-address", "127.0.0.1", "--port", &port.to_string()])
                    .env("RUST_LOG", "warn");
                command
            }
        };
        command.stderr(Stdio::null()).kill_on_drop(true);
        Some(command)
    }

    /// Where the peer serves streamable HTTP on `port`.
    fn http_url(&self, port: u16) -> String {
        format!("http://127.0.0.1:{port}/mcp")
    }
}

type Client = RunningService<RoleClient, ClientConfig>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Stdio,
    Http,
}

/// A started server with a connected client, and how long until its first `tools/list`.
struct Running {
    client: Client,
    pid: u32,
    tools: Vec<String>,
    list_bytes: usize,
    cold_ms: f64,
    _child: Option<tokio::process::Child>,
}

/// Starts `peer` for `api` over `transport` and lists its tools; `None` when the peer does
/// not serve that transport (or has no build for `api`).
async fn launch(peer: &Peer, api: Api, transport: Transport, upstream: &TestServer) -> Result<Option<Running>> {
    let port = free_port()?;
    let Some(command) = peer.command(api, upstream, (transport == Transport::Http).then_some(port)) else {
        return Ok(None);
    };
    let started = Instant::now();
    let (client, pid, child) = match transport {
        Transport::Stdio => {
            let child = TokioChildProcess::new(command).context("spawning the server")?;
            let pid = child.id().context("the server's pid")?;
            let client = ClientConfig::default()
                .serve_with_lifecycle(child, ClientLifecycleMode::Initialize)
                .await
                .with_context(|| format!("{}: initialize over stdio", peer.name))?;
            (client, pid, None)
        }
        Transport::Http => {
            let mut command = command;
            let child = command.stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
            let pid = child.id().context("the server's pid")?;
            let deadline = Instant::now() + Duration::from_secs(120);
            while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                if Instant::now() > deadline {
                    bail!("{}: not listening on {port} after 120 s", peer.name);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let config =
                StreamableHttpClientTransportConfig::with_uri(peer.http_url(port)).max_concurrent_requests(128);
            let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
            let client = ClientConfig::default()
                .serve_with_lifecycle(transport, ClientLifecycleMode::Initialize)
                .await
                .with_context(|| format!("{}: initialize over HTTP", peer.name))?;
            (client, pid, Some(child))
        }
    };
    let tools = client.list_all_tools().await.context("tools/list")?;
    let cold_ms = started.elapsed().as_secs_f64() * 1000.0;
    // Every later `tools/list` must reach the server: rmcp's client would otherwise answer
    // from its cache for as long as the server's `ttlMs` allows (Cast's: an hour).
    client
        .peer()
        .set_response_cache_config(rmcp::service::ClientCacheConfig::disabled())
        .await;
    Ok(Some(Running {
        list_bytes: serde_json::to_vec(&tools)?.len(),
        tools: tools.iter().map(|t| t.name.to_string()).collect(),
        client,
        pid,
        cold_ms,
        _child: child,
    }))
}

/// utime + stime of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // The fields after the command name, which is in parentheses and may hold spaces:
    // utime and stime are the 12th and 13th of them, in clock ticks (USER_HZ, 100 on Linux).
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mib(pid: u32) -> f64 {
    proc_status_kib(pid, "VmHWM") as f64 / 1024.0
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[rank]
}

fn median(mut samples: Vec<f64>) -> f64 {
    percentile(&mut samples, 0.5)
}

/// One workload: a tool call and the same request made directly.
#[derive(Debug, Clone, Copy)]
enum Workload {
    SmallGet,
    JsonPost,
    Large,
}

impl Workload {
    const ALL: [Workload; 3] = [Workload::SmallGet, Workload::JsonPost, Workload::Large];

    fn title(self) -> &'static str {
        match self {
            Workload::SmallGet => "small GET",
            Workload::JsonPost => "JSON POST",
            Workload::Large => "100 KB response",
        }
    }

    /// The tool to call and its arguments, as each peer names and shapes them.
    fn call(self, peer: &Peer, tools: &[String]) -> CallToolRequestParams {
        let operation = match self {
            Workload::SmallGet => "listItems",
            Workload::JsonPost => "createItem",
            Workload::Large => "hugeJson",
        };
        let squeeze = |name: &str| name.replace(['_', '-'], "").to_ascii_lowercase();
        let name = tools
            .iter()
            .find(|t| squeeze(t) == squeeze(operation))
            .cloned()
            .unwrap_or_else(|| operation.to_owned());
        let body = json!({ "name": "bench", "tags": ["a", "b"] });
        let args = match self {
            Workload::SmallGet => json!({ "limit": 1 }),
            Workload::Large => json!({ "bytes": 100_000 }),
            // rmcp-openapi takes a JSON body as one `request_body` argument; Cast and
            // FastMCP take its fields.
            Workload::JsonPost => match peer.kind {
                Kind::RmcpOpenapi { .. } => json!({ "request_body": body }),
                _ => body,
            },
        };
        CallToolRequestParams::new(name).with_arguments(args.as_object().cloned().unwrap_or_default())
    }

    async fn direct(self, http: &reqwest::Client, upstream: &TestServer) -> Result<usize> {
        let base = upstream.base_url();
        let request = match self {
            Workload::SmallGet => http.get(format!("{base}/api/items?limit=1")),
            Workload::JsonPost => http
                .post(format!("{base}/api/items"))
                .json(&json!({ "name": "bench", "tags": ["a", "b"] })),
            Workload::Large => http.get(format!("{base}/fault/huge-json?bytes=100000")),
        };
        let response = request.header("X-Api-Key", upstream.key()).send().await?;
        if !response.status().is_success() {
            bail!("direct {}: {}", self.title(), response.status());
        }
        Ok(response.bytes().await?.len())
    }
}

/// What one run measured of one peer over one transport.
#[derive(Debug, Default, Clone)]
struct Figures {
    cold_start_ms: f64,
    list_ms: f64,
    list_bytes: f64,
    /// p50 and p99 in ms, and server CPU ms per call, per workload.
    calls: Vec<(f64, f64, f64)>,
    rss_mib: f64,
    /// Calls per second at concurrency 1, 8, 64 (HTTP only).
    throughput: Vec<f64>,
}

const CONCURRENCY: [usize; 3] = [1, 8, 64];

fn checked(
    result: Result<rmcp::model::CallToolResult, rmcp::ServiceError>,
    workload: Workload,
    peer: &Peer,
) -> Result<()> {
    let result = result.with_context(|| format!("{}: {}", peer.name, workload.title()))?;
    if result.is_error == Some(true) {
        bail!(
            "{}: {} answered an error: {:?}",
            peer.name,
            workload.title(),
            result.content
        );
    }
    Ok(())
}

/// Everything but throughput for `api` over `transport`; `None` when the peer does not serve it.
async fn measure(
    peer: &Peer,
    api: Api,
    transport: Transport,
    upstream: &TestServer,
    calls: usize,
) -> Result<Option<Figures>> {
    let Some(server) = launch(peer, api, transport, upstream).await? else {
        return Ok(None);
    };
    let mut figures = Figures {
        cold_start_ms: server.cold_ms,
        list_bytes: server.list_bytes as f64,
        ..Figures::default()
    };
    let mut lists = Vec::new();
    for _ in 0..20 {
        let at = Instant::now();
        server.client.list_all_tools().await?;
        lists.push(at.elapsed().as_secs_f64() * 1000.0);
    }
    figures.list_ms = median(lists);
    if api == Api::Bench {
        for workload in Workload::ALL {
            let params = workload.call(peer, &server.tools);
            for _ in 0..20 {
                checked(server.client.call_tool(params.clone()).await, workload, peer)?;
            }
            let cpu_before = cpu_seconds(server.pid);
            let mut samples = Vec::with_capacity(calls);
            for _ in 0..calls {
                let at = Instant::now();
                checked(server.client.call_tool(params.clone()).await, workload, peer)?;
                samples.push(at.elapsed().as_secs_f64() * 1000.0);
            }
            let cpu_ms = (cpu_seconds(server.pid) - cpu_before) * 1000.0 / calls as f64;
            figures
                .calls
                .push((percentile(&mut samples, 0.5), percentile(&mut samples, 0.99), cpu_ms));
        }
        if transport == Transport::Http {
            let params = Workload::SmallGet.call(peer, &server.tools);
            for concurrency in CONCURRENCY {
                let client = server.client.peer().clone();
                let params = params.clone();
                let rate = throughput(concurrency, calls * 4, move || {
                    let client = client.clone();
                    let params = params.clone();
                    async move {
                        let result = client.call_tool(params).await?;
                        if result.is_error == Some(true) {
                            bail!("an error: {:?}", result.content);
                        }
                        Ok(())
                    }
                })
                .await?;
                figures.throughput.push(rate);
            }
        }
    }
    figures.rss_mib = peak_rss_mib(server.pid);
    server.client.cancel().await.ok();
    Ok(Some(figures))
}

/// Calls per second of `total` calls of `call`, `concurrency` of them in flight at once.
async fn throughput<F, Fut>(concurrency: usize, total: usize, call: F) -> Result<f64>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            let next = next.clone();
            tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                    call().await?;
                }
                Ok::<_, anyhow::Error>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The floor: each workload's request made directly to the upstream, and its throughput.
async fn direct(upstream: &TestServer, calls: usize) -> Result<Figures> {
    let http = reqwest::Client::new();
    let mut figures = Figures::default();
    for workload in Workload::ALL {
        for _ in 0..20 {
            workload.direct(&http, upstream).await?;
        }
        let mut samples = Vec::with_capacity(calls);
        for _ in 0..calls {
            let at = Instant::now();
            workload.direct(&http, upstream).await?;
            samples.push(at.elapsed().as_secs_f64() * 1000.0);
        }
        figures
            .calls
            .push((percentile(&mut samples, 0.5), percentile(&mut samples, 0.99), f64::NAN));
    }
    for concurrency in CONCURRENCY {
        let http = http.clone();
        let url = format!("{}/api/items?limit=1", upstream.base_url());
        let key = upstream.key();
        let rate = throughput(concurrency, calls * 4, move || {
            let request = http.get(&url).header("X-Api-Key", &key);
            async move {
                request.send().await?.bytes().await?;
                Ok(())
            }
        })
        .await?;
        figures.throughput.push(rate);
    }
    Ok(figures)
}

/// Generates and builds (release) the Cast server for `spec` into `target/peers`.
fn build_cast(spec: &Path, name: &str, enable_all: bool, symbols: bool) -> Result<PathBuf> {
    let out = peers_dir().join(name);
    let mut settings = Settings::default().with_name(name);
    if enable_all {
        settings = settings.with_all_enabled();
    }
    generate(spec.to_str().context("UTF-8 path")?, settings, &out)?;
    std::fs::copy(workspace_root().join("Cargo.lock"), out.join("Cargo.lock"))?;
    let target = peers_dir().join("target");
    eprintln!("building {name} (release)…");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(out.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        // A profile needs the symbols the release profile strips.
        .env("CARGO_PROFILE_RELEASE_STRIP", if symbols { "false" } else { "true" })
        .status()?;
    if !status.success() {
        bail!("building {name} failed");
    }
    Ok(target.join("release").join(name))
}

/// The alternatives `bench/peers/setup` installed; a missing one is skipped with a note.
fn installed_peers() -> Vec<Peer> {
    let mut peers = Vec::new();
    let python = peers_dir().join("venv/bin/python");
    if python.exists() {
        peers.push(Peer {
            name: "FastMCP 4.2.3 (from_openapi)",
            kind: Kind::FastMcp { python },
            profiled: false,
        });
    } else {
        eprintln!("FastMCP is not installed ({}): run bench/peers/setup", python.display());
    }
    let binary = peers_dir().join("cargo/bin/rmcp-openapi-server");
    if binary.exists() {
        peers.push(Peer {
            name: "rmcp-openapi-server 0.32.1",
            kind: Kind::RmcpOpenapi { binary },
            profiled: false,
        });
    } else {
        eprintln!(
            "rmcp-openapi-server is not installed ({}): run bench/peers/setup",
            binary.display()
        );
    }
    peers
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map(|kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {memory}")
}

/// Runs the stdio workloads of Cast under `perf record`, then prints the hottest symbols
/// (self time) and the call graph summary of the server process.
async fn profile(cast: &Peer, upstream: &TestServer, calls: usize) -> Result<()> {
    let mut cast = cast.clone();
    cast.profiled = true;
    eprintln!("profiling Cast over stdio ({} calls per workload)…", calls * 10);
    measure(&cast, Api::Bench, Transport::Stdio, upstream, calls * 10).await?;
    // perf writes its file when the server exits.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = std::process::Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--no-children",
            "--percent-limit",
            "1.5",
            "-g",
            "none",
            "-i",
        ])
        .arg(profile_data())
        .output()
        .context("perf report")?;
    println!("{}", String::from_utf8_lossy(&report.stdout));
    Ok(())
}

/// The median of each figure over the runs.
fn medians(runs: &[Figures]) -> Figures {
    let of = |f: &dyn Fn(&Figures) -> f64| median(runs.iter().map(f).collect());
    let calls = (0..runs[0].calls.len())
        .map(|i| (of(&|r| r.calls[i].0), of(&|r| r.calls[i].1), of(&|r| r.calls[i].2)))
        .collect();
    let throughput = (0..runs[0].throughput.len())
        .map(|i| of(&|r| r.throughput[i]))
        .collect();
    Figures {
        cold_start_ms: of(&|r| r.cold_start_ms),
        list_ms: of(&|r| r.list_ms),
        list_bytes: of(&|r| r.list_bytes),
        calls,
        rss_mib: of(&|r| r.rss_mib),
        throughput,
    }
}

/// What was measured of each peer: one entry per (api, transport), medians over the runs.
#[derive(Debug, Default)]
struct Measured {
    runs: std::collections::BTreeMap<(u8, u8), Vec<Figures>>,
}

impl Measured {
    fn key(api: Api, transport: Transport) -> (u8, u8) {
        (api as u8, transport as u8)
    }

    fn get(&self, api: Api, transport: Transport) -> Option<Figures> {
        self.runs.get(&Self::key(api, transport)).map(|runs| medians(runs))
    }
}

/// A row: each peer's value (`None`: not measured), the direct call's, and the unit.
fn print_row(label: &str, values: &[Option<f64>], direct: Option<f64>, higher_is_better: bool) {
    let shown = |v: Option<f64>| match v {
        Some(v) if v.is_finite() => {
            if v >= 100.0 {
                format!("{v:.0}")
            } else if v >= 1.0 {
                format!("{v:.2}")
            } else {
                format!("{v:.3}")
            }
        }
        _ => "—".to_owned(),
    };
    let ours = values[0].filter(|v| v.is_finite());
    let others = values[1..]
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0);
    let best = if higher_is_better {
        others.fold(None, |b: Option<f64>, v| Some(b.map_or(v, |b| b.max(v))))
    } else {
        others.fold(None, |b: Option<f64>, v| Some(b.map_or(v, |b| b.min(v))))
    };
    let ratio = |theirs: Option<f64>| match (ours, theirs) {
        (Some(ours), Some(theirs)) if ours > 0.0 => {
            let r = if higher_is_better { ours / theirs } else { theirs / ours };
            format!("{r:.1}×")
        }
        _ => "—".to_owned(),
    };
    let cells: Vec<String> = values.iter().map(|v| shown(*v)).collect();
    println!(
        "| {label} | {} | {} | {} | {} |",
        cells.join(" | "),
        shown(direct),
        ratio(best),
        match (ours, direct) {
            (Some(ours), Some(direct)) if higher_is_better => format!("{:.0}%", ours / direct * 100.0),
            (Some(ours), Some(direct)) => format!("+{:.3}", ours - direct),
            _ => "—".to_owned(),
        }
    );
}

fn print_tables(peers: &[Peer], measured: &[Measured], floor: &Figures, github: bool) {
    println!(
        "| measure | {} | direct | Cast vs best alternative | Cast vs direct |",
        peers.iter().map(|p| p.name).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|{}---:|---:|---:|", "---:|".repeat(peers.len()));
    let values = |api: Api, transport: Transport, f: &dyn Fn(&Figures) -> f64| -> Vec<Option<f64>> {
        measured
            .iter()
            .map(|m| m.get(api, transport).map(|fig| f(&fig)))
            .collect()
    };
    for (transport, label) in [(Transport::Stdio, "stdio"), (Transport::Http, "HTTP")] {
        print_row(
            &format!("{label}: cold start to first tools/list (ms)"),
            &values(Api::Bench, transport, &|f| f.cold_start_ms),
            None,
            false,
        );
        print_row(
            &format!("{label}: tools/list (ms)"),
            &values(Api::Bench, transport, &|f| f.list_ms),
            None,
            false,
        );
        for (i, workload) in Workload::ALL.iter().enumerate() {
            let title = workload.title();
            print_row(
                &format!("{label}: {title} p50 (ms)"),
                &values(Api::Bench, transport, &|f| f.calls[i].0),
                Some(floor.calls[i].0),
                false,
            );
            print_row(
                &format!("{label}: {title} p99 (ms)"),
                &values(Api::Bench, transport, &|f| f.calls[i].1),
                Some(floor.calls[i].1),
                false,
            );
            print_row(
                &format!("{label}: {title}, server CPU per call (ms)"),
                &values(Api::Bench, transport, &|f| f.calls[i].2),
                None,
                false,
            );
        }
        print_row(
            &format!("{label}: peak RSS (MiB)"),
            &values(Api::Bench, transport, &|f| f.rss_mib),
            None,
            false,
        );
    }
    for (i, concurrency) in CONCURRENCY.iter().enumerate() {
        print_row(
            &format!("HTTP: calls/s, small GET, concurrency {concurrency}"),
            &values(Api::Bench, Transport::Http, &|f| f.throughput[i]),
            Some(floor.throughput[i]),
            true,
        );
    }
    print_row(
        "tools/list size, test API (KB)",
        &values(Api::Bench, Transport::Http, &|f| f.list_bytes / 1000.0),
        None,
        false,
    );
    if github {
        for (transport, label) in [(Transport::Stdio, "stdio"), (Transport::Http, "HTTP")] {
            print_row(
                &format!("GitHub (767 tools), {label}: cold start (ms)"),
                &values(Api::Github, transport, &|f| f.cold_start_ms),
                None,
                false,
            );
            print_row(
                &format!("GitHub, {label}: tools/list (ms)"),
                &values(Api::Github, transport, &|f| f.list_ms),
                None,
                false,
            );
            print_row(
                &format!("GitHub, {label}: peak RSS (MiB)"),
                &values(Api::Github, transport, &|f| f.rss_mib),
                None,
                false,
            );
        }
        print_row(
            "GitHub: tools/list size (MB)",
            &values(Api::Github, Transport::Http, &|f| f.list_bytes / 1e6),
            None,
            false,
        );
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = options()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let upstream = start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        Mode::ApiKey {
            header: "X-Api-Key".into(),
        },
        generate_key(),
    )
    .await?;
    let vault = Arc::new(Vault::new()?);
    let key_file = vault.seal("key.sealed", "X-Api-Key", &upstream.key())?;
    let symbols = options.profile;
    let bench =
        tokio::task::spawn_blocking(move || build_cast(&Api::Bench.spec(), "cast-peers-bench-mcp", false, symbols))
            .await??;
    let github = if options.github {
        Some(
            tokio::task::spawn_blocking(|| build_cast(&Api::Github.spec(), "cast-peers-github-mcp", true, false))
                .await??,
        )
    } else {
        None
    };
    let mut peers = vec![Peer {
        name: "Cast",
        kind: Kind::Cast {
            bench,
            github,
            vault,
            key_file,
        },
        profiled: false,
    }];
    peers.extend(installed_peers());
    if let Some(only) = &options.only {
        peers.retain(|p| p.name == "Cast" || p.name.starts_with(only.as_str()));
    }
    if options.profile {
        profile(&peers[0], &upstream, options.calls).await?;
        return Ok(());
    }
    let mut measured: Vec<Measured> = peers.iter().map(|_| Measured::default()).collect();
    let mut floors = Vec::new();
    let mut apis = vec![Api::Bench];
    if options.github {
        apis.push(Api::Github);
    }
    for run in 0..options.runs {
        eprintln!("run {} of {}", run + 1, options.runs);
        floors.push(direct(&upstream, options.calls).await?);
        for (peer, results) in peers.iter().zip(&mut measured) {
            for &api in &apis {
                for transport in [Transport::Stdio, Transport::Http] {
                    eprintln!("  {} {api:?} {transport:?}", peer.name);
                    if let Some(figures) = measure(peer, api, transport, &upstream, options.calls).await? {
                        results
                            .runs
                            .entry(Measured::key(api, transport))
                            .or_default()
                            .push(figures);
                    }
                }
            }
        }
    }
    let floor = medians(&floors);
    println!(
        "Machine: {}. Medians of {} runs; {} calls per workload and run, {} per concurrency level.\n",
        machine(),
        options.runs,
        options.calls,
        options.calls * 4
    );
    print_tables(&peers, &measured, &floor, options.github);
    Ok(())
}
