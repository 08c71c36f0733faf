//! Schema fragments a generated crate stores once: tool schemas name them by
//! `{"\u0000cast": ID}`, and they are put back here, once, at start-up.

use serde_json::Value;

const MARKER_KEY: &str = "\u{0}cast";

/// Fragments nest only inside bigger ones, so a chain deeper than this is a broken crate.
const MAX_DEPTH: usize = 256;

/// The crate's fragments, each parsed and fully expanded.
#[derive(Debug, Default)]
pub(crate) struct Fragments(Vec<Value>);

impl Fragments {
    /// Parses and expands every fragment; a fragment names only fragments before it.
    pub(crate) fn parse(texts: &[&str]) -> Result<Self, String> {
        let mut done = Self(Vec::with_capacity(texts.len()));
        for (id, text) in texts.iter().enumerate() {
            let value = serde_json::from_str(text).map_err(|e| format!("schema fragment {id} is not JSON: {e}"))?;
            let value = done
                .expand(value, 0)
                .ok_or_else(|| format!("schema fragment {id} names a fragment not defined before it"))?;
            done.0.push(value);
        }
        Ok(done)
    }

    /// A schema's text, parsed, with every marker replaced by its fragment; `None` when it
    /// is not JSON or names a fragment that does not exist.
    pub(crate) fn expand_text(&self, text: &str) -> Option<Value> {
        self.expand(serde_json::from_str(text).ok()?, 0)
    }

    fn expand(&self, value: Value, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        Some(match value {
            Value::Object(map) if map.len() == 1 && map.contains_key(MARKER_KEY) => {
                let id = usize::try_from(map[MARKER_KEY].as_u64()?).ok()?;
                self.0.get(id)?.clone()
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| Some((k, self.expand(v, depth + 1)?)))
                    .collect::<Option<_>>()?,
            ),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|v| self.expand(v, depth + 1))
                    .collect::<Option<_>>()?,
            ),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn markers_become_their_fragments_at_any_depth() {
        let fragments =
            Fragments::parse(&[r#"{"type":"string"}"#, r#"{"type":"array","items":{"\u0000cast":0}}"#]).expect("valid");
        let schema = fragments
            .expand_text(r#"{"type":"object","properties":{"a":{"\u0000cast":1},"b":{"\u0000cast":0}}}"#)
            .expect("expands");
        assert_eq!(
            schema,
            json!({ "type": "object", "properties": {
                "a": { "type": "array", "items": { "type": "string" } },
                "b": { "type": "string" } } })
        );
    }

    #[test]
    fn a_marker_naming_no_fragment_is_an_error() {
        assert!(
            Fragments::parse(&[r#"{"\u0000cast":0}"#]).is_err(),
            "a fragment cannot name itself"
        );
        let fragments = Fragments::parse(&[]).expect("empty");
        assert_eq!(fragments.expand_text(r#"{"\u0000cast":3}"#), None);
        // An object with the marker key and more is ordinary data.
        assert_eq!(
            fragments.expand_text(r#"{"\u0000cast":3,"x":1}"#),
            Some(json!({ "\u{0}cast": 3, "x": 1 }))
        );
    }
}
