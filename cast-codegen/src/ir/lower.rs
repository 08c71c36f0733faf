//! Spec (as JSON) to [`ApiIr`]: names, parameters, bodies, schemas, selection.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::{
    Annotations, ApiIr, ArgName, BodyIr, BodyKind, BodyShape, FieldIr, HttpMethod, Location, ParamIr, RustType,
    SchemeIr, SchemeKind, Style, Styled, ToolIr, naming,
    schema::{Direction, SchemaCx, deref},
    types::TypeSpace,
};
use crate::{
    diag::{Diagnostic, Diagnostics, pointer_token},
    load::Source,
    settings::{AuthScheme, FollowRedirects, KeyLocation, Settings},
};

/// Words in an operation's name that mean it destroys data, whatever its method
/// (Slack's `chat.delete` is a POST).
const DESTRUCTIVE_WORDS: &[&str] = &["delete", "remove", "destroy", "purge", "erase", "wipe", "drop"];

/// Lowers a parsed spec. Errors and warnings go to `diagnostics`; the IR is
/// returned even with errors so that `check` can report everything at once.
pub fn lower(doc: &Value, source: &Source, settings: &Settings, diagnostics: &mut Diagnostics) -> ApiIr {
    check_version(doc, diagnostics);
    let info = doc.get("info").cloned().unwrap_or_default();
    let title = info
        .get("title")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("API");
    let crate_name = settings.name.clone().unwrap_or_else(|| naming::crate_name(title));
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
    let security = security(doc, settings, &base_url, diagnostics);
    let mut cx = SchemaCx::new(doc);
    let mut space = TypeSpace::default();
    let mut tools = Vec::new();
    let mut taken_names = HashSet::new();
    let mut taken_modules = HashSet::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
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
                let Some(method) = HttpMethod::from_key(key) else {
                    continue;
                };
                let pointer = format!("{item_pointer}/{key}");
                let lowered = lower_operation(
                    &mut cx,
                    &mut space,
                    OperationRef {
                        path,
                        method,
                        item,
                        operation,
                        pointer: &pointer,
                        global_base: &base_url,
                        security: &security,
                    },
                    settings,
                    &mut taken_names,
                    &mut taken_modules,
                );
                match lowered {
                    Ok(tool) => tools.push(tool),
                    Err(diagnostic) => diagnostics.push(diagnostic),
                }
            }
        }
    }
    diagnostics.0.append(&mut cx.diagnostics.0);
    select(&mut tools, settings, diagnostics);
    let inbound_scopes = inbound_scopes(&tools, settings, diagnostics);
    let tool_timeouts = tool_timeouts(&tools, settings, diagnostics);

    ApiIr {
        crate_name,
        version,
        title: title.to_owned(),
        description: description.map(str::to_owned),
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

/// `[inbound.scopes]` with operationIds resolved to tool names; a grant that names no
/// enabled tool and no class is an error, since it would silently grant nothing.
fn inbound_scopes(tools: &[ToolIr], settings: &Settings, diagnostics: &mut Diagnostics) -> Vec<(String, Vec<String>)> {
    const CLASSES: [&str; 3] = ["read", "write", "destructive"];
    let mut scopes = Vec::new();
    for (scope, grants) in &settings.inbound.scopes {
        if scope.is_empty() || scope.contains(|c: char| c.is_whitespace() || c == ',' || c == '"') {
            diagnostics.push(Diagnostic::error(
                "C0206",
                "",
                format!("[inbound.scopes]: `{scope}` is not a scope name"),
            ));
            continue;
        }
        let mut resolved = Vec::with_capacity(grants.len());
        for grant in grants {
            if CLASSES.contains(&grant.as_str()) {
                resolved.push(grant.clone());
                continue;
            }
            let tool = tools
                .iter()
                .find(|t| t.name == *grant || t.operation_id.as_deref() == Some(grant.as_str()));
            match tool {
                Some(tool) if tool.enabled => resolved.push(tool.name.clone()),
                found => diagnostics.push(
                    Diagnostic::error(
                        "C0206",
                        "",
                        format!(
                            "[inbound.scopes] {scope}: `{grant}` is {}",
                            if found.is_some() {
                                "not an enabled tool"
                            } else {
                                "neither a tool nor a class"
                            }
                        ),
                    )
                    .hint("grant tool names, operationIds, or the classes `read`, `write`, `destructive`"),
                ),
            }
        }
        scopes.push((scope.clone(), resolved));
    }
    scopes
}

/// `[tools.timeouts]` by tool name; each must name an enabled tool and be at least a second.
fn tool_timeouts(tools: &[ToolIr], settings: &Settings, diagnostics: &mut Diagnostics) -> Vec<(String, u64)> {
    let mut timeouts = Vec::new();
    for (name, secs) in &settings.tools.timeouts {
        let tool = tools
            .iter()
            .find(|t| t.enabled && (t.name == *name || t.operation_id.as_deref() == Some(name.as_str())));
        match tool {
            _ if *secs == 0 => diagnostics.push(
                Diagnostic::error(
                    "C0207",
                    "",
                    format!("[tools.timeouts] {name} = 0: every call would fail"),
                )
                .hint("give a timeout of at least 1 second"),
            ),
            Some(tool) => timeouts.push((tool.name.clone(), *secs)),
            None => diagnostics.push(
                Diagnostic::error(
                    "C0207",
                    "",
                    format!("[tools.timeouts] names `{name}`, which is not an enabled tool"),
                )
                .hint("`cast-codegen tools SPEC` lists every tool name"),
            ),
        }
    }
    timeouts.sort();
    timeouts
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
    pointer: &'a str,
    /// The API's base URL, for per-operation servers given relative to it.
    global_base: &'a str,
    /// The API's security schemes and default requirement.
    security: &'a Security,
}

fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Splits `/items/{id}/tags` into `["/items/", "/tags"]` and `["id"]`.
fn split_template(path: &str) -> (Vec<String>, Vec<String>) {
    let mut pieces = Vec::new();
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        pieces.push(rest[..open].to_owned());
        names.push(rest[open + 1..open + close].to_owned());
        rest = &rest[open + close + 1..];
    }
    pieces.push(rest.to_owned());
    (pieces, names)
}

/// A parameter's style, with the OpenAPI defaults and the combinations it allows;
/// for `content`-described parameters, also the schema found there.
fn param_style(
    param: &Value,
    location: Location,
    pointer: &str,
    label: &str,
    diagnostics: &mut Diagnostics,
) -> (Styled, Option<Value>) {
    let default = Styled::default_for(location);
    if let Some((media, media_object)) = param
        .get("content")
        .and_then(Value::as_object)
        .and_then(|c| c.iter().next())
    {
        let essence = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let is_json = essence == "application/json" || essence.ends_with("+json");
        let style = if is_json {
            Styled {
                style: Style::Json,
                ..default
            }
        } else {
            default
        };
        return (style, media_object.get("schema").cloned());
    }
    let style = match param.get("style").and_then(Value::as_str) {
        None => default.style,
        Some("simple") => Style::Simple,
        Some("label") => Style::Label,
        Some("matrix") => Style::Matrix,
        Some("form") => Style::Form,
        Some("spaceDelimited") => Style::SpaceDelimited,
        Some("pipeDelimited") => Style::PipeDelimited,
        Some("deepObject") => Style::DeepObject,
        Some(other) => {
            diagnostics.push(
                Diagnostic::warning("C0106", format!("{pointer}/style"), format!("unknown style `{other}`"))
                    .operation(label)
                    .hint("the default style for the location is used"),
            );
            default.style
        }
    };
    let allowed = match location {
        Location::Path => matches!(style, Style::Simple | Style::Label | Style::Matrix),
        Location::Query => matches!(
            style,
            Style::Form | Style::SpaceDelimited | Style::PipeDelimited | Style::DeepObject
        ),
        Location::Header => style == Style::Simple,
        Location::Cookie => style == Style::Form,
    };
    let style = if allowed {
        style
    } else {
        diagnostics.push(
            Diagnostic::warning(
                "C0106",
                format!("{pointer}/style"),
                format!("style `{style:?}` is not allowed here"),
            )
            .operation(label)
            .hint("the default style for the location is used"),
        );
        default.style
    };
    let explode = param
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == Style::Form || style == Style::DeepObject);
    let allow_reserved =
        location == Location::Query && param.get("allowReserved").and_then(Value::as_bool) == Some(true);
    (
        Styled {
            style,
            explode,
            allow_reserved,
        },
        None,
    )
}

fn max_name_length(settings: &Settings) -> usize {
    settings.tools.max_name_length.unwrap_or(naming::MAX_TOOL_NAME)
}

/// The generated name, or the one `[tools.rename]` gives (by operationId or generated name).
fn choose_name(
    operation_id: Option<&str>,
    op: &OperationRef<'_>,
    settings: &Settings,
    diagnostics: &mut Diagnostics,
) -> (String, String) {
    let max = max_name_length(settings);
    let generated = naming::tool_name(operation_id, op.method.as_str(), op.path, max);
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
                    op.pointer,
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

fn lower_operation(
    cx: &mut SchemaCx<'_>,
    space: &mut TypeSpace,
    op: OperationRef<'_>,
    settings: &Settings,
    taken_names: &mut HashSet<String>,
    taken_modules: &mut HashSet<String>,
) -> Result<ToolIr, Diagnostic> {
    let doc_operation = op.operation;
    let operation_id = text(doc_operation.get("operationId"));
    let label = operation_id
        .clone()
        .unwrap_or_else(|| format!("{} {}", op.method.as_str(), op.path));
    let (name, generated_name) = choose_name(operation_id.as_deref(), &op, settings, &mut cx.diagnostics);
    let route = format!("{} {}", op.method.as_str(), op.path);
    let name = naming::unique_tool_name(name, &route, taken_names, max_name_length(settings));
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
    let mut params = Vec::new();
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut taken_args = HashSet::new();
    let mut taken_idents = HashSet::new();
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
        let description = text(param.get("description"));
        if let (Some(d), Some(map)) = (&description, converted.as_object_mut()) {
            map.entry("description").or_insert_with(|| json!(d));
        }
        let is_required = location == Location::Path || param.get("required").and_then(Value::as_bool).unwrap_or(false);
        let arg = naming::unique(wire.clone(), &mut taken_args, usize::MAX);
        let ident = naming::unique(naming::field_ident(&arg), &mut taken_idents, usize::MAX);
        if is_required {
            required.push(json!(arg));
        }
        properties.insert(arg.clone(), converted);
        params.push(ParamIr {
            name: ArgName { ident, arg },
            wire,
            location,
            styled,
            required: is_required,
            ty,
            description,
        });
    }

    let mut path_params = Vec::new();
    for name in &template_names {
        match params
            .iter()
            .position(|p| p.location == Location::Path && &p.wire == name)
        {
            Some(index) => path_params.push(index),
            None => {
                // Common in real specs: the template names a parameter nobody declared.
                cx.diagnostics.push(
                    Diagnostic::warning("C0105", op.pointer, format!("path parameter `{name}` is not declared"))
                        .operation(&label)
                        .hint("it is accepted as a required string"),
                );
                let arg = naming::unique(name.clone(), &mut taken_args, usize::MAX);
                let ident = naming::unique(naming::field_ident(&arg), &mut taken_idents, usize::MAX);
                properties.insert(arg.clone(), json!({ "type": "string" }));
                required.push(json!(arg));
                path_params.push(params.len());
                params.push(ParamIr {
                    name: ArgName { ident, arg },
                    wire: name.clone(),
                    location: Location::Path,
                    styled: Styled::default_for(Location::Path),
                    required: true,
                    ty: RustType::String,
                    description: None,
                });
            }
        }
    }

    let body = match doc_operation.get("requestBody") {
        Some(body) => lower_body(
            cx,
            space,
            &type_hint,
            body,
            &format!("{}/requestBody", op.pointer),
            &label,
            &mut properties,
            &mut required,
            &mut taken_args,
            &mut taken_idents,
        )?,
        None => None,
    };

    let mut input_schema = json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        input_schema["required"] = Value::Array(required);
    }
    input_schema["additionalProperties"] = json!(false);
    let input_schema = cx.finish(input_schema);
    let output_schema = if settings.output_schemas == Some(false) {
        None
    } else {
        output_schema(cx, doc_operation, op.pointer)
    };
    let base_url = operation_base(&op);
    let security = op.security.for_operation(doc_operation);

    let title = text(doc_operation.get("summary"));
    let long = text(doc_operation.get("description"));
    let description = match (&title, long) {
        (Some(t), Some(d)) if !d.starts_with(t.as_str()) => format!("{t}\n\n{d}"),
        (_, Some(d)) => d,
        (Some(t), None) => t.clone(),
        (None, None) => format!("{} {}", op.method.as_str(), op.path),
    };
    let description = match &body {
        Some(body) if body.kind != BodyKind::Json => {
            format!("{description}\n\nSends the request body as `{}`.", body.media)
        }
        _ => description,
    };
    let destructive = op.method == HttpMethod::Delete || names_destruction(operation_id.as_deref(), op.path);
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
        path_pieces,
        path_params,
        title,
        description,
        params,
        body,
        input_schema,
        output_schema,
        base_url,
        security,
        annotations,
        enabled: true,
        why: String::new(),
    })
}

fn names_destruction(operation_id: Option<&str>, path: &str) -> bool {
    let last_segment = path
        .rsplit('/')
        .find(|s| !s.is_empty() && !s.starts_with('{'))
        .unwrap_or("");
    [operation_id.unwrap_or(""), last_segment].iter().any(|name| {
        heck::ToSnakeCase::to_snake_case(*name)
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| DESTRUCTIVE_WORDS.contains(&word))
    })
}

fn media_essence(media: &str) -> String {
    media.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// How a media type is sent, and its rank when an operation offers several:
/// JSON first, then form, then multipart, then text, then raw bytes.
fn body_kind(media: &str) -> (BodyKind, u8) {
    let essence = media_essence(media);
    if essence == "application/json" || essence.ends_with("+json") || essence == "*/*" || essence == "text/json" {
        (BodyKind::Json, 0)
    } else if essence == "application/x-www-form-urlencoded" {
        (BodyKind::Form, 1)
    } else if essence == "multipart/form-data" || essence == "multipart/mixed" {
        (BodyKind::Multipart, 2)
    } else if essence.starts_with("text/") {
        (BodyKind::Text, 3)
    } else {
        (BodyKind::Binary, 4)
    }
}

fn is_binary_schema(doc: &Value, schema: &Value) -> bool {
    let schema = deref(doc, schema).unwrap_or(schema);
    let binary =
        |s: &Value| s.get("format").and_then(Value::as_str) == Some("binary") || s.get("contentMediaType").is_some();
    binary(schema) || schema.get("items").and_then(|i| deref(doc, i)).is_some_and(binary)
}

#[allow(clippy::too_many_arguments)]
fn lower_body(
    cx: &mut SchemaCx<'_>,
    space: &mut TypeSpace,
    type_hint: &str,
    body: &Value,
    pointer: &str,
    label: &str,
    properties: &mut Map<String, Value>,
    required: &mut Vec<Value>,
    taken_args: &mut HashSet<String>,
    taken_idents: &mut HashSet<String>,
) -> Result<Option<BodyIr>, Diagnostic> {
    let doc = cx.doc();
    let Some(body) = deref(doc, body) else {
        return Err(
            Diagnostic::error("C0102", pointer, "cannot resolve the request body's `$ref`")
                .operation(label)
                .hint("the operation is skipped"),
        );
    };
    let body_required = body.get("required").and_then(Value::as_bool).unwrap_or(false);
    let Some((media, media_object)) = body
        .get("content")
        .and_then(Value::as_object)
        .and_then(|content| content.iter().min_by_key(|(media, _)| body_kind(media).1))
    else {
        return Ok(None);
    };
    let (kind, _) = body_kind(media);
    let media = if media_essence(media) == "*/*" {
        "application/json".to_owned()
    } else {
        media.clone()
    };
    let schema_pointer = format!("{pointer}/content/{}/schema", pointer_token(&media));
    let schema = media_object.get("schema").cloned().unwrap_or_else(|| json!({}));
    let resolved = deref(doc, &schema).cloned().unwrap_or_default();
    let has_properties = resolved
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    let plain_object = has_properties
        && ["allOf", "oneOf", "anyOf", "additionalProperties", "patternProperties"]
            .iter()
            .all(|k| resolved.get(k).is_none_or(|v| v == &json!(false)))
        && !cx.is_nullable(&schema);
    let flat = match kind {
        BodyKind::Json => plain_object,
        BodyKind::Form | BodyKind::Multipart => has_properties,
        BodyKind::Text | BodyKind::Binary => false,
    };
    if !flat {
        let arg = naming::unique("body".to_owned(), taken_args, usize::MAX);
        let ident = naming::unique(naming::field_ident(&arg), taken_idents, usize::MAX);
        let (mut converted, ty) = match kind {
            BodyKind::Text => (json!({ "type": "string" }), RustType::String),
            BodyKind::Binary => (
                json!({ "type": "string", "contentEncoding": "base64", "description": format!("The `{media}` body: base64, or a data: URI.") }),
                RustType::String,
            ),
            _ => {
                let converted = cx.convert(&schema, &schema_pointer, Direction::Request);
                let ty = space.rust_type(cx, &converted, &schema_pointer, &format!("{type_hint}Body"));
                (converted, ty)
            }
        };
        if let Some(map) = converted.as_object_mut() {
            let description = match kind {
                BodyKind::Json => "The request body.".to_owned(),
                _ => format!("The request body, sent as `{media}`."),
            };
            map.entry("description").or_insert_with(|| json!(description));
        }
        properties.insert(arg.clone(), converted);
        if body_required {
            required.push(json!(arg));
        }
        return Ok(Some(BodyIr {
            media,
            kind,
            encodings: Vec::new(),
            shape: BodyShape::Whole {
                name: ArgName { ident, arg },
                required: body_required,
                ty,
            },
        }));
    }
    let converted = cx.convert(&resolved, &schema_pointer, Direction::Request);
    let body_required_names: Vec<&str> = resolved
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields = Vec::new();
    let converted_props = converted
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (wire, prop_schema) in &converted_props {
        let original = resolved["properties"].get(wire).cloned().unwrap_or_default();
        let arg = if taken_args.contains(wire) {
            naming::unique(format!("body_{wire}"), taken_args, usize::MAX)
        } else {
            naming::unique(wire.clone(), taken_args, usize::MAX)
        };
        let ident = naming::unique(naming::field_ident(&arg), taken_idents, usize::MAX);
        let is_required = body_required && body_required_names.contains(&wire.as_str());
        if is_required {
            required.push(json!(arg));
        }
        let binary = kind == BodyKind::Multipart && is_binary_schema(doc, &original);
        let description = text(
            original
                .get("description")
                .or_else(|| deref(doc, &original).and_then(|o| o.get("description"))),
        );
        let at = format!("{schema_pointer}/properties/{}", pointer_token(wire));
        let ty = space.rust_type(
            cx,
            prop_schema,
            &at,
            &format!("{type_hint}{}", naming::type_ident(wire)),
        );
        let mut prop_schema = prop_schema.clone();
        if binary && let Some(map) = prop_schema.as_object_mut() {
            let hint = "File contents: base64, or a data: URI (data:TYPE;name=FILE;base64,DATA).";
            let described = match &description {
                Some(d) => format!("{d} {hint}"),
                None => hint.to_owned(),
            };
            map.insert("description".into(), json!(described));
        }
        properties.insert(arg.clone(), prop_schema);
        fields.push(FieldIr {
            name: ArgName { ident, arg },
            wire: wire.clone(),
            required: is_required,
            ty,
            description,
            binary,
        });
    }
    let encodings = match kind {
        BodyKind::Form => form_encodings(
            media_object,
            &format!("{pointer}/content/{}", pointer_token(&media)),
            label,
            &mut cx.diagnostics,
        ),
        _ => Vec::new(),
    };
    Ok(Some(BodyIr {
        media,
        kind,
        encodings,
        shape: BodyShape::Fields(fields),
    }))
}

/// The styles a form body's `encoding` object gives its fields: `style`, `explode` and
/// `allowReserved` as for query parameters, and a JSON `contentType` as JSON text.
fn form_encodings(
    media_object: &Value,
    pointer: &str,
    label: &str,
    diagnostics: &mut Diagnostics,
) -> Vec<(String, Styled)> {
    let Some(encoding) = media_object.get("encoding").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut styled = Vec::new();
    for (field, entry) in encoding {
        let at = format!("{pointer}/encoding/{}", pointer_token(field));
        let json = entry
            .get("contentType")
            .and_then(Value::as_str)
            .is_some_and(|t| body_kind(t).0 == BodyKind::Json);
        if json {
            let style = Styled {
                style: Style::Json,
                ..Styled::default_for(Location::Query)
            };
            styled.push((field.clone(), style));
        } else if ["style", "explode", "allowReserved"]
            .iter()
            .any(|k| entry.get(k).is_some())
        {
            let (style, _) = param_style(entry, Location::Query, &at, label, diagnostics);
            styled.push((field.clone(), style));
        }
    }
    styled
}

/// Applies `[tools]` settings and the destructive-by-default rule.
fn globs(patterns: &[String], key: &str, diagnostics: &mut Diagnostics) -> Option<globset::GlobSet> {
    if patterns.is_empty() {
        return None;
    }
    let mut builder = globset::GlobSetBuilder::new();
    for pattern in patterns {
        match globset::GlobBuilder::new(pattern).literal_separator(true).build() {
            Ok(glob) => {
                builder.add(glob);
            }
            Err(err) => diagnostics.push(
                Diagnostic::error(
                    "C0203",
                    "",
                    format!("[tools] {key}: `{pattern}` is not a valid glob: {}", err.kind()),
                )
                .hint("`*` matches within one path segment, `**` across segments: `/repos/**`"),
            ),
        }
    }
    builder.build().ok()
}

/// Why an operation is out of scope of the tag, path and method filters, if it is.
fn filtered_out(
    tool: &ToolIr,
    settings: &Settings,
    include: &Option<globset::GlobSet>,
    exclude: &Option<globset::GlobSet>,
) -> Option<String> {
    let selection = &settings.tools;
    if !selection.include_tags.is_empty() && !tool.tags.iter().any(|t| selection.include_tags.contains(t)) {
        return Some("no tag in [tools] include_tags / --tag".to_owned());
    }
    if let Some(tag) = tool.tags.iter().find(|t| selection.exclude_tags.contains(t)) {
        return Some(format!("tag `{tag}` is excluded"));
    }
    if include.as_ref().is_some_and(|set| !set.is_match(&tool.path)) {
        return Some("path not in [tools] include_paths / --path".to_owned());
    }
    if exclude.as_ref().is_some_and(|set| set.is_match(&tool.path)) {
        return Some("path excluded by [tools] exclude_paths".to_owned());
    }
    if !selection.methods.is_empty()
        && !selection
            .methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(tool.method.as_str()))
    {
        return Some("method not in [tools] methods / --method".to_owned());
    }
    None
}

/// Applies `[tools]` settings and the destructive-by-default rule. Precedence:
/// disable, then only, then enable by name, then the filters, then the defaults.
fn select(tools: &mut [ToolIr], settings: &Settings, diagnostics: &mut Diagnostics) {
    let selection = &settings.tools;
    let matches = |tool: &ToolIr, name: &str| {
        tool.name == name || tool.generated_name == name || tool.operation_id.as_deref() == Some(name)
    };
    let renamed: Vec<String> = selection.rename.keys().cloned().collect();
    for (list, flag) in [
        (&selection.enable, "--enable"),
        (&selection.disable, "--disable"),
        (&selection.only, "--only"),
        (&renamed, "[tools.rename]"),
    ] {
        for name in list {
            if tools.iter().any(|t| matches(t, name)) {
                continue;
            }
            let lower = name.to_ascii_lowercase();
            let mut close: Vec<&str> = tools
                .iter()
                .map(|t| t.name.as_str())
                .filter(|t| t.to_ascii_lowercase().contains(&lower) || lower.contains(&t.to_ascii_lowercase()))
                .collect();
            close.truncate(3);
            let hint = if close.is_empty() {
                "`cast-codegen tools SPEC` lists every tool name".to_owned()
            } else {
                format!(
                    "did you mean {}?",
                    close.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(" or ")
                )
            };
            diagnostics.push(
                Diagnostic::error(
                    "C0201",
                    "",
                    format!("{flag} names `{name}`, but the spec has no such operation"),
                )
                .hint(hint),
            );
        }
    }
    let include = globs(&selection.include_paths, "include_paths", diagnostics);
    let exclude = globs(&selection.exclude_paths, "exclude_paths", diagnostics);
    for tool in tools.iter_mut() {
        let named = |list: &Vec<String>| list.iter().any(|n| matches(tool, n));
        let (enabled, why) = if named(&selection.disable) {
            (false, "disabled by --disable / [tools] disable".to_owned())
        } else if !selection.only.is_empty() && !named(&selection.only) {
            (false, "not listed in --only / [tools] only".to_owned())
        } else if named(&selection.enable) || named(&selection.only) {
            (true, "enabled by name".to_owned())
        } else if let Some(why) = filtered_out(tool, settings, &include, &exclude) {
            (false, why)
        } else if tool.annotations.destructive && !selection.enable_all {
            (
                false,
                format!("destructive: off by default (turn on with --enable {})", tool.name),
            )
        } else if selection.enable_all {
            (true, "enabled by --enable-all".to_owned())
        } else if tool.annotations.read_only {
            (true, "read-only".to_owned())
        } else {
            (true, "writes, not destructive".to_owned())
        };
        tool.enabled = enabled;
        tool.why = why;
    }
}

/// The first success response's JSON schema, when it describes an object (MCP output
/// schemas must); `writeOnly` properties are left out.
fn output_schema(cx: &mut SchemaCx<'_>, operation: &Value, pointer: &str) -> Option<Value> {
    let doc = cx.doc();
    let responses = operation.get("responses")?.as_object()?;
    let (code, response) = responses.iter().find(|(code, _)| code.starts_with('2'))?;
    let content = deref(doc, response)?.get("content")?.as_object()?;
    let (media, media_object) = content.iter().find(|(media, _)| body_kind(media).0 == BodyKind::Json)?;
    let schema = media_object.get("schema")?;
    let resolved = deref(doc, schema)?;
    let is_object = match resolved.get("type") {
        Some(Value::String(t)) => t == "object",
        None => resolved.get("properties").is_some(),
        _ => false,
    };
    if !is_object {
        return None;
    }
    let at = format!("{pointer}/responses/{code}/content/{}/schema", pointer_token(media));
    let converted = cx.convert(schema, &at, Direction::Response);
    let mut finished = cx.finish(converted);
    // MCP wants `"type": "object"` at the root of an output schema, and clients are sent it so.
    if let Some(map) = finished.as_object_mut() {
        map.entry("type").or_insert_with(|| json!("object"));
    }
    Some(finished)
}

/// A server URL with its variables replaced by their defaults.
fn server_url(server: &Value) -> String {
    let mut url = server.get("url").and_then(Value::as_str).unwrap_or("").to_owned();
    for (name, variable) in server.get("variables").and_then(Value::as_object).into_iter().flatten() {
        let default = variable
            .get("default")
            .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned));
        url = url.replace(&format!("{{{name}}}"), &default.unwrap_or_default());
    }
    url
}

/// The operation's own server (operation `servers`, else path-item `servers`), when it differs from the API's.
fn operation_base(op: &OperationRef<'_>) -> Option<String> {
    let servers = op
        .operation
        .get("servers")
        .or_else(|| op.item.get("servers"))?
        .as_array()?;
    let url = server_url(servers.first()?);
    let url = if url.starts_with("http://") || url.starts_with("https://") {
        url
    } else if op.global_base.starts_with("http") {
        join_url(&format!("{}/", op.global_base), &url)
    } else {
        return None;
    };
    let url = url.trim_end_matches('/');
    (url != op.global_base).then(|| url.to_owned())
}

fn base_url(doc: &Value, source: &Source, settings: &Settings, diagnostics: &mut Diagnostics) -> String {
    if let Some(url) = &settings.base_url {
        return url.trim_end_matches('/').to_owned();
    }
    let Some(server) = doc.get("servers").and_then(Value::as_array).and_then(|s| s.first()) else {
        diagnostics.push(
            Diagnostic::warning("C0302", "/servers", "the spec names no server")
                .hint("set base_url in cast.toml, or pass --base-url / CAST_BASE_URL when running the server"),
        );
        return String::new();
    };
    let mut url = server_url(server);
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        match &source.url {
            Some(spec_url) => url = join_url(spec_url, &url),
            None => diagnostics.push(
                Diagnostic::warning("C0302", "/servers/0/url", format!("the server URL `{url}` is relative"))
                    .hint("set base_url in cast.toml, or pass --base-url / CAST_BASE_URL when running the server"),
            ),
        }
    }
    url.trim_end_matches('/').to_owned()
}

/// Resolves a server URL relative to the spec's own URL, as OpenAPI says.
fn join_url(base: &str, relative: &str) -> String {
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let origin_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    if relative.starts_with('/') {
        format!("{}{relative}", &base[..origin_end])
    } else {
        let dir_end = base
            .rfind('/')
            .filter(|&i| i >= origin_end)
            .map_or(base.len(), |i| i + 1);
        format!("{}{}", &base[..dir_end.max(origin_end)], relative)
    }
}

/// `[credentials]`, checked against the schemes the API uses.
fn credential_files(security: &Security, settings: &Settings, diagnostics: &mut Diagnostics) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (scheme, path) in &settings.credentials {
        if security.schemes.iter().any(|s| &s.name == scheme) {
            files.push((scheme.clone(), path.clone()));
        } else {
            let known: Vec<String> = security.schemes.iter().map(|s| format!("`{}`", s.name)).collect();
            diagnostics.push(
                Diagnostic::error(
                    "C0204",
                    "",
                    format!("[credentials] names the scheme `{scheme}`, which this API does not use"),
                )
                .hint(if known.is_empty() {
                    "the API uses no security scheme Cast can apply".to_owned()
                } else {
                    format!("its schemes: {}", known.join(", "))
                }),
            );
        }
    }
    files
}

/// The API's usable security schemes and how requirements map onto them.
#[derive(Debug, Default)]
struct Security {
    schemes: Vec<SchemeIr>,
    /// Scheme name → index in `schemes`; `None` for schemes Cast cannot apply.
    index: HashMap<String, Option<usize>>,
    /// The requirement of operations that state none.
    global: Vec<Vec<usize>>,
    /// `[auth]` in cast.toml replaces whatever the spec says.
    forced: bool,
    /// Secret custom headers: sent on every request where configured.
    always: Vec<usize>,
}

impl Security {
    /// Requirement objects (OR of AND-sets) to scheme indices. Alternatives naming a scheme
    /// Cast cannot apply are dropped; `{}` stays as an empty alternative (auth optional).
    fn requirements(&self, list: &Value) -> Vec<Vec<usize>> {
        let Some(list) = list.as_array() else { return Vec::new() };
        list.iter()
            .filter_map(|requirement| {
                requirement
                    .as_object()?
                    .keys()
                    .map(|name| self.index.get(name).copied().flatten())
                    .collect::<Option<Vec<usize>>>()
            })
            .collect()
    }

    fn for_operation(&self, operation: &Value) -> Vec<Vec<usize>> {
        match operation.get("security") {
            Some(Value::Array(list)) if list.is_empty() => Vec::new(),
            Some(_) if self.forced => self.global.clone(),
            Some(list) => self.requirements(list),
            None => self.global.clone(),
        }
    }
}

fn security(doc: &Value, settings: &Settings, base_url: &str, diagnostics: &mut Diagnostics) -> Security {
    let mut security = spec_security(doc, settings, base_url, diagnostics);
    for header in &settings.auth.secret_headers {
        if header.is_empty()
            || header
                .bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            diagnostics.push(Diagnostic::error(
                "C0205",
                "",
                format!("[auth] secret_headers: `{header}` is not a header name"),
            ));
            continue;
        }
        security.always.push(security.schemes.len());
        security.index.insert(header.clone(), Some(security.schemes.len()));
        security.schemes.push(SchemeIr {
            name: header.clone(),
            kind: SchemeKind::Header(header.clone()),
        });
    }
    security
}

fn spec_security(doc: &Value, settings: &Settings, base_url: &str, diagnostics: &mut Diagnostics) -> Security {
    if let Some(scheme) = settings.auth.scheme {
        let name = settings.auth.name.clone().or_else(|| settings.auth.header.clone());
        let kind = match scheme {
            AuthScheme::None => {
                return Security {
                    forced: true,
                    ..Security::default()
                };
            }
            AuthScheme::Bearer => SchemeKind::Bearer,
            AuthScheme::Basic => SchemeKind::Basic,
            AuthScheme::ApiKey => {
                let name = name.unwrap_or_else(|| "X-Api-Key".to_owned());
                match settings.auth.location.unwrap_or(KeyLocation::Header) {
                    KeyLocation::Header => SchemeKind::Header(name),
                    KeyLocation::Query => SchemeKind::Query(name),
                    KeyLocation::Cookie => SchemeKind::Cookie(name),
                }
            }
        };
        return Security {
            schemes: vec![SchemeIr {
                name: "default".to_owned(),
                kind,
            }],
            index: HashMap::from([("default".to_owned(), Some(0))]),
            global: vec![vec![0]],
            forced: true,
            always: Vec::new(),
        };
    }
    // Only schemes that some requirement names matter; keep `securitySchemes` order.
    let mut referenced = HashSet::new();
    let mut scopes: HashMap<String, std::collections::BTreeSet<String>> = HashMap::new();
    let mut note = |list: Option<&Value>| {
        for requirement in list.and_then(Value::as_array).into_iter().flatten() {
            for (name, needed) in requirement.as_object().into_iter().flatten() {
                referenced.insert(name.clone());
                let needed = needed
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned);
                scopes.entry(name.clone()).or_default().extend(needed);
            }
        }
    };
    note(doc.get("security"));
    for item in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in item.as_object().into_iter().flat_map(|i| i.values()) {
            note(operation.get("security"));
        }
    }
    let mut security = Security::default();
    let declared = doc.pointer("/components/securitySchemes").and_then(Value::as_object);
    for (name, scheme) in declared
        .into_iter()
        .flatten()
        .filter(|(name, _)| referenced.contains(*name))
    {
        let pointer = format!("/components/securitySchemes/{}", pointer_token(name));
        let Some(scheme) = deref(doc, scheme) else { continue };
        let kind_name = scheme.get("type").and_then(Value::as_str).unwrap_or("");
        let location = scheme.get("in").and_then(Value::as_str).unwrap_or("");
        let key_name = scheme.get("name").and_then(Value::as_str).map(str::to_owned);
        let http_scheme = scheme
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let kind = match (kind_name, location, http_scheme.as_str(), key_name) {
            ("apiKey", "header", _, Some(n)) => Some(SchemeKind::Header(n)),
            ("apiKey", "query", _, Some(n)) => Some(SchemeKind::Query(n)),
            ("apiKey", "cookie", _, Some(n)) => Some(SchemeKind::Cookie(n)),
            ("http", _, "bearer", _) => Some(SchemeKind::Bearer),
            ("http", _, "basic", _) => Some(SchemeKind::Basic),
            ("openIdConnect", _, _, _) => {
                scheme
                    .get("openIdConnectUrl")
                    .and_then(Value::as_str)
                    .map(|url| SchemeKind::OpenIdConnect {
                        discovery_url: if url.starts_with("http") || !base_url.starts_with("http") {
                            url.to_owned()
                        } else {
                            join_url(&format!("{base_url}/"), url)
                        },
                        scopes: scopes
                            .get(name)
                            .map(|s| s.iter().filter(|s| *s != "openid").cloned().collect())
                            .unwrap_or_default(),
                    })
            }
            ("oauth2", _, _, _) => {
                // Okta and others give endpoint URLs relative to the API's server.
                let absolute = |url: &str| {
                    if url.starts_with("http") || !base_url.starts_with("http") {
                        url.to_owned()
                    } else {
                        join_url(&format!("{base_url}/"), url)
                    }
                };
                let scopes: Vec<String> = scopes
                    .get(name)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                let flows = scheme.get("flows");
                let client = flows
                    .and_then(|f| f.pointer("/clientCredentials/tokenUrl"))
                    .and_then(Value::as_str);
                let user = flows
                    .and_then(|f| f.get("authorizationCode"))
                    .and_then(|flow| Some((flow.get("authorizationUrl")?.as_str()?, flow.get("tokenUrl")?.as_str()?)));
                match (client, user) {
                    (Some(token_url), _) => Some(SchemeKind::OAuth2ClientCredentials {
                        token_url: absolute(token_url),
                        scopes,
                        params: settings
                            .auth
                            .token_params
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    }),
                    (None, Some((authorize_url, token_url))) => Some(SchemeKind::OAuth2AuthorizationCode {
                        authorize_url: absolute(authorize_url),
                        token_url: absolute(token_url),
                        scopes,
                    }),
                    (None, None) => None,
                }
            }
            _ => None,
        };
        match kind {
            Some(kind) => {
                security.index.insert(name.clone(), Some(security.schemes.len()));
                security.schemes.push(SchemeIr {
                    name: name.clone(),
                    kind,
                });
            }
            None => {
                security.index.insert(name.clone(), None);
                let what = if kind_name == "oauth2" {
                    "oauth2 without a clientCredentials or authorizationCode flow".to_owned()
                } else if kind_name == "http" {
                    format!("http {http_scheme}")
                } else if location.is_empty() {
                    kind_name.to_owned()
                } else {
                    format!("{kind_name} in {location}")
                };
                diagnostics.push(
                    Diagnostic::warning("C0401", pointer, format!("security scheme `{name}` ({what}) is not supported yet"))
                        .hint("operations that accept only this scheme are called without a credential; set [auth] in cast.toml if a token works as a bearer or API key"),
                );
            }
        }
    }
    for name in referenced.iter().filter(|n| !security.index.contains_key(*n)) {
        diagnostics.push(Diagnostic::warning(
            "C0102",
            "/components/securitySchemes",
            format!("security scheme `{name}` is used but not defined"),
        ));
    }
    security.global = security.requirements(doc.get("security").unwrap_or(&Value::Null));
    security
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_around_parameters() {
        assert_eq!(
            split_template("/a/{x}/b/{y}"),
            (
                vec!["/a/".into(), "/b/".into(), String::new()],
                vec!["x".into(), "y".into()]
            )
        );
        assert_eq!(split_template("/a"), (vec!["/a".into()], vec![]));
    }

    #[test]
    fn crate_versions_must_be_cargo_semver() {
        assert!(is_semver("1.0.0") && is_semver("2.1.10-beta.1"));
        assert!(!is_semver("2026.06.3") && !is_semver("1.0") && !is_semver("v1"));
    }

    #[test]
    fn destructive_words() {
        assert!(names_destruction(Some("chat.delete"), "/chat.delete"));
        assert!(names_destruction(Some("removeMember"), "/x"));
        assert!(!names_destruction(Some("listDeletedItems"), "/items"));
        assert!(!names_destruction(Some("getItem"), "/items/{id}"));
    }

    #[test]
    fn operations_can_have_their_own_server() {
        let op = |operation: &'static Value, item: &'static Value, global_base: &'static str| OperationRef {
            path: "/files",
            method: HttpMethod::Post,
            item: item.as_object().expect("object"),
            operation,
            pointer: "/paths/~1files/post",
            global_base,
            security: Box::leak(Box::default()),
        };
        let leak = |value: Value| -> &'static Value { Box::leak(Box::new(value)) };
        let none = leak(json!({}));
        let upload = leak(
            json!({ "servers": [{ "url": "https://upload.example.com/{v}", "variables": { "v": { "default": "2.0" } } }] }),
        );
        assert_eq!(
            operation_base(&op(none, upload, "https://api.example.com")).as_deref(),
            Some("https://upload.example.com/2.0")
        );
        let same = leak(json!({ "servers": [{ "url": "https://api.example.com/" }] }));
        assert_eq!(operation_base(&op(none, same, "https://api.example.com")), None);
        let relative = leak(json!({ "servers": [{ "url": "/upload" }] }));
        assert_eq!(
            operation_base(&op(relative, same, "https://api.example.com/v1")).as_deref(),
            Some("https://api.example.com/upload")
        );
    }

    #[test]
    fn relative_servers_join_the_spec_url() {
        assert_eq!(join_url("http://h:1/specs/openapi.json", "/v1"), "http://h:1/v1");
        assert_eq!(join_url("http://h:1/specs/openapi.json", "v1"), "http://h:1/specs/v1");
    }
}
