//! Generation cost follows the size of a spec, not the number of paths through its
//! reference graph: a spec of thousands of mutually referencing components (each reaching
//! every other of its family by exponentially many paths) generates, and each tool's
//! schemas hold each component it uses once. Time and peak memory are in `cast-bench`.

use cast_codegen::{Generator, Settings, Source};
use serde_json::Value;

#[test]
fn thousands_of_mutually_referencing_components_generate_in_proportion_to_the_spec() {
    let (cycles, per_cycle, operations) = (20, 100, 200);
    let spec = cast_e2e::stress_spec(cycles, per_cycle, operations);
    let bytes = serde_json::to_vec(&spec).expect("spec");
    let generated = Generator::new(Settings::default().with_all_enabled().with_name("stress-mcp"))
        .generate(&bytes, &Source::new("stress.json"))
        .unwrap_or_else(|d| panic!("{d}"));
    let tools: Vec<_> = generated.api.enabled_tools().collect();
    assert_eq!(tools.len(), 2 * operations);
    for tool in &tools {
        // Each schema holds its family once: 100 components of a few hundred bytes.
        for schema in std::iter::once(&tool.input_schema).chain(tool.output_schema.as_ref()) {
            let text = schema.to_string();
            assert!(text.len() < 100 * 1024, "`{}`: {} bytes", tool.name, text.len());
            let defs = schema["$defs"].as_object().map_or(0, serde_json::Map::len);
            assert!(defs <= per_cycle, "`{}`: {defs} $defs", tool.name);
            for (name, def) in schema["$defs"].as_object().into_iter().flatten() {
                assert!(def.is_object(), "`{}`: $defs/{name}", tool.name);
            }
            assert_refs_resolve(schema, schema, &tool.name);
        }
    }
}

/// Every `$ref` in `value` names an entry of the schema's own `$defs`.
fn assert_refs_resolve(root: &Value, value: &Value, tool: &str) {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                let name = reference
                    .strip_prefix("#/$defs/")
                    .unwrap_or_else(|| panic!("`{tool}`: {reference}"));
                assert!(root["$defs"].get(name).is_some(), "`{tool}`: dangling {reference}");
            }
            map.values().for_each(|v| assert_refs_resolve(root, v, tool));
        }
        Value::Array(items) => items.iter().for_each(|v| assert_refs_resolve(root, v, tool)),
        _ => {}
    }
}
