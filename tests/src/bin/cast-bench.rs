//! Generation benchmark over `tests/corpus`: time (median of runs) and peak heap
//! per spec, then the compile time of the crate generated for the largest spec.
//!
//! `cargo run --release -p cast-e2e --bin cast-bench [-- --skip-compile]`

// The one `unsafe` in the workspace: a global allocator must implement an unsafe
// trait. It only forwards to the system allocator and counts bytes.
#![allow(unsafe_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use cast_codegen::{Generator, Settings, Source};
use cast_e2e::{generated_target_dir, workspace_root};

/// Counts live heap bytes and their high-water mark: peak memory of generation alone,
/// independent of what else the process holds.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarding to the system allocator with the caller's layout.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// One table row: the median of 5 generations and the peak heap they took.
fn row(generator: &Generator, name: &str, bytes: &[u8], source: &Source) {
    let mut samples = Vec::new();
    let mut tools = 0;
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    for _ in 0..5 {
        let started = Instant::now();
        let generated = generator.generate(bytes, source).expect("generate");
        samples.push(started.elapsed());
        tools = generated.api.enabled_tools().count();
    }
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    println!(
        "| {name} | {} | {tools} | {:.1} ms | {:.1} MiB |",
        bytes.len(),
        median(samples).as_secs_f64() * 1000.0,
        peak as f64 / (1024.0 * 1024.0)
    );
}

fn main() {
    let skip_compile = std::env::args().any(|a| a == "--skip-compile");
    let dir = workspace_root().join("tests/corpus");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "yaml"))
        .collect();
    specs.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));

    println!("| spec | bytes | tools | generate (median of 5) | peak heap |");
    println!("|---|---:|---:|---:|---:|");
    let generator = Generator::new(Settings::default().with_all_enabled().with_name("bench-mcp"));
    for spec in &specs {
        let bytes = std::fs::read(spec).expect("read spec");
        let name = spec.file_name().expect("name").to_string_lossy().into_owned();
        row(
            &generator,
            &name,
            &bytes,
            &Source::new(spec.to_str().expect("UTF-8 path")),
        );
    }
    // Shaped like large payment and CRM APIs: mutually referencing, expandable components.
    for (cycles, per_cycle, operations) in [(20, 100, 200), (10, 500, 400)] {
        let spec = cast_e2e::stress_spec(cycles, per_cycle, operations);
        let bytes = serde_json::to_vec(&spec).expect("spec");
        let name = format!("stress: {} components in {cycles} cycles", cycles * per_cycle);
        row(&generator, &name, &bytes, &Source::new("stress.json"));
    }
    if skip_compile {
        return;
    }

    let spec = dir.join("github-api-3.0.json");
    let out = workspace_root().join("target/bench/github-api-mcp");
    let settings = Settings::default().with_all_enabled().with_name("github-api-mcp");
    cast_e2e::generate(spec.to_str().expect("UTF-8"), settings, &out).expect("generate github");
    std::fs::copy(workspace_root().join("Cargo.lock"), out.join("Cargo.lock")).expect("lock");
    println!(
        "\nCompile time of the crate generated for github-api-3.0.json (767 tools), dependencies already built:\n"
    );
    println!("| profile | clean build of the generated crate |\n|---|---:|");
    for (profile, flags) in [("debug", &[][..]), ("release", &["--release"][..])] {
        let cargo = |args: &[&str]| {
            let status = std::process::Command::new(env!("CARGO"))
                .args(args)
                .arg("--manifest-path")
                .arg(out.join("Cargo.toml"))
                .args(flags)
                .env("CARGO_TARGET_DIR", generated_target_dir())
                .status()
                .expect("cargo");
            assert!(status.success(), "cargo {args:?} failed");
        };
        cargo(&["build", "--quiet"]); // dependencies
        cargo(&["clean", "--quiet", "--package", "github-api-mcp"]);
        let started = Instant::now();
        cargo(&["build", "--quiet"]);
        println!("| {profile} | {:.1} s |", started.elapsed().as_secs_f64());
    }
}
