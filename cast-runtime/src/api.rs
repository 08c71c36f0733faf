//! The static description of a generated server: everything decided at generation time.

use std::{future::Future, pin::Pin};

use rmcp::model::CallToolResult;

use crate::call::Call;

/// One generated MCP server: its identity, upstream and tools.
#[derive(Debug)]
pub struct Api {
    /// Crate name of the generated server (`env!("CARGO_PKG_NAME")`); also the MCP server name.
    pub name: &'static str,
    /// Crate version (`env!("CARGO_PKG_VERSION")`).
    pub version: &'static str,
    /// Human title, from the spec's `info.title`.
    pub title: &'static str,
    /// Instructions shown to the client, from the spec's `info.description`.
    pub instructions: Option<&'static str>,
    /// Upstream base URL from the spec's `servers` (overridable at run time).
    pub base_url: &'static str,
    /// How the upstream credential is sent.
    pub auth: Auth,
    /// Non-secret headers sent with every upstream request.
    pub static_headers: &'static [(&'static str, &'static str)],
    /// The enabled tools, in spec order.
    pub tools: &'static [&'static ToolDef],
}

/// How the upstream credential is attached to each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No credential.
    None,
    /// The credential as the value of a header, e.g. `X-Api-Key`.
    Header {
        /// The header name.
        name: &'static str,
    },
    /// `Authorization: Bearer <credential>`.
    Bearer,
}

impl Auth {
    /// The header the credential travels in; also the label it is sealed under.
    pub fn header_name(&self) -> Option<&'static str> {
        match self {
            Auth::None => None,
            Auth::Header { name } => Some(name),
            Auth::Bearer => Some("Authorization"),
        }
    }
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
    Patch,
    Head,
    Options,
    Trace,
}

impl Method {
    /// The method as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
        }
    }
}

/// MCP tool annotations, decided from the HTTP method at generation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    /// Does not modify its environment.
    pub read_only: bool,
    /// May destroy data.
    pub destructive: bool,
    /// Repeating the call has no further effect.
    pub idempotent: bool,
}

/// A boxed tool future; tools are stored as plain function pointers in static tables.
pub type ToolFuture = Pin<Box<dyn Future<Output = CallToolResult> + Send>>;

/// One tool: one upstream operation.
#[derive(Debug)]
pub struct ToolDef {
    /// MCP tool name.
    pub name: &'static str,
    /// Short human title (the operation summary).
    pub title: Option<&'static str>,
    /// What the tool does, for the model.
    pub description: &'static str,
    /// Upstream HTTP method.
    pub method: Method,
    /// Path template as written in the spec, for logs (`/items/{id}`).
    pub path_template: &'static str,
    /// The template's literal pieces around its parameters: `n` parameters, `n + 1` pieces.
    pub path_pieces: &'static [&'static str],
    /// The advertised input JSON Schema, as JSON text (parsed once at start).
    pub input_schema: &'static str,
    /// The advertised output schema (the success response's object schema), if any.
    pub output_schema: Option<&'static str>,
    /// This operation's own server (OpenAPI per-path or per-operation `servers`), if any.
    pub base_url: Option<&'static str>,
    /// MCP annotations.
    pub annotations: Annotations,
    /// The typed handler.
    pub call: fn(Call) -> ToolFuture,
}
