//! Schema text stored once per crate. Tools of one API advertise the same sub-schemas over
//! and over (GitHub's "Full Repository" in dozens of output schemas); every subtree that
//! appears more than once across the crate's schemas, and is big enough to be worth it, is
//! written once as a fragment and named by a marker where it appears. The runtime puts the
//! fragments back at start-up, so what clients are sent is unchanged.

use std::collections::HashMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ir::ApiIr;

/// The key of a marker object, `{"\u0000cast": N}`. A NUL cannot start a key a spec
/// author meant; the runtime expands exactly this shape and nothing else.
pub const MARKER_KEY: &str = "\u{0}cast";

/// Below this many bytes of JSON a subtree stays where it is: the marker and the lookup
/// would cost more than the bytes saved.
const MIN_FRAGMENT_BYTES: usize = 64;

/// The crate's schemas with shared subtrees taken out.
#[derive(Debug, Default)]
pub struct SharedSchemas {
    /// Fragment bodies (which may name other fragments), by id.
    pub fragments: Vec<String>,
    /// Each enabled tool's input and output schema text, in `enabled_tools` order.
    pub tools: Vec<(String, Option<String>)>,
}

type Digest32 = [u8; 32];

/// A node's digest and about its size as compact JSON, computed from its children's.
/// `replace` sees every object and array big enough to share, children first (so fragments
/// nest), and may swap it for a marker. Returns the node rewritten only when something in
/// it was replaced, so counting allocates nothing and rewriting copies only what changes.
/// Digests are those of the original subtrees, so counting and rewriting agree.
fn walk(value: &Value, replace: &mut dyn FnMut(&Value, Digest32) -> Option<Value>) -> (Digest32, usize, Option<Value>) {
    let mut hasher = Sha256::new();
    let (size, rebuilt) = match value {
        Value::Object(map) => {
            hasher.update(b"{");
            let mut size = 2 + map.len().saturating_sub(1);
            let mut changed: Vec<Option<Value>> = Vec::new();
            for (index, (key, child)) in map.iter().enumerate() {
                let (digest, child_size, new) = walk(child, replace);
                hasher.update((key.len() as u64).to_le_bytes());
                hasher.update(key.as_bytes());
                hasher.update(digest);
                size += key.len() + 3 + child_size;
                if new.is_some() {
                    changed.resize(index, None);
                    changed.push(new);
                }
            }
            let rebuilt = (!changed.is_empty()).then(|| {
                changed.resize(map.len(), None);
                Value::Object(
                    map.iter()
                        .zip(changed)
                        .map(|((key, child), new)| (key.clone(), new.unwrap_or_else(|| child.clone())))
                        .collect(),
                )
            });
            (size, rebuilt)
        }
        Value::Array(items) => {
            hasher.update(b"[");
            let mut size = 2 + items.len().saturating_sub(1);
            let mut changed: Vec<Option<Value>> = Vec::new();
            for (index, child) in items.iter().enumerate() {
                let (digest, child_size, new) = walk(child, replace);
                hasher.update(digest);
                size += child_size;
                if new.is_some() {
                    changed.resize(index, None);
                    changed.push(new);
                }
            }
            let rebuilt = (!changed.is_empty()).then(|| {
                changed.resize(items.len(), None);
                Value::Array(
                    items
                        .iter()
                        .zip(changed)
                        .map(|(child, new)| new.unwrap_or_else(|| child.clone()))
                        .collect(),
                )
            });
            (size, rebuilt)
        }
        Value::String(text) => {
            hasher.update(b"s");
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
            (text.len() + 2, None)
        }
        scalar => {
            let text = scalar.to_string();
            hasher.update(b"=");
            hasher.update(text.as_bytes());
            (text.len(), None)
        }
    };
    let digest: Digest32 = hasher.finalize().into();
    if matches!(value, Value::Object(_) | Value::Array(_)) && size >= MIN_FRAGMENT_BYTES {
        let current = rebuilt.as_ref().unwrap_or(value);
        if let Some(marker) = replace(current, digest) {
            return (digest, size, Some(marker));
        }
    }
    (digest, size, rebuilt)
}

struct Rewriter<'c> {
    counts: &'c HashMap<Digest32, usize>,
    ids: HashMap<Digest32, usize>,
    fragments: Vec<String>,
}

impl Rewriter<'_> {
    fn rewrite(&mut self, schema: &Value) -> String {
        let (_, _, rewritten) = walk(schema, &mut |node, digest| {
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
        serde_json::to_string(rewritten.as_ref().unwrap_or(schema)).expect("JSON values serialize")
    }
}

fn counts<'v>(schemas: impl IntoIterator<Item = &'v Value>) -> HashMap<Digest32, usize> {
    let mut counts = HashMap::new();
    for schema in schemas {
        walk(schema, &mut |_, digest| {
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
