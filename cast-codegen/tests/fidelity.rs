//! Patterns of real specs that made tools unusable, each in a small spec: schemas a
//! client can compile (2019-09 recursion, draft 4 tuples, dangling references), no
//! no-op keywords, query/body twins, readable names for non-ASCII operationIds,
//! Markdown for HTML descriptions, descriptions where the spec has none, a crate name
//! when the title is empty, and the output schema budget.

use cast_codegen::{
    Diagnostics, Generator, Settings, Source,
    ir::{ApiIr, ToolIr, validity},
};
use serde_json::{Value, json};

fn analyze_as(spec: Value, toml: &str, file: &str) -> (ApiIr, Diagnostics) {
    let settings = Settings::from_toml(toml, "cast.toml").expect("valid cast.toml");
    Generator::new(settings)
        .analyze(spec.to_string().as_bytes(), &Source::new(file))
        .expect("parses")
}

fn analyze(spec: Value) -> (ApiIr, Diagnostics) {
    analyze_as(spec, "", "spec.json")
}

fn tool<'a>(api: &'a ApiIr, name: &str) -> &'a ToolIr {
    api.tools.iter().find(|t| t.name == name).unwrap_or_else(|| {
        let names: Vec<&str> = api.tools.iter().map(|t| t.name.as_str()).collect();
        panic!("no tool `{name}` among {names:?}")
    })
}

fn spec(paths: Value, schemas: Value) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Patterns", "version": "1.0.0" },
        "servers": [{ "url": "https://api.example.com" }],
        "paths": paths,
        "components": { "schemas": schemas }
    })
}

fn ok_with(schema: Value) -> Value {
    json!({ "200": { "description": "ok", "content": { "application/json": { "schema": schema } } } })
}

/// OpenAI's filters: a component that lists itself with 2019-09's `$recursiveRef: "#"`.
#[test]
fn recursive_refs_point_at_their_component_and_the_schema_is_valid() {
    let filter = json!({
        "$recursiveAnchor": true,
        "type": "object",
        "properties": {
            "type": { "type": "string", "enum": ["and", "or"] },
            "filters": { "type": "array", "items": { "oneOf": [
                { "$ref": "#/components/schemas/Comparison" },
                { "$recursiveRef": "#" }
            ] } }
        },
        "required": ["type", "filters"]
    });
    let comparison = json!({ "type": "object", "properties": { "key": { "type": "string" } } });
    let (api, diagnostics) = analyze(spec(
        json!({ "/search": { "post": {
            "operationId": "search",
            "requestBody": { "content": { "application/json": { "schema": {
                "type": "object", "properties": { "filter": { "$ref": "#/components/schemas/Compound" } }
            } } } },
            "responses": ok_with(json!({ "$ref": "#/components/schemas/Compound" }))
        } } }),
        json!({ "Compound": filter, "Comparison": comparison }),
    ));
    let search = tool(&api, "search");
    for schema in std::iter::once(&search.input_schema).chain(&search.output_schema) {
        assert_eq!(validity::problems(schema), vec![], "{schema:#}");
        let text = schema.to_string();
        assert!(!text.contains("$recursive"), "{text}");
    }
    let input = &search.input_schema;
    assert_eq!(
        input["properties"]["filter"]["$ref"], "#/$defs/Compound",
        "the recursion needs the component written once: {input:#}"
    );
    assert_eq!(
        input["$defs"]["Compound"]["properties"]["filters"]["items"]["oneOf"][1],
        json!({ "$ref": "#/$defs/Compound" })
    );
    assert!(diagnostics.iter().all(|d| d.code != "C0110"), "{diagnostics}");
}

/// Slack's Swagger 2 tuples: `items: [ … ]` with references inside, and `additionalItems`.
#[test]
fn tuple_items_become_prefix_items_with_their_references_resolved() {
    let (api, diagnostics) = analyze(json!({
        "swagger": "2.0",
        "info": { "title": "Tuples", "version": "1.0.0" },
        "host": "api.example.com",
        "basePath": "/",
        "paths": { "/pins": { "get": {
            "operationId": "listPins",
            "produces": ["application/json"],
            "responses": { "200": { "description": "ok", "schema": {
                "type": "object",
                "properties": { "items": {
                    "type": "array",
                    "items": [{ "$ref": "#/definitions/Pin" }, { "$ref": "#/definitions/Pin" }, { "type": "string" }],
                    "additionalItems": false
                } }
            } } }
        } } },
        "definitions": { "Pin": { "type": "object", "properties": { "id": { "type": "string" } } } }
    }));
    let output = tool(&api, "listPins").output_schema.as_ref().expect("an output schema");
    assert_eq!(validity::problems(output), vec![], "{output:#}");
    let items = &output["properties"]["items"];
    assert_eq!(items["prefixItems"][0], json!({ "$ref": "#/$defs/Pin" }), "{output:#}");
    assert_eq!(items["prefixItems"][2], json!({ "type": "string" }));
    assert_eq!(items["items"], json!(false), "additionalItems: false closes the tuple");
    assert!(output.to_string().find("#/definitions").is_none() && !output.to_string().contains("#/components"));
    assert!(diagnostics.iter().all(|d| d.code != "C0110"), "{diagnostics}");
}

/// A schema no conversion can make valid is never served silently: the output schema is
/// left out with a diagnostic that says where, and an input schema skips the tool.
#[test]
fn a_schema_that_stays_invalid_is_left_out_with_a_pointer() {
    let (api, diagnostics) = analyze(spec(
        json!({
            "/a": { "get": { "operationId": "badOutput", "responses": ok_with(json!({
                "type": "object", "properties": { "n": { "type": "integer", "minimum": "zero" } }
            })) } },
            "/b": { "get": { "operationId": "badInput",
                "parameters": [{ "name": "n", "in": "query", "schema": { "type": "integer", "maxLength": -1, "minimum": "one" } }],
                "responses": { "200": { "description": "ok" } } } }
        }),
        json!({}),
    ));
    assert_eq!(tool(&api, "badOutput").output_schema, None);
    assert!(api.tools.iter().all(|t| t.name != "badInput"), "skipped");
    let mut reported: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.code == "C0110")
        .map(|d| {
            format!(
                "{} {} {}",
                d.operation_id.as_deref().unwrap_or(""),
                d.pointer,
                d.message
            )
        })
        .collect();
    reported.sort();
    assert_eq!(reported.len(), 2, "{diagnostics}");
    assert!(reported[0].starts_with("badInput /paths/~1b/get "), "{reported:?}");
    assert!(reported[1].starts_with("badOutput /paths/~1a/get "), "{reported:?}");
    assert!(
        reported[1].contains("at /properties/n/minimum: \"zero\" is not of type \"number\""),
        "{reported:?}"
    );
}

#[test]
fn keywords_that_cannot_matter_are_dropped() {
    let (api, _) = analyze(spec(
        json!({ "/tags": { "get": {
            "operationId": "listTags",
            "parameters": [
                { "name": "tag", "in": "query", "schema": { "type": "string", "uniqueItems": true, "minItems": 0, "minimum": 1, "maxLength": 20 } },
                { "name": "ids", "in": "query", "schema": { "type": "array", "uniqueItems": false, "minItems": 0, "items": { "type": "integer", "minLength": 1 } } },
                { "name": "any", "in": "query", "schema": { "uniqueItems": true } }
            ],
            "responses": { "200": { "description": "ok" } }
        } } }),
        json!({}),
    ));
    let properties = &tool(&api, "listTags").input_schema["properties"];
    assert_eq!(properties["tag"], json!({ "type": "string", "maxLength": 20 }));
    assert_eq!(
        properties["ids"],
        json!({ "type": "array", "items": { "type": "integer" } })
    );
    assert_eq!(
        properties["any"],
        json!({ "uniqueItems": true }),
        "no type: it may be an array"
    );
}

/// Kubernetes' deletes: the same options in the query and in a `DeleteOptions` body.
#[test]
fn query_and_body_twins_are_one_argument_when_they_agree() {
    let (api, _) = analyze_as(
        spec(
            json!({ "/pods/{name}": { "delete": {
            "operationId": "deletePod",
            "parameters": [
                { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } },
                { "name": "dryRun", "in": "query", "description": "Only validate.", "schema": { "type": "string" } },
                { "name": "gracePeriodSeconds", "in": "query", "schema": { "type": "integer" } }
            ],
            "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/DeleteOptions" } } } },
            "responses": { "200": { "description": "ok" } }
        } } }),
            json!({ "DeleteOptions": { "type": "object", "properties": {
            "dryRun": { "type": "string", "description": "When present, do not persist." },
            "gracePeriodSeconds": { "type": "string" },
            "orphanDependents": { "type": "boolean" }
        } } }),
        ),
        "[tools]\nenable = [\"deletePod\"]\n",
        "spec.json",
    );
    let delete = tool(&api, "deletePod");
    let names: Vec<&str> = delete.args.iter().map(|a| a.name.arg.as_str()).collect();
    assert_eq!(
        names,
        [
            "name",
            "dryRun",
            "gracePeriodSeconds",
            "body_gracePeriodSeconds",
            "orphanDependents"
        ]
    );
    let twin = &delete.input_schema["properties"]["body_gracePeriodSeconds"];
    assert_eq!(
        twin["description"], "In the request body; `gracePeriodSeconds` is the parameter of that name.",
        "{twin}"
    );
}

#[test]
fn non_ascii_operation_ids_are_named_from_their_route_and_html_becomes_markdown() {
    let (api, _) = analyze(spec(
        json!({
            "/realtime/k": { "get": {
                "operationId": "K线",
                "description": "<p>Candles, see <a href=\"https://example.com/k\">the docs</a>.</p>\n\n<b>Scope:</b> <code>read</code>",
                "responses": { "200": { "description": "ok" } }
            } },
            "/holidays": { "get": {
                "operationId": "节假日列表",
                "summary": "Holidays",
                "responses": { "200": { "description": "ok" } }
            } }
        }),
        json!({}),
    ));
    let names: Vec<&str> = api.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["get_realtime_k", "get_holidays"]);
    assert_eq!(
        tool(&api, "get_realtime_k").description,
        "Candles, see [the docs](https://example.com/k).\n\n**Scope:** `read`"
    );
}

#[test]
fn operations_without_a_description_get_one_from_their_id_route_and_path_item() {
    let (api, _) = analyze(spec(
        json!({
            "/2010-04-01/Accounts/{AccountSid}/Addresses.json": {
                "description": "An Address instance resource represents a physical location.",
                "get": { "operationId": "ListAddress", "parameters": [
                    { "name": "AccountSid", "in": "path", "required": true, "schema": { "type": "string" } }
                ], "responses": { "200": { "description": "ok" } } }
            },
            "/api/v3/movie/{id}": { "get": { "parameters": [
                { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }
            ], "responses": { "200": { "description": "ok" } } } }
        }),
        json!({}),
    ));
    assert_eq!(
        tool(&api, "ListAddress").description,
        "List address (`GET /2010-04-01/Accounts/{AccountSid}/Addresses.json`).\n\nAn Address instance resource represents a physical location."
    );
    assert_eq!(
        tool(&api, "get_api_v3_movie_by_id").description,
        "Get movie by `id` (`GET /api/v3/movie/{id}`)."
    );
}

#[test]
fn an_empty_title_names_the_crate_after_the_file() {
    let mut untitled = spec(json!({}), json!({}));
    untitled["info"]["title"] = json!("  ");
    let (api, _) = analyze_as(untitled.clone(), "", "billing-openapi.yaml");
    assert_eq!(api.crate_name, "billing-mcp");
    let (api, _) = analyze_as(untitled, "name = \"mine-mcp\"", "billing-openapi.yaml");
    assert_eq!(api.crate_name, "mine-mcp", "the user's name wins");
}

/// Selection comes before schemas are assembled: a tool that is not served costs nothing
/// and cannot fail generation.
#[test]
fn only_selected_tools_have_their_schemas_assembled_and_checked() {
    let paths = json!({
        "/good": { "get": { "operationId": "good", "responses": { "200": { "description": "ok" } } } },
        "/bad": { "get": { "operationId": "bad",
            "parameters": [{ "name": "n", "in": "query", "schema": { "type": "integer", "minimum": "one" } }],
            "responses": { "200": { "description": "ok" } } } }
    });
    let (api, diagnostics) = analyze_as(spec(paths, json!({})), "[tools]\nonly = [\"good\"]\n", "spec.json");
    assert!(diagnostics.iter().all(|d| d.code != "C0110"), "{diagnostics}");
    let bad = tool(&api, "bad");
    assert!(!bad.enabled);
    assert_eq!(bad.input_schema, json!({ "type": "object" }));
    assert!(tool(&api, "good").input_schema["properties"].is_object());
}

#[test]
fn deep_object_arrays_can_be_numbered() {
    let paths = json!({ "/charges": { "post": {
        "operationId": "createCharge",
        "parameters": [{ "name": "expand", "in": "query", "style": "deepObject", "schema": { "type": "array", "items": { "type": "string" } } }],
        "requestBody": { "content": { "application/x-www-form-urlencoded": {
            "schema": { "type": "object", "properties": { "metadata": { "type": "object" } } },
            "encoding": { "metadata": { "style": "deepObject", "explode": true } }
        } } },
        "responses": { "200": { "description": "ok" } }
    } } });
    let style = |api: &ApiIr| {
        let charge = tool(api, "createCharge");
        let query = charge.args.iter().find_map(|a| match a.target {
            cast_codegen::ir::Target::Param { styled, .. } => Some(styled.style),
            _ => None,
        });
        let form = charge
            .body
            .as_ref()
            .and_then(|b| b.encodings.first())
            .map(|(_, s)| s.style);
        (query, form)
    };
    use cast_codegen::ir::Style;
    let (api, _) = analyze(spec(paths.clone(), json!({})));
    assert_eq!(style(&api), (Some(Style::DeepObject), Some(Style::DeepObject)));
    let (api, _) = analyze_as(spec(paths, json!({})), "deep_object_arrays = \"indexed\"", "spec.json");
    assert_eq!(
        style(&api),
        (Some(Style::DeepObjectIndexed), Some(Style::DeepObjectIndexed))
    );
}

#[test]
fn an_output_schema_over_the_budget_is_not_advertised() {
    let wide: serde_json::Map<String, Value> = (0..200)
        .map(|i| {
            (
                format!("field_{i}"),
                json!({ "type": "string", "description": "A field of a wide object." }),
            )
        })
        .collect();
    let paths = json!({ "/wide": { "get": { "operationId": "getWide", "responses": ok_with(json!({ "type": "object", "properties": wide })) } } });
    let (api, diagnostics) = analyze_as(
        spec(paths.clone(), json!({})),
        "max_output_schema_bytes = 4096",
        "spec.json",
    );
    assert_eq!(tool(&api, "getWide").output_schema, None);
    let note = diagnostics.iter().find(|d| d.code == "C0111").expect("a note says why");
    assert!(note.message.contains("over the budget of 4096"), "{note}");
    let (api, _) = analyze(spec(paths, json!({})));
    assert!(
        tool(&api, "getWide").output_schema.is_some(),
        "within the default budget"
    );
}
