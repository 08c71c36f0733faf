//! What a generated handler uses: typed arguments in, an upstream request out.

use std::sync::Arc;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use serde::{Serialize, de::DeserializeOwned};

use crate::{api::ToolDef, body::Encoding, upstream::Upstream};

/// One tool invocation: the client's arguments and the way upstream.
#[derive(Debug)]
pub struct Call {
    pub(crate) upstream: Arc<Upstream>,
    pub(crate) tool: &'static ToolDef,
    pub(crate) args: JsonObject,
}

/// A tool error result with one text block.
pub fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

impl Call {
    /// Deserializes the arguments into the tool's params struct. A bad argument
    /// becomes a tool error that names it (`limit: invalid type: string "x", expected i64`).
    #[allow(clippy::result_large_err)]
    pub fn args<T: DeserializeOwned>(&mut self) -> Result<T, CallToolResult> {
        let args = serde_json::Value::Object(std::mem::take(&mut self.args));
        serde_path_to_error::deserialize(args).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if path == "." {
                tool_error(format!("invalid arguments for `{}`: {inner}", self.tool.name))
            } else {
                tool_error(format!("invalid argument `{path}` for `{}`: {inner}", self.tool.name))
            }
        })
    }

    /// Starts the upstream request of this tool.
    pub fn request(&self) -> Request<'_> {
        Request {
            call: self,
            path_values: Vec::with_capacity(self.tool.path_pieces.len().saturating_sub(1)),
            query: String::new(),
            headers: Vec::new(),
            body: None,
            error: None,
        }
    }
}

/// A parameter value as the upstream will see it, before styling.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamText {
    /// Not given (an absent optional parameter).
    Absent,
    /// One value.
    One(String),
    /// An array's items.
    Many(Vec<String>),
}

/// Types that can be sent as path, query or header parameters.
pub trait ParamValue {
    /// The textual form of the value.
    fn param_text(&self) -> ParamText;
}

macro_rules! display_param {
    ($($ty:ty),*) => {$(
        impl ParamValue for $ty {
            fn param_text(&self) -> ParamText {
                ParamText::One(self.to_string())
            }
        }
    )*};
}
display_param!(String, str, bool, i32, i64, u32, u64, f32, f64);

impl<T: ParamValue + ?Sized> ParamValue for &T {
    fn param_text(&self) -> ParamText {
        (**self).param_text()
    }
}

impl<T: ParamValue> ParamValue for Option<T> {
    fn param_text(&self) -> ParamText {
        self.as_ref().map_or(ParamText::Absent, ParamValue::param_text)
    }
}

impl<T: ParamValue> ParamValue for Vec<T> {
    fn param_text(&self) -> ParamText {
        ParamText::Many(
            self.iter()
                .flat_map(|item| match item.param_text() {
                    ParamText::Absent => Vec::new(),
                    ParamText::One(text) => vec![text],
                    ParamText::Many(texts) => texts,
                })
                .collect(),
        )
    }
}

impl ParamValue for serde_json::Value {
    fn param_text(&self) -> ParamText {
        use serde_json::Value;
        match self {
            Value::Null => ParamText::Absent,
            Value::String(s) => ParamText::One(s.clone()),
            Value::Array(items) => items.param_text(),
            other => ParamText::One(other.to_string()),
        }
    }
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded, so a
/// value can never add a path segment, a query parameter or a fragment.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn encode(text: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(text, COMPONENT)
}

/// An upstream request under construction. Errors are kept until [`Request::send`],
/// so the generated code stays a plain chain of calls.
#[derive(Debug)]
pub struct Request<'a> {
    call: &'a Call,
    path_values: Vec<String>,
    query: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
    error: Option<String>,
}

impl Request<'_> {
    fn fail(&mut self, message: String) {
        self.error.get_or_insert(message);
    }

    /// The next path parameter in template order (`simple` style).
    pub fn path(mut self, name: &str, value: &impl ParamValue) -> Self {
        let encoded = match value.param_text() {
            ParamText::Absent => {
                self.fail(format!("missing required path parameter `{name}`"));
                String::new()
            }
            ParamText::One(text) => {
                // `.` and `..` survive percent-encoding as dot segments that URL
                // normalisation would resolve, so they could climb out of the path.
                if text.is_empty() || text == "." || text == ".." {
                    self.fail(format!("path parameter `{name}` may not be empty, `.` or `..`"));
                }
                encode(&text).to_string()
            }
            ParamText::Many(items) => items
                .iter()
                .map(|item| encode(item).to_string())
                .collect::<Vec<_>>()
                .join(","),
        };
        self.path_values.push(encoded);
        self
    }

    /// A query parameter (`form` style, exploded: arrays repeat the name).
    pub fn query(mut self, name: &str, value: &impl ParamValue) -> Self {
        let mut push = |text: &str| {
            use std::fmt::Write as _;
            let sep = if self.query.is_empty() { "" } else { "&" };
            let _ = write!(self.query, "{sep}{}={}", encode(name), encode(text));
        };
        match value.param_text() {
            ParamText::Absent => {}
            ParamText::One(text) => push(&text),
            ParamText::Many(items) => items.iter().for_each(|item| push(item)),
        }
        self
    }

    /// A header parameter (`simple` style: arrays comma-joined).
    pub fn header(mut self, name: &'static str, value: &impl ParamValue) -> Self {
        let text = match value.param_text() {
            ParamText::Absent => return self,
            ParamText::One(text) => text,
            ParamText::Many(items) => items.join(","),
        };
        if text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            self.fail(format!("header parameter `{name}` may not contain CR, LF or NUL"));
            return self;
        }
        self.headers.push((name, text));
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
        if let Some(message) = self.error {
            return tool_error(message);
        }
        let tool = self.call.tool;
        let mut path = String::with_capacity(tool.path_template.len() + 16);
        let mut values = self.path_values.iter();
        for (index, piece) in tool.path_pieces.iter().enumerate() {
            if index > 0 {
                match values.next() {
                    Some(value) => path.push_str(value),
                    None => {
                        return tool_error(format!("`{}` is missing a path parameter", tool.name));
                    }
                }
            }
            path.push_str(piece);
        }
        let prepared = crate::upstream::Prepared {
            tool,
            path,
            query: self.query,
            headers: self.headers,
            body: self.body,
        };
        self.call.upstream.send(prepared).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_values_inside_their_component() {
        assert_eq!(encode("a/b?c#d&e=f g").to_string(), "a%2Fb%3Fc%23d%26e%3Df%20g");
        assert_eq!(encode("../admin").to_string(), "..%2Fadmin");
        assert_eq!(encode("naïve").to_string(), "na%C3%AFve");
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
