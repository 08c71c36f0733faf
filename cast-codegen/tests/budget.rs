//! What a server costs an agent: `[budget]` limits that fail generation, and the
//! generated `instructions` that deferring clients show with the tool names alone.

use cast_codegen::{Diagnostics, Generator, Settings, Source, cost::Cost, ir::ApiIr};
use serde_json::{Value, json};

fn analyze(spec: &Value, toml: &str) -> (ApiIr, Diagnostics) {
    let settings = Settings::from_toml(toml, "cast.toml").expect("valid cast.toml");
    Generator::new(settings)
        .analyze(spec.to_string().as_bytes(), &Source::new("shop.json"))
        .expect("parses")
}

fn shop() -> Value {
    let op = |id: &str, tag: &str| json!({ "operationId": id, "tags": [tag], "summary": format!("{id} summary"), "responses": { "200": { "description": "ok" } } });
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Shop", "version": "1.0.0", "description": "The <b>Shop</b> API sells things. It has a long history nobody reads." },
        "servers": [{ "url": "https://shop.example.com" }],
        "tags": [
            { "name": "orders", "description": "Orders customers place. Each has lines." },
            { "name": "items", "description": "What the shop sells" }
        ],
        "paths": {
            "/items": { "get": op("listItems", "items"), "post": op("createItem", "items") },
            "/orders": { "get": op("listOrders", "orders") },
            "/stats": { "get": { "operationId": "getStats", "responses": { "200": { "description": "ok" } } } }
        }
    })
}

#[test]
fn an_overrun_of_the_budget_is_an_error_naming_the_largest_tools() {
    let (api, diagnostics) = analyze(&shop(), "");
    assert!(!diagnostics.has_errors(), "{diagnostics}");
    let cost = Cost::of(&api);
    assert_eq!(cost.tools.len(), 4);
    assert_eq!(cost.bytes, {
        let list: Vec<Value> = api
            .enabled_tools()
            .map(|t| cast_codegen::cost::listed(t, true))
            .collect();
        json!({ "tools": list }).to_string().len()
    });

    let (_, diagnostics) = analyze(&shop(), "[budget]\nmax_tools = 3\nmax_tokens = 50\n");
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.code == "C0113")
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 2, "{diagnostics}");
    assert!(
        errors[0].contains("4 tools are served, over [budget] max_tools = 3"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains(&format!("tools/list is ~{} tokens", cost.tokens)),
        "{}",
        errors[1]
    );
    assert!(errors[1].contains("the largest tools: `"), "{}", errors[1]);
    assert!(diagnostics.has_errors());

    let (_, diagnostics) = analyze(
        &shop(),
        &format!("[budget]\nmax_tools = 4\nmax_tokens = {}\n", cost.tokens),
    );
    assert!(
        !diagnostics.has_errors(),
        "exactly at the budget is within it: {diagnostics}"
    );
}

#[test]
fn instructions_map_the_api_by_area_within_their_budget() {
    let (api, _) = analyze(&shop(), "");
    let instructions = api.instructions.clone().expect("generated");
    assert_eq!(
        instructions,
        "The **Shop** API sells things. It has a long history nobody reads.\n\n4 tools in 3 areas:\n\
         - orders (1): Orders customers place. Each has lines. Tools: `listOrders`\n\
         - items (2): What the shop sells. Tools: `listItems`, `createItem`\n\
         - stats (1): `getStats`"
    );
    // A tight budget names every area with one tool before it gives up the spec's words.
    let (api, _) = analyze(&shop(), "[budget]\nmax_instructions_bytes = 200\n");
    let tight = api.instructions.expect("generated");
    assert!(tight.len() <= 200, "{} bytes: {tight}", tight.len());
    assert!(tight.contains("- stats (1): `getStats`"), "{tight}");
    // The user's own words win.
    let (api, _) = analyze(&shop(), "instructions = \"Use listItems first.\"\n");
    assert_eq!(api.instructions.as_deref(), Some("Use listItems first."));
}

#[test]
fn the_catalog_is_chosen_by_mode_or_size_and_both_needs_its_direct_tools() {
    use cast_codegen::ToolMode;
    let (api, _) = analyze(&shop(), "");
    assert_eq!(api.mode, ToolMode::Tools);
    let (api, _) = analyze(&shop(), "[tools]\ncatalog_above = 3\n");
    assert_eq!(api.mode, ToolMode::Catalog, "4 tools are more than 3");
    let (api, _) = analyze(&shop(), "[tools]\ncatalog_above = 4\n");
    assert_eq!(api.mode, ToolMode::Tools);
    let (api, diagnostics) = analyze(&shop(), "[tools]\nmode = \"both\"\ndirect = [\"listItems\"]\n");
    assert!(!diagnostics.has_errors(), "{diagnostics}");
    assert_eq!(
        (api.mode, api.direct.clone()),
        (ToolMode::Both, vec!["listItems".to_owned()])
    );
    let (_, diagnostics) = analyze(&shop(), "[tools]\nmode = \"both\"\n");
    assert!(
        diagnostics
            .iter()
            .any(|d| d.code == "C0209" && d.message.contains("needs [tools] direct")),
        "{diagnostics}"
    );
    let (_, diagnostics) = analyze(&shop(), "[tools]\nmode = \"both\"\ndirect = [\"nope\"]\n");
    assert!(
        diagnostics
            .iter()
            .any(|d| d.code == "C0209" && d.message.contains("`nope`")),
        "{diagnostics}"
    );
}

#[test]
fn catalog_search_terms_weigh_names_over_summaries_over_arguments() {
    let (api, _) = analyze(&shop(), "[tools]\nmode = \"catalog\"\n");
    let items = api.tools.iter().find(|t| t.name == "listItems").expect("listItems");
    assert_eq!(cast_codegen::ir::text::search_terms(items), "3:list 3:items 2:summary");
    let generated = Generator::new(Settings::from_toml("[tools]\nmode = \"catalog\"\n", "cast.toml").expect("toml"))
        .generate(shop().to_string().as_bytes(), &Source::new("shop.json"))
        .expect("generates");
    let main = generated
        .files
        .iter()
        .find(|(path, _)| path.ends_with("main.rs"))
        .map(|(_, text)| text)
        .expect("main.rs");
    assert!(main.contains("mode: ::cast_runtime::codegen::Mode::Catalog"), "{main}");
    let tool = generated
        .files
        .iter()
        .find(|(path, _)| path.ends_with("list_items.rs"))
        .map(|(_, text)| text)
        .expect("list_items.rs");
    assert!(tool.contains("search_terms: \"3:list 3:items 2:summary\""), "{tool}");
}

#[test]
fn lean_schemas_give_up_examples_and_long_descriptions_only() {
    let spec = json!({
        "openapi": "3.1.0",
        "info": { "title": "Lean", "version": "1.0.0" },
        "servers": [{ "url": "https://lean.example.com" }],
        "paths": { "/things": { "get": {
            "operationId": "listThings",
            "parameters": [{ "name": "q", "in": "query", "description": "Words to match. Matching ignores case and accents, and a word may end in a star.", "schema": { "type": "string", "maxLength": 50, "examples": ["red car"] } }],
            "responses": { "200": { "description": "ok" } }
        } } }
    });
    let (full, _) = analyze(&spec, "");
    let q = &full.tools[0].input_schema["properties"]["q"];
    assert_eq!(q["examples"], json!(["red car"]));
    let (lean, _) = analyze(&spec, "[schemas]\nexamples = false\nmax_description_chars = 40\n");
    let q = &lean.tools[0].input_schema["properties"]["q"];
    assert_eq!(
        q,
        &json!({ "type": "string", "maxLength": 50, "description": "Words to match." })
    );
    assert!(Cost::of(&lean).bytes < Cost::of(&full).bytes);
}
