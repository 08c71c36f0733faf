//! Whether an emitted schema is one a client can compile: valid against the JSON Schema
//! 2020-12 metaschema, with every `$ref` resolving inside the schema itself (a tool's
//! schema travels alone; nothing outside it can be looked up).

use std::sync::OnceLock;

use serde_json::Value;

/// One reason a schema would be rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer into the emitted schema.
    pub at: String,
    /// What is wrong there.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.at.is_empty() { "the root" } else { &self.at };
        write!(f, "at {at}: {}", self.what)
    }
}

/// At most this many problems are listed per schema; one is enough to reject it.
const MAX_PROBLEMS: usize = 5;

/// The problems of `schema`, none when a 2020-12 validator would compile it.
pub fn problems(schema: &Value) -> Vec<Problem> {
    static META: OnceLock<jsonschema::meta::MetaValidator<'static>> = OnceLock::new();
    let meta = META.get_or_init(jsonschema::draft202012::meta::validator);
    let mut found = Vec::new();
    unresolved_refs(schema, schema, &mut String::new(), &mut found);
    // The common case, valid, without collecting errors (a sixth of generation time on
    // a spec of thousands of components).
    if found.is_empty() && meta.is_valid(schema) {
        return found;
    }
    let mut metaschema: Vec<Problem> = meta
        .iter_errors(schema)
        .take(MAX_PROBLEMS)
        .map(|error| Problem {
            at: error.instance_path().to_string(),
            what: error.to_string(),
        })
        .collect();
    metaschema.append(&mut found);
    metaschema.truncate(MAX_PROBLEMS);
    metaschema
}

fn unresolved_refs(root: &Value, value: &Value, at: &mut String, found: &mut Vec<Problem>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let len = at.len();
                at.push('/');
                at.push_str(&crate::diag::pointer_token(key));
                match (key.as_str(), inner) {
                    ("$ref" | "$dynamicRef", Value::String(target)) if !resolves(root, target) => {
                        found.push(Problem {
                            at: at.clone(),
                            what: format!("`{target}` does not resolve inside the schema"),
                        });
                    }
                    // Data, not schemas: a `$ref` inside an example or a default is a value.
                    ("default" | "examples" | "const" | "enum", _) => {}
                    _ => unresolved_refs(root, inner, at, found),
                }
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&index.to_string());
                unresolved_refs(root, inner, at, found);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

fn resolves(root: &Value, target: &str) -> bool {
    match target.strip_prefix('#') {
        Some("") => true,
        Some(pointer) if pointer.starts_with('/') => {
            root.pointer(pointer).is_some_and(|t| t.is_object() || t.is_boolean())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_valid_schema_has_no_problems() {
        let schema = json!({
            "type": "object",
            "properties": { "next": { "$ref": "#/$defs/Node" }, "all": { "$ref": "#" } },
            "$defs": { "Node": { "type": ["string", "null"] } }
        });
        assert_eq!(problems(&schema), Vec::new());
    }

    #[test]
    fn metaschema_violations_and_dangling_refs_are_located() {
        let schema = json!({
            "type": "object",
            "properties": {
                "filter": { "$recursiveAnchor": true },
                "item": { "$ref": "#/components/schemas/Item" },
                "example": { "default": { "$ref": "#/nowhere" } }
            }
        });
        let found = problems(&schema);
        let at: Vec<&str> = found.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(
            at,
            ["/properties/filter/$recursiveAnchor", "/properties/item/$ref"],
            "{found:?}"
        );
        assert!(found[1].what.contains("#/components/schemas/Item"), "{found:?}");
    }
}
