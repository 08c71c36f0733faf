//! Hostile tool arguments → the HTTP request the upstream receives.
//!
//! Any tool of the wire spec, called through a real MCP client with arguments built
//! from the input (known parameter names or not; strings made of dot segments,
//! slashes, encoded forms, CR/LF, `@`, `//host`…). Whatever the arguments:
//!
//! - the server answers (a result or a protocol error), never panics;
//! - the request goes to the configured upstream and nowhere else: a connect failure
//!   could only mean the URL was steered elsewhere, and the echoed `Host` is the upstream's;
//! - the received path has exactly the template's segments: literals unchanged, and no
//!   parameter segment empty, `.` or `..`, raw or percent-decoded.
//!
//! `cargo fuzz run -s none tool_request -- -max_total_time=60` from `fuzz/`.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use cast_fuzz::{API, harness, percent_decode};
use libfuzzer_sys::fuzz_target;
use rmcp::model::CallToolRequestParams;
use serde_json::{Map, Value};

/// Pieces that have broken URL assembly somewhere, in some tool.
const HOSTILE: &[&str] = &[
    "", ".", "..", "/", "../", "/..", "%2e", "%2E%2E", "%2f", "?", "#", "&", "=", ";", ",", "+", " ", "%", "%00",
    "\0", "\r\n", "\r\nX-Injected: 1", "@", "@evil.example", "//evil.example", ":", ":8080", "\\", "..\\",
    "http://evil.example/", "evil.example", ".evil.example", "[::1]", "é", "\u{202e}", "\u{fffd}", "{", "}",
];

#[derive(Arbitrary, Debug)]
enum Piece {
    Hostile(u8),
    Plain(String),
}

#[derive(Arbitrary, Debug)]
struct Text(Vec<Piece>);

impl Text {
    fn render(&self) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Hostile(i) => HOSTILE[*i as usize % HOSTILE.len()].to_owned(),
                Piece::Plain(s) => s.clone(),
            })
            .collect()
    }
}

#[derive(Arbitrary, Debug)]
enum Arg {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    Array(Vec<Arg>),
    Object(Vec<(Name, Arg)>),
}

#[derive(Arbitrary, Debug)]
enum Name {
    /// One of the tool's own parameter names.
    Known(u8),
    Other(Text),
}

#[derive(Arbitrary, Debug)]
struct Input {
    tool: u8,
    args: Vec<(Name, Arg)>,
}

/// Each tool's top-level argument names, from its input schema.
fn names() -> &'static [Vec<String>] {
    static NAMES: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    NAMES.get_or_init(|| {
        API.tools
            .iter()
            .map(|tool| {
                let schema: Value = serde_json::from_str(tool.input_schema).expect("schema");
                schema["properties"]
                    .as_object()
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default()
            })
            .collect()
    })
}

fn name(name: &Name, known: &[String]) -> String {
    match name {
        Name::Known(i) if !known.is_empty() => known[*i as usize % known.len()].clone(),
        Name::Known(_) => String::new(),
        Name::Other(text) => text.render(),
    }
}

fn value(arg: &Arg, known: &[String], depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    match arg {
        Arg::Null => Value::Null,
        Arg::Bool(b) => Value::Bool(*b),
        Arg::Int(i) => Value::from(*i),
        Arg::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Arg::Str(text) => Value::String(text.render()),
        Arg::Array(items) => items.iter().map(|a| value(a, known, depth + 1)).collect(),
        Arg::Object(fields) => Value::Object(object(fields, known, depth + 1)),
    }
}

fn object(fields: &[(Name, Arg)], known: &[String], depth: usize) -> Map<String, Value> {
    fields
        .iter()
        .map(|(n, a)| (name(n, known), value(a, known, depth)))
        .collect()
}

fuzz_target!(|input: Input| {
    let h = harness();
    let index = input.tool as usize % API.tools.len();
    let tool = API.tools[index];
    let args = object(&input.args, &names()[index], 0);
    let params = CallToolRequestParams::new(tool.name).with_arguments(args);
    let Ok(result) = h.runtime.block_on(h.client.peer().call_tool(params)) else {
        // A protocol error (say, arguments the schema layer refused): an answer, not a request.
        return;
    };
    let text: String = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect();
    if result.is_error == Some(true) {
        assert!(
            !text.contains("could not connect") && !text.contains("timed out"),
            "`{}`: the request went somewhere other than the upstream: {text}",
            tool.name
        );
        return;
    }
    if !tool.path_template.starts_with("/echo/") {
        return;
    }
    let echoed = result.structured_content.as_ref().expect("/echo answers JSON");
    let host = echoed["headers"]["host"].as_str().unwrap_or_default();
    let upstream = h.upstream.base_url().trim_start_matches("http://");
    assert_eq!(host, upstream, "`{}`: sent with another Host", tool.name);
    let path = echoed["path"].as_str().expect("path");
    let template: Vec<&str> = tool.path_template.split('/').collect();
    let received: Vec<&str> = path.split('/').collect();
    assert_eq!(
        template.len(),
        received.len(),
        "`{}`: {path} does not have the segments of {}",
        tool.name,
        tool.path_template
    );
    for (expected, got) in template.iter().zip(&received) {
        match (expected.find('{'), expected.rfind('}')) {
            (Some(open), Some(close)) => {
                let decoded = percent_decode(got);
                assert!(
                    !got.is_empty() && decoded != b"." && decoded != b"..",
                    "`{}`: parameter segment `{got}` in {path}",
                    tool.name
                );
                assert!(
                    got.starts_with(&expected[..open]) && got.ends_with(&expected[close + 1..]),
                    "`{}`: segment `{got}` lost the literal parts of `{expected}`",
                    tool.name
                );
            }
            _ => assert_eq!(expected, got, "`{}`: literal segment changed in {path}", tool.name),
        }
    }
});
