//! The whole Cast path on the built-in example, narrated:
//! test API → generate from its /openapi.json → build → seal the key → call tools over stdio and HTTP.
//!
//! `cargo run -p cast-e2e --bin cast-demo`

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use anyhow::{Context, Result};
use cast_codegen::Settings;
use cast_e2e::{Launch, Vault, build, call, connect_discover, generate, text, workspace_root};
use cast_test_server::{Mode, generate_key, start};
use serde_json::json;

fn step(n: u32, what: &str) {
    println!("\n[{n}/5] {what}");
}

fn main() -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    step(1, "starting the test API (cast-test-server, API-key mode)");
    let server = runtime.block_on(start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Mode::ApiKey {
            header: "X-Api-Key".into(),
        },
        generate_key(),
    ))?;
    println!("      listening: {}", server.base_url());

    step(2, "generating an MCP server crate from its /openapi.json");
    let out = workspace_root().join("target/demo/cast-test-api-mcp");
    let spec = format!("{}/openapi.json", server.base_url());
    let generated = generate(&spec, Settings::default(), &out)?;
    for tool in &generated.api.tools {
        let state = if tool.enabled { "on " } else { "off" };
        println!(
            "      {state} {:<11} {:<6} {:<16} {}",
            tool.name,
            tool.method.as_str(),
            tool.path,
            tool.why
        );
    }
    println!("      written to {}", out.display());

    step(
        3,
        "building it (the first build compiles dependencies; later ones take seconds)",
    );
    let binary = build(&out, &generated.api.crate_name)?;
    println!("      {}", binary.display());

    step(4, "sealing the API key with AES-256-GCM");
    let vault = Vault::new()?;
    let key_file = vault.seal("key.sealed", "X-Api-Key", &server.key())?;
    println!(
        "      {} (the server reads it; clients never see it)",
        key_file.display()
    );
    let launch = Launch {
        binary,
        env: vec![
            ("CAST_MASTER_KEY".into(), vault.master_b64.clone()),
            ("CAST_KEY_FILE".into(), key_file.display().to_string()),
        ],
    };

    step(5, "calling tools from an MCP client");
    let log = Arc::new(Mutex::new(String::new()));
    runtime
        .block_on(async {
            let client = launch.stdio(&log).await?;
            let tools = client.list_all_tools().await?;
            println!("      stdio, initialize handshake: {} tools", tools.len());
            for (tool, args) in [
                (
                    "createItem",
                    json!({ "name": "Desk lamp", "tag": "home", "price": 24.9 }),
                ),
                ("getItem", json!({ "id": 1 })),
                ("listItems", json!({ "tag": "home" })),
            ] {
                let result = call(&client, tool, args.clone()).await?;
                println!("      {tool}({args}) -> {}", text(&result));
            }
            client.cancel().await?;

            let (_child, url) = launch.http(&log).await?;
            let client = connect_discover(&url).await?;
            let result = call(&client, "listUsers", json!({})).await?;
            println!(
                "      http {url}, 2026-07-28 (server/discover): listUsers -> {}",
                text(&result)
            );
            client.cancel().await?;
            anyhow::Ok(())
        })
        .context("talking to the generated server")?;

    // One JSON line per tool call (stderr is not a terminal here).
    let tool_calls = log
        .lock()
        .map(|l| l.lines().filter(|l| l.contains(r#""message":"tool call""#)).count())
        .unwrap_or(0);
    let keyed = server
        .seen()
        .iter()
        .filter(|s| s.credential.as_deref() == Some(server.key().as_str()))
        .count();
    println!("\ndone: {tool_calls} tool calls logged; the API saw its key on {keyed} requests; the client never did.");
    Ok(())
}
