//! Catalog mode: a large API behind three tools instead of one per operation, so an
//! agent pays for three schemas, not hundreds. `search_operations` ranks operations by
//! the terms the generator baked into each tool (name, tags, summary, arguments),
//! `describe_operation` gives one operation's schemas, and `call_operation` runs it
//! through the same checks and typed handler as a direct tool.

use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Value, json};

use crate::api::{Annotations, ToolDef};

/// Searches the operations.
pub const SEARCH: &str = "search_operations";
/// Describes one operation.
pub const DESCRIBE: &str = "describe_operation";
/// Calls one operation.
pub const CALL: &str = "call_operation";

/// Results of one search, unless the caller asks for fewer or more.
const DEFAULT_LIMIT: usize = 10;
/// Results of one search at most.
const MAX_LIMIT: usize = 50;
/// Query words considered at most: a query is a few words, not a document.
const MAX_QUERY_WORDS: usize = 16;
/// Query characters read at most.
const MAX_QUERY_CHARS: usize = 500;

/// The search index: each catalogued tool's weighted terms, parsed once at start.
#[derive(Debug)]
pub(crate) struct Catalog {
    /// Tool index and its terms (stemmed, with their weight).
    entries: Vec<(usize, Vec<(String, f32)>)>,
    /// By tool index: whether it is behind the catalog.
    held: Vec<bool>,
}

/// One search hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit {
    pub(crate) index: usize,
    pub(crate) score: f32,
}

impl Catalog {
    /// The index over the tools at `indices` (`"3:list 3:item 1:limit"`: weight and term).
    pub(crate) fn new(tools: &[&ToolDef], indices: impl Iterator<Item = usize>) -> Self {
        let entries: Vec<(usize, Vec<(String, f32)>)> = indices
            .map(|index| {
                let terms = tools[index]
                    .search_terms
                    .split_whitespace()
                    .filter_map(|pair| {
                        let (weight, term) = pair.split_once(':')?;
                        Some((stem(term), weight.parse().ok()?))
                    })
                    .collect();
                (index, terms)
            })
            .collect();
        let mut held = vec![false; tools.len()];
        for (index, _) in &entries {
            held[*index] = true;
        }
        Self { entries, held }
    }

    /// Whether the tool at `index` is behind the catalog.
    pub(crate) fn holds(&self, index: usize) -> bool {
        self.held.get(index).copied().unwrap_or(false)
    }

    /// How many operations are catalogued.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The best matches for `query` among the tools `allowed` lets the caller see, best
    /// first; ties keep spec order. A query word matches a term exactly (its weight) or as
    /// a prefix of three letters or more (half of it).
    pub(crate) fn search(&self, query: &str, limit: usize, allowed: impl Fn(usize) -> bool) -> Vec<Hit> {
        // A query is a few words; an agent's megabyte is not read past its start.
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let words: Vec<String> = words(&query)
            .into_iter()
            .take(MAX_QUERY_WORDS)
            .map(|w| stem(&w))
            .collect();
        let mut hits: Vec<Hit> = self
            .entries
            .iter()
            .filter(|(index, _)| allowed(*index))
            .filter_map(|(index, terms)| {
                let score: f32 = words
                    .iter()
                    .map(|word| {
                        terms
                            .iter()
                            .map(|(term, weight)| {
                                if term == word {
                                    *weight
                                } else if word.len() >= 3 && term.starts_with(word.as_str()) {
                                    weight / 2.0
                                } else {
                                    0.0
                                }
                            })
                            .fold(0.0, f32::max)
                    })
                    .sum();
                (score > 0.0).then_some(Hit { index: *index, score })
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        hits.truncate(limit.clamp(1, MAX_LIMIT));
        hits
    }
}

/// Lower-case words of `text`, split at anything not alphanumeric and where camelCase
/// starts a word (`listPullRequests` is `list`, `pull`, `requests`).
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split(|c: char| !c.is_alphanumeric()).filter(|p| !p.is_empty()) {
        let mut word = String::new();
        let mut previous_lower = false;
        for c in part.chars() {
            if c.is_uppercase() && previous_lower && !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            previous_lower = c.is_lowercase() || c.is_numeric();
            word.extend(c.to_lowercase());
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

/// Plural and singular meet: `repos` finds `repo`, `issues` finds `issue`.
fn stem(word: &str) -> String {
    let word = word.to_lowercase();
    match word.strip_suffix('s') {
        Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_owned(),
        _ => word,
    }
}

/// The limit a search asks for.
pub(crate) fn limit_of(args: &serde_json::Map<String, Value>) -> usize {
    args.get("limit")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_LIMIT, |n| n.min(MAX_LIMIT as u64) as usize)
}

/// The three tools as advertised in front of operations with these annotations.
/// `call_operation` says what the operations behind it may do: read-only only if all
/// are, destructive if any is.
pub fn tools(held: &[Annotations]) -> Vec<Tool> {
    let operations = held.len();
    let read_only = held.iter().all(|a| a.read_only);
    let destructive = held.iter().any(|a| a.destructive);
    let schema = |value: Value| match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(serde_json::Map::new()),
    };
    let looks = ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false);
    vec![
        Tool::new_with_raw(
            SEARCH,
            Some(format!(
                "Finds operations of this API ({operations} in all) by what they do: words from their names, summaries, tags and arguments. Returns names to pass to `{DESCRIBE}` and `{CALL}`."
            ).into()),
            schema(json!({
                "type": "object",
                "properties": {
                    "query": { "type": "string", "description": "What you want to do, in a few words (`list pull requests`)." },
                    "limit": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "description": "Results at most (default 10)." }
                },
                "required": ["query"],
                "additionalProperties": false
            })),
        )
        .with_annotations(looks.clone()),
        Tool::new_with_raw(
            DESCRIBE,
            Some(format!("The description and input schema of one operation, by the name `{SEARCH}` returned.").into()),
            schema(json!({
                "type": "object",
                "properties": { "name": { "type": "string", "description": "The operation's name." } },
                "required": ["name"],
                "additionalProperties": false
            })),
        )
        .with_annotations(looks),
        Tool::new_with_raw(
            CALL,
            Some(format!(
                "Calls one operation with its arguments, as `{DESCRIBE}` gives its input schema. The arguments are checked against that schema first."
            ).into()),
            schema(json!({
                "type": "object",
                "properties": {
                    "name": { "type": "string", "description": "The operation's name." },
                    "arguments": { "type": "object", "description": "The operation's arguments." }
                },
                "required": ["name"],
                "additionalProperties": false
            })),
        )
        .with_annotations(
            ToolAnnotations::new()
                .read_only(read_only)
                .destructive(destructive)
                .idempotent(false)
                .open_world(true),
        ),
    ]
}

/// One search hit as the agent reads it.
pub(crate) fn hit_json(tool: &ToolDef) -> Value {
    let summary = tool
        .title
        .unwrap_or_else(|| tool.description.lines().next().unwrap_or_default());
    let mut summary: String = summary.chars().take(200).collect();
    if summary.is_empty() {
        summary = format!("{} {}", tool.method.as_str(), tool.path_template);
    }
    json!({
        "name": tool.name,
        "summary": summary,
        "method": tool.method.as_str(),
        "path": tool.path_template,
        "readOnly": tool.annotations.read_only,
        "destructive": tool.annotations.destructive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &'static str, terms: &'static str) -> ToolDef {
        ToolDef {
            name,
            search_terms: terms,
            ..ToolDef::BASE
        }
    }

    #[test]
    fn ranks_by_weighted_terms_with_plurals_and_prefixes() {
        let tools = [
            tool("pulls_list", "3:pulls 3:list 2:pull 2:requests 1:owner 1:repo"),
            tool("issues_list", "3:issues 3:list 1:owner 1:repo"),
            tool("repos_get", "3:repos 3:get 2:repository 1:owner 1:repo"),
        ];
        let refs: Vec<&ToolDef> = tools.iter().collect();
        let catalog = Catalog::new(&refs, 0..3);
        let names = |query: &str| -> Vec<&str> {
            catalog
                .search(query, 10, |_| true)
                .iter()
                .map(|h| tools[h.index].name)
                .collect()
        };
        assert_eq!(names("list pull requests"), ["pulls_list", "issues_list"]);
        assert_eq!(names("get a repository"), ["repos_get"]);
        assert_eq!(names("Issue"), ["issues_list"], "plural and case");
        assert_eq!(names("repositor"), ["repos_get"], "a prefix counts half");
        assert!(names("zebra").is_empty());
        assert_eq!(
            names(&"list pull requests ".repeat(300_000)),
            ["pulls_list", "issues_list"],
            "a huge query is read as its start"
        );
        let hidden = catalog.search("list", 10, |index| index != 0);
        assert_eq!(hidden.len(), 1, "only what the caller may call");
        assert_eq!(
            words("listPullRequests for_me"),
            ["list", "pull", "requests", "for", "me"]
        );
    }
}
