//! `tools.lock`: the tool surface a generated server offers agents, so that a changed
//! spec cannot silently change what agents may do. Every served tool's name, operation,
//! annotations and a canonical hash of what the model reads (description and schemas),
//! sorted by name. Regenerating prints what changed; `generate --locked` refuses a change.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ir::{ApiIr, ToolIr};

/// The file's name in a generated crate.
pub const FILE: &str = "tools.lock";

/// One served tool as locked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockedTool {
    /// The MCP tool name.
    pub name: String,
    /// `METHOD /path`, which tells a rename from a new tool.
    pub operation: String,
    /// `read-only`, `destructive`, `idempotent` and `confirm` (each call waits for the
    /// user's yes), as they apply.
    pub annotations: Vec<String>,
    /// `sha256:` of the canonical JSON of its description and schemas.
    pub schema: String,
}

/// The whole surface.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lock {
    /// Served tools, by name.
    #[serde(default, rename = "tool")]
    pub tools: Vec<LockedTool>,
}

/// One difference between two locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A tool is new.
    Added(String),
    /// A tool is gone.
    Removed(String),
    /// The same operation under another name.
    Renamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// What the model reads of it changed.
    SchemaChanged(String),
    /// Its annotations changed (but it did not become destructive).
    AnnotationsChanged(String),
    /// It may now destroy data.
    NewlyDestructive(String),
    /// Its calls no longer wait for the user's yes.
    NoLongerConfirmed(String),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Added(name) => write!(f, "added: {name}"),
            Self::Removed(name) => write!(f, "removed: {name}"),
            Self::Renamed { from, to } => write!(f, "renamed: {from} -> {to}"),
            Self::SchemaChanged(name) => write!(f, "changed schema: {name}"),
            Self::AnnotationsChanged(name) => write!(f, "changed annotations: {name}"),
            Self::NewlyDestructive(name) => write!(f, "newly destructive: {name}"),
            Self::NoLongerConfirmed(name) => write!(f, "no longer confirmed: {name}"),
        }
    }
}

impl Lock {
    /// The surface `api` serves.
    pub fn of(api: &ApiIr) -> Self {
        let mut tools: Vec<LockedTool> = api.enabled_tools().map(locked).collect();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        Self { tools }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# {}: the tools this server offers agents.\n# Review a change to it like a change of code: `cast-codegen generate --locked` fails when\n# the tools would change.\n\n{body}",
            crate::emit::MARKER
        )
    }

    /// Reads a `tools.lock`.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("{FILE}: {e}"))
    }

    /// A short fingerprint of the surface, which the server reports so a client or a
    /// gateway can pin it.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.render().as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// What changed from `self` (the old lock) to `new`, most worrying first within each
    /// tool; renames are tools of the same operation under another name.
    pub fn changes(&self, new: &Lock) -> Vec<Change> {
        let old: BTreeMap<&str, &LockedTool> = self.tools.iter().map(|t| (t.name.as_str(), t)).collect();
        let now: BTreeMap<&str, &LockedTool> = new.tools.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut changes = Vec::new();
        let mut renamed_from = Vec::new();
        for (name, tool) in &now {
            match old.get(name) {
                Some(before) => compare(before, tool, &mut changes),
                None => match self
                    .tools
                    .iter()
                    .find(|b| b.operation == tool.operation && !now.contains_key(b.name.as_str()))
                {
                    Some(before) => {
                        renamed_from.push(before.name.as_str());
                        changes.push(Change::Renamed {
                            from: before.name.clone(),
                            to: tool.name.clone(),
                        });
                        compare(before, tool, &mut changes);
                    }
                    None => changes.push(Change::Added((*name).to_owned())),
                },
            }
        }
        for name in old.keys() {
            if !now.contains_key(name) && !renamed_from.contains(name) {
                changes.push(Change::Removed((*name).to_owned()));
            }
        }
        changes
    }
}

fn compare(before: &LockedTool, after: &LockedTool, changes: &mut Vec<Change>) {
    let has = |t: &LockedTool, annotation: &str| t.annotations.iter().any(|a| a == annotation);
    if has(after, "destructive") && !has(before, "destructive") {
        changes.push(Change::NewlyDestructive(after.name.clone()));
    } else if has(before, "confirm") && !has(after, "confirm") {
        changes.push(Change::NoLongerConfirmed(after.name.clone()));
    } else if before.annotations != after.annotations {
        changes.push(Change::AnnotationsChanged(after.name.clone()));
    }
    if before.schema != after.schema {
        changes.push(Change::SchemaChanged(after.name.clone()));
    }
}

fn locked(tool: &ToolIr) -> LockedTool {
    let annotations = tool.traits().into_iter().map(str::to_owned).collect();
    let read = serde_json::json!({
        "title": tool.title,
        "description": tool.description,
        "inputSchema": tool.input_schema,
        "outputSchema": tool.output_schema,
    });
    let digest = Sha256::digest(canonical(&read).as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    LockedTool {
        name: tool.name.clone(),
        operation: format!("{} {}", tool.method.as_str(), tool.path),
        annotations,
        schema: format!("sha256:{hex}"),
    }
}

/// JSON with every object's keys sorted: the same schema hashes the same whatever order
/// the spec wrote its keys in.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn key_order_does_not_change_the_hash() {
        assert_eq!(
            canonical(&json!({ "b": 1, "a": { "d": 2, "c": 3 } })),
            r#"{"a":{"c":3,"d":2},"b":1}"#
        );
    }
}
