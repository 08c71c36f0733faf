//! Spec bytes (JSON or YAML, from a file or a URL) to one JSON document.

use std::path::Path;

use serde_json::Value;

use crate::diag::Diagnostic;

/// Where a spec came from, for messages, headers and resolving relative server URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// What the user typed (path or URL).
    pub name: String,
    /// The file name alone, for the `@generated` header (no machine-specific paths in output).
    pub display: String,
    /// The URL, when fetched over HTTP.
    pub url: Option<String>,
}

impl Source {
    /// A spec given as a path or an http(s) URL.
    pub fn new(name: &str) -> Self {
        let is_url = name.starts_with("http://") || name.starts_with("https://");
        let display = if is_url {
            name.rsplit('/')
                .find(|s| !s.is_empty())
                .unwrap_or(name)
                .split('?')
                .next()
                .unwrap_or(name)
                .to_owned()
        } else {
            Path::new(name)
                .file_name()
                .map_or_else(|| name.to_owned(), |n| n.to_string_lossy().into_owned())
        };
        Self {
            name: name.to_owned(),
            display,
            url: is_url.then(|| name.to_owned()),
        }
    }
}

/// Reads the bytes of a spec from a file or an http(s) URL.
pub fn read(source: &Source) -> Result<Vec<u8>, Diagnostic> {
    if let Some(url) = &source.url {
        return fetch(url);
    }
    std::fs::read(&source.name).map_err(|err| {
        Diagnostic::error("C0001", "", format!("cannot read `{}`: {err}", source.name))
            .hint("pass the path of an OpenAPI document (JSON or YAML) or an http(s) URL")
    })
}

#[cfg(feature = "fetch")]
fn fetch(url: &str) -> Result<Vec<u8>, Diagnostic> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fail = |err: String| Diagnostic::error("C0002", "", format!("cannot fetch `{url}`: {err}"));
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let response = client.get(url).send().map_err(|e| fail(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(fail(format!("HTTP {status}")));
    }
    Ok(response
        .bytes()
        .map_err(|e| fail(e.without_url().to_string()))?
        .to_vec())
}

#[cfg(not(feature = "fetch"))]
fn fetch(url: &str) -> Result<Vec<u8>, Diagnostic> {
    Err(Diagnostic::error(
        "C0002",
        "",
        format!("cannot fetch `{url}`: built without the `fetch` feature"),
    )
    .hint("download the spec and pass its path"))
}

/// Parses JSON or YAML, decided by content: a JSON document starts with `{`.
pub fn parse(bytes: &[u8]) -> Result<Value, Diagnostic> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|e| Diagnostic::error("C0003", "", format!("the spec is not UTF-8: {e}")))?;
    let value: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| {
            Diagnostic::error(
                "C0004",
                "",
                format!("invalid JSON at line {}, column {}: {e}", e.line(), e.column()),
            )
        })?
    } else {
        let yaml: yaml_serde::Value =
            yaml_serde::from_str(text).map_err(|e| Diagnostic::error("C0005", "", format!("invalid YAML: {e}")))?;
        yaml_to_json(yaml)
    };
    if !value.is_object() {
        return Err(Diagnostic::error("C0006", "", "the spec is not a JSON/YAML object")
            .hint("an OpenAPI document is a mapping with `openapi` (or `swagger`), `info` and `paths`"));
    }
    Ok(value)
}

/// YAML allows non-string keys (`200:`) and numbers JSON cannot hold exactly; OpenAPI
/// keys are strings, so keys become their text and out-of-range numbers become floats.
fn yaml_to_json(value: yaml_serde::Value) -> Value {
    use yaml_serde::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        Y::Number(n) => n.to_string(),
                        Y::Bool(b) => b.to_string(),
                        Y::Null => "null".to_owned(),
                        other => yaml_serde::to_string(&other).unwrap_or_default().trim().to_owned(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_integer_keys_become_strings() {
        let value = parse(
            b"openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses:\n        200:\n          description: ok\n",
        )
        .expect("parse");
        assert!(value["paths"]["/a"]["get"]["responses"]["200"].is_object());
    }

    #[test]
    fn errors_say_where() {
        let err = parse(b"{\"openapi\": }").expect_err("bad json");
        assert!(
            err.message.starts_with("invalid JSON at line 1, column 13"),
            "{}",
            err.message
        );
        assert_eq!(parse(b"[1]").expect_err("array").code, "C0006");
    }

    #[test]
    fn source_display_is_the_file_name() {
        assert_eq!(Source::new("/a/b/spec.yaml").display, "spec.yaml");
        assert_eq!(Source::new("http://h:1/openapi.json?x=1").display, "openapi.json");
    }
}
