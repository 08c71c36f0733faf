//! What a generated handler does with a [`Call`]: typed arguments in, a [`Prepared`]
//! request out. Nothing here sends; the server hands what the handler built to the upstream.

use serde::{Serialize, de::DeserializeOwned};

use crate::{
    api::{Body, Call, Fields, Prepared, Refusal},
    body::Encoding,
    param::{ParamText, ParamValue},
    style::{self, In, Style, Styled},
};

impl Call {
    /// The argument `name`, which the tool requires, as its type. A bad argument becomes a
    /// tool error that names its path (`` `items[2].count`: invalid type: string "x", expected i64 ``).
    pub fn required<T: DeserializeOwned>(&self, name: &'static str) -> Result<T, Refusal> {
        match self.args.get(name) {
            Some(value) => read_arg(value).map_err(|error| self.invalid(name, error)),
            None => Err(Refusal::new(format!(
                "invalid argument for `{}`: `{name}`: required, but not given",
                self.tool.name
            ))),
        }
    }

    /// The optional argument `name`, as its type; `None` when it is not given. A given `null`
    /// is read by `T` itself, so only a nullable type accepts it.
    pub fn optional<T: DeserializeOwned>(&self, name: &'static str) -> Result<Option<T>, Refusal> {
        match self.args.get(name) {
            Some(value) => read_arg(value).map(Some).map_err(|error| self.invalid(name, error)),
            None => Ok(None),
        }
    }

    /// Refuses arguments the tool does not have, then checks every argument against the
    /// spec's constraints in the advertised input schema (bounds, lengths, patterns, …).
    pub(crate) fn checked(&mut self) -> Result<(), Refusal> {
        let schema = self.constraints.schema();
        let known = schema.get("properties").and_then(serde_json::Value::as_object);
        if let Some(unknown) = self
            .args
            .keys()
            .find(|key| known.is_none_or(|known| !known.contains_key(*key)))
        {
            let mut names: Vec<&str> = known
                .map(|k| k.keys().map(String::as_str).collect())
                .unwrap_or_default();
            names.sort_unstable();
            let expected = if names.is_empty() {
                "it takes no arguments".to_owned()
            } else {
                format!("expected one of `{}`", names.join("`, `"))
            };
            return Err(Refusal::new(format!(
                "invalid argument for `{}`: `{}`: no such argument; {expected}",
                self.tool.name,
                crate::constraints::clip(unknown),
            )));
        }
        // The validator reads a `Value`; the map moves in and back out, never copied.
        let args = serde_json::Value::Object(std::mem::take(&mut self.args));
        let checked = self.constraints.check(self.tool.name, &args).map_err(Refusal::new);
        if let serde_json::Value::Object(args) = args {
            self.args = args;
        }
        checked
    }

    /// The error for an argument that is not of its type, worded as the constraint check
    /// words its own; one non-generic function for every type.
    fn invalid(&self, name: &str, error: serde_path_to_error::Error<serde_json::Error>) -> Refusal {
        let path = match error.path().to_string().as_str() {
            "." => name.to_owned(),
            inner if inner.starts_with('[') => format!("{name}{inner}"),
            inner => format!("{name}.{inner}"),
        };
        let tool = self.tool.name;
        Refusal::new(format!(
            "invalid argument for `{tool}`: `{path}`: {}",
            error.into_inner()
        ))
    }

    /// Starts the upstream request of this tool.
    pub fn request(&self) -> Request<'_> {
        Request {
            call: self,
            path_values: Vec::with_capacity(self.tool.pieces().len() - 1),
            query: String::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            body: None,
            error: None,
        }
    }
}

/// An upstream request under construction. Errors are kept until [`Request::prepare`],
/// so the generated code stays a plain chain of calls.
#[derive(Debug)]
pub struct Request<'a> {
    call: &'a Call,
    /// Styled path values in template order, with their parameter names.
    path_values: Vec<(&'static str, String)>,
    query: String,
    headers: Vec<(&'static str, String)>,
    cookies: Vec<String>,
    body: Option<Body>,
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
            In::Query
                if matches!(styled.style, Style::DeepObject | Style::DeepObjectIndexed)
                    && text != ParamText::Absent =>
            {
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
        self.set_body(encoded, media);
        self
    }

    /// Starts an object body whose fields follow: it is sent even if no field is given.
    pub fn fields(mut self, encoding: Encoding, media: &'static str) -> Self {
        self.body = Some(Body::Fields(Fields {
            encoding,
            media,
            values: serde_json::Map::new(),
        }));
        self
    }

    /// A field of the object body, under its name on the wire.
    pub fn field<T: Serialize>(mut self, wire: &'static str, value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(value) => {
                if let Some(Body::Fields(fields)) = &mut self.body {
                    fields.values.insert(wire.to_owned(), value);
                }
            }
            Err(err) => self.fail(format!("cannot encode body field `{wire}`: {err}")),
        }
        self
    }

    /// A field of the object body that may be absent.
    pub fn optional_field<T: Serialize>(self, wire: &'static str, value: &Option<T>) -> Self {
        match value {
            Some(value) => self.field(wire, value),
            None => self,
        }
    }

    fn set_body(&mut self, encoded: Result<crate::body::Encoded, String>, media: &'static str) {
        match encoded {
            Ok((bytes, content_type)) => {
                self.body = Some(Body::Encoded(bytes));
                self.headers
                    .push(("content-type", content_type.unwrap_or_else(|| media.to_owned())));
            }
            Err(message) => self.fail(message),
        }
    }

    /// A request body that may be absent.
    pub fn optional_body<T: Serialize>(self, encoding: Encoding, media: &'static str, value: &Option<T>) -> Self {
        match value {
            Some(value) => self.body(encoding, media, value),
            None => self,
        }
    }

    /// The request as it will be sent, or the tool error that stops it; sent by [`run`].
    pub fn prepare(self) -> Result<Prepared, Refusal> {
        if let Some(message) = self.error {
            return Err(Refusal::new(message));
        }
        let tool = self.call.tool;
        let mut path = String::with_capacity(tool.path_template.len() + 16);
        let mut spans = Vec::with_capacity(self.path_values.len());
        let mut values = self.path_values.iter();
        for (index, piece) in tool.pieces().iter().enumerate() {
            if index > 0 {
                match values.next() {
                    Some((name, value)) => {
                        spans.push((*name, path.len()..path.len() + value.len()));
                        path.push_str(value);
                    }
                    None => {
                        return Err(Refusal::new(format!("`{}` is missing a path parameter", tool.name)));
                    }
                }
            }
            path.push_str(piece);
        }
        check_path_values(&path, &spans).map_err(Refusal::new)?;
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

/// Reads one argument; generic only in what it builds, so each type adds little code.
fn read_arg<T: DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
    serde_path_to_error::deserialize(value)
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
    use serde_json::json;

    use super::*;
    use std::sync::Arc;

    use crate::{api::ToolDef, constraints::Constraints, value::Nullable};

    static TEST_TOOL: ToolDef = ToolDef {
        name: "t",
        path_template: "/",
        ..ToolDef::BASE
    };

    fn call(schema: serde_json::Value, args: serde_json::Value) -> Call {
        let (serde_json::Value::Object(schema), serde_json::Value::Object(args)) = (schema, args) else {
            panic!("objects")
        };
        Call {
            tool: &TEST_TOOL,
            args,
            caller: None,
            constraints: Arc::new(Constraints::new(Arc::new(schema))),
        }
    }

    fn message(refusal: Refusal) -> String {
        refusal.to_string()
    }

    #[test]
    fn each_argument_is_read_as_its_type_and_named_by_its_path_when_it_is_not() {
        let call = call(
            json!({}),
            json!({ "n": 5_000_000_000u64, "list": [1, "x"], "deep": { "a": [{ "b": true }] }, "note": null }),
        );
        let error = |result: Result<u32, Refusal>| message(result.expect_err("invalid"));
        assert!(
            error(call.required::<u32>("n")).starts_with("invalid argument for `t`: `n`: invalid value"),
            "u32 out of range"
        );
        let list = message(call.required::<Vec<u8>>("list").expect_err("invalid"));
        assert!(
            list.starts_with("invalid argument for `t`: `list[1]`: invalid type: string"),
            "{list}"
        );
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Deep {
            a: Vec<std::collections::HashMap<String, u8>>,
        }
        let deep = message(call.required::<Deep>("deep").expect_err("invalid"));
        assert!(
            deep.starts_with("invalid argument for `t`: `deep.a[0].b`: invalid type: boolean"),
            "{deep}"
        );
        assert_eq!(
            message(call.required::<u8>("absent").expect_err("missing")),
            "invalid argument for `t`: `absent`: required, but not given"
        );
        assert_eq!(call.optional::<u8>("absent").expect("absent is fine"), None);
        // A given `null` is kept by a nullable type and refused by any other.
        assert_eq!(
            call.optional::<Nullable<u8>>("note").expect("nullable"),
            Some(Nullable::Null)
        );
        assert!(call.optional::<u8>("note").is_err());
    }

    #[test]
    fn unknown_arguments_are_refused_with_the_ones_the_tool_has() {
        let schema = json!({ "type": "object", "properties": { "limit": {}, "cursor": {} } });
        let mut misspelt = call(schema.clone(), json!({ "limt": 5 }));
        assert_eq!(
            message(misspelt.checked().expect_err("unknown")),
            "invalid argument for `t`: `limt`: no such argument; expected one of `cursor`, `limit`"
        );
        let mut none = call(json!({ "type": "object", "properties": {} }), json!({ "x": 1 }));
        assert!(message(none.checked().expect_err("unknown")).ends_with("it takes no arguments"));
        let mut known = call(schema, json!({ "limit": 5 }));
        assert!(known.checked().is_ok());
        assert_eq!(known.required::<u8>("limit").expect("kept after the check"), 5);
    }

    #[test]
    fn a_body_of_fields_keeps_their_order_and_is_sent_even_when_empty() {
        let call = call(json!({}), json!({}));
        let prepared = call
            .request()
            .fields(Encoding::Json, "application/json")
            .field("zeta", &1)
            .optional_field("skipped", &None::<u8>)
            .optional_field("alpha", &Some("a"))
            .prepare()
            .expect("prepared");
        let Some(Body::Fields(fields)) = &prepared.body else {
            panic!("a body of fields: {:?}", prepared.body)
        };
        assert_eq!(
            serde_json::Value::Object(fields.values.clone()),
            json!({ "zeta": 1, "alpha": "a" })
        );
        assert_eq!(fields.values.keys().collect::<Vec<_>>(), ["zeta", "alpha"]);
        // Encoded (and given its content type) only when sent, credential fields added.
        assert!(prepared.headers.is_empty());
        let empty = call
            .request()
            .fields(Encoding::Form, "application/x-www-form-urlencoded")
            .prepare()
            .expect("prepared");
        assert!(matches!(&empty.body, Some(Body::Fields(f)) if f.values.is_empty()));
    }

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
