//! Every name the generator makes: MCP tool names, Rust identifiers, crate names.
//! One module, so the rules live in one place and are tested together.

use std::collections::HashSet;

use heck::{ToKebabCase, ToSnakeCase, ToUpperCamelCase};
use sha2::{Digest, Sha256};

/// The longest tool name most clients accept (`^[a-zA-Z0-9_-]{1,64}$`).
pub const MAX_TOOL_NAME: usize = 64;

/// Rust keywords of every edition, strict and reserved.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod",
    "move", "mut", "override", "priv", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
    "true", "try", "type", "typeof", "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["crate", "self", "Self", "super", "_"];

/// 8 hex digits that stand for `text`, stable across runs and platforms.
pub fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Keeps `[A-Za-z0-9_-]`, turns every other run into one `_`, trims `_` and `-` at the ends.
fn sanitize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            if pending && !out.is_empty() {
                out.push('_');
            }
            pending = false;
            out.push(c);
        } else {
            pending = true;
        }
    }
    out.trim_matches(|c| c == '_' || c == '-').to_owned()
}

/// A name for an operation without a usable operationId: `get_items_by_id` for `GET /items/{id}`.
pub fn name_from_route(method: &str, path: &str) -> String {
    let mut parts = vec![method.to_ascii_lowercase()];
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => parts.push(format!("by_{}", sanitize(param))),
            None => parts.push(sanitize(segment)),
        }
    }
    parts.retain(|p| !p.is_empty());
    parts.join("_")
}

/// A tool name for an operation, at most `max_len` (at least 16) characters of `[A-Za-z0-9_-]`.
///
/// Names that had to change beyond punctuation (non-ASCII, too long) carry a short
/// hash of the original, so two different operationIds never end up the same
/// and the name does not depend on any other operation in the spec.
pub fn tool_name(operation_id: Option<&str>, method: &str, path: &str, max_len: usize) -> String {
    let (base, original) = match operation_id.map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => (sanitize(id), id.to_owned()),
        None => (name_from_route(method, path), format!("{method} {path}")),
    };
    let lossy = operation_id.is_some_and(|id| !id.is_ascii());
    let base = if base.chars().any(|c| c.is_ascii_alphanumeric()) {
        base
    } else {
        name_from_route(method, path)
    };
    let max_len = max_len.max(16);
    if base.len() <= max_len && !lossy {
        return base;
    }
    let hash = short_hash(&original);
    let keep = max_len - hash.len() - 1;
    let mut cut: String = base.chars().take(keep).collect();
    while cut.ends_with(['_', '-']) {
        cut.pop();
    }
    format!("{cut}_{hash}")
}

/// Makes a tool name unique: a name already taken gets a short hash of `key`
/// (the operation's method and path), so the suffix depends on that operation
/// alone, not on how many came before it, and removing or reordering
/// operations never renames another tool.
pub fn unique_tool_name(name: String, key: &str, taken: &mut HashSet<String>, max_len: usize) -> String {
    if !taken.contains(&name) {
        taken.insert(name.clone());
        return name;
    }
    let hash = short_hash(key);
    let mut stem: String = name.chars().take(max_len.saturating_sub(hash.len() + 1)).collect();
    while stem.ends_with(['_', '-']) {
        stem.pop();
    }
    unique(format!("{stem}_{hash}"), taken, max_len)
}

/// Makes `name` unique within `taken` by appending `_2`, `_3`, … and records it.
pub fn unique(name: String, taken: &mut HashSet<String>, max_len: usize) -> String {
    if taken.insert(name.clone()) {
        return name;
    }
    for n in 2.. {
        let suffix = format!("_{n}");
        let mut candidate: String = name.chars().take(max_len.saturating_sub(suffix.len())).collect();
        candidate.push_str(&suffix);
        if taken.insert(candidate.clone()) {
            return candidate;
        }
    }
    unreachable!("an unused suffix always exists")
}

/// Makes an UpperCamelCase `name` unique within `taken` by appending `2`, `3`, … and records it.
pub fn unique_camel(name: String, taken: &mut HashSet<String>) -> String {
    if taken.insert(name.clone()) {
        return name;
    }
    (2..)
        .map(|n| format!("{name}{n}"))
        .find(|candidate| taken.insert(candidate.clone()))
        .expect("an unused suffix always exists")
}

/// A snake_case Rust identifier for a wire name; keywords become raw identifiers
/// (`r#type`), or get a trailing `_` where Rust forbids raw forms (`self_`).
pub fn field_ident(wire: &str) -> String {
    let ascii: String = wire
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    let mut ident = ascii.to_snake_case();
    if ident.is_empty() {
        ident = format!("field_{}", short_hash(wire));
    }
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, '_');
    }
    if NOT_RAW.contains(&ident.as_str()) {
        ident.push('_');
    } else if KEYWORDS.contains(&ident.as_str()) {
        ident.insert_str(0, "r#");
    }
    ident
}

/// Names a generated type must not take: the items generated code and serde's derive
/// output refer to without a path.
const RESERVED_TYPES: &[&str] = &[
    "Self",
    "String",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "Vec",
    "Box",
    "Value",
    "Map",
    "Number",
    "Nullable",
    "Default",
    "Deserialize",
    "Serialize",
    "Body",
    "TOOL",
    "IndexMap",
];

/// An UpperCamelCase Rust type name for a schema name (`pet_status` becomes `PetStatus`).
pub fn type_ident(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    let mut ident = ascii.to_upper_camel_case();
    if ident.is_empty() {
        ident = format!("Type{}", short_hash(name));
    }
    if ident.starts_with(|c: char| c.is_ascii_digit()) || RESERVED_TYPES.contains(&ident.as_str()) {
        ident.insert(0, 'T');
    }
    ident
}

/// A module (and file) name for a tool; never a keyword, so no raw identifier is needed for files.
pub fn module_ident(tool_name: &str) -> String {
    let mut ident = field_ident(tool_name);
    if let Some(plain) = ident.strip_prefix("r#") {
        ident = format!("{plain}_tool");
    }
    if ident.starts_with('_') {
        ident.insert_str(0, "op");
    }
    ident
}

/// A Cargo package name from a spec title: `Cast Test API` becomes `cast-test-api-mcp`.
pub fn crate_name(title: &str) -> String {
    let ascii: String = title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    let mut name = ascii.to_kebab_case();
    if name.is_empty() {
        name = "openapi".to_owned();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "api-");
    }
    name.truncate(48);
    let name = name.trim_end_matches('-');
    format!("{name}-mcp")
}

/// Whether Cargo accepts `name` as a package name.
pub fn valid_crate_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_from_hostile_operation_ids() {
        assert_eq!(
            tool_name(Some("listItems"), "get", "/items", MAX_TOOL_NAME),
            "listItems"
        );
        assert_eq!(
            tool_name(Some("repos/get-content"), "get", "/x", MAX_TOOL_NAME),
            "repos_get-content"
        );
        assert_eq!(
            tool_name(Some("  spaces and.dots "), "get", "/x", MAX_TOOL_NAME),
            "spaces_and_dots"
        );
        assert_eq!(
            tool_name(None, "get", "/api/v1/items/{item-id}/tags", MAX_TOOL_NAME),
            "get_api_v1_items_by_item-id_tags"
        );
        assert_eq!(
            tool_name(Some("///"), "delete", "/items/{id}", MAX_TOOL_NAME),
            "delete_items_by_id"
        );
        let chinese = tool_name(Some("黄历运势_新版_黄历"), "post", "/almanac", MAX_TOOL_NAME);
        assert!(
            chinese.starts_with("post_almanac_") && chinese.len() == "post_almanac_".len() + 8,
            "{chinese}"
        );
        assert_ne!(
            chinese,
            tool_name(Some("黄历运势_旧版"), "post", "/almanac", MAX_TOOL_NAME)
        );
        let long = "a".repeat(200);
        let name = tool_name(Some(&long), "get", "/x", MAX_TOOL_NAME);
        assert_eq!(name.len(), MAX_TOOL_NAME);
        assert_eq!(name, tool_name(Some(&long), "get", "/x", MAX_TOOL_NAME), "stable");
        assert_ne!(name, tool_name(Some(&format!("{long}b")), "get", "/x", MAX_TOOL_NAME));
        assert_eq!(tool_name(Some(&long), "get", "/x", 60).len(), 60, "Cursor's limit");
        for n in [&name, &chinese] {
            assert!(n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        }
    }

    #[test]
    fn duplicate_tool_names_get_a_hash_of_their_route() {
        let mut taken = HashSet::new();
        assert_eq!(unique_tool_name("dup".into(), "GET /a", &mut taken, 64), "dup");
        let second = unique_tool_name("dup".into(), "GET /b", &mut taken, 64);
        assert_eq!(second, format!("dup_{}", short_hash("GET /b")));
        // The same operation gets the same name whatever else is in the spec.
        let mut other = HashSet::from(["dup".to_owned(), "x".to_owned()]);
        assert_eq!(unique_tool_name("dup".into(), "GET /b", &mut other, 64), second);
    }

    #[test]
    fn unique_appends_suffixes_within_the_limit() {
        let mut taken = HashSet::new();
        assert_eq!(unique("a".into(), &mut taken, 64), "a");
        assert_eq!(unique("a".into(), &mut taken, 64), "a_2");
        assert_eq!(unique("a".into(), &mut taken, 64), "a_3");
        let long = "b".repeat(64);
        unique(long.clone(), &mut taken, 64);
        assert_eq!(unique(long, &mut taken, 64).len(), 64);
    }

    #[test]
    fn rust_identifiers_from_hostile_wire_names() {
        assert_eq!(field_ident("petId"), "pet_id");
        assert_eq!(field_ident("X-Request-ID"), "x_request_id");
        assert_eq!(field_ident("type"), "r#type");
        assert_eq!(field_ident("gen"), "r#gen");
        assert_eq!(field_ident("self"), "self_");
        assert_eq!(field_ident("Self"), "self_");
        assert_eq!(field_ident("2fa"), "_2fa");
        assert_eq!(field_ident("$ref"), "r#ref");
        assert!(field_ident("名前").starts_with("field_"));
        assert_eq!(module_ident("type"), "type_tool");
        assert_eq!(module_ident("2fa"), "op_2fa");
        assert_eq!(module_ident("repos_get-content"), "repos_get_content");
    }

    #[test]
    fn crate_names() {
        assert_eq!(crate_name("Cast Test API"), "cast-test-api-mcp");
        assert_eq!(
            crate_name("Swagger Petstore - OpenAPI 3.0"),
            "swagger-petstore-open-api-3-0-mcp"
        );
        assert_eq!(crate_name("黄历"), "openapi-mcp");
        assert_eq!(crate_name("3D API"), "api-3d-api-mcp");
        assert!(valid_crate_name("cast-test-api-mcp"));
        assert!(!valid_crate_name("3d"));
    }
}
