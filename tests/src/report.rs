//! What a generated server costs an agent and whether its tools can work, per spec: the
//! numbers of the corpus report (`cargo run --release -p cast-e2e --bin corpus-report`)
//! and of the test that holds the corpus to its targets.

use std::{collections::HashSet, path::Path};

use cast_codegen::{
    BudgetSettings, Generated, Settings, cost,
    ir::{Location, Target, ToolIr, lower::looks_like_a_credential, naming, validity},
};
use serde_json::Value;

/// The largest input schema a tool may advertise.
pub const MAX_INPUT_SCHEMA_BYTES: usize = 64 * 1024;

/// Subtrees shorter than this are not counted as repeats: `{"type":"string"}` repeats
/// everywhere and nothing could share it for less.
const MIN_REPEAT_BYTES: usize = 128;

/// One spec's row.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// The spec's file name.
    pub spec: String,
    /// Operations in the spec.
    pub operations: usize,
    /// Tools served with default settings.
    pub tools: usize,
    /// `tools/list` bytes: every tool's name, title, description, schemas and annotations.
    pub list_bytes: usize,
    /// Estimated tokens of `list_bytes`.
    pub list_tokens: usize,
    /// Estimated tokens a client that defers schemas shows: names and instructions.
    pub deferred_tokens: usize,
    /// Bytes of the generated instructions.
    pub instructions_bytes: usize,
    /// Names in backticks in the instructions that are not tools served.
    pub instructions_unknown_names: usize,
    /// Bytes of `tools/list` with the lean settings ([`lean_settings`]), when measured.
    pub lean_bytes: Option<usize>,
    /// With `[schemas] examples = false` alone, when measured.
    pub no_examples_bytes: Option<usize>,
    /// With `[schemas] max_description_chars = 120` alone, when measured.
    pub short_descriptions_bytes: Option<usize>,
    /// Bytes of `tools/list` in catalog mode (`mode = "catalog"`): the three tools.
    pub catalog_bytes: usize,
    /// The same without output schemas.
    pub list_bytes_without_output: usize,
    /// The largest tool and its bytes.
    pub largest_tool: (String, usize),
    /// The largest input schema's bytes.
    pub largest_input_schema: usize,
    /// Output schemas left out for their size (C0111).
    pub output_schemas_over_budget: usize,
    /// Share of schema bytes that repeat a subtree sent earlier in the same list.
    pub duplicated_share: f64,
    /// Schemas a client could not compile (metaschema or a `$ref` that does not resolve).
    pub invalid_schemas: usize,
    /// Schemas found invalid at generation and left out (C0110).
    pub invalid_left_out: usize,
    /// Tool names longer than 64 with the default client prefix (`mcp__<crate>__`).
    pub names_over_limit: usize,
    /// Tool names that carry a hash because nothing else told them apart.
    pub hashed_names: usize,
    /// Tools whose whole description is their method and path.
    pub route_only_descriptions: usize,
    /// Arguments offered to the agent that read as the caller's credential.
    pub credential_arguments: usize,
    /// Credentials the spec asks for as arguments, kept out (C0206).
    pub credentials_kept_out: usize,
    /// Deprecated operations served.
    pub deprecated_served: usize,
    /// Deprecated operations in the spec.
    pub deprecated: usize,
    /// Generation (parse, lower, emit) in milliseconds, when measured.
    pub generate_ms: Option<u128>,
    /// Peak resident memory of the generating process in MiB, when measured.
    pub peak_mib: Option<f64>,
}

/// Measures a spec generated with `settings` (default settings are what a user gets).
pub fn row(spec: &Path, generated: &Generated) -> Row {
    let api = &generated.api;
    let served: Vec<&ToolIr> = api.enabled_tools().collect();
    let sizes: Vec<(String, usize)> = served
        .iter()
        .map(|t| (t.name.clone(), cost::listed(t, true).to_string().len()))
        .collect();
    let list_bytes = cost::Cost::of(api).bytes;
    let list_bytes_without_output = served
        .iter()
        .map(|t| cost::listed(t, false).to_string().len())
        .sum::<usize>()
        + served.len().saturating_sub(1)
        + 12;
    let largest_tool = sizes.iter().max_by_key(|(_, n)| *n).cloned().unwrap_or_default();
    let schemas: Vec<&Value> = served
        .iter()
        .flat_map(|t| std::iter::once(&t.input_schema).chain(t.output_schema.as_ref()))
        .collect();
    let invalid_schemas = schemas.iter().filter(|s| !validity::problems(s).is_empty()).count();
    let count = |code: &str| generated.diagnostics.iter().filter(|d| d.code == code).count();
    Row {
        spec: spec
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        operations: api.tools.len(),
        tools: served.len(),
        list_bytes,
        list_tokens: cost::estimate_tokens(list_bytes),
        deferred_tokens: cost::Cost::of(api).deferred_tokens,
        instructions_bytes: api.instructions.as_deref().map_or(0, str::len),
        // The spec's own description may quote anything; the map of areas names tools.
        instructions_unknown_names: api.instructions.as_deref().map_or(0, |text| {
            let map = text.split_once(" areas:\n").map_or("", |(_, map)| map);
            map.split('`')
                .skip(1)
                .step_by(2)
                .filter(|name| !served.iter().any(|t| t.name == *name))
                .count()
        }),
        catalog_bytes: catalog_bytes(&served),
        lean_bytes: None,
        no_examples_bytes: None,
        short_descriptions_bytes: None,
        list_bytes_without_output,
        largest_tool,
        largest_input_schema: served
            .iter()
            .map(|t| t.input_schema.to_string().len())
            .max()
            .unwrap_or(0),
        output_schemas_over_budget: count("C0111"),
        duplicated_share: duplicated_share(&schemas),
        invalid_schemas,
        invalid_left_out: count("C0110"),
        hashed_names: served.iter().filter(|t| has_route_hash(t)).count(),
        names_over_limit: served
            .iter()
            .filter(|t| naming::client_prefix(&api.crate_name).len() + t.name.len() > naming::MAX_TOOL_NAME)
            .count(),
        route_only_descriptions: served
            .iter()
            .filter(|t| t.description.trim() == format!("{} {}", t.method.as_str(), t.path))
            .count(),
        credential_arguments: served.iter().map(|t| credential_arguments(t)).sum(),
        credentials_kept_out: count("C0206"),
        deprecated_served: served.iter().filter(|t| t.deprecated).count(),
        deprecated: api.tools.iter().filter(|t| t.deprecated).count(),
        generate_ms: None,
        peak_mib: None,
    }
}

/// A row with its generation time and peak memory, as one JSON line.
pub fn to_json(row: &Row, generate_ms: u128, peak_kib: u64) -> String {
    let mut row = row.clone();
    row.generate_ms = Some(generate_ms);
    row.peak_mib = (peak_kib > 0).then(|| peak_kib as f64 / 1024.0);
    serde_json::to_string(&row).unwrap_or_default()
}

/// A row from [`to_json`]'s line.
pub fn from_json(line: &str) -> Option<Row> {
    serde_json::from_str(line).ok()
}

/// Every spec the tests use: the real-world corpus, the hand-written specs that stand
/// for patterns it lacks, the wire and fault specs and the test server's own.
pub fn specs() -> Vec<std::path::PathBuf> {
    let root = crate::workspace_root();
    let mut specs = Vec::new();
    for dir in [
        "tests/corpus",
        "tests/specs",
        "tests/wire",
        "tests/faults",
        "examples/test-server",
    ] {
        let dir = root.join(dir);
        let mut found: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "yaml" || x == "yml"))
            .collect();
        found.sort();
        specs.extend(found);
    }
    specs
}

/// One of the lean settings, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lean {
    /// `[schemas] examples = false`.
    NoExamples,
    /// `[schemas] max_description_chars = 120`.
    ShortDescriptions,
    /// Both, and `output_schemas = false`.
    All,
}

/// The report's settings with `lean` applied.
pub fn lean_settings(spec: &Path, lean: Lean) -> Settings {
    let mut settings = settings(spec);
    if matches!(lean, Lean::NoExamples | Lean::All) {
        settings.schemas.examples = Some(false);
    }
    if matches!(lean, Lean::ShortDescriptions | Lean::All) {
        settings.schemas.max_description_chars = Some(120);
    }
    if lean == Lean::All {
        settings.output_schemas = Some(false);
    }
    settings
}

/// Bytes of the `tools/list` the served tools make.
pub fn list_bytes(generated: &Generated) -> usize {
    cost::Cost::of(&generated.api).bytes
}

/// The settings the report generates with: a user's defaults.
pub fn settings(spec: &Path) -> Settings {
    let stem = spec.file_stem().map(|s| s.to_string_lossy().replace(['.', '_'], "-"));
    Settings::default().with_name(format!("{}-mcp", stem.unwrap_or_default()))
}

/// What `tools/list` sends with every served tool behind the catalog, as the runtime
/// advertises it.
fn catalog_bytes(served: &[&ToolIr]) -> usize {
    let annotations: Vec<cast_runtime::Annotations> = served
        .iter()
        .map(|t| cast_runtime::Annotations {
            read_only: t.annotations.read_only,
            destructive: t.annotations.destructive,
            idempotent: t.annotations.idempotent,
        })
        .collect();
    let tools = cast_runtime::catalog::tools(&annotations);
    serde_json::to_string(&serde_json::json!({ "tools": tools })).map_or(0, |text| text.len())
}

fn has_route_hash(tool: &ToolIr) -> bool {
    let hash = naming::short_hash(&format!("{} {}", tool.method.as_str(), tool.path));
    tool.name.ends_with(&format!("_{hash}"))
}

/// Arguments offered to the agent that read as the caller's credential.
pub fn credential_arguments(tool: &ToolIr) -> usize {
    tool.args
        .iter()
        .filter(|arg| {
            let place = match arg.target {
                Target::Param {
                    location: Location::Query,
                    ..
                } => "query",
                Target::Param {
                    location: Location::Header,
                    ..
                } => "header",
                Target::Param {
                    location: Location::Cookie,
                    ..
                } => "cookie",
                Target::Field { binary: false } => "body",
                _ => return false,
            };
            looks_like_a_credential(&arg.wire, place, arg.schema.get("description").and_then(Value::as_str))
        })
        .count()
}

/// Bytes of every subtree that repeats one sent before it in the list, over all schema
/// bytes: what sharing (`$defs`, a catalog) could still save.
fn duplicated_share(schemas: &[&Value]) -> f64 {
    let mut seen = HashSet::new();
    let (mut total, mut repeated) = (0usize, 0usize);
    for schema in schemas {
        total += schema.to_string().len();
        repeated += repeats(schema, &mut seen);
    }
    if total == 0 {
        0.0
    } else {
        repeated as f64 / total as f64
    }
}

fn repeats(value: &Value, seen: &mut HashSet<String>) -> usize {
    let children: Vec<&Value> = match value {
        Value::Object(map) => map.values().collect(),
        Value::Array(items) => items.iter().collect(),
        _ => return 0,
    };
    let text = value.to_string();
    if text.len() >= MIN_REPEAT_BYTES && !seen.insert(text.clone()) {
        return text.len();
    }
    children.into_iter().map(|child| repeats(child, seen)).sum()
}

/// What a row misses of the targets, one line each.
pub fn missed_targets(row: &Row) -> Vec<String> {
    let mut missed = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            missed.push(format!("{}: {what}", row.spec));
        }
    };
    check(
        row.invalid_schemas == 0,
        format!("{} invalid schemas served", row.invalid_schemas),
    );
    check(
        row.credential_arguments == 0,
        format!("{} credential-like arguments offered", row.credential_arguments),
    );
    check(
        row.names_over_limit == 0,
        format!(
            "{} names over 64 characters with the client prefix",
            row.names_over_limit
        ),
    );
    check(
        row.hashed_names == 0,
        format!("{} names told apart by a hash alone", row.hashed_names),
    );
    check(
        row.route_only_descriptions == 0,
        format!("{} descriptions are only method and path", row.route_only_descriptions),
    );
    check(
        row.instructions_bytes > 0 && row.instructions_bytes <= BudgetSettings::DEFAULT_INSTRUCTIONS_BYTES,
        format!("instructions of {} bytes", row.instructions_bytes),
    );
    check(
        row.instructions_unknown_names == 0,
        format!(
            "the instructions name {} tools that are not served",
            row.instructions_unknown_names
        ),
    );
    check(
        row.deprecated_served == 0,
        format!("{} deprecated tools served", row.deprecated_served),
    );
    check(
        row.largest_input_schema <= MAX_INPUT_SCHEMA_BYTES,
        format!("an input schema of {} bytes", row.largest_input_schema),
    );
    if let Some(ms) = row.generate_ms {
        check(ms <= 2_000, format!("generation took {ms} ms"));
    }
    if let Some(mib) = row.peak_mib {
        check(mib <= 500.0, format!("generation peaked at {mib:.0} MiB"));
    }
    missed
}

/// The report as Markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| spec | operations | tools | generate ms | peak MiB | tools/list bytes | ~tokens | deferred ~tokens (names + instructions) | instructions bytes | without examples | descriptions ≤ 120 | lean bytes (~tokens) | catalog mode bytes (~tokens) | without output schemas | largest tool (bytes) | largest input schema | output schemas over budget | duplicated bytes | invalid schemas served | left out as invalid | hash-told names | method+path descriptions | credential arguments | credentials kept out | deprecated served (of) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | `{}` ({}) | {} | {} | {:.1}% | {} | {} | {} | {} | {} | {} | {} ({}) |\n",
            r.spec,
            r.operations,
            r.tools,
            r.generate_ms.map_or("–".to_owned(), |ms| ms.to_string()),
            r.peak_mib.map_or("–".to_owned(), |m| format!("{m:.0}")),
            r.list_bytes,
            r.list_tokens,
            r.deferred_tokens,
            r.instructions_bytes,
            r.no_examples_bytes.map_or("–".to_owned(), |b| b.to_string()),
            r.short_descriptions_bytes.map_or("–".to_owned(), |b| b.to_string()),
            r.lean_bytes.map_or("–".to_owned(), |b| format!("{b} ({})", cost::estimate_tokens(b))),
            r.catalog_bytes,
            cost::estimate_tokens(r.catalog_bytes),
            r.list_bytes_without_output,
            r.largest_tool.0,
            r.largest_tool.1,
            r.largest_input_schema,
            r.output_schemas_over_budget,
            100.0 * r.duplicated_share,
            r.invalid_schemas,
            r.invalid_left_out,
            r.hashed_names,
            r.route_only_descriptions,
            r.credential_arguments,
            r.credentials_kept_out,
            r.deprecated_served,
            r.deprecated,
        ));
    }
    out
}
