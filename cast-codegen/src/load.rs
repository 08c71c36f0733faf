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
            let position = format!(" at line {} column {}", e.line(), e.column());
            let message = e.to_string();
            let message = message.strip_suffix(&position).unwrap_or(&message);
            Diagnostic::error(
                "C0004",
                "",
                format!("invalid JSON at line {}, column {}: {message}", e.line(), e.column()),
            )
        })?
    } else {
        let Loose(value) =
            yaml_serde::from_str(text).map_err(|e| Diagnostic::error("C0005", "", format!("invalid YAML: {e}")))?;
        value
    };
    if !value.is_object() {
        return Err(Diagnostic::error("C0006", "", "the spec is not a JSON/YAML object")
            .hint("an OpenAPI document is a mapping with `openapi` (or `swagger`), `info` and `paths`"));
    }
    Ok(value)
}

/// A JSON value read leniently from YAML, the way real OpenAPI documents need:
/// integers beyond 64 bits (`minimum: -9223372036854776000`) become floats, and
/// non-string mapping keys (`200:`) become their text, as OpenAPI keys are strings.
struct Loose(Value);

impl<'de> serde::Deserialize<'de> for Loose {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor).map(Loose)
    }
}

struct LooseVisitor;

fn float(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

impl<'de> serde::de::Visitor<'de> for LooseVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| float(v as f64), Value::from))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(u64::try_from(v).map_or_else(|_| float(v as f64), Value::from))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Loose(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some((LooseKey(key), Loose(value))) = map.next_entry()? {
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

struct LooseKey(String);

impl<'de> serde::Deserialize<'de> for LooseKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserializer.deserialize_any(LooseVisitor)?;
        Ok(LooseKey(match value {
            Value::String(s) => s,
            Value::Null => "null".to_owned(),
            other => other.to_string(),
        }))
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
    fn integers_beyond_64_bits_survive_as_floats() {
        let value = parse(b"minimum: -9223372036854776000\nmaximum: 18446744073709551616\nsmall: -3\n").expect("parse");
        assert_eq!(value["minimum"].as_f64(), Some(-9223372036854776000.0));
        assert_eq!(value["maximum"].as_f64(), Some(18446744073709551616.0));
        assert_eq!(value["small"], serde_json::json!(-3));
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
