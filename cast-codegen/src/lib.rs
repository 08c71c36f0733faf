//! Cast's generator: an OpenAPI description in, a typed Rust MCP server crate out.
//!
//! The pipeline is one-way: [`load`] (bytes to one JSON document) → [`ir`]
//! (lowering to [`ir::ApiIr`], with every problem collected as a [`Diagnostic`])
//! → [`emit`] (tokens and templates) → [`write`] (only files that changed).
//! The command line and build scripts are thin shells over [`Generator`].
//!
//! ```no_run
//! use cast_codegen::{Generator, Settings, Source};
//!
//! let generator = Generator::new(Settings::default().with_enabled("deleteItem"));
//! let generated = generator.generate_source(&Source::new("openapi.json")).map_err(|d| d.to_string())?;
//! eprint!("{}", generated.diagnostics);
//! generated.write_to("items-mcp".as_ref(), false)?;
//! # Ok::<(), String>(())
//! ```
#![deny(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod cost;
pub mod diag;
pub mod emit;
pub mod ir;
pub mod load;
pub mod lock;
mod settings;
pub mod swagger2;
pub mod write;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use load::Source;
pub use settings::{
    AuthScheme, AuthSettings, BudgetSettings, ConfirmSettings, ConfirmWhen, DeepObjectArrays, FollowRedirects,
    InboundSettings, KeyLocation, SchemaSettings, Settings, ToolMode, ToolSettings,
};

/// A generated crate, in memory: path (relative to the crate root) → contents.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Every file of the crate.
    pub files: BTreeMap<String, String>,
    /// The lowered API (all operations, with why each is on or off).
    pub api: ir::ApiIr,
    /// Warnings found on the way (errors stop generation).
    pub diagnostics: Diagnostics,
}

impl Generated {
    /// Writes the crate under `out`; see [`write::write`].
    pub fn write_to(&self, out: &Path, force: bool) -> Result<write::WriteReport, String> {
        write::write(&self.files, out, force)
    }
}

/// Turns specs into crates, with fixed [`Settings`].
#[derive(Debug, Clone, Default)]
pub struct Generator {
    settings: Settings,
}

impl Generator {
    /// A generator with these settings.
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Reads `source` (file or URL) and generates.
    pub fn generate_source(&self, source: &Source) -> Result<Generated, Diagnostics> {
        let bytes = load::read(source).map_err(|d| Diagnostics(vec![d]))?;
        self.generate(&bytes, source)
    }

    /// Lowers the spec without emitting: the API with every diagnostic, errors included.
    pub fn analyze(&self, bytes: &[u8], source: &Source) -> Result<(ir::ApiIr, Diagnostics), Diagnostics> {
        let mut doc = load::parse(bytes).map_err(|d| Diagnostics(vec![d]))?;
        let mut diagnostics = Diagnostics::default();
        if swagger2::is_swagger2(&doc) {
            let (converted, warnings) = swagger2::convert(&doc);
            doc = converted;
            diagnostics.0.extend(warnings);
        }
        let api = ir::lower::lower(&doc, source, &self.settings, &mut diagnostics);
        cost::check_budget(&api, &self.settings, &mut diagnostics);
        Ok((api, diagnostics))
    }

    /// Generates from spec bytes. `source` names the spec in headers and messages.
    pub fn generate(&self, bytes: &[u8], source: &Source) -> Result<Generated, Diagnostics> {
        let (api, diagnostics) = self.analyze(bytes, source)?;
        if diagnostics.has_errors() {
            return Err(diagnostics);
        }
        let files = emit::emit(&api, &self.settings, &source.display)
            .map_err(|message| Diagnostics(vec![Diagnostic::error("C0900", "", message)]))?;
        Ok(Generated {
            files,
            api,
            diagnostics,
        })
    }
}

/// The file [`build`] writes into `OUT_DIR`.
pub const BUILD_OUTPUT: &str = "cast_server.rs";

/// For `build.rs`: generates `$OUT_DIR/cast_server.rs` from `spec` (settings from a
/// `cast.toml` beside it, when there is one). On a problem it prints the full
/// diagnostic report and stops the build, without a panic's backtrace.
///
/// ```no_run
/// // build.rs: the whole of it is this one call in `fn main`.
/// cast_codegen::build("openapi.json");
/// ```
///
/// ```ignore
/// // src/main.rs
/// include!(concat!(env!("OUT_DIR"), "/cast_server.rs"));
///
/// fn main() -> std::process::ExitCode {
///     cast_runtime::codegen::main(&API)
/// }
/// ```
pub fn build(spec: impl AsRef<Path>) {
    let spec = spec.as_ref();
    let config = spec.with_file_name("cast.toml");
    let settings = match std::fs::read_to_string(&config) {
        Ok(text) => match Settings::from_toml(&text, &config.display().to_string()) {
            Ok(settings) => settings,
            Err(message) => stop(&message),
        },
        Err(_) => Settings::default(),
    };
    if let Err(diagnostics) = build_with(spec, &settings, &config) {
        stop(&diagnostics.to_string());
    }
}

fn stop(report: &str) -> ! {
    eprintln!("{report}");
    std::process::exit(1)
}

/// [`build`] with explicit settings; returns the path written. `config` is only watched for changes.
pub fn build_with(spec: &Path, settings: &Settings, config: &Path) -> Result<PathBuf, Diagnostics> {
    // Only Cargo sets OUT_DIR; outside it, rerun hints would be noise on stdout.
    let out_dir = std::env::var_os("OUT_DIR").map(PathBuf::from);
    if out_dir.is_some() {
        println!("cargo::rerun-if-changed={}", spec.display());
        println!("cargo::rerun-if-changed={}", config.display());
    }
    let source = Source::new(&spec.display().to_string());
    let bytes = load::read(&source).map_err(|d| Diagnostics(vec![d]))?;
    let (api, diagnostics) = Generator::new(settings.clone()).analyze(&bytes, &source)?;
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    if out_dir.is_some() {
        for warning in diagnostics.iter().filter(|d| d.severity != Severity::Note) {
            println!(
                "cargo::warning={}",
                warning.to_string().lines().next().unwrap_or_default()
            );
        }
    }
    let header = emit::header(&source.display);
    let text = emit::format_rust(BUILD_OUTPUT, emit::module_rs(&api), &header)
        .map_err(|message| Diagnostics(vec![Diagnostic::error("C0900", "", message)]))?;
    let path = out_dir.unwrap_or_else(|| PathBuf::from(".")).join(BUILD_OUTPUT);
    // Write only on change, so Cargo does not rebuild the crate for nothing.
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&path, text).map_err(|e| {
            Diagnostics(vec![Diagnostic::error(
                "C0901",
                "",
                format!("cannot write {}: {e}", path.display()),
            )])
        })?;
    }
    Ok(path)
}
