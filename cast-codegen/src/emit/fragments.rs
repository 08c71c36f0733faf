//! Schema text stored once per crate. Tools of one API advertise the same sub-schemas over
//! and over (GitHub's "Full Repository" in dozens of output schemas); every subtree that
//! appears more than once across the crate's schemas, and is big enough to be worth it, is
//! written once as a fragment and named by a marker where it appears. The runtime puts the
//! fragments back at start-up, so what clients are sent is unchanged.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::ir::ApiIr;

/// The key of a marker object, `{"\u0000cast": N}`. A NUL cannot start a key a spec
/// author meant; the runtime expands exactly this shape and nothing else.
pub const MARKER_KEY: &str = "\u{0}cast";

/// Below this many bytes of JSON a subtree stays where it is: the marker and the lookup
/// would cost more than the bytes saved.
const MIN_FRAGMENT_BYTES: usize = 160;

/// The crate's schemas with shared subtrees taken out.
#[derive(Debug, Default)]
pub struct SharedSchemas {
    /// Fragment bodies (which may name other fragments), by id.
    pub fragments: Vec<String>,
    /// Each enabled tool's input and output schema text, in `enabled_tools` order.
    pub tools: Vec<(String, Option<String>)>,
}

type Digest32 = [u8; 32];

/// A node's digest and its size as compact JSON, computed from its children's, taking the
/// value apart: children first (so fragments nest), then the node itself, which `replace`
/// sees when it is an object or array big enough to share and may swap for a marker.
/// Digests are those of the original subtrees, so counting and rewriting agree.
fn rewrite(value: Value, replace: &mut dyn FnMut(&Value, Digest32) -> Option<Value>) -> (Digest32, usize, Value) {
    let mut hasher = Sha256::new();
    let (size, rebuilt) = match value {
        Value::Object(map) => {
            hasher.update(b"{");
            let mut size = 2 + map.len().saturating_sub(1);
            let mut out = Map::new();
            for (key, child) in map {
                let (digest, child_size, child) = rewrite(child, replace);
                let key_text = serde_json::to_string(&key).expect("strings serialize");
                hasher.update(key_text.as_bytes());
                hasher.update(digest);
                size += key_text.len() + 1 + child_size;
                out.insert(key, child);
            }
            (size, Value::Object(out))
        }
        Value::Array(items) => {
            hasher.update(b"[");
            let mut size = 2 + items.len().saturating_sub(1);
            let mut out = Vec::with_capacity(items.len());
            for child in items {
                let (digest, child_size, child) = rewrite(child, replace);
                hasher.update(digest);
                size += child_size;
                out.push(child);
            }
            (size, Value::Array(out))
        }
        scalar => {
            let text = scalar.to_string();
            hasher.update(b"=");
            hasher.update(text.as_bytes());
            (text.len(), scalar)
        }
    };
    let digest: Digest32 = hasher.finalize().into();
    let shareable = matches!(rebuilt, Value::Object(_) | Value::Array(_)) && size >= MIN_FRAGMENT_BYTES;
    match shareable.then(|| replace(&rebuilt, digest)).flatten() {
        Some(marker) => (digest, size, marker),
        None => (digest, size, rebuilt),
    }
}

struct Rewriter<'c> {
    counts: &'c HashMap<Digest32, usize>,
    ids: HashMap<Digest32, usize>,
    fragments: Vec<String>,
}

impl Rewriter<'_> {
    fn rewrite(&mut self, schema: &Value) -> String {
        let (_, _, rewritten) = rewrite(schema.clone(), &mut |node, digest| {
            if self.counts.get(&digest).copied().unwrap_or(0) < 2 {
                return None;
            }
            let id = match self.ids.get(&digest) {
                Some(id) => *id,
                None => {
                    let id = self.fragments.len();
                    self.fragments
                        .push(serde_json::to_string(node).expect("JSON values serialize"));
                    self.ids.insert(digest, id);
                    id
                }
            };
            Some(json!({ MARKER_KEY: id }))
        });
        serde_json::to_string(&rewritten).expect("JSON values serialize")
    }
}

fn counts<'v>(schemas: impl IntoIterator<Item = &'v Value>) -> HashMap<Digest32, usize> {
    let mut counts = HashMap::new();
    for schema in schemas {
        rewrite(schema.clone(), &mut |_, digest| {
            *counts.entry(digest).or_insert(0) += 1;
            None
        });
    }
    counts
}

/// Takes the shared subtrees out of the enabled tools' schemas.
pub fn share(api: &ApiIr) -> SharedSchemas {
    let schemas: Vec<(&Value, Option<&Value>)> = api
        .enabled_tools()
        .map(|t| (&t.input_schema, t.output_schema.as_ref()))
        .collect();
    let counts = counts(
        schemas
            .iter()
            .flat_map(|(input, output)| std::iter::once(*input).chain(*output)),
    );
    let mut rewriter = Rewriter {
        counts: &counts,
        ids: HashMap::new(),
        fragments: Vec::new(),
    };
    let tools = schemas
        .iter()
        .map(|(input, output)| (rewriter.rewrite(input), output.map(|o| rewriter.rewrite(o))))
        .collect();
    SharedSchemas {
        fragments: rewriter.fragments,
        tools,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the runtime does: markers replaced by their fragments, recursively.
    fn expand(text: &str, fragments: &[String]) -> Value {
        fn go(value: Value, fragments: &[String]) -> Value {
            match value {
                Value::Object(map) if map.len() == 1 && map.contains_key(MARKER_KEY) => {
                    let id = map[MARKER_KEY].as_u64().expect("id") as usize;
                    go(serde_json::from_str(&fragments[id]).expect("fragment"), fragments)
                }
                Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, go(v, fragments))).collect()),
                Value::Array(items) => Value::Array(items.into_iter().map(|v| go(v, fragments)).collect()),
                other => other,
            }
        }
        go(serde_json::from_str(text).expect("schema"), fragments)
    }

    #[test]
    fn repeated_subtrees_are_stored_once_and_expand_back() {
        let big = |n: usize| json!({ "type": "object", "description": "x".repeat(200), "properties": { "n": { "const": n } } });
        let inner = json!({ "type": "object", "properties": { "a": big(1), "b": big(2) } });
        let schemas = [
            json!({ "type": "object", "properties": { "x": inner.clone(), "y": big(3) } }),
            json!({ "type": "object", "properties": { "z": inner.clone() } }),
            json!({ "type": "object", "properties": { "q": big(4) } }),
        ];
        let counts = counts(&schemas);
        let mut rewriter = Rewriter {
            counts: &counts,
            ids: HashMap::new(),
            fragments: Vec::new(),
        };
        let texts: Vec<String> = schemas.iter().map(|s| rewriter.rewrite(s)).collect();
        for (text, schema) in texts.iter().zip(&schemas) {
            assert_eq!(&expand(text, &rewriter.fragments), schema);
        }
        // `inner` (with big(1) and big(2) inside it) is shared; big(3) and big(4) appear once.
        let marker = r#"{"\u0000cast":"#;
        assert!(texts[0].contains(marker) && texts[1].contains(marker), "{texts:?}");
        assert!(!texts[2].contains(marker), "{}", texts[2]);
        // Six big subtrees before (inner's two, twice, and two others); four stored now.
        let long = "x".repeat(200);
        let stored: usize = texts
            .iter()
            .chain(&rewriter.fragments)
            .map(|t| t.matches(&long).count())
            .sum();
        assert_eq!(stored, 4, "{texts:?} {:?}", rewriter.fragments);
    }
}
