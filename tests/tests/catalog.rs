//! Catalog mode on the largest spec: GitHub's 767 operations behind three tools. Through
//! a real MCP client, the list is a few thousand bytes, every operation can be described,
//! a sample is found by search and called against the echo upstream, each request exactly
//! as a direct tool would send it.

use std::net::SocketAddr;

use cast_codegen::{Settings, ToolMode, cost, ir::ToolIr};
use cast_e2e::{Answering, Launch, build, call, generate, remove_binary, text, workspace_root};
use cast_test_server::{Mode, generate_key, start};
use rmcp::{ClientLifecycleMode, model::ElicitationAction};
use serde_json::{Value, json};

/// A value for a required argument of `schema`, when it is a plain scalar.
fn sample(schema: &Value) -> Option<Value> {
    if let Some(value) = schema.get("enum").and_then(Value::as_array).and_then(|v| v.first()) {
        return Some(value.clone());
    }
    match schema.get("type").and_then(Value::as_str)? {
        "string" => Some(json!("x1")),
        "integer" | "number" => Some(json!(7)),
        "boolean" => Some(json!(true)),
        _ => None,
    }
}

/// Arguments for a tool whose required arguments are all scalars, and the path it must send.
fn plan(tool: &ToolIr) -> Option<(Value, String)> {
    let properties = tool.input_schema.get("properties")?.as_object()?;
    let required = tool
        .input_schema
        .get("required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut args = serde_json::Map::new();
    for name in required.iter().filter_map(Value::as_str) {
        args.insert(name.to_owned(), sample(properties.get(name)?)?);
    }
    let mut path = tool.path.clone();
    for arg in &tool.args {
        let placeholder = format!("{{{}}}", arg.wire);
        if path.contains(&placeholder) {
            let value = args.get(&arg.name.arg)?;
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            path = path.replace(&placeholder, &text);
        }
    }
    Some((Value::Object(args), format!("/echo{path}")))
}

#[tokio::test]
async fn githubs_operations_are_found_described_and_called_through_three_tools() {
    let spec = workspace_root().join("tests/corpus/github-api-3.0.json");
    let out = workspace_root().join("target/catalog/github-catalog-mcp");
    let mut settings = Settings::default().with_name("github-catalog-mcp").with_all_enabled();
    settings.tools.mode = Some(ToolMode::Catalog);
    let generated = generate(spec.to_str().expect("UTF-8"), settings, &out).expect("generate");
    let operations: Vec<&ToolIr> = generated.api.enabled_tools().collect();
    assert_eq!(operations.len(), 767, "every operation is behind the catalog");
    let binary = build(&out, "github-catalog-mcp").expect("build");

    let server = start(SocketAddr::from(([127, 0, 0, 1], 0)), Mode::None, generate_key())
        .await
        .expect("echo server");
    let launch = Launch {
        binary,
        env: vec![("CAST_BASE_URL".into(), format!("{}/echo", server.base_url()))],
    };
    let log = Default::default();
    // Destructive operations ask the user first, behind the catalog too: this user says yes.
    let user = Answering::new(ElicitationAction::Accept);
    let client = launch
        .stdio_as(&log, user.clone(), ClientLifecycleMode::Initialize)
        .await
        .expect("connect");

    let listed = client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["search_operations", "describe_operation", "call_operation"]);
    let bytes = serde_json::to_string(&json!({ "tools": listed })).expect("json").len();
    let tokens = cost::estimate_tokens(bytes);
    println!("catalog tools/list: {bytes} bytes, ~{tokens} tokens");
    assert!(
        tokens < 2_000,
        "the catalog's tools/list is ~{tokens} tokens ({bytes} bytes)"
    );
    let call_tool = &listed[2];
    let hints = call_tool.annotations.as_ref().expect("annotations");
    assert_eq!(
        (hints.read_only_hint, hints.destructive_hint),
        (Some(false), Some(true)),
        "call_operation may do what the operations behind it do"
    );

    let mut failures = Vec::new();
    // Every operation can be described, with the schema a direct tool would advertise.
    for tool in &operations {
        let result = call(&client, "describe_operation", json!({ "name": tool.name }))
            .await
            .expect("result");
        let described: Value = serde_json::from_str(&text(&result)).unwrap_or(Value::Null);
        if described["inputSchema"] != tool.input_schema || described["method"] != tool.method.as_str() {
            failures.push(format!("describe {}: {}", tool.name, text(&result)));
        }
    }
    // A sample (every 25th operation that takes only scalars and needs no credential) is
    // found by its summary and sent exactly as planned.
    let sampled: Vec<(&ToolIr, (Value, String))> = operations
        .iter()
        .filter(|t| t.security.is_empty() && t.body.is_none())
        .filter_map(|t| plan(t).map(|p| (*t, p)))
        .step_by(25)
        .collect();
    assert!(sampled.len() >= 15, "{} sampled", sampled.len());
    for (tool, (args, path)) in &sampled {
        let query = tool.title.clone().unwrap_or_else(|| tool.name.clone());
        let found = call(&client, "search_operations", json!({ "query": query, "limit": 10 }))
            .await
            .expect("search");
        let hits: Value = serde_json::from_str(&text(&found)).unwrap_or(Value::Null);
        let ranked = hits["operations"].as_array().cloned().unwrap_or_default();
        if !ranked.iter().any(|hit| hit["name"] == tool.name.as_str()) {
            failures.push(format!("search {query:?} does not find {}: {hits}", tool.name));
        }
        let result = call(
            &client,
            "call_operation",
            json!({ "name": tool.name, "arguments": args }),
        )
        .await
        .expect("result");
        let echo = result.structured_content.clone().unwrap_or(Value::Null);
        if result.is_error == Some(true) || echo["path"] != path.as_str() || echo["method"] != tool.method.as_str() {
            failures.push(format!("call {} {args}: {}", tool.name, text(&result)));
        }
    }
    let destructive = sampled.iter().filter(|(t, _)| t.annotations.destructive).count();
    assert!(destructive > 0, "the sample has destructive operations");
    assert_eq!(
        user.questions().len(),
        destructive,
        "the user was asked about each destructive call, and only those"
    );
    // Refusals are tool errors the agent can act on, and nothing is sent for them.
    let before = server.seen().len();
    let unknown = call(&client, "call_operation", json!({ "name": "no-such-op" }))
        .await
        .expect("result");
    assert_eq!(unknown.is_error, Some(true));
    assert!(text(&unknown).contains("search_operations"), "{}", text(&unknown));
    let (tool, _) = &sampled[0];
    let bad = call(
        &client,
        "call_operation",
        json!({ "name": tool.name, "arguments": { "nope": 1 } }),
    )
    .await
    .expect("result");
    assert_eq!(bad.is_error, Some(true), "{}", text(&bad));
    assert!(
        text(&bad).contains("nope"),
        "the unknown argument is named: {}",
        text(&bad)
    );
    let direct = call(&client, &tool.name, sampled[0].1.0.clone()).await;
    assert!(
        direct.is_err(),
        "an operation behind the catalog is not a tool of its own"
    );
    assert_eq!(server.seen().len(), before, "no refused call went upstream");

    client.cancel().await.expect("close");
    remove_binary("github-catalog-mcp").expect("remove the binary");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
