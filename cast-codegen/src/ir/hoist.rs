//! Inside one tool's schema, a sub-schema written out more than once goes into `$defs`
//! once. Components used more than once are already there ([`super::schema`]); this
//! catches what the spec repeats inline (the same enum on many properties, an object
//! pasted into several operations' bodies).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// Sub-schemas shorter than this stay where they are: a `$ref` and a `$defs` entry cost
/// about 40 bytes.
const MIN_HOISTED_BYTES: usize = 200;

/// Keywords whose value is one schema.
const ONE: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is a list of schemas.
const LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
const NAMED: &[&str] = &["properties", "patternProperties", "$defs", "dependentSchemas"];

/// Moves every sub-schema of at least [`MIN_HOISTED_BYTES`] that appears more than once
/// into `$defs`, the largest first, named after where it first appears. The schema
/// accepts exactly what it accepted: a `$ref` to an identical schema means that schema.
pub fn hoist_repeats(schema: &mut Value) {
    let mut counts: HashMap<String, (usize, String)> = HashMap::new();
    visit(schema, "schema", &mut |text, hint| {
        let entry = counts.entry(text.to_owned()).or_insert((0, hint.to_owned()));
        entry.0 += 1;
    });
    let mut repeated: Vec<(String, String)> = counts
        .into_iter()
        .filter(|(text, (count, _))| *count > 1 && text.len() >= MIN_HOISTED_BYTES)
        .map(|(text, (_, hint))| (text, hint))
        .collect();
    if repeated.is_empty() {
        return;
    }
    // Largest first, so a repeated whole is hoisted before the parts it holds.
    repeated.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
    let Some(root) = schema.as_object_mut() else {
        return;
    };
    let mut defs = match root.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    let mut names: HashMap<String, String> = HashMap::new();
    for (text, hint) in &repeated {
        let base = super::naming::type_ident(hint);
        let mut name = base.clone();
        let mut n = 2;
        while defs.contains_key(&name) || names.values().any(|taken| *taken == name) {
            name = format!("{base}{n}");
            n += 1;
        }
        names.insert(text.clone(), name);
    }
    let mut root_value = Value::Object(std::mem::take(root));
    replace(&mut root_value, &names, true);
    for value in defs.values_mut() {
        replace(value, &names, true);
    }
    // Each hoisted schema is written once, with its own repeats replaced inside it.
    let mut hoisted: Vec<(String, Value)> = Vec::new();
    for (text, name) in &names {
        let mut value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        replace(&mut value, &names, false);
        hoisted.push((name.clone(), value));
    }
    hoisted.sort_by(|a, b| a.0.cmp(&b.0));
    defs.extend(hoisted);
    let mut sorted: Vec<(String, Value)> = defs.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    if let Value::Object(map) = &mut root_value {
        map.insert("$defs".to_owned(), Value::Object(sorted.into_iter().collect()));
    }
    *schema = root_value;
}

/// Calls `seen` with the text of every object sub-schema (not the root) and a name hint.
fn visit(value: &Value, hint: &str, seen: &mut dyn FnMut(&str, &str)) {
    let Value::Object(map) = value else {
        return;
    };
    for (key, inner) in map {
        if ONE.contains(&key.as_str()) {
            visit_schema(inner, hint, seen);
        } else if LIST.contains(&key.as_str()) {
            for item in inner.as_array().into_iter().flatten() {
                visit_schema(item, hint, seen);
            }
        } else if NAMED.contains(&key.as_str()) {
            for (name, item) in inner.as_object().into_iter().flatten() {
                visit_schema(item, name, seen);
            }
        }
    }
}

fn visit_schema(value: &Value, hint: &str, seen: &mut dyn FnMut(&str, &str)) {
    if value.is_object() && value.get("$ref").is_none() {
        seen(&value.to_string(), hint);
    }
    visit(value, hint, seen);
}

/// Replaces hoisted sub-schemas below `value` with references to them (`value` itself
/// too unless it is `top`, the schema being written).
fn replace(value: &mut Value, names: &HashMap<String, String>, top: bool) {
    let Value::Object(map) = value else {
        return;
    };
    for (key, inner) in map.iter_mut() {
        if ONE.contains(&key.as_str()) {
            replace_schema(inner, names);
        } else if LIST.contains(&key.as_str()) {
            if let Value::Array(items) = inner {
                items.iter_mut().for_each(|item| replace_schema(item, names));
            }
        } else if NAMED.contains(&key.as_str())
            && !(top && key == "$defs")
            && let Value::Object(named) = inner
        {
            named.values_mut().for_each(|item| replace_schema(item, names));
        }
    }
}

fn replace_schema(value: &mut Value, names: &HashMap<String, String>) {
    if value.is_object() && value.get("$ref").is_none() {
        let text = value.to_string();
        if let Some(name) = names.get(&text) {
            *value = json!({ "$ref": format!("#/$defs/{name}") });
            return;
        }
    }
    replace(value, names, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> Value {
        json!({ "type": "object", "description": "A postal address, as the carrier reads it.", "properties": {
            "street": { "type": "string", "maxLength": 80 },
            "city": { "type": "string", "maxLength": 40 },
            "country": { "type": "string", "enum": ["DE", "FR", "GB", "US"] }
        }, "required": ["street", "country"], "additionalProperties": false })
    }

    #[test]
    fn repeats_go_into_defs_and_the_schema_accepts_the_same() {
        let original = json!({ "type": "object", "properties": {
            "billing": address(),
            "shipping": address(),
            "returns": { "type": "array", "items": address() },
            "note": { "type": "string" }
        }, "$defs": { "Other": { "type": "object", "properties": { "again": address() } } } });
        let mut hoisted = original.clone();
        hoist_repeats(&mut hoisted);
        assert_eq!(hoisted["properties"]["billing"], json!({ "$ref": "#/$defs/Billing" }));
        assert_eq!(
            hoisted["properties"]["returns"]["items"],
            json!({ "$ref": "#/$defs/Billing" })
        );
        assert_eq!(
            hoisted["$defs"]["Other"]["properties"]["again"],
            json!({ "$ref": "#/$defs/Billing" })
        );
        assert_eq!(hoisted["$defs"]["Billing"], address());
        assert!(hoisted.to_string().len() < original.to_string().len());
        assert!(crate::ir::validity::problems(&hoisted).is_empty());

        let before = jsonschema::draft202012::new(&original).expect("compiles");
        let after = jsonschema::draft202012::new(&hoisted).expect("compiles");
        let good = json!({ "street": "1 Main St", "country": "DE" });
        let instances = [
            json!({}),
            json!({ "billing": good, "shipping": good, "returns": [good, good] }),
            json!({ "billing": { "street": "x" } }),
            json!({ "shipping": { "street": "x", "country": "XX" } }),
            json!({ "returns": [good, { "street": "y".repeat(81), "country": "US" }] }),
            json!({ "billing": { "street": "x", "country": "FR", "extra": 1 } }),
            json!({ "note": 5 }),
        ];
        for instance in &instances {
            assert_eq!(before.is_valid(instance), after.is_valid(instance), "{instance}");
        }
        assert_eq!(instances.iter().filter(|i| after.is_valid(i)).count(), 2);
    }

    #[test]
    fn small_or_single_sub_schemas_stay() {
        let mut schema = json!({ "type": "object", "properties": {
            "a": { "type": "string" }, "b": { "type": "string" }, "c": address()
        } });
        let before = schema.clone();
        hoist_repeats(&mut schema);
        assert_eq!(schema, before);
    }
}
