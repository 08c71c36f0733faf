//! Selection: which operations become tools (`[tools]`, destructive ones off), scopes and timeouts.

use super::*;

/// Words in an operation's name that mean it destroys data, whatever its method
/// (Slack's `chat.delete` is a POST).
pub(super) const DESTRUCTIVE_WORDS: &[&str] = &["delete", "remove", "destroy", "purge", "erase", "wipe", "drop"];

/// `[inbound.scopes]` with operationIds resolved to tool names; a grant that names no
/// enabled tool and no class is an error, since it would silently grant nothing.
pub(super) fn inbound_scopes(
    tools: &[ToolIr],
    settings: &Settings,
    diagnostics: &mut Diagnostics,
) -> Vec<(String, Vec<String>)> {
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

/// `mode`, or the catalog when more tools are served than `catalog_above`; in `both` mode
/// the `direct` tools, each an enabled tool (by name or operationId).
pub(super) fn serve_mode(
    tools: &[ToolIr],
    settings: &Settings,
    diagnostics: &mut Diagnostics,
) -> (crate::settings::ToolMode, Vec<String>) {
    use crate::settings::ToolMode;
    let selection = &settings.tools;
    let served = tools.iter().filter(|t| t.enabled).count();
    let mode = selection.mode.unwrap_or(match selection.catalog_above {
        Some(limit) if served > limit => ToolMode::Catalog,
        _ => ToolMode::Tools,
    });
    let mut direct = Vec::new();
    for name in &selection.direct {
        match tools
            .iter()
            .find(|t| t.enabled && (t.name == *name || t.operation_id.as_deref() == Some(name.as_str())))
        {
            Some(tool) => direct.push(tool.name.clone()),
            None => diagnostics.push(
                Diagnostic::error(
                    "C0209",
                    "",
                    format!("[tools] direct names `{name}`, which is not an enabled tool"),
                )
                .hint("name tools as `cast-codegen tools SPEC` lists them"),
            ),
        }
    }
    if mode != ToolMode::Both && !direct.is_empty() {
        diagnostics.push(
            Diagnostic::error("C0209", "", "[tools] direct is only for mode = \"both\"")
                .hint("set mode = \"both\" to list these tools beside the catalog"),
        );
    }
    if mode == ToolMode::Both && selection.direct.is_empty() {
        diagnostics.push(
            Diagnostic::error(
                "C0209",
                "",
                "mode = \"both\" needs [tools] direct, the tools to list one by one",
            )
            .hint("or use mode = \"catalog\""),
        );
    }
    const CATALOG: [&str; 3] = ["search_operations", "describe_operation", "call_operation"];
    if mode != ToolMode::Tools
        && let Some(clash) = tools.iter().find(|t| t.enabled && CATALOG.contains(&t.name.as_str()))
    {
        diagnostics.push(
            Diagnostic::error(
                "C0209",
                "",
                format!("a tool is named `{}`, as a catalog tool is", clash.name),
            )
            .hint("rename it in [tools.rename]"),
        );
    }
    (mode, direct)
}

/// `[tools.confirm]`: which enabled tools wait for the user's yes. Its lists name enabled
/// tools (by name or operationId); a name in both, or one that matches nothing, is an error,
/// since either would leave a call unconfirmed that the operator may have meant to guard.
pub(super) fn confirmations(tools: &mut [ToolIr], settings: &Settings, diagnostics: &mut Diagnostics) {
    use crate::settings::ConfirmWhen;
    let confirm = &settings.tools.confirm;
    let named = |tool: &ToolIr, list: &[String]| {
        list.iter()
            .any(|n| tool.name == *n || tool.operation_id.as_deref() == Some(n.as_str()))
    };
    for (list, key) in [(&confirm.always, "always"), (&confirm.never, "never")] {
        for name in list {
            if !tools.iter().any(|t| t.enabled && named(t, std::slice::from_ref(name))) {
                diagnostics.push(
                    Diagnostic::error(
                        "C0210",
                        "",
                        format!("[tools.confirm] {key} names `{name}`, which is not an enabled tool"),
                    )
                    .hint("`cast-codegen tools SPEC` lists every tool name"),
                );
            }
            if key == "always" && confirm.never.contains(name) {
                diagnostics.push(Diagnostic::error(
                    "C0210",
                    "",
                    format!("[tools.confirm] names `{name}` in both always and never"),
                ));
            }
        }
    }
    let when = confirm.when.unwrap_or_default();
    for tool in tools.iter_mut().filter(|t| t.enabled) {
        let by_default = match when {
            ConfirmWhen::Destructive => tool.annotations.destructive,
            ConfirmWhen::Writes => !tool.annotations.read_only,
            ConfirmWhen::Never => false,
        };
        tool.confirm = named(tool, &confirm.always) || (by_default && !named(tool, &confirm.never));
    }
}

/// `[tools.timeouts]` by tool name; each must name an enabled tool and be at least a second.
pub(super) fn tool_timeouts(
    tools: &[ToolIr],
    settings: &Settings,
    diagnostics: &mut Diagnostics,
) -> Vec<(String, u64)> {
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

/// Whether an operation's name says it destroys data. Only the verb counts: the first
/// word of the operationId (`deleteItem`, `remove-member`) or of its last dotted part
/// (`chat.delete`, `admin.users.remove`), and a path whose last segment is such a verb or
/// an RPC method (`/items/{id}/purge`, `/chat.delete`). A name that merely contains the
/// word (`create-remove-token`, `listDeletedItems`, `/runners/remove-token`) is not one.
pub(super) fn names_destruction(operation_id: Option<&str>, path: &str) -> bool {
    let words = |name: &str| -> Vec<String> {
        heck::ToSnakeCase::to_snake_case(name)
            .split('_')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let verbs = |name: &str| -> Vec<String> {
        let name = name.rsplit('/').next().unwrap_or(name);
        let parts: Vec<&str> = name.split('.').filter(|p| !p.is_empty()).collect();
        [parts.first(), parts.last()]
            .into_iter()
            .flatten()
            .filter_map(|part| words(part).into_iter().next())
            .collect()
    };
    let destroys = |verb: &String| DESTRUCTIVE_WORDS.contains(&verb.as_str());
    if operation_id.is_some_and(|id| verbs(id).iter().any(destroys)) {
        return true;
    }
    let last_segment = path
        .rsplit('/')
        .find(|s| !s.is_empty() && !s.starts_with('{'))
        .unwrap_or("");
    let rpc = last_segment.contains('.') || words(last_segment).len() == 1;
    rpc && verbs(last_segment).iter().any(destroys)
}

/// The operation's own word on whether it destroys data, where it gives one
/// (`x-destructive` or `x-cast-destructive`).
pub(super) fn declared_destructive(operation: &Value) -> Option<bool> {
    ["x-cast-destructive", "x-destructive"]
        .iter()
        .find_map(|key| operation.get(*key).and_then(Value::as_bool))
}

/// Applies `[tools]` settings and the destructive-by-default rule.
pub(super) fn globs(patterns: &[String], key: &str, diagnostics: &mut Diagnostics) -> Option<globset::GlobSet> {
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
pub(super) fn filtered_out(
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
pub(super) fn select(tools: &mut [ToolIr], settings: &Settings, diagnostics: &mut Diagnostics) {
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
        } else if tool.deprecated && !selection.include_deprecated && !selection.enable_all {
            (
                false,
                format!(
                    "deprecated: off by default (include_deprecated = true in [tools], or --enable {})",
                    tool.name
                ),
            )
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
