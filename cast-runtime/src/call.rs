//! What a generated handler uses: typed arguments in, an upstream request out.

use std::sync::Arc;

use rmcp::model::{CallToolResult, JsonObject};
use serde::{Serialize, de::DeserializeOwned};

pub use crate::error::tool_error;
use crate::{
    api::ToolDef,
    body::Encoding,
    param::{ParamText, ParamValue},
    style::{self, In, Style, Styled},
    upstream::{Prepared, Upstream},
};

/// One tool invocation: the client's arguments and the way upstream.
#[derive(Debug)]
pub struct Call {
    pub(crate) upstream: Arc<Upstream>,
    pub(crate) tool: &'static ToolDef,
    pub(crate) args: JsonObject,
    /// The inbound caller's label, for the log line (never its token).
    pub(crate) caller: Option<Arc<str>>,
    /// The tool's constraints, checked once the arguments have their types.
    pub(crate) constraints: Arc<crate::constraints::Constraints>,
}

impl Call {
    /// Deserializes the arguments into the tool's params struct, then checks the spec's
    /// constraints. A bad argument becomes a tool error that names it
    /// (`limit: invalid type: string "x", expected i64`; `items[2].count: 0 is less than the minimum of 1`).
    #[allow(clippy::result_large_err)]
    pub fn args<T: DeserializeOwned>(&mut self) -> Result<T, CallToolResult> {
        let args = serde_json::Value::Object(std::mem::take(&mut self.args));
        let params = serde_path_to_error::deserialize(&args).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if path == "." {
                tool_error(format!("invalid arguments for `{}`: {inner}", self.tool.name))
            } else {
                tool_error(format!("invalid argument `{path}` for `{}`: {inner}", self.tool.name))
            }
        })?;
        self.constraints.check(self.tool.name, &args).map_err(tool_error)?;
        Ok(params)
    }

    /// Starts the upstream request of this tool.
    pub fn request(&self) -> Request<'_> {
        Request {
            call: self,
            path_values: Vec::with_capacity(self.tool.path_pieces.len().saturating_sub(1)),
            query: String::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            body: None,
            error: None,
        }
    }
}

/// An upstream request under construction. Errors are kept until [`Request::send`],
/// so the generated code stays a plain chain of calls.
#[derive(Debug)]
pub struct Request<'a> {
    call: &'a Call,
    /// Styled path values in template order, with their parameter names.
    path_values: Vec<(&'static str, String)>,
    query: String,
    headers: Vec<(&'static str, String)>,
    cookies: Vec<String>,
    body: Option<Vec<u8>>,
    error: Option<String>,
}

impl Request<'_> {
    fn fail(&mut self, message: String) {
        self.error.get_or_insert(message);
    }

    /// The next path parameter in template order, `simple` style.
    pub fn path<T: ParamValue + Serialize>(self, name: &'static str, value: &T) -> Self {
        self.styled(In::Path, name, Styled::default_for(In::Path), value)
    }

    /// A query parameter, exploded `form` style.
    pub fn query<T: ParamValue + Serialize>(self, name: &'static str, value: &T) -> Self {
        self.styled(In::Query, name, Styled::default_for(In::Query), value)
    }

    /// A header parameter, `simple` style.
    pub fn header<T: ParamValue + Serialize>(self, name: &'static str, value: &T) -> Self {
        self.styled(In::Header, name, Styled::default_for(In::Header), value)
    }

    /// A cookie parameter, exploded `form` style; all cookies share one `Cookie` header.
    pub fn cookie<T: ParamValue + Serialize>(self, name: &'static str, value: &T) -> Self {
        self.styled(In::Cookie, name, Styled::default_for(In::Cookie), value)
    }

    /// A parameter with an explicit style (path parameters in template order).
    pub fn styled<T: ParamValue + Serialize>(
        mut self,
        location: In,
        name: &'static str,
        styled: Styled,
        value: &T,
    ) -> Self {
        let mut text = value.param_text();
        if styled.style == Style::Json && text != ParamText::Absent {
            match serde_json::to_string(value) {
                Ok(json) => text = ParamText::One(json),
                Err(err) => self.fail(format!("cannot encode parameter `{name}`: {err}")),
            }
        }
        match location {
            In::Path => {
                if text == ParamText::Absent {
                    self.fail(format!("missing required path parameter `{name}`"));
                }
                self.path_values.push((name, style::path(name, styled, &text)));
            }
            // Nested objects and arrays keep their shape in brackets, as deepObject APIs read them.
            In::Query if styled.style == Style::DeepObject && text != ParamText::Absent => {
                match serde_json::to_value(value) {
                    Ok(json) => style::deep_query(&mut self.query, name, styled, &json),
                    Err(err) => self.fail(format!("cannot encode parameter `{name}`: {err}")),
                }
            }
            In::Query => style::query(&mut self.query, name, styled, &text),
            In::Header => {
                if let Some(value) = style::header(styled, &text) {
                    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                        self.fail(format!("header parameter `{name}` may not contain CR, LF or NUL"));
                    } else {
                        self.headers.push((name, value));
                    }
                }
            }
            In::Cookie => self.cookies.extend(style::cookie(name, styled, &text)),
        }
        self
    }

    /// The request body, encoded as the operation's media type says.
    pub fn body<T: Serialize>(mut self, encoding: Encoding, media: &'static str, value: &T) -> Self {
        let encoded = match encoding {
            // JSON straight from the typed value: no intermediate tree.
            Encoding::Json => serde_json::to_vec(value)
                .map(|bytes| (bytes, None))
                .map_err(|e| format!("cannot encode the request body: {e}")),
            _ => serde_json::to_value(value)
                .map_err(|e| format!("cannot encode the request body: {e}"))
                .and_then(|value| crate::body::encode(encoding, &value)),
        };
        match encoded {
            Ok((bytes, content_type)) => {
                self.body = Some(bytes);
                self.headers
                    .push(("content-type", content_type.unwrap_or_else(|| media.to_owned())));
            }
            Err(message) => self.fail(message),
        }
        self
    }

    /// A request body that may be absent.
    pub fn optional_body<T: Serialize>(self, encoding: Encoding, media: &'static str, value: &Option<T>) -> Self {
        match value {
            Some(value) => self.body(encoding, media, value),
            None => self,
        }
    }

    /// Sends the request and turns the response into a tool result.
    pub async fn send(self) -> CallToolResult {
        let upstream = self.call.upstream.clone();
        match self.prepare() {
            Ok(prepared) => upstream.send(prepared).await,
            Err(error) => error,
        }
    }

    /// The request as it will be sent, or the tool error that stops it; sent by [`run`].
    #[allow(clippy::result_large_err)]
    pub fn prepare(self) -> Result<Prepared, CallToolResult> {
        if let Some(message) = self.error {
            return Err(tool_error(message));
        }
        let tool = self.call.tool;
        let mut path = String::with_capacity(tool.path_template.len() + 16);
        let mut spans = Vec::with_capacity(self.path_values.len());
        let mut values = self.path_values.iter();
        for (index, piece) in tool.path_pieces.iter().enumerate() {
            if index > 0 {
                match values.next() {
                    Some((name, value)) => {
                        spans.push((*name, path.len()..path.len() + value.len()));
                        path.push_str(value);
                    }
                    None => {
                        return Err(tool_error(format!("`{}` is missing a path parameter", tool.name)));
                    }
                }
            }
            path.push_str(piece);
        }
        check_path_values(&path, &spans).map_err(tool_error)?;
        Ok(Prepared {
            tool,
            caller: self.call.caller.clone(),
            path,
            query: self.query,
            headers: self.headers,
            cookies: self.cookies,
            body: self.body,
        })
    }
}

/// What a generated tool's handler is: plain code that reads the arguments and builds the
/// request. It is not async, so no tool compiles a future of its own; [`run`] sends.
pub type Handler = fn(&mut Call) -> Result<Prepared, CallToolResult>;

/// Runs `handler` on a call and sends what it built: the one future every tool shares.
pub fn run(call: Call, handler: Handler) -> crate::api::ToolFuture {
    Box::pin(async move {
        let mut call = call;
        match handler(&mut call) {
            Ok(prepared) => call.upstream.send(prepared).await,
            Err(error) => error,
        }
    })
}

/// Refuses a path whose arguments would change which resource it names: a value that
/// leaves its segment empty, or that makes a segment `.` or `..` (URL normalisation
/// would resolve it, climbing out of the value's place). Only segments a value touches
/// are checked, so a template of the spec's own such as `/.well-known/{name}` is fine.
fn check_path_values(path: &str, spans: &[(&str, std::ops::Range<usize>)]) -> Result<(), String> {
    for (name, span) in spans {
        if span.is_empty() {
            return Err(format!("path parameter `{name}` may not be empty"));
        }
        let start = path[..span.start].rfind('/').map_or(0, |i| i + 1);
        let end = path[span.end..].find('/').map_or(path.len(), |i| span.end + i);
        let is_dots = path[start..end].split('/').any(|segment| {
            let decoded = segment.replace("%2e", ".").replace("%2E", ".");
            decoded == "." || decoded == ".."
        });
        if is_dots {
            return Err(format!(
                "path parameter `{name}` may not be `.` or `..`, nor make its path segment one"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_values_may_not_empty_or_climb_their_segment() {
        let check = |template: &[&str], values: &[&str]| {
            let mut path = String::new();
            let mut spans = Vec::new();
            for (i, piece) in template.iter().enumerate() {
                if i > 0 {
                    spans.push(("v", path.len()..path.len() + values[i - 1].len()));
                    path.push_str(values[i - 1]);
                }
                path.push_str(piece);
            }
            check_path_values(&path, &spans)
        };
        assert!(check(&["/items/", ""], &["42"]).is_ok());
        assert!(check(&["/.well-known/", ""], &["openid-configuration"]).is_ok());
        assert!(check(&["/.well-known/", "/x"], &[".."]).is_err());
        assert!(check(&["/items/", ""], &[""]).is_err());
        assert!(check(&["/items/", ""], &["."]).is_err());
        // Label style prefixes a dot: `.` becomes `..`.
        assert!(check(&["/items/", ""], &[".."]).is_err());
        // Two values that make one segment `..` between them.
        assert!(check(&["/items/", "", "/x"], &[".", "."]).is_err());
        assert!(check(&["/items/.", ""], &["."]).is_err());
        assert!(check(&["/files/", ".json"], &["."]).is_ok());
        assert!(check(&["/items/", ""], &["..."]).is_ok());
    }

    #[test]
    fn param_text_of_common_types() {
        assert_eq!(Some(5i64).param_text(), ParamText::One("5".into()));
        assert_eq!(None::<i64>.param_text(), ParamText::Absent);
        assert_eq!(
            vec!["a".to_owned(), "b".to_owned()].param_text(),
            ParamText::Many(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            serde_json::json!([1, "x"]).param_text(),
            ParamText::Many(vec!["1".into(), "x".into()])
        );
    }
}
