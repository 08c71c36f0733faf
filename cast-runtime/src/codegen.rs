//! The only items generated code names. Everything a generated crate needs is
//! re-exported here, so its `Cargo.toml` lists `cast-runtime` alone and the
//! generator and the runtime agree on one small, versioned surface.

/// The version of the contract between generated code and this runtime: the items below and
/// what they mean. Generated code asserts the version it was made for, so a runtime that
/// changed the contract fails to build it with a message that says to regenerate.
pub const CONTRACT: u32 = 2;

pub use ::indexmap::IndexMap;
pub use ::serde;
pub use ::serde_json;
pub use ::serde_json::Value;

pub use crate::{
    api::{Annotations, Api, Call, Handler, Method, Mode, Prepared, Redirects, Refusal, Scheme, SchemeKind, ToolDef},
    body::Encoding,
    call::Request,
    cli::main,
    param::{ParamText, ParamValue, param_text_of},
    style::{In, Style, Styled},
    value::{Nullable, present},
};
