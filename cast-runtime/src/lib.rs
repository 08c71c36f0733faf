//! The runtime every Cast-generated MCP server links.
//!
//! A generated crate holds only static data (tool names, schemas, URL templates)
//! and one small typed handler per tool; everything else lives here:
//!
//! - [`sealed`]: credentials encrypted with AES-256-GCM under a master key;
//! - [`credential`]: the upstream credential, reloaded live when its file is replaced;
//! - the upstream client: credential injection, one log line per call, response mapping;
//! - the MCP server over stdio and streamable HTTP (both protocol eras).
//!
//! Generated code names only [`codegen`].
#![deny(missing_docs)]

mod api;
mod body;
mod call;
pub mod catalog;
mod cli;
pub mod codegen;
mod confirm;
mod constraints;
pub mod credential;
mod error;
mod fragments;
mod http;
mod inbound;
mod oauth;
mod observe;
mod param;
mod redact;
pub mod sealed;
pub mod secret;
mod serve;
mod server;
mod sessions;
mod spill;
mod stdio;
mod style;
mod upstream;
mod value;

pub use api::{Annotations, Api, Method, Mode, Redirects, Scheme, SchemeKind, ToolDef};
pub use secret::Secret;
pub use server::{Server, ServerOptions};
pub use spill::SpillConfig;
pub use upstream::{RetryPolicy, Upstream, UpstreamConfig};

/// reqwest is built without a default TLS provider (ring builds faster than aws-lc);
/// install ring once before the first client is made.
pub(crate) fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
