//! Request bodies other than JSON: form-urlencoded, multipart, text and binary.

use base64::Engine as _;
use serde_json::Value;

/// How a request body is put on the wire; chosen at generation time from the media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json` and `+json` types.
    Json,
    /// `application/x-www-form-urlencoded`: arrays repeat the key, objects are sent as JSON text.
    Form,
    /// `application/x-www-form-urlencoded` with the operation's `encoding` object: the listed
    /// fields are styled as it says (`deepObject` gives `card[number]=…`), the others as [`Encoding::Form`].
    FormWith(&'static [(&'static str, crate::style::Styled)]),
    /// `multipart/form-data`; the named fields are files (base64 or `data:` URIs).
    Multipart {
        /// Fields whose values are file contents.
        files: &'static [&'static str],
    },
    /// `text/*`: the argument is the body.
    Text,
    /// Anything else: the argument is base64 (or a `data:` URI) of the bytes.
    Binary,
}

/// Encoded bytes, and a content type when it is not the operation's media type as written.
pub(crate) type Encoded = (Vec<u8>, Option<String>);

pub(crate) fn encode(encoding: Encoding, value: &Value) -> Result<Encoded, String> {
    match encoding {
        Encoding::Json => Ok((serde_json::to_vec(value).map_err(|e| e.to_string())?, None)),
        Encoding::Form => Ok((form(value, &[])?.into_bytes(), None)),
        Encoding::FormWith(styles) => Ok((form(value, styles)?.into_bytes(), None)),
        Encoding::Multipart { files } => multipart(value, files),
        Encoding::Text => match value {
            Value::String(text) => Ok((text.clone().into_bytes(), None)),
            other => Ok((other.to_string().into_bytes(), None)),
        },
        Encoding::Binary => match value {
            Value::String(text) => decode_file("body", text).map(|file| (file.bytes, None)),
            _ => Err("the body must be a base64 string or a data: URI".to_owned()),
        },
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        other => Some(other.to_string()),
    }
}

fn form(value: &Value, styles: &[(&str, crate::style::Styled)]) -> Result<String, String> {
    let Value::Object(fields) = value else {
        return Err("a form body must be an object of fields".to_owned());
    };
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        if let Some((_, styled)) = styles.iter().find(|(field, _)| field == name) {
            crate::style::form_fields(name, *styled, value, &mut |key, text| {
                out.append_pair(&key, &text);
            });
            continue;
        }
        match value {
            Value::Array(items) => {
                for item in items {
                    if let Some(text) = scalar_text(item) {
                        out.append_pair(name, &text);
                    }
                }
            }
            other => {
                if let Some(text) = scalar_text(other) {
                    out.append_pair(name, &text);
                }
            }
        }
    }
    Ok(out.finish())
}

struct File {
    bytes: Vec<u8>,
    name: Option<String>,
    media: Option<String>,
}

/// `data:image/png;name=a.png;base64,AAAA`, or plain base64.
fn decode_file(field: &str, text: &str) -> Result<File, String> {
    let engine = base64::engine::general_purpose::STANDARD;
    let bad = || format!("`{field}` must be base64 or a data: URI (data:TYPE;name=FILE;base64,DATA)");
    if let Some(rest) = text.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',').ok_or_else(bad)?;
        let mut parts = meta.split(';');
        let media = parts.next().filter(|m| !m.is_empty()).map(str::to_owned);
        let mut name = None;
        let mut is_base64 = false;
        for part in parts {
            if part == "base64" {
                is_base64 = true;
            } else if let Some(n) = part.strip_prefix("name=").or_else(|| part.strip_prefix("filename=")) {
                name = Some(percent_encoding::percent_decode_str(n).decode_utf8_lossy().into_owned());
            }
        }
        let bytes = if is_base64 {
            engine.decode(data.trim()).map_err(|_| bad())?
        } else {
            percent_encoding::percent_decode_str(data).collect()
        };
        return Ok(File { bytes, name, media });
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = engine.decode(compact).map_err(|_| bad())?;
    Ok(File {
        bytes,
        name: None,
        media: None,
    })
}

fn boundary() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).unwrap_or_default();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("cast-{hex}")
}

/// Quotes a name for `Content-Disposition`; CR, LF and quotes cannot break out of it.
fn disposition_name(name: &str) -> String {
    name.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\r', '\n'], " ")
}

fn multipart(value: &Value, files: &[&str]) -> Result<Encoded, String> {
    let Value::Object(fields) = value else {
        return Err("a multipart body must be an object of fields".to_owned());
    };
    let boundary = boundary();
    let mut out = Vec::new();
    let mut part = |name: &str, filename: Option<&str>, media: Option<&str>, bytes: &[u8]| {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", disposition_name(name));
        if let Some(filename) = filename {
            disposition.push_str(&format!("; filename=\"{}\"", disposition_name(filename)));
        }
        out.extend_from_slice(disposition.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(media) = media {
            out.extend_from_slice(format!("Content-Type: {}\r\n", media.replace(['\r', '\n'], "")).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    };
    for (name, value) in fields {
        if value.is_null() {
            continue;
        }
        if files.contains(&name.as_str()) {
            let items: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for item in items {
                let text = item
                    .as_str()
                    .ok_or_else(|| format!("`{name}` must be base64 or a data: URI"))?;
                let file = decode_file(name, text)?;
                let filename = file.name.as_deref().unwrap_or(name);
                let media = file.media.as_deref().unwrap_or("application/octet-stream");
                part(name, Some(filename), Some(media), &file.bytes);
            }
        } else {
            match value {
                Value::String(text) => part(name, None, None, text.as_bytes()),
                Value::Bool(_) | Value::Number(_) => part(name, None, None, value.to_string().as_bytes()),
                Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                    for item in items {
                        if let Some(text) = scalar_text(item) {
                            part(name, None, None, text.as_bytes());
                        }
                    }
                }
                other => part(name, None, Some("application/json"), other.to_string().as_bytes()),
            }
        }
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok((out, Some(format!("multipart/form-data; boundary={boundary}"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_bodies() {
        let body = json!({ "To": "+1 555", "Tags": ["a", "b&c"], "Skip": null, "N": 3, "Meta": { "k": 1 } });
        assert_eq!(
            form(&body, &[]).expect("form"),
            "To=%2B1+555&Tags=a&Tags=b%26c&N=3&Meta=%7B%22k%22%3A1%7D"
        );
    }

    #[test]
    fn multipart_with_a_data_uri_file() {
        let body = json!({ "note": "hi", "file": "data:text/plain;name=a%20b.txt;base64,aGVsbG8=" });
        let (bytes, content_type) = multipart(&body, &["file"]).expect("multipart");
        let content_type = content_type.expect("type");
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .expect("boundary");
        let text = String::from_utf8(bytes).expect("utf8");
        assert_eq!(
            text,
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
            )
        );
        let err = multipart(&json!({ "file": "%%%" }), &["file"]).expect_err("bad base64");
        assert!(err.starts_with("`file` must be base64"), "{err}");
    }

    #[test]
    fn binary_and_text() {
        assert_eq!(encode(Encoding::Binary, &json!("AAEC")).expect("bin").0, vec![0, 1, 2]);
        assert_eq!(encode(Encoding::Text, &json!("plain")).expect("text").0, b"plain");
    }
}
