//! Parameter serialization, as the OpenAPI "Style Values" table defines it
//! (RFC 6570 expansions for path, query, header and cookie parameters).

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use serde_json::Value;

use crate::param::ParamText;

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum In {
    Path,
    Query,
    Header,
    Cookie,
}

/// An OpenAPI `style`, plus `Json` for parameters described with `content: application/json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Style {
    Simple,
    Label,
    Matrix,
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
    /// `deepObject` with array items numbered (`ids[0]=a&ids[1]=b`) instead of `ids[]=a`,
    /// for the APIs that want it (`deep_object_arrays = "indexed"` in cast.toml).
    DeepObjectIndexed,
    /// The value as JSON text (`content: application/json`).
    Json,
}

/// How one parameter is serialized; the defaults per location need none of this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Styled {
    /// The style.
    pub style: Style,
    /// `explode`.
    pub explode: bool,
    /// `allowReserved` (query only): RFC 3986 reserved characters are sent as they are.
    pub allow_reserved: bool,
}

impl Styled {
    /// The OpenAPI default for a location: `simple` in path and header, exploded `form` in query and cookie.
    pub const fn default_for(location: In) -> Self {
        match location {
            In::Path | In::Header => Self {
                style: Style::Simple,
                explode: false,
                allow_reserved: false,
            },
            In::Query | In::Cookie => Self {
                style: Style::Form,
                explode: true,
                allow_reserved: false,
            },
        }
    }
}

/// Unreserved characters only: a value can never add a path segment, a parameter or a fragment.
pub(crate) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `allowReserved`: RFC 3986 reserved characters pass too, except those that would end the
/// value itself in a query (`&`, `=`, `#`) and `+` (which form decoders read as a space).
const RESERVED_OK: &AsciiSet = &COMPONENT
    .remove(b':')
    .remove(b'/')
    .remove(b'?')
    .remove(b'[')
    .remove(b']')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b';');

pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// A path parameter's replacement for `{name}` (simple, label or matrix).
pub(crate) fn path(name: &str, styled: Styled, value: &ParamText) -> String {
    let (prefix, separator) = match styled.style {
        Style::Label => (".", if styled.explode { "." } else { "," }),
        Style::Matrix => (";", if styled.explode { ";" } else { "," }),
        _ => ("", ","),
    };
    let name = encode(name);
    let matrix = styled.style == Style::Matrix;
    match value {
        ParamText::Absent => String::new(),
        ParamText::One(text) if matrix => {
            if text.is_empty() {
                format!(";{name}")
            } else {
                format!(";{name}={}", encode(text))
            }
        }
        ParamText::One(text) => format!("{prefix}{}", encode(text)),
        ParamText::Many(items) => {
            let items: Vec<String> = items.iter().map(|i| encode(i)).collect();
            if matrix && styled.explode {
                items.iter().map(|i| format!(";{name}={i}")).collect()
            } else if matrix {
                format!(";{name}={}", items.join(","))
            } else {
                format!("{prefix}{}", items.join(separator))
            }
        }
        ParamText::Pairs(pairs) => {
            let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (encode(k), encode(v))).collect();
            if styled.explode {
                let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{prefix}{}", joined.join(separator))
            } else {
                let flat: Vec<String> = pairs.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect();
                if matrix {
                    format!(";{name}={}", flat.join(","))
                } else {
                    format!("{prefix}{}", flat.join(","))
                }
            }
        }
    }
}

/// Appends a query parameter to `out` (which holds `a=1&b=2` so far).
pub(crate) fn query(out: &mut String, name: &str, styled: Styled, value: &ParamText) {
    let set = if styled.allow_reserved { RESERVED_OK } else { COMPONENT };
    let enc = |text: &str| utf8_percent_encode(text, set).to_string();
    let mut push = |key: &str, value: &str| {
        if !out.is_empty() {
            out.push('&');
        }
        let _ = write!(out, "{key}={value}");
    };
    let name_enc = encode(name);
    match value {
        ParamText::Absent => {}
        ParamText::One(text) => push(&name_enc, &enc(text)),
        ParamText::Many(items) => {
            let delimiter = match styled.style {
                Style::SpaceDelimited => "%20",
                Style::PipeDelimited => "|",
                _ => ",",
            };
            if styled.style == Style::Form && styled.explode {
                items.iter().for_each(|i| push(&name_enc, &enc(i)));
            } else {
                let joined: Vec<String> = items.iter().map(|i| enc(i)).collect();
                push(&name_enc, &joined.join(delimiter));
            }
        }
        ParamText::Pairs(pairs) => match styled.style {
            Style::DeepObject | Style::DeepObjectIndexed => pairs
                .iter()
                .for_each(|(k, v)| push(&format!("{name_enc}[{}]", encode(k)), &enc(v))),
            Style::Form if styled.explode => pairs.iter().for_each(|(k, v)| push(&encode(k), &enc(v))),
            _ => {
                let delimiter = match styled.style {
                    Style::SpaceDelimited => "%20",
                    Style::PipeDelimited => "|",
                    _ => ",",
                };
                let flat: Vec<String> = pairs.iter().flat_map(|(k, v)| [encode(k), enc(v)]).collect();
                push(&name_enc, &flat.join(delimiter));
            }
        },
    }
}

/// One form field as the `encoding` object styles it, as unencoded key–value pairs.
/// `deepObject` nests to any depth, as the form APIs that use it expect
/// (`card[number]=…`, `items[0][price]=…`, `expand[]=a`).
pub(crate) fn form_fields(name: &str, styled: Styled, value: &Value, push: &mut dyn FnMut(String, String)) {
    nested_fields(name, styled, value, &|key| key.to_owned(), push);
}

/// A `deepObject` query parameter nested to any depth (`filter[range][min]=1`,
/// `expand[]=a`), each name segment percent-encoded on its own so no property name can
/// open or close a bracket.
pub(crate) fn deep_query(out: &mut String, name: &str, styled: Styled, value: &Value) {
    let set = if styled.allow_reserved { RESERVED_OK } else { COMPONENT };
    nested_fields(&encode(name), styled, value, &|key| encode(key), &mut |key, text| {
        if !out.is_empty() {
            out.push('&');
        }
        let _ = write!(out, "{key}={}", utf8_percent_encode(&text, set));
    });
}

/// [`form_fields`] with each property name passed through `segment` before it is bracketed.
fn nested_fields(
    name: &str,
    styled: Styled,
    value: &Value,
    segment: &dyn Fn(&str) -> String,
    push: &mut dyn FnMut(String, String),
) {
    let text = |value: &Value| match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let delimiter = match styled.style {
        Style::SpaceDelimited => " ",
        Style::PipeDelimited => "|",
        _ => ",",
    };
    match (styled.style, value) {
        (_, Value::Null) => {}
        (Style::Json, value) => push(name.to_owned(), value.to_string()),
        (Style::DeepObject | Style::DeepObjectIndexed, Value::Object(fields)) => {
            for (key, value) in fields {
                nested_fields(&format!("{name}[{}]", segment(key)), styled, value, segment, push);
            }
        }
        (style @ (Style::DeepObject | Style::DeepObjectIndexed), Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        nested_fields(&format!("{name}[{index}]"), styled, item, segment, push)
                    }
                    Value::Null => {}
                    scalar if style == Style::DeepObjectIndexed => push(format!("{name}[{index}]"), text(scalar)),
                    scalar => push(format!("{name}[]"), text(scalar)),
                }
            }
        }
        (Style::Form, Value::Array(items)) if styled.explode => {
            for item in items.iter().filter(|i| !i.is_null()) {
                push(name.to_owned(), text(item));
            }
        }
        (Style::Form, Value::Object(fields)) if styled.explode => {
            for (key, value) in fields.iter().filter(|(_, v)| !v.is_null()) {
                push(key.clone(), text(value));
            }
        }
        (_, Value::Array(items)) => {
            let joined: Vec<String> = items.iter().filter(|i| !i.is_null()).map(text).collect();
            push(name.to_owned(), joined.join(delimiter));
        }
        (_, Value::Object(fields)) => {
            let flat: Vec<String> = fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .flat_map(|(k, v)| [k.clone(), text(v)])
                .collect();
            push(name.to_owned(), flat.join(delimiter));
        }
        (_, scalar) => push(name.to_owned(), text(scalar)),
    }
}

/// A header parameter's value (simple style, not percent-encoded).
pub(crate) fn header(styled: Styled, value: &ParamText) -> Option<String> {
    match value {
        ParamText::Absent => None,
        ParamText::One(text) => Some(text.clone()),
        ParamText::Many(items) => Some(items.join(",")),
        ParamText::Pairs(pairs) => Some(if styled.explode {
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            pairs
                .iter()
                .flat_map(|(k, v)| [k.as_str(), v.as_str()])
                .collect::<Vec<_>>()
                .join(",")
        }),
    }
}

/// A cookie parameter's `name=value` pairs (form style; values percent-encoded so `;` cannot split them).
pub(crate) fn cookie(name: &str, styled: Styled, value: &ParamText) -> Vec<String> {
    match value {
        ParamText::Absent => Vec::new(),
        ParamText::One(text) => vec![format!("{name}={}", encode(text))],
        ParamText::Many(items) if styled.explode => items.iter().map(|i| format!("{name}={}", encode(i))).collect(),
        ParamText::Many(items) => {
            vec![format!(
                "{name}={}",
                items.iter().map(|i| encode(i)).collect::<Vec<_>>().join(",")
            )]
        }
        ParamText::Pairs(pairs) if styled.explode => pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect(),
        ParamText::Pairs(pairs) => {
            let flat: Vec<String> = pairs.iter().flat_map(|(k, v)| [encode(k), encode(v)]).collect();
            vec![format!("{name}={}", flat.join(","))]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(styled: Styled, value: serde_json::Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        form_fields("card", styled, &value, &mut |k, v| out.push((k, v)));
        out
    }

    #[test]
    fn deep_objects_nest_to_any_depth() {
        let deep = Styled {
            style: Style::DeepObject,
            explode: true,
            allow_reserved: false,
        };
        let value = serde_json::json!({ "number": "4242", "meta": { "k": 1 }, "items": [{ "price": "p1" }], "tags": ["a", "b"], "gone": null });
        let expected = [
            ("card[number]", "4242"),
            ("card[meta][k]", "1"),
            ("card[items][0][price]", "p1"),
            ("card[tags][]", "a"),
            ("card[tags][]", "b"),
        ];
        let expected: Vec<(String, String)> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(pairs(deep, value.clone()), expected);
        let indexed = Styled {
            style: Style::DeepObjectIndexed,
            ..deep
        };
        let numbered: Vec<(String, String)> = pairs(indexed, value)
            .into_iter()
            .filter(|(k, _)| k.starts_with("card[tags]"))
            .collect();
        assert_eq!(
            numbered,
            [
                ("card[tags][0]".to_owned(), "a".to_owned()),
                ("card[tags][1]".to_owned(), "b".to_owned())
            ]
        );
        let mut query = String::new();
        deep_query(&mut query, "ids", indexed, &serde_json::json!(["x y", "z"]));
        assert_eq!(query, "ids[0]=x%20y&ids[1]=z");
        let json = Styled {
            style: Style::Json,
            ..deep
        };
        assert_eq!(
            pairs(json, serde_json::json!({ "a": [1] })),
            [("card".to_owned(), r#"{"a":[1]}"#.to_owned())]
        );
        let piped = Styled {
            style: Style::PipeDelimited,
            explode: false,
            allow_reserved: false,
        };
        assert_eq!(
            pairs(piped, serde_json::json!(["a", "b"])),
            [("card".to_owned(), "a|b".to_owned())]
        );
    }

    fn blue() -> ParamText {
        ParamText::One("blue".into())
    }
    fn colors() -> ParamText {
        ParamText::Many(vec!["blue".into(), "black".into(), "brown".into()])
    }
    fn rgb() -> ParamText {
        ParamText::Pairs(vec![
            ("R".into(), "100".into()),
            ("G".into(), "200".into()),
            ("B".into(), "150".into()),
        ])
    }
    fn styled(style: Style, explode: bool) -> Styled {
        Styled {
            style,
            explode,
            allow_reserved: false,
        }
    }
    fn q(style: Style, explode: bool, value: &ParamText) -> String {
        let mut out = String::new();
        query(&mut out, "color", styled(style, explode), value);
        out
    }

    /// The `color` rows of the OpenAPI "Style Examples" table (3.1.1 / 3.0.4, which follow RFC 6570).
    #[test]
    fn the_openapi_style_examples_byte_for_byte() {
        let p = |style, explode, value: &ParamText| path("color", styled(style, explode), value);
        let empty = ParamText::One(String::new());
        assert_eq!(p(Style::Matrix, false, &empty), ";color");
        assert_eq!(p(Style::Matrix, false, &blue()), ";color=blue");
        assert_eq!(p(Style::Matrix, false, &colors()), ";color=blue,black,brown");
        assert_eq!(p(Style::Matrix, false, &rgb()), ";color=R,100,G,200,B,150");
        assert_eq!(p(Style::Matrix, true, &empty), ";color");
        assert_eq!(p(Style::Matrix, true, &blue()), ";color=blue");
        assert_eq!(p(Style::Matrix, true, &colors()), ";color=blue;color=black;color=brown");
        assert_eq!(p(Style::Matrix, true, &rgb()), ";R=100;G=200;B=150");
        assert_eq!(p(Style::Label, false, &empty), ".");
        assert_eq!(p(Style::Label, false, &blue()), ".blue");
        assert_eq!(p(Style::Label, false, &colors()), ".blue,black,brown");
        assert_eq!(p(Style::Label, false, &rgb()), ".R,100,G,200,B,150");
        assert_eq!(p(Style::Label, true, &colors()), ".blue.black.brown");
        assert_eq!(p(Style::Label, true, &rgb()), ".R=100.G=200.B=150");
        assert_eq!(p(Style::Simple, false, &blue()), "blue");
        assert_eq!(p(Style::Simple, false, &colors()), "blue,black,brown");
        assert_eq!(p(Style::Simple, false, &rgb()), "R,100,G,200,B,150");
        assert_eq!(p(Style::Simple, true, &rgb()), "R=100,G=200,B=150");

        assert_eq!(q(Style::Form, false, &empty), "color=");
        assert_eq!(q(Style::Form, false, &blue()), "color=blue");
        assert_eq!(q(Style::Form, false, &colors()), "color=blue,black,brown");
        assert_eq!(q(Style::Form, false, &rgb()), "color=R,100,G,200,B,150");
        assert_eq!(q(Style::Form, true, &blue()), "color=blue");
        assert_eq!(q(Style::Form, true, &colors()), "color=blue&color=black&color=brown");
        assert_eq!(q(Style::Form, true, &rgb()), "R=100&G=200&B=150");
        assert_eq!(q(Style::SpaceDelimited, false, &colors()), "color=blue%20black%20brown");
        assert_eq!(
            q(Style::SpaceDelimited, false, &rgb()),
            "color=R%20100%20G%20200%20B%20150"
        );
        assert_eq!(q(Style::PipeDelimited, false, &colors()), "color=blue|black|brown");
        assert_eq!(q(Style::PipeDelimited, false, &rgb()), "color=R|100|G|200|B|150");
        assert_eq!(
            q(Style::DeepObject, true, &rgb()),
            "color[R]=100&color[G]=200&color[B]=150"
        );

        assert_eq!(
            header(styled(Style::Simple, false), &colors()).as_deref(),
            Some("blue,black,brown")
        );
        assert_eq!(
            header(styled(Style::Simple, true), &rgb()).as_deref(),
            Some("R=100,G=200,B=150")
        );
        assert_eq!(
            cookie("color", styled(Style::Form, false), &colors()),
            ["color=blue,black,brown"]
        );
        assert_eq!(
            cookie("color", styled(Style::Form, true), &colors()),
            ["color=blue", "color=black", "color=brown"]
        );
    }

    #[test]
    fn values_cannot_escape_their_component() {
        let hostile = ParamText::One("../a/b?c=d&e#f".into());
        assert_eq!(
            path("x", Styled::default_for(In::Path), &hostile),
            "..%2Fa%2Fb%3Fc%3Dd%26e%23f"
        );
        assert_eq!(q(Style::Form, true, &hostile), "color=..%2Fa%2Fb%3Fc%3Dd%26e%23f");
        let mut out = String::new();
        query(
            &mut out,
            "u",
            Styled {
                style: Style::Form,
                explode: true,
                allow_reserved: true,
            },
            &hostile,
        );
        assert_eq!(
            out, "u=../a/b?c%3Dd%26e%23f",
            "allowReserved keeps reserved characters but not separators"
        );
        assert_eq!(
            cookie("c", Styled::default_for(In::Cookie), &ParamText::One("a; b=c".into())),
            ["c=a%3B%20b%3Dc"]
        );
    }
}
