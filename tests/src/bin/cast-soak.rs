//! Soak benchmark: a release build of the server generated from
//! `tests/faults/faults-3.0.json`, in front of the test server's fault routes, driven over
//! streamable HTTP (stateless, one keep-alive pool) by concurrent workers for a fixed
//! number of calls. Prints unexpected outcomes, the server's memory and descriptors over
//! time, throughput and latency percentiles.
//!
//! `cargo run --release -p cast-e2e --bin cast-soak [-- --calls 1000000 --concurrency 32]`
//!
//! The mix per 100 calls: 90 fast GETs, 5 that fail once with 503 and heal on a retry,
//! 4 JSON lists of about 10 kB, 1 upstream 404 (a clean tool error); latency is given for
//! the fast calls alone and for all (the healed ones include their backoff). The upstream runs in
//! this process, so both share the machine with the server.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use cast_codegen::Settings;
use cast_e2e::{Launch, Log, generated_target_dir, open_fds, proc_status_kib, stateless_call, workspace_root};
use serde_json::{Value, json};

struct Options {
    calls: u64,
    concurrency: u64,
}

fn options() -> Result<Options> {
    let mut options = Options {
        calls: 1_000_000,
        concurrency: 32,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || -> Result<u64> {
            let value = args.next().with_context(|| format!("{arg} needs a number"))?;
            value.parse().with_context(|| format!("{arg} {value}: not a number"))
        };
        match arg.as_str() {
            "--calls" => options.calls = number()?,
            "--concurrency" => options.concurrency = number()?.max(1),
            other => bail!("unknown argument `{other}` (known: --calls N, --concurrency N)"),
        }
    }
    Ok(options)
}

/// The call numbered `i` in the mix, and whether its answer is right.
fn call_for(i: u64) -> (&'static str, Value) {
    match i % 100 {
        0..90 => ("slow", json!({ "ms": "0" })),
        90..95 => (
            "status",
            json!({ "code": "503", "fail": "1", "key": format!("soak{i}") }),
        ),
        95..99 => ("hugeJson", json!({ "bytes": "10000" })),
        _ => ("status", json!({ "code": "404" })),
    }
}

fn correct(i: u64, answer: &Value) -> bool {
    let result = &answer["result"];
    let ok = result["isError"] == false;
    match i % 100 {
        0..90 => ok && result["structuredContent"]["ok"] == true,
        90..95 => ok && result["_meta"]["io.cast/attempts"] == 2,
        95..99 => ok && result["structuredContent"]["items"].is_array(),
        _ => {
            result["isError"] == true
                && result["content"][0]["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("upstream returned HTTP 404"))
        }
    }
}

fn build_server() -> Result<std::path::PathBuf> {
    let spec = workspace_root().join("tests/faults/faults-3.0.json");
    let out = workspace_root().join("target/soak/faults-mcp");
    let settings = Settings::default().with_name("faults-mcp").with_all_enabled();
    cast_e2e::generate(spec.to_str().context("UTF-8 path")?, settings, &out)?;
    std::fs::copy(workspace_root().join("Cargo.lock"), out.join("Cargo.lock"))?;
    eprintln!("building the generated server (release)…");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(out.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", generated_target_dir())
        .status()?;
    if !status.success() {
        bail!("cargo build of the generated server failed");
    }
    Ok(generated_target_dir().join("release/faults-mcp"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = options()?;
    let binary = build_server()?;
    let upstream = cast_test_server::start(
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        cast_test_server::Mode::None,
        cast_test_server::generate_key(),
    )
    .await?;
    let launch = Launch {
        binary,
        env: vec![
            ("CAST_BASE_URL".to_owned(), upstream.base_url().to_owned()),
            ("CAST_LOG".to_owned(), "warn,cast_runtime::serve=info".to_owned()),
        ],
    };
    let log: Log = Default::default();
    let (mut child, url) = launch.http(&log).await?;
    let pid = child.id().context("pid")?;
    let client = cast_e2e::http_client();
    let warm = stateless_call(&client, &url, "slow", json!({ "ms": "0" })).await;
    warm.map_err(anyhow::Error::msg).context("warm-up call")?;
    println!(
        "soak: {} calls, {} at a time, server pid {pid}: {} KiB resident after one call",
        options.calls,
        options.concurrency,
        proc_status_kib(pid, "VmRSS")
    );

    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        let (next, done, client, url) = (next.clone(), done.clone(), client.clone(), url.clone());
        let calls = options.calls;
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut wrong = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= calls {
                    break;
                }
                let (tool, args) = call_for(i);
                let sent = Instant::now();
                let answer = stateless_call(&client, &url, tool, args).await;
                let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                latencies.push((i % 100 < 90, micros));
                match answer {
                    Ok(answer) if correct(i, &answer) => {}
                    Ok(answer) => wrong.push(format!("call {i} ({tool}): {answer}")),
                    Err(err) => wrong.push(format!("call {i} ({tool}): {err}")),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            (latencies, wrong)
        });
    }

    println!("\n| elapsed | calls done | calls/s (interval) | server RSS | open fds |");
    println!("|---:|---:|---:|---:|---:|");
    let interval = Duration::from_secs(10);
    let mut last = (Instant::now(), 0u64);
    let mut peak_rss = 0;
    loop {
        let finished = tokio::time::timeout(interval, async {
            while !workers.is_empty() && done.load(Ordering::Relaxed) < options.calls {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .is_ok();
        let now = Instant::now();
        let calls_done = done.load(Ordering::Relaxed);
        let rss = proc_status_kib(pid, "VmRSS");
        peak_rss = peak_rss.max(rss);
        let rate = (calls_done - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
        println!(
            "| {:.0} s | {calls_done} | {rate:.0} | {:.1} MiB | {} |",
            started.elapsed().as_secs_f64(),
            rss as f64 / 1024.0,
            open_fds(pid)
        );
        last = (now, calls_done);
        if finished {
            break;
        }
    }
    let mut latencies = Vec::with_capacity(options.calls as usize);
    let mut wrong = Vec::new();
    while let Some(joined) = workers.join_next().await {
        let (mut l, mut w) = joined?;
        latencies.append(&mut l);
        wrong.append(&mut w);
    }
    let elapsed = started.elapsed();
    println!(
        "\n{} calls in {:.1} s: {:.0} calls/s; {} unexpected outcomes; peak server RSS {:.1} MiB (VmHWM {:.1} MiB)",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        wrong.len(),
        peak_rss as f64 / 1024.0,
        proc_status_kib(pid, "VmHWM") as f64 / 1024.0
    );
    let fast: Vec<u32> = latencies.iter().filter(|(fast, _)| *fast).map(|(_, l)| *l).collect();
    let all: Vec<u32> = latencies.iter().map(|(_, l)| *l).collect();
    // The flaky fifth waits out a backoff (up to 100 ms, jittered) before its retry.
    for (what, mut sample) in [("fast GETs (90 %)", fast), ("every call", all)] {
        sample.sort_unstable();
        let percentile = |p: f64| {
            let index = ((sample.len() as f64 * p).ceil() as usize).clamp(1, sample.len()) - 1;
            f64::from(sample[index]) / 1000.0
        };
        println!(
            "latency, {what}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
            percentile(0.5),
            percentile(0.9),
            percentile(0.99),
            percentile(0.999),
            percentile(1.0)
        );
    }
    for line in wrong.iter().take(5) {
        println!("unexpected: {line}");
    }
    child.kill().await.ok();
    if !wrong.is_empty() {
        bail!("{} of {} calls went wrong", wrong.len(), latencies.len());
    }
    Ok(())
}
