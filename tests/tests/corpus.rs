//! Every real-world spec in `tests/corpus` generates (all tools on), builds,
//! and serves its tools to a real MCP client. The per-spec report is written to
//! `target/corpus/REPORT.md` and printed with `--nocapture`.

use std::{path::PathBuf, time::Instant};

use cast_codegen::{
    Settings, Severity,
    ir::{
        RustType, ToolIr,
        types::{TypeDef, TypeKind},
    },
};
use cast_e2e::{Launch, build, generate, remove_binary, workspace_root};

fn specs() -> Vec<PathBuf> {
    let dir = workspace_root().join("tests/corpus");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "yaml" || x == "yml"))
        .collect();
    specs.sort();
    specs
}

/// Whether the generator before the type space (primitives and arrays of them only) left
/// this top-level argument as `serde_json::Value`: the "before" column of the report.
fn was_untyped(ty: &RustType, types: &[TypeDef]) -> bool {
    match ty {
        RustType::Nullable(inner) | RustType::Boxed(inner) => was_untyped(inner, types),
        RustType::Vec(inner) => was_untyped(inner, types) || matches!(**inner, RustType::Vec(_)),
        RustType::Named(id) => match &types[id.0].kind {
            TypeKind::Alias(target) => was_untyped(target, types),
            TypeKind::Enum(_) => false,
            TypeKind::Struct { .. } | TypeKind::Union(_) => true,
        },
        RustType::Map(_) | RustType::Any | RustType::Json => true,
        _ => false,
    }
}

fn crate_name(spec: &std::path::Path) -> String {
    let stem = spec.file_stem().expect("file name").to_string_lossy();
    format!("{}-mcp", stem.replace(['.', '_'], "-"))
}

#[tokio::test]
async fn every_shared_spec_generates_builds_and_lists_its_tools() {
    let specs = specs();
    assert!(specs.len() >= 18, "the corpus has {} specs", specs.len());
    let root = workspace_root().join("target/corpus");
    let mut report = String::from(
        "| spec | operations | tools | skipped | warnings | generate ms | listed over MCP | argument fields | untyped (C0401) | any JSON by the spec | top-level arguments untyped before | credentials kept out of arguments (C0206) | credential-like arguments offered | deprecated (off by default) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let (mut all_fields, mut all_untyped, mut all_args, mut all_before) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for spec in &specs {
        let name = crate_name(spec);
        let out = root.join(&name);
        let started = Instant::now();
        let spec_text = spec.to_str().expect("UTF-8 path").to_owned();
        let settings = Settings::default().with_name(&name).with_all_enabled();
        let generated = match tokio::task::spawn_blocking({
            let out = out.clone();
            move || generate(&spec_text, settings, &out)
        })
        .await
        .expect("join")
        {
            Ok(generated) => generated,
            Err(err) => {
                failures.push(format!("{name}: {err}"));
                continue;
            }
        };
        let millis = started.elapsed().as_millis();
        let operations = generated.api.tools.len();
        let tools = generated.api.enabled_tools().count();
        let warnings = generated
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        // Skips are operations the generator could not express; with everything enabled there should be none.
        let skipped: Vec<String> = generated
            .diagnostics
            .iter()
            .filter(|d| d.hint.as_deref().is_some_and(|h| h.contains("operation is skipped")))
            .map(|d| format!("{}: {}", d.operation_id.as_deref().unwrap_or("?"), d.message))
            .collect();

        let binary = match tokio::task::spawn_blocking({
            let (out, name) = (out.clone(), name.clone());
            move || build(&out, &name)
        })
        .await
        .expect("join")
        {
            Ok(binary) => binary,
            Err(err) => {
                failures.push(format!("{name}: {err}"));
                continue;
            }
        };
        let launch = Launch {
            binary,
            // Listing needs no upstream; some specs name no absolute server.
            env: vec![
                ("CAST_BASE_URL".into(), "http://127.0.0.1:9".into()),
                ("CAST_LOG".into(), "warn".into()),
            ],
        };
        let log = Default::default();
        let listed = match launch.stdio(&log).await {
            Ok(client) => {
                let listed = client.list_all_tools().await;
                let _ = client.cancel().await;
                listed.map_err(|e| e.to_string())
            }
            Err(err) => Err(format!("{err:#}")),
        };
        // What clients are sent is what the generator made, shared fragments put back.
        if let Ok(listed) = &listed {
            for tool in generated.api.enabled_tools() {
                let Some(served) = listed.iter().find(|t| t.name == tool.name) else {
                    failures.push(format!("{name}: `{}` was not listed", tool.name));
                    continue;
                };
                if serde_json::Value::Object((*served.input_schema).clone()) != tool.input_schema {
                    failures.push(format!(
                        "{name}: `{}` lists another input schema than generated",
                        tool.name
                    ));
                }
                let output = served
                    .output_schema
                    .as_ref()
                    .map(|o| serde_json::Value::Object((**o).clone()));
                if output != tool.output_schema {
                    failures.push(format!(
                        "{name}: `{}` lists another output schema than generated",
                        tool.name
                    ));
                }
            }
        }
        if let Err(err) = remove_binary(&name) {
            failures.push(format!("{name}: {err:#}"));
        }
        let listed = listed.map(|tools| tools.len());
        match &listed {
            Ok(count) if *count == tools => {}
            Ok(count) => failures.push(format!("{name}: generated {tools} tools, the server listed {count}")),
            Err(err) => failures.push(format!("{name}: {err}")),
        }
        if operations > 0 && skipped.len() * 50 > operations {
            failures.push(format!(
                "{name}: {} of {operations} operations skipped: {skipped:?}",
                skipped.len()
            ));
        }
        let kept_out = generated.diagnostics.iter().filter(|d| d.code == "C0206").count();
        let offered: usize = generated
            .api
            .enabled_tools()
            .map(cast_e2e::report::credential_arguments)
            .sum();
        if offered > 0 {
            failures.push(format!(
                "{name}: {offered} credential-like arguments are offered to the agent"
            ));
        }
        let deprecated = generated.api.tools.iter().filter(|t| t.deprecated).count();
        let census = generated.api.census();
        let arguments: Vec<&RustType> = generated.api.enabled_tools().flat_map(ToolIr::argument_types).collect();
        let before = arguments
            .iter()
            .filter(|ty| was_untyped(ty, &generated.api.types))
            .count();
        let percent = |part: usize, whole: usize| {
            if whole == 0 {
                0.0
            } else {
                100.0 * part as f64 / whole as f64
            }
        };
        (all_fields, all_untyped) = (all_fields + census.fields, all_untyped + census.untyped);
        (all_args, all_before) = (all_args + arguments.len(), all_before + before);
        let spec_name = spec.file_name().expect("name").to_string_lossy();
        report.push_str(&format!(
            "| {spec_name} | {operations} | {tools} | {} | {warnings} | {millis} | {} | {} | {} ({:.1}%) | {} | {before} of {} ({:.1}%) | {kept_out} | {offered} | {deprecated} |\n",
            skipped.len(),
            listed
                .as_ref()
                .map_or_else(|e| format!("error: {e}"), |c| c.to_string()),
            census.fields,
            census.untyped,
            census.untyped_percent(),
            census.any,
            arguments.len(),
            percent(before, arguments.len()),
        ));
    }
    let share = |part: usize, whole: usize| 100.0 * part as f64 / whole.max(1) as f64;
    report.push_str(&format!(
        "\nAll specs: {all_untyped} of {all_fields} argument fields untyped ({:.2}%); before, {all_before} of {all_args} top-level arguments ({:.1}%).\n",
        share(all_untyped, all_fields),
        share(all_before, all_args),
    ));
    if share(all_untyped, all_fields) >= 5.0 {
        failures.push(format!(
            "{all_untyped} of {all_fields} argument fields are untyped (5% at most)"
        ));
    }
    std::fs::create_dir_all(&root).expect("report folder");
    std::fs::write(root.join("REPORT.md"), &report).expect("report");
    println!("{report}");
    assert!(failures.is_empty(), "corpus failures:\n{}", failures.join("\n"));
}
