//! OpenAPI schemas to the JSON Schema a tool advertises, and to Rust types.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::{
    diag::{Diagnostic, Diagnostics},
    ir::RustType,
};

/// Keywords that mean something to OpenAPI tooling but nothing to a JSON Schema validator.
const OPENAPI_ONLY: &[&str] = &[
    "discriminator",
    "xml",
    "externalDocs",
    "example",
    "nullable",
    "readOnly",
    "writeOnly",
];

/// Which side of the wire a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Arguments sent upstream: `readOnly` properties are left out.
    Request,
    /// Results coming back: `writeOnly` properties are left out.
    Response,
}

/// Resolves local `$ref`s and converts schemas; recursive schemas become `$defs` entries.
#[derive(Debug)]
pub struct SchemaCx<'a> {
    doc: &'a Value,
    /// Names (`$ref` targets) currently being expanded, to spot cycles.
    stack: Vec<String>,
    /// Recursive schemas referenced as `#/$defs/NAME`.
    defs: IndexMap<String, Value>,
    pub(crate) diagnostics: Diagnostics,
}

/// Resolves a local JSON pointer reference (`#/components/schemas/Item`).
pub fn resolve<'v>(doc: &'v Value, reference: &str) -> Option<&'v Value> {
    let pointer = reference.strip_prefix('#')?;
    let pointer = percent_decode(pointer);
    doc.pointer(&pointer)
}

fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Follows `$ref` chains to the schema they name; `None` for a broken or cyclic chain.
pub fn deref<'v>(doc: &'v Value, mut schema: &'v Value) -> Option<&'v Value> {
    for _ in 0..32 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => schema = resolve(doc, reference)?,
            None => return Some(schema),
        }
    }
    None
}

fn def_name(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() { "schema".to_owned() } else { name }
}

impl<'a> SchemaCx<'a> {
    /// A converter over `doc`.
    pub fn new(doc: &'a Value) -> Self {
        Self {
            doc,
            stack: Vec::new(),
            defs: IndexMap::new(),
            diagnostics: Diagnostics::default(),
        }
    }

    /// The document schemas are resolved in.
    pub fn doc(&self) -> &'a Value {
        self.doc
    }

    /// Takes the `$defs` collected since the last call.
    pub fn take_defs(&mut self) -> IndexMap<String, Value> {
        std::mem::take(&mut self.defs)
    }

    /// Converts an OpenAPI (3.0 or 3.1) schema at `pointer` to JSON Schema 2020-12.
    pub fn convert(&mut self, schema: &Value, pointer: &str, direction: Direction) -> Value {
        let Some(object) = schema.as_object() else {
            // `true`/`false` schemas (3.1) pass through.
            return schema.clone();
        };
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            return self.convert_ref(reference, object, pointer, direction);
        }
        let mut out = Map::new();
        for (key, value) in object {
            if key.starts_with("x-") || OPENAPI_ONLY.contains(&key.as_str()) {
                continue;
            }
            let here = format!("{pointer}/{}", crate::diag::pointer_token(key));
            let converted = match key.as_str() {
                "properties" => {
                    let Some(props) = value.as_object() else {
                        continue;
                    };
                    let mut out_props = Map::new();
                    for (name, prop) in props {
                        if self.is_hidden(prop, direction) {
                            continue;
                        }
                        let at = format!("{here}/{}", crate::diag::pointer_token(name));
                        out_props.insert(name.clone(), self.convert(prop, &at, direction));
                    }
                    Value::Object(out_props)
                }
                "items"
                | "additionalProperties"
                | "not"
                | "contains"
                | "propertyNames"
                | "unevaluatedProperties"
                | "unevaluatedItems"
                | "if"
                | "then"
                | "else" => self.convert(value, &here, direction),
                "allOf" | "oneOf" | "anyOf" | "prefixItems" => match value.as_array() {
                    Some(items) => Value::Array(
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, item)| self.convert(item, &format!("{here}/{i}"), direction))
                            .collect(),
                    ),
                    None => value.clone(),
                },
                "patternProperties" | "dependentSchemas" | "$defs" | "definitions" => match value.as_object() {
                    Some(map) => Value::Object(
                        map.iter()
                            .map(|(k, v)| (k.clone(), self.convert(v, &format!("{here}/{k}"), direction)))
                            .collect(),
                    ),
                    None => value.clone(),
                },
                _ => value.clone(),
            };
            out.insert(key.clone(), converted);
        }
        if let Some(Value::Array(required)) = out.get("required").cloned() {
            let kept: Vec<Value> = required
                .into_iter()
                .filter(|name| !self.prop_is_hidden(object, name.as_str().unwrap_or_default(), direction))
                .collect();
            out.insert("required".to_owned(), Value::Array(kept));
        }
        apply_openapi_30_idioms(object, &mut out);
        Value::Object(out)
    }

    fn prop_is_hidden(&self, object: &Map<String, Value>, name: &str, direction: Direction) -> bool {
        object
            .get("properties")
            .and_then(|p| p.get(name))
            .is_some_and(|p| self.is_hidden(p, direction))
    }

    /// `readOnly` properties are not sent; `writeOnly` ones are not returned.
    fn is_hidden(&self, schema: &Value, direction: Direction) -> bool {
        let keyword = match direction {
            Direction::Request => "readOnly",
            Direction::Response => "writeOnly",
        };
        let flag = |s: &Value| s.get(keyword).and_then(Value::as_bool).unwrap_or(false);
        flag(schema) || deref(self.doc, schema).is_some_and(flag)
    }

    fn convert_ref(
        &mut self,
        reference: &str,
        object: &Map<String, Value>,
        pointer: &str,
        direction: Direction,
    ) -> Value {
        let Some(target) = resolve(self.doc, reference) else {
            self.diagnostics.push(
                Diagnostic::warning("C0102", pointer, format!("cannot resolve `$ref: {reference}`"))
                    .hint("only references within the document are supported; the value is accepted as any JSON"),
            );
            return json!({});
        };
        let name = def_name(reference);
        let mut converted = if self.stack.iter().any(|r| r == reference) {
            // A cycle: refer to the definition instead of expanding forever.
            if !self.defs.contains_key(&name) {
                self.defs.insert(name.clone(), Value::Null);
                self.stack.push(reference.to_owned());
                let def = self.convert(target, reference, direction);
                self.stack.pop();
                self.defs.insert(name.clone(), def);
            }
            json!({ "$ref": format!("#/$defs/{name}") })
        } else {
            self.stack.push(reference.to_owned());
            let value = self.convert(target, reference, direction);
            self.stack.pop();
            value
        };
        // 3.1 allows keywords beside `$ref`; a description there is about this use, so it wins.
        if let Some(map) = converted.as_object_mut() {
            for (key, value) in object {
                if key != "$ref"
                    && !key.starts_with("x-")
                    && !OPENAPI_ONLY.contains(&key.as_str())
                    && map.get("$ref").is_none()
                {
                    map.insert(key.clone(), value.clone());
                }
            }
        }
        converted
    }

    /// The Rust type for values of `schema`; `Json` where no precise type fits.
    pub fn rust_type(&self, schema: &Value) -> RustType {
        self.rust_type_depth(schema, 0)
    }

    fn rust_type_depth(&self, schema: &Value, depth: usize) -> RustType {
        if depth > 16 {
            return RustType::Json;
        }
        let Some(schema) = deref(self.doc, schema) else {
            return RustType::Json;
        };
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect(),
            _ => Vec::new(),
        };
        if ["allOf", "oneOf", "anyOf", "const"]
            .iter()
            .any(|k| schema.get(k).is_some())
        {
            return RustType::Json;
        }
        match types.as_slice() {
            ["string"] => RustType::String,
            ["integer"] => RustType::I64,
            ["number"] => RustType::F64,
            ["boolean"] => RustType::Bool,
            ["array"] => match schema.get("items") {
                Some(items) => match self.rust_type_depth(items, depth + 1) {
                    RustType::Json => RustType::Json,
                    inner => RustType::Vec(Box::new(inner)),
                },
                None => RustType::Json,
            },
            _ => RustType::Json,
        }
    }

    /// Whether `schema` admits `null` (3.0 `nullable`, 3.1 `type: [.., "null"]`).
    pub fn is_nullable(&self, schema: &Value) -> bool {
        let Some(schema) = deref(self.doc, schema) else {
            return false;
        };
        schema.get("nullable").and_then(Value::as_bool).unwrap_or(false)
            || schema
                .get("type")
                .and_then(Value::as_array)
                .is_some_and(|ts| ts.iter().any(|t| t == "null"))
    }
}

/// 3.0's `nullable` and boolean `exclusiveMinimum`/`exclusiveMaximum` in JSON Schema 2020-12 terms.
fn apply_openapi_30_idioms(original: &Map<String, Value>, out: &mut Map<String, Value>) {
    if original.get("nullable").and_then(Value::as_bool) == Some(true) {
        match out.get_mut("type") {
            Some(Value::String(t)) => {
                let t = t.clone();
                out.insert("type".to_owned(), json!([t, "null"]));
            }
            Some(Value::Array(ts)) if !ts.iter().any(|t| t == "null") => ts.push(json!("null")),
            _ => {}
        }
        if let Some(Value::Array(values)) = out.get_mut("enum")
            && !values.contains(&Value::Null)
        {
            values.push(Value::Null);
        }
    }
    for (exclusive, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
        if let Some(Value::Bool(flag)) = out.get(exclusive).cloned() {
            out.remove(exclusive);
            if flag && let Some(limit) = out.remove(bound) {
                out.insert(exclusive.to_owned(), limit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "components": { "schemas": {
                "Node": { "type": "object", "properties": {
                    "id": { "type": "integer", "readOnly": true },
                    "label": { "type": "string", "nullable": true, "x-internal": 1 },
                    "children": { "type": "array", "items": { "$ref": "#/components/schemas/Node" } }
                }, "required": ["id", "label"] },
                "Tags": { "type": "array", "items": { "type": "string" } }
            }}
        })
    }

    #[test]
    fn cycles_become_defs_and_read_only_is_dropped() {
        let doc = doc();
        let mut cx = SchemaCx::new(&doc);
        let schema = cx.convert(
            &json!({ "$ref": "#/components/schemas/Node" }),
            "/x",
            Direction::Request,
        );
        assert_eq!(
            schema,
            json!({ "type": "object", "properties": {
                "label": { "type": ["string", "null"] },
                "children": { "type": "array", "items": { "$ref": "#/$defs/Node" } }
            }, "required": ["label"] })
        );
        let defs = cx.take_defs();
        assert_eq!(
            defs["Node"]["properties"]["children"]["items"],
            json!({ "$ref": "#/$defs/Node" })
        );
    }

    #[test]
    fn rust_types() {
        let doc = doc();
        let cx = SchemaCx::new(&doc);
        assert_eq!(
            cx.rust_type(&json!({ "$ref": "#/components/schemas/Tags" })),
            RustType::Vec(Box::new(RustType::String))
        );
        assert_eq!(cx.rust_type(&json!({ "type": ["integer", "null"] })), RustType::I64);
        assert_eq!(cx.rust_type(&json!({ "oneOf": [] })), RustType::Json);
        assert_eq!(cx.rust_type(&json!({ "$ref": "#/nowhere" })), RustType::Json);
    }

    #[test]
    fn exclusive_bounds_from_30() {
        let doc = json!({});
        let mut cx = SchemaCx::new(&doc);
        let schema = cx.convert(
            &json!({ "type": "number", "minimum": 0, "exclusiveMinimum": true }),
            "",
            Direction::Request,
        );
        assert_eq!(schema, json!({ "type": "number", "exclusiveMinimum": 0 }));
    }
}
