//! Spec (as JSON) to [`ApiIr`]: names, parameters, bodies, schemas, selection.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::{
    Annotations, ApiIr, ArgIr, ArgName, BodyIr, BodyKind, HttpMethod, Location, RustType, SchemeIr, SchemeKind, Style,
    Styled, Target, ToolIr, naming,
    schema::{Direction, SchemaCx, deref},
    text,
    types::TypeSpace,
    validity,
};
use crate::{
    diag::{Diagnostic, Diagnostics, pointer_token},
    load::Source,
    settings::{AuthScheme, DeepObjectArrays, FollowRedirects, KeyLocation, Settings},
};

mod bodies;
mod budget;
mod credentials;
mod params;
mod responses;
mod security;
mod selection;
mod servers;

pub use credentials::looks_like_a_credential;
use {bodies::*, budget::*, credentials::*, params::*, responses::*, security::*, selection::*, servers::*};

/// Lowers a parsed spec. Errors and warnings go to `diagnostics`; the IR is
/// returned even with errors so that `check` can report everything at once.
pub fn lower(doc: &Value, source: &Source, settings: &Settings, diagnostics: &mut Diagnostics) -> ApiIr {
    check_version(doc, diagnostics);
    let info = doc.get("info").cloned().unwrap_or_default();
    let spec_title = info
        .get("title")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let title = spec_title.unwrap_or("API");
    // Without a title the file's name is the best name the user gave (`billing.yaml`).
    let crate_name = settings.name.clone().unwrap_or_else(|| match spec_title {
        Some(title) => naming::crate_name(title),
        None => naming::crate_name(naming::file_stem(&source.display)),
    });
    if !naming::valid_crate_name(&crate_name) {
        diagnostics.push(
            Diagnostic::error("C0303", "", format!("`{crate_name}` is not a valid crate name"))
                .hint("use ASCII letters, digits, `-` and `_`, starting with a letter (`--name my-api-mcp`)"),
        );
    }
    let version = info
        .get("version")
        .and_then(Value::as_str)
        .filter(|v| is_semver(v))
        .unwrap_or("0.1.0")
        .to_owned();
    let description = info
        .get("description")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|d| !d.is_empty());

    let base_url = base_url(doc, source, settings, diagnostics);
    let mut security = security(doc, settings, &base_url, diagnostics);
    let mut cx = SchemaCx::new(doc).with_lean(&settings.schemas);
    let mut space = TypeSpace::default();
    let mut tools = Vec::new();
    let operations = operations(doc, diagnostics);
    let routes: Vec<naming::Route<'_>> = operations
        .iter()
        .map(|op| naming::Route {
            operation_id: op.operation.get("operationId").and_then(Value::as_str),
            method: op.method.as_str(),
            path: op.path,
        })
        .collect();
    let max_name = max_name_length(settings, &crate_name);
    let generated_names = naming::tool_names(&routes, max_name);
    let mut taken_names = HashSet::new();
    let mut taken_modules = HashSet::new();
    let mut pointers = Vec::with_capacity(operations.len());
    for (op, generated) in operations.into_iter().zip(generated_names) {
        let op_pointer = op.pointer.clone();
        let lowered = lower_operation(
            &mut cx,
            &mut space,
            OperationRef {
                global_base: &base_url,
                generated_name: generated,
                max_name,
                ..op
            },
            &mut security,
            settings,
            &mut taken_names,
            &mut taken_modules,
        );
        match lowered {
            Ok(tool) => {
                pointers.push(op_pointer);
                tools.push(tool);
            }
            Err(diagnostic) => diagnostics.push(diagnostic),
        }
    }
    select(&mut tools, settings, diagnostics);
    // Schemas are assembled (and checked) for the tools that will be served: with `--only`
    // one operation of a large API, the cost is that operation's.
    let tools: Vec<ToolIr> = tools
        .into_iter()
        .zip(pointers)
        .filter_map(|(tool, pointer)| match assemble(&mut cx, tool, settings, &pointer) {
            Ok(tool) => Some(tool),
            Err(diagnostic) => {
                cx.diagnostics.push(diagnostic);
                None
            }
        })
        .collect();
    diagnostics.0.append(&mut cx.diagnostics.0);
    security.report_secret_arguments(diagnostics);
    let instructions = settings.instructions.clone().or_else(|| {
        let areas: Vec<text::Area<'_>> = doc
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|tag| {
                Some(text::Area {
                    name: tag.get("name")?.as_str()?,
                    description: tag.get("description").and_then(Value::as_str),
                })
            })
            .collect();
        let served: Vec<&ToolIr> = tools.iter().filter(|t| t.enabled).collect();
        let budget = settings
            .budget
            .max_instructions_bytes
            .unwrap_or(crate::settings::BudgetSettings::DEFAULT_INSTRUCTIONS_BYTES);
        Some(text::instructions(title, description, &areas, &served, budget))
    });
    let mut tools = tools;
    confirmations(&mut tools, settings, diagnostics);
    let (mode, direct) = serve_mode(&tools, settings, diagnostics);
    let inbound_scopes = inbound_scopes(&tools, settings, diagnostics);
    let tool_timeouts = tool_timeouts(&tools, settings, diagnostics);

    ApiIr {
        crate_name,
        version,
        title: title.to_owned(),
        description: description.map(str::to_owned),
        instructions,
        mode,
        direct,
        base_url,
        credential_files: credential_files(&security, settings, diagnostics),
        always: security.always,
        schemes: security.schemes,
        static_headers: settings.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        follow_same_origin_redirects: settings.follow_redirects == Some(FollowRedirects::SameOrigin),
        inbound_scopes,
        tool_timeouts,
        tools,
        types: space.into_types(),
    }
}

/// A selected tool's schemas made whole (components inlined or under `$defs`), held to
/// their budgets and checked; a tool that is not served keeps none. An input schema no
/// client could compile skips the tool.
fn assemble(cx: &mut SchemaCx<'_>, mut tool: ToolIr, settings: &Settings, pointer: &str) -> Result<ToolIr, Diagnostic> {
    if !tool.enabled {
        tool.input_schema = json!({ "type": "object" });
        tool.output_schema = None;
        return Ok(tool);
    }
    let label = tool
        .operation_id
        .clone()
        .unwrap_or_else(|| format!("{} {}", tool.method.as_str(), tool.path));
    let mut input_schema = cx.finish(std::mem::take(&mut tool.input_schema));
    crate::ir::hoist::hoist_repeats(&mut input_schema);
    let budget = settings
        .max_input_schema_bytes
        .unwrap_or(Settings::DEFAULT_MAX_INPUT_SCHEMA_BYTES);
    fit_input_schema(&mut input_schema, budget, pointer, &label, &mut cx.diagnostics);
    if let Some(problem) = validity::problems(&input_schema).into_iter().next() {
        return Err(Diagnostic::warning(
            "C0110",
            pointer,
            format!("the tool's input schema would not be valid JSON Schema 2020-12 ({problem})"),
        )
        .operation(&label)
        .hint("clients reject such a tool, so the operation is skipped; fix the schema in the spec"));
    }
    tool.input_schema = input_schema;
    tool.output_schema = tool
        .output_schema
        .take()
        .map(|converted| {
            let mut schema = finish_output_schema(cx, converted);
            crate::ir::hoist::hoist_repeats(&mut schema);
            schema
        })
        .and_then(|schema| checked_output_schema(schema, settings, pointer, &label, &mut cx.diagnostics));
    Ok(tool)
}

/// Every operation of the document, in spec order.
fn operations<'d>(doc: &'d Value, diagnostics: &mut Diagnostics) -> Vec<OperationRef<'d>> {
    let mut operations = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return operations;
    };
    for (path, item) in paths {
        let item_pointer = format!("/paths/{}", pointer_token(path));
        if !path.starts_with('/') {
            // Joined to the server URL as written, `{sub}/items` would let an argument
            // extend the host name (`api.example.com` + `.attacker.example/items`).
            diagnostics.push(
                Diagnostic::error(
                    "C0108",
                    &item_pointer,
                    format!("the path `{path}` does not start with `/`"),
                )
                .hint(format!("OpenAPI paths start with `/`: write `/{path}`")),
            );
            continue;
        }
        let Some(item) = deref(doc, item).and_then(Value::as_object) else {
            continue;
        };
        for (key, operation) in item {
            if let Some(method) = HttpMethod::from_key(key) {
                operations.push(OperationRef {
                    path,
                    method,
                    item,
                    operation,
                    pointer: format!("{item_pointer}/{key}"),
                    global_base: "",
                    generated_name: String::new(),
                    max_name: naming::MAX_TOOL_NAME,
                });
            }
        }
    }
    operations
}

fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    // Cargo rejects leading zeros (`2026.06.3`).
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0')))
}

fn check_version(doc: &Value, diagnostics: &mut Diagnostics) {
    if let Some(swagger) = doc.get("swagger") {
        diagnostics.push(
            Diagnostic::error(
                "C0010",
                "/swagger",
                format!("Swagger {} documents are not supported yet", swagger),
            )
            .hint("convert it to OpenAPI 3 first (for example with swagger2openapi)"),
        );
        return;
    }
    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.") => {}
        Some(v) => diagnostics.push(
            Diagnostic::error("C0011", "/openapi", format!("unsupported OpenAPI version `{v}`"))
                .hint("Cast reads OpenAPI 3.0 and 3.1"),
        ),
        None => diagnostics.push(
            Diagnostic::error("C0012", "", "the document has no `openapi` version field")
                .hint("is this an OpenAPI document? it needs `openapi: 3.x.y`"),
        ),
    }
}

struct OperationRef<'a> {
    path: &'a str,
    method: HttpMethod,
    item: &'a Map<String, Value>,
    operation: &'a Value,
    pointer: String,
    /// The API's base URL, for per-operation servers given relative to it.
    global_base: &'a str,
    /// The name [`naming::tool_names`] gave it among all the spec's operations.
    generated_name: String,
    /// The longest tool name ([`max_name_length`]).
    max_name: usize,
}

fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The longest tool name to generate: what is left of `max_name_length` (64, the model
/// APIs' limit) after the prefix clients put before it (`mcp__<server>__` by default, as
/// Claude Code does, the server named as in the generated client configs).
fn max_name_length(settings: &Settings, crate_name: &str) -> usize {
    let total = settings.tools.max_name_length.unwrap_or(naming::MAX_TOOL_NAME);
    let prefix = match &settings.tools.client_prefix {
        Some(prefix) => prefix.len(),
        None => naming::client_prefix(crate_name).len(),
    };
    total.saturating_sub(prefix).max(naming::MIN_TOOL_NAME)
}

/// The generated name, or the one `[tools.rename]` gives (by operationId or generated name).
fn choose_name(
    operation_id: Option<&str>,
    op: &OperationRef<'_>,
    generated: String,
    settings: &Settings,
    diagnostics: &mut Diagnostics,
) -> (String, String) {
    let max = op.max_name;
    let renames = &settings.tools.rename;
    let renamed = operation_id
        .and_then(|id| renames.get(id))
        .or_else(|| renames.get(&generated));
    let name = match renamed {
        Some(name)
            if !name.is_empty()
                && name.len() <= max
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            name.clone()
        }
        Some(name) => {
            diagnostics.push(
                Diagnostic::error(
                    "C0202",
                    &op.pointer,
                    format!("[tools.rename] gives `{name}`, which is not a valid tool name"),
                )
                .operation(operation_id.unwrap_or(&generated))
                .hint(format!("use 1 to {max} characters of A-Z, a-z, 0-9, `_` and `-`")),
            );
            generated.clone()
        }
        None => generated.clone(),
    };
    (name, generated)
}

/// The argument names of one tool, each unique in the input schema and as a Rust binding.
#[derive(Debug)]
pub(super) struct ArgNames {
    args: HashSet<String>,
    idents: HashSet<String>,
}

impl Default for ArgNames {
    fn default() -> Self {
        Self {
            args: HashSet::new(),
            // The handler's own binding; an argument of that name is bound as `call_2`.
            idents: HashSet::from(["call".to_owned()]),
        }
    }
}

impl ArgNames {
    /// A name for `wanted`, changed only as much as needed to be unique.
    pub(super) fn take(&mut self, wanted: String) -> ArgName {
        let arg = naming::unique(wanted, &mut self.args, usize::MAX);
        let ident = naming::unique(naming::field_ident(&arg), &mut self.idents, usize::MAX);
        ArgName { ident, arg }
    }

    /// Whether an argument already has this name.
    pub(super) fn has(&self, arg: &str) -> bool {
        self.args.contains(arg)
    }
}

fn lower_operation(
    cx: &mut SchemaCx<'_>,
    space: &mut TypeSpace,
    op: OperationRef<'_>,
    security: &mut Security,
    settings: &Settings,
    taken_names: &mut HashSet<String>,
    taken_modules: &mut HashSet<String>,
) -> Result<ToolIr, Diagnostic> {
    let doc_operation = op.operation;
    let operation_id = text(doc_operation.get("operationId"));
    let label = operation_id
        .clone()
        .unwrap_or_else(|| format!("{} {}", op.method.as_str(), op.path));
    let (name, generated_name) = choose_name(
        operation_id.as_deref(),
        &op,
        op.generated_name.clone(),
        settings,
        &mut cx.diagnostics,
    );
    let route = format!("{} {}", op.method.as_str(), op.path);
    let name = naming::unique_tool_name(name, &route, taken_names, op.max_name);
    let module = naming::unique(naming::module_ident(&name), taken_modules, usize::MAX);
    let type_hint = naming::type_ident(&name);

    // Parameters: path-item level first, overridden by operation level on (name, in).
    let mut raw_params: Vec<(String, Value)> = Vec::new();
    let sources = [
        (op.item.get("parameters"), format!("{}/../parameters", op.pointer)),
        (doc_operation.get("parameters"), format!("{}/parameters", op.pointer)),
    ];
    for (list, list_pointer) in sources {
        let Some(list) = list.and_then(Value::as_array) else {
            continue;
        };
        for (index, param) in list.iter().enumerate() {
            let pointer = format!("{list_pointer}/{index}");
            let Some(param) = deref(cx.doc(), param) else {
                return Err(
                    Diagnostic::error("C0102", pointer, "cannot resolve the parameter's `$ref`")
                        .operation(&label)
                        .hint("the operation is skipped"),
                );
            };
            let key = (param.get("name").cloned(), param.get("in").cloned());
            raw_params.retain(|(_, p)| (p.get("name").cloned(), p.get("in").cloned()) != key);
            raw_params.push((pointer, param.clone()));
        }
    }

    let (path_pieces, template_names) = split_template(op.path);
    let mut args: Vec<ArgIr> = Vec::new();
    let mut names = ArgNames::default();
    let mut secrets = Vec::new();
    for (pointer, param) in &raw_params {
        let wire = text(param.get("name")).unwrap_or_default();
        let location = match param.get("in").and_then(Value::as_str) {
            Some("path") => Location::Path,
            Some("query") => Location::Query,
            Some("header") => Location::Header,
            Some("cookie") => Location::Cookie,
            other => {
                return Err(Diagnostic::error(
                    "C0104",
                    pointer.as_str(),
                    format!("parameter `{wire}` has an unknown location {other:?}"),
                )
                .operation(&label)
                .hint("`in` must be path, query, header or cookie; the operation is skipped"));
            }
        };
        if location == Location::Header
            && ["accept", "content-type", "authorization"].contains(&wire.to_ascii_lowercase().as_str())
        {
            // OpenAPI says these are ignored as parameters; the runtime sets them.
            continue;
        }
        if let Some(place) = Place::of(location) {
            let description = text(param.get("description")).or_else(|| text(param.pointer("/schema/description")));
            if let Some(why) = secret_argument(settings, security, place, &wire, description.as_deref()) {
                secrets.push(security.secret_scheme(place, &wire, why, &label));
                continue;
            }
        }
        if location == Location::Path && !template_names.contains(&wire) {
            cx.diagnostics.push(
                Diagnostic::warning(
                    "C0107",
                    pointer.as_str(),
                    format!("path parameter `{wire}` is not in the path template"),
                )
                .operation(&label)
                .hint("it cannot be sent, so it is left out of the tool's arguments"),
            );
            continue;
        }
        let (styled, content_schema) = param_style(param, location, pointer, &label, &mut cx.diagnostics);
        let styled = deep_object_arrays(styled, settings);
        let schema = content_schema
            .or_else(|| param.get("schema").cloned())
            .unwrap_or_else(|| json!({ "type": "string" }));
        let schema_pointer = format!("{pointer}/schema");
        let mut converted = cx.convert(&schema, &schema_pointer, Direction::Request);
        let ty = space.rust_type(
            cx,
            &converted,
            &schema_pointer,
            &format!("{type_hint}{}", naming::type_ident(&wire)),
        );
        if let Some(d) = text(param.get("description")) {
            let d = cx.description(&d);
            if let Some(map) = converted.as_object_mut() {
                map.entry("description").or_insert_with(|| json!(d));
            }
        }
        let required = location == Location::Path || param.get("required").and_then(Value::as_bool).unwrap_or(false);
        args.push(ArgIr {
            name: names.take(wire.clone()),
            wire,
            target: Target::Param { location, styled },
            required,
            ty,
            schema: converted,
        });
    }

    let mut path_params = Vec::with_capacity(template_names.len());
    for name in &template_names {
        let declared = args.iter().position(|arg| {
            matches!(
                arg.target,
                Target::Param {
                    location: Location::Path,
                    ..
                }
            ) && &arg.wire == name
        });
        match declared {
            Some(index) => path_params.push(index),
            None => {
                // Common in real specs: the template names a parameter nobody declared.
                cx.diagnostics.push(
                    Diagnostic::warning(
                        "C0105",
                        op.pointer.as_str(),
                        format!("path parameter `{name}` is not declared"),
                    )
                    .operation(&label)
                    .hint("it is accepted as a required string"),
                );
                path_params.push(args.len());
                args.push(ArgIr {
                    name: names.take(name.clone()),
                    wire: name.clone(),
                    target: Target::Param {
                        location: Location::Path,
                        styled: Styled::default_for(Location::Path),
                    },
                    required: true,
                    ty: RustType::String,
                    schema: json!({ "type": "string" }),
                });
            }
        }
    }

    let body = match doc_operation.get("requestBody") {
        Some(body) => {
            let chosen = operation_id
                .as_deref()
                .and_then(|id| settings.tools.body_media.get(id))
                .or_else(|| settings.tools.body_media.get(&name))
                .map(String::as_str);
            lower_body(
                cx,
                space,
                &type_hint,
                body,
                BodyOf {
                    method: op.method,
                    pointer: &format!("{}/requestBody", op.pointer),
                    label: &label,
                    chosen,
                    settings,
                },
                &mut args,
                &mut names,
            )?
        }
        None => None,
    };
    // Body fields come last, so taking some out moves no path parameter's index.
    args.retain(|arg| {
        if !matches!(arg.target, Target::Field { binary: false }) {
            return true;
        }
        let description = arg.schema.get("description").and_then(Value::as_str);
        match secret_argument(settings, security, Place::Field, &arg.wire, description) {
            Some(why) => {
                secrets.push(security.secret_scheme(Place::Field, &arg.wire, why, &label));
                false
            }
            None => true,
        }
    });

    // Converted, not yet assembled: only the tools selection keeps are (see [`assemble`]).
    let input_schema = crate::ir::input_schema(&args);
    let output_schema = if settings.output_schemas == Some(false) {
        None
    } else {
        output_schema(cx, doc_operation, &op.pointer)
    };
    let base_url = operation_base(&op);
    let security = secrets
        .into_iter()
        .fold(security.for_operation(doc_operation), with_secret);

    let title = text(doc_operation.get("summary")).map(|t| text::markdown(&t).into_owned());
    let long = text(doc_operation.get("description")).map(|d| text::markdown(&d).into_owned());
    let description = match (&title, long) {
        (Some(t), Some(d)) if !d.starts_with(t.as_str()) => format!("{t}\n\n{d}"),
        (_, Some(d)) => d,
        (Some(t), None) => t.clone(),
        (None, None) => {
            // What the path item says applies to each of its operations.
            let generated = text::generated_description(operation_id.as_deref(), op.method.as_str(), op.path);
            match text(op.item.get("summary")).or_else(|| text(op.item.get("description"))) {
                Some(about) => format!("{generated}\n\n{}", text::markdown(&about)),
                None => generated,
            }
        }
    };
    let deprecated = doc_operation.get("deprecated").and_then(Value::as_bool) == Some(true);
    let description = if deprecated {
        format!("Deprecated: the API may remove this operation.\n\n{description}")
    } else {
        description
    };
    let description = match &body {
        Some(body) if body.kind != BodyKind::Json => {
            format!("{description}\n\nSends the request body as `{}`.", body.media)
        }
        _ => description,
    };
    let destructive = declared_destructive(doc_operation)
        .unwrap_or_else(|| op.method == HttpMethod::Delete || names_destruction(operation_id.as_deref(), op.path));
    let annotations = Annotations {
        read_only: op.method.is_safe(),
        destructive,
        idempotent: op.method.is_safe() || matches!(op.method, HttpMethod::Put | HttpMethod::Delete),
    };
    let tags = doc_operation
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(ToolIr {
        name,
        generated_name,
        operation_id,
        tags,
        module,
        method: op.method,
        path: op.path.to_owned(),
        template: template(path_pieces, &path_params),
        title,
        description,
        args,
        body,
        input_schema,
        output_schema,
        base_url,
        security,
        annotations,
        deprecated,
        enabled: true,
        why: String::new(),
        confirm: false,
    })
}
