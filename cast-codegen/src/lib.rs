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
pub mod diag;
pub mod emit;
pub mod ir;
pub mod load;
mod settings;
pub mod swagger2;
pub mod write;

use std::{collections::BTreeMap, path::Path};

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use load::Source;
pub use settings::{AuthScheme, AuthSettings, KeyLocation, Settings, ToolSettings};

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
