//! Every name the generator makes: MCP tool names, Rust identifiers, crate names.
//! One module, so the rules live in one place and are tested together.

use std::collections::HashSet;

use heck::{ToKebabCase, ToSnakeCase, ToUpperCamelCase};
use sha2::{Digest, Sha256};

/// The longest tool name most clients accept (`^[a-zA-Z0-9_-]{1,64}$`), and the longest
/// the model APIs accept with the client's prefix.
pub const MAX_TOOL_NAME: usize = 64;

/// Names are never cut shorter than this, whatever the prefix.
pub const MIN_TOOL_NAME: usize = 16;

/// The prefix Claude Code puts before a tool's name for the model, the longest of the
/// common ones: `mcp__<server>__`.
pub fn client_prefix(server: &str) -> String {
    format!("mcp__{server}__")
}

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

/// One operation as names see it.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    /// Its operationId, if any.
    pub operation_id: Option<&'a str>,
    /// `get`, `post`, …
    pub method: &'a str,
    /// The path template.
    pub path: &'a str,
}

/// Tool names for every operation of a spec, in the same order: each unique, at most
/// `max_len` (at least 16) characters of `[A-Za-z0-9_-]`, and readable.
///
/// A name comes from the operationId, or from the method and path words when the
/// operationId is missing or not ASCII (`get_realtime_k`; a transliteration would be a
/// guess). A name too long is cut at a word boundary; operations whose cut names would
/// tie keep the words that tell them apart and the one before (`put_…_schema_add`,
/// `put_…_schema_update`). Only a tie nothing else breaks gets a short hash of the operation's own
/// route, so it does not depend on what else is in the spec.
pub fn tool_names(routes: &[Route<'_>], max_len: usize) -> Vec<String> {
    let max_len = max_len.max(MIN_TOOL_NAME);
    let words_of = |route: &Route<'_>| Words::preferred(route);
    let words: Vec<Words> = routes.iter().map(words_of).collect();
    let mut names: Vec<String> = words.iter().map(|w| w.fit(max_len)).collect();
    let mut ties: std::collections::BTreeMap<&str, Vec<usize>> = std::collections::BTreeMap::new();
    for (index, name) in names.iter().enumerate() {
        ties.entry(name.as_str()).or_default().push(index);
    }
    let mut retargeted = Vec::new();
    for members in ties.values().filter(|members| members.len() > 1) {
        let shared = common_words(members.iter().map(|&i| &words[i]));
        for &i in members.iter().filter(|&&i| words[i].text.len() > max_len) {
            // The last shared word stays as context for the ones that differ
            // (`…_pushover_test`, not `…_notifications_test`) where words are separated.
            let separated = words[i].spans.get(shared).is_some_and(|span| span.after_separator);
            let from = if separated && shared > 1 { shared - 1 } else { shared };
            retargeted.push((i, words[i].keep_from(from, max_len)));
        }
    }
    for (index, name) in retargeted {
        names[index] = name;
    }
    let mut taken = HashSet::new();
    routes
        .iter()
        .zip(names)
        .map(|(route, name)| {
            if taken.insert(name.clone()) {
                return name;
            }
            if let Some(shorter) = words_of(route).shortened(max_len).find(|n| !taken.contains(n)) {
                taken.insert(shorter.clone());
                return shorter;
            }
            let from_route = Words::new(name_from_route(route.method, route.path)).fit(max_len);
            if taken.insert(from_route.clone()) {
                return from_route;
            }
            unique_tool_name(name, &format!("{} {}", route.method, route.path), &mut taken, max_len)
        })
        .collect()
}

/// A name and where its words start, for cutting it where a reader would.
#[derive(Debug)]
struct Words {
    text: String,
    /// The words: runs between `_` and `-`, split again where camelCase starts a new
    /// word (`ListIncomingPhoneNumber` is four).
    spans: Vec<Span>,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    /// Whether `_` or `-` comes before it (else it continues a camelCase word).
    after_separator: bool,
}

impl Words {
    fn new(text: String) -> Self {
        let bytes = text.as_bytes();
        let mut spans = Vec::new();
        let mut start = None;
        let mut after_separator = false;
        for i in 0..bytes.len() {
            let b = bytes[i];
            if b == b'_' || b == b'-' {
                if let Some(s) = start.take() {
                    spans.push(Span {
                        start: s,
                        end: i,
                        after_separator,
                    });
                }
                after_separator = true;
                continue;
            }
            match start {
                None => start = Some(i),
                Some(s) if is_camel_boundary(bytes, i) => {
                    spans.push(Span {
                        start: s,
                        end: i,
                        after_separator,
                    });
                    after_separator = false;
                    start = Some(i);
                }
                Some(_) => {}
            }
        }
        if let Some(s) = start {
            spans.push(Span {
                start: s,
                end: bytes.len(),
                after_separator,
            });
        }
        if let Some(first) = spans.first_mut() {
            first.after_separator = false;
        }
        Self { text, spans }
    }

    fn preferred(route: &Route<'_>) -> Self {
        let from_id = route
            .operation_id
            .map(str::trim)
            .filter(|id| id.is_ascii())
            .map(sanitize)
            .filter(|id| id.chars().any(|c| c.is_ascii_alphanumeric()));
        Self::new(from_id.unwrap_or_else(|| name_from_route(route.method, route.path)))
    }

    fn word(&self, index: usize) -> &str {
        let span = self.spans[index];
        &self.text[span.start..span.end]
    }

    /// The whole name, or its longest run of whole words within `max`: cut before a `_`
    /// or `-` where one fits, else inside a camelCase word, else hard.
    fn fit(&self, max: usize) -> String {
        if self.text.len() <= max {
            return self.text.clone();
        }
        let ends_before_separator = self
            .spans
            .windows(2)
            .filter(|pair| pair[1].after_separator)
            .map(|pair| pair[0].end)
            .rfind(|&end| end <= max);
        let any_end = || self.spans.iter().map(|span| span.end).rfind(|&end| end <= max);
        let end = ends_before_separator.or_else(any_end).unwrap_or(max);
        self.text[..end].to_owned()
    }

    /// Words `from..` kept whole after as many of the words before them as fit: the
    /// middle of the name gives way, so its start and the words that tell it apart stay.
    fn keep_from(&self, from: usize, max: usize) -> String {
        let Some(tail) = self.spans.get(from) else {
            return self.fit(max);
        };
        let joint = if tail.after_separator { "_" } else { "" };
        let tail_text = &self.text[tail.start..];
        let room = max.saturating_sub(tail_text.len() + joint.len());
        let head = Words::new(self.text[..tail.start].trim_end_matches(['_', '-']).to_owned());
        if head.spans.first().is_none_or(|first| first.end > room) {
            return Words::new(tail_text.to_owned()).fit(max);
        }
        format!("{}{joint}{tail_text}", head.fit(room))
    }

    /// Names that drop words from the middle, keeping ever more of the end.
    fn shortened(&self, max: usize) -> impl Iterator<Item = String> + '_ {
        (1..self.spans.len()).rev().map(move |from| self.keep_from(from, max))
    }
}

fn is_camel_boundary(bytes: &[u8], i: usize) -> bool {
    let (prev, here) = (bytes[i - 1], bytes[i]);
    let next_lower = bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase);
    here.is_ascii_uppercase()
        && (prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower))
}

/// The words of an identifier, for prose: split at punctuation and at case changes
/// (`getURLPreview` is `get`, `URL`, `Preview`).
pub fn words(identifier: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in identifier
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let bytes = part.as_bytes();
        let mut start = 0;
        for i in 1..bytes.len() {
            if is_camel_boundary(bytes, i) {
                words.push(part[start..i].to_owned());
                start = i;
            }
        }
        words.push(part[start..].to_owned());
    }
    words
}

/// How many leading words all of `names` share.
fn common_words<'w>(mut names: impl Iterator<Item = &'w Words>) -> usize {
    let Some(first) = names.next() else {
        return 0;
    };
    let mut shared = first.spans.len();
    for other in names {
        shared = (0..shared.min(other.spans.len()))
            .find(|&i| first.word(i) != other.word(i))
            .unwrap_or(shared.min(other.spans.len()));
    }
    shared
}

/// The tool name of one operation on its own, as [`tool_names`] would give it in a spec
/// where it ties with nothing.
pub fn tool_name(operation_id: Option<&str>, method: &str, path: &str, max_len: usize) -> String {
    tool_names(
        &[Route {
            operation_id,
            method,
            path,
        }],
        max_len,
    )
    .remove(0)
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

/// A spec file's name without its extensions and the generic words around the API's own
/// name: `billing-openapi.v2.yaml` is `billing`, `openapi.json` stays `openapi`.
pub fn file_stem(file_name: &str) -> &str {
    let stem = file_name.split('.').next().unwrap_or(file_name);
    let lower = stem.to_ascii_lowercase();
    for generic in [
        "-openapi", "_openapi", "-swagger", "_swagger", "-spec", "_spec", "-api", "_api",
    ] {
        if lower.ends_with(generic) && stem.len() > generic.len() {
            return &stem[..stem.len() - generic.len()];
        }
    }
    stem
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
        // Non-ASCII operationIds: the route's words, not a hash.
        assert_eq!(
            tool_name(Some("黄历运势_新版_黄历"), "post", "/almanac/v2", MAX_TOOL_NAME),
            "post_almanac_v2"
        );
        assert_eq!(
            tool_name(Some("K线"), "get", "/realtime/k", MAX_TOOL_NAME),
            "get_realtime_k"
        );
        let long = "a".repeat(200);
        assert_eq!(tool_name(Some(&long), "get", "/x", MAX_TOOL_NAME).len(), MAX_TOOL_NAME);
        assert_eq!(tool_name(Some(&long), "get", "/x", 60).len(), 60, "Cursor's limit");
        assert_eq!(
            tool_name(
                Some("aVeryLongOperationIdThatGoesOnAndOnBeyondTheSixtyFourCharacterLimit"),
                "get",
                "/x",
                64
            ),
            "aVeryLongOperationIdThatGoesOnAndOnBeyondTheSixtyFourCharacter"
        );
        assert_eq!(
            tool_name(
                Some("enterprise-admin/list-selected-organizations-enabled-github-actions-enterprise"),
                "get",
                "/x",
                MAX_TOOL_NAME
            ),
            "enterprise-admin_list-selected-organizations-enabled-github",
            "cut after a whole word"
        );
    }

    fn names(ids: &[&str], max: usize) -> Vec<String> {
        let routes: Vec<String> = (0..ids.len()).map(|i| format!("/r{i}")).collect();
        let routes: Vec<Route<'_>> = ids
            .iter()
            .zip(&routes)
            .map(|(id, path)| Route {
                operation_id: Some(id),
                method: "put",
                path,
            })
            .collect();
        tool_names(&routes, max)
    }

    #[test]
    fn long_names_that_would_tie_keep_the_words_that_differ() {
        let got = names(
            &[
                "put_metadata_templates_enterprise_securityClassification-6VMVochwUWo_schema#add",
                "put_metadata_templates_enterprise_securityClassification-6VMVochwUWo_schema#update",
                "get_metadata_templates_enterprise_securityClassification-6VMVochwUWo_schema",
            ],
            MAX_TOOL_NAME,
        );
        assert_eq!(
            got,
            [
                "put_metadata_templates_enterprise_schema_add",
                "put_metadata_templates_enterprise_schema_update",
                "get_metadata_templates_enterprise_securityClassification",
            ]
        );
        for name in &got {
            assert!(name.len() <= MAX_TOOL_NAME, "{name}");
        }
        // Identical after sanitizing: the second takes its route's words; only a tie
        // that those cannot break is hashed.
        assert_eq!(names(&["get.items", "get_items"], 64), ["get_items", "put_r1"]);
        // camelCase words count as words.
        assert_eq!(
            names(
                &[
                    "ListIncomingPhoneNumberAssignedAddOnExtension",
                    "ListIncomingPhoneNumberAssignedAddOn"
                ],
                33
            ),
            ["ListIncomingPhoneNumberExtension", "ListIncomingPhoneNumberAssigned"]
        );
        // A retargeted name that is taken drops more of its middle.
        let routes: Vec<Route<'_>> = [
            "/settings/notifications/pushover",
            "/settings/notifications/pushover/test",
            "/settings/notifications/telegram",
            "/settings/notifications/telegram/test",
        ]
        .iter()
        .map(|path| Route {
            operation_id: None,
            method: "POST",
            path,
        })
        .collect();
        assert_eq!(
            tool_names(&routes, 40),
            [
                "post_settings_notifications_pushover",
                "post_settings_pushover_test",
                "post_settings_notifications_telegram",
                "post_settings_telegram_test",
            ]
        );
        let long = "a".repeat(100);
        let tied = names(&[&long, &format!("{long}b")], 64);
        assert_eq!(tied[0], "a".repeat(64));
        assert_eq!(tied[1], "put_r1");
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
        assert_eq!(crate_name(file_stem("billing-openapi.v2.yaml")), "billing-mcp");
        assert_eq!(crate_name(file_stem("openapi.json")), "openapi-mcp");
        assert_eq!(crate_name(file_stem("slack-web-2.0.json")), "slack-web-2-mcp");
        assert!(valid_crate_name("cast-test-api-mcp"));
        assert!(!valid_crate_name("3d"));
    }
}
