//! The only items generated code names. Everything a generated crate needs is
//! re-exported here, so its `Cargo.toml` lists `cast-runtime` alone and the
//! generator and the runtime agree on one small, versioned surface.

pub use ::indexmap::IndexMap;
pub use ::serde;
pub use ::serde_json;
pub use ::serde_json::Value;
pub use rmcp::model::CallToolResult;

pub use crate::{
    api::{Annotations, Api, Method, Redirects, Scheme, SchemeKind, ToolDef, ToolFuture},
    body::Encoding,
    call::{Call, ParamText, ParamValue, Request, param_text_of, tool_error},
    cli::main,
    style::{In, Style, Styled},
    value::{Nullable, present},
};
