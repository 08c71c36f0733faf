//! OpenAPI schemas to the JSON Schema a tool advertises, and to Rust types.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::diag::{Diagnostic, Diagnostics};

/// Keywords that mean something to OpenAPI tooling but nothing to a JSON Schema validator.
const OPENAPI_ONLY: &[&str] = &[
    "discriminator",
    "xml",
    "externalDocs",
    "example",
    "nullable",
    "readOnly",
    "writeOnly",
    // 2019-09's recursion marker; `$recursiveRef` is converted to a `$ref` to the
    // component that carries it.
    "$recursiveAnchor",
];

/// Which side of the wire a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Arguments sent upstream: `readOnly` properties are left out.
    Request,
    /// Results coming back: `writeOnly` properties are left out.
    Response,
}

/// Converts schemas. Every `$ref` target is converted once per direction into an arena,
/// whatever the number of paths to it through the reference graph, so generation is
/// linear in the document's size. [`SchemaCx::finish`] then assembles one self-contained
/// schema: a component used once is inlined, one used more than once (or on a cycle) is
/// written once under `$defs`.
#[derive(Debug)]
pub struct SchemaCx<'a> {
    doc: &'a Value,
    arena: Vec<Def>,
    ids: HashMap<(String, Direction), usize>,
    /// Components referenced but not yet converted (converted after the schema that named
    /// them, so long reference chains never deepen the stack).
    pending: Vec<usize>,
    /// Components the schema being converted names directly.
    named: Vec<usize>,
    /// The component being converted, the target of a 2019-09 `$recursiveRef: "#"`.
    current: Option<usize>,
    /// What `[schemas]` leaves out.
    lean: crate::settings::SchemaSettings,
    pub(crate) diagnostics: Diagnostics,
}

/// One converted component.
#[derive(Debug)]
struct Def {
    reference: String,
    direction: Direction,
    /// Converted, with the components it names as [`marker`]s.
    body: Value,
    /// Components it names directly, each once.
    refs: Vec<usize>,
}

/// Stands for component `id` inside converted schemas until [`SchemaCx::finish`]. A NUL
/// cannot come from a spec's own `$ref`, which names a JSON pointer.
const MARKER: &str = "\0cast-def:";

fn marker(id: usize) -> String {
    format!("{MARKER}{id}")
}

/// The component a converted object stands for, if it is a marker.
pub(crate) fn marked(value: &Value) -> Option<usize> {
    value.get("$ref")?.as_str()?.strip_prefix(MARKER)?.parse().ok()
}

/// Inlining stops this deep; what lies further is written under `$defs`, so no chain of
/// components, however long, can exhaust the stack.
const MAX_INLINE_DEPTH: usize = 32;

/// Resolves a local JSON pointer reference (`#/components/schemas/Item`).
pub fn resolve<'v>(doc: &'v Value, reference: &str) -> Option<&'v Value> {
    let pointer = reference.strip_prefix('#')?;
    let pointer = percent_decode(pointer);
    doc.pointer(&pointer)
}

fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Follows `$ref` chains to the schema they name; `None` for a broken or cyclic chain.
pub fn deref<'v>(doc: &'v Value, mut schema: &'v Value) -> Option<&'v Value> {
    for _ in 0..32 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => schema = resolve(doc, reference)?,
            None => return Some(schema),
        }
    }
    None
}

fn def_name(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() { "schema".to_owned() } else { name }
}

impl<'a> SchemaCx<'a> {
    /// A converter over `doc`.
    pub fn new(doc: &'a Value) -> Self {
        Self {
            doc,
            arena: Vec::new(),
            ids: HashMap::new(),
            pending: Vec::new(),
            named: Vec::new(),
            current: None,
            lean: crate::settings::SchemaSettings::default(),
            diagnostics: Diagnostics::default(),
        }
    }

    /// A converter that leaves out what `[schemas]` says.
    pub fn with_lean(mut self, lean: &crate::settings::SchemaSettings) -> Self {
        self.lean = lean.clone();
        self
    }

    /// A description as schemas carry it: Markdown, within `[schemas] max_description_chars`.
    pub fn description(&self, text: &str) -> String {
        let text = super::text::markdown(text);
        match self.lean.max_description_chars {
            Some(max) => super::text::shortened(&text, max),
            None => text.into_owned(),
        }
    }

    /// The document schemas are resolved in.
    pub fn doc(&self) -> &'a Value {
        self.doc
    }

    /// Converts an OpenAPI (3.0 or 3.1) schema at `pointer` to JSON Schema 2020-12. The
    /// components it names stay references until [`SchemaCx::finish`].
    pub fn convert(&mut self, schema: &Value, pointer: &str, direction: Direction) -> Value {
        let outer = std::mem::take(&mut self.named);
        let converted = self.convert_body(schema, pointer, direction);
        self.named = outer;
        converted
    }

    fn convert_body(&mut self, schema: &Value, pointer: &str, direction: Direction) -> Value {
        let Some(object) = schema.as_object() else {
            // `true`/`false` schemas (3.1) pass through.
            return schema.clone();
        };
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            return self.convert_ref(reference, object, pointer, direction);
        }
        if object.contains_key("$recursiveRef") {
            return self.convert_recursive_ref(object, pointer, direction);
        }
        let tuple = object.get("items").is_some_and(Value::is_array);
        let mut out = Map::new();
        for (key, value) in object {
            if key.starts_with("x-") || OPENAPI_ONLY.contains(&key.as_str()) {
                continue;
            }
            let here = format!("{pointer}/{}", crate::diag::pointer_token(key));
            let converted = match key.as_str() {
                "properties" => {
                    let Some(props) = value.as_object() else {
                        continue;
                    };
                    let mut out_props = Map::new();
                    for (name, prop) in props {
                        if self.is_hidden(prop, direction) {
                            continue;
                        }
                        let at = format!("{here}/{}", crate::diag::pointer_token(name));
                        out_props.insert(name.clone(), self.convert_body(prop, &at, direction));
                    }
                    Value::Object(out_props)
                }
                // Draft 4's tuple form: 2020-12 calls it `prefixItems`, and what
                // `additionalItems` said of the rest is now `items`.
                "items" if tuple => {
                    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
                    let converted = self.convert_each(items, &here, direction);
                    out.insert("prefixItems".to_owned(), converted);
                    continue;
                }
                "additionalItems" => {
                    if tuple {
                        let converted = self.convert_body(value, &here, direction);
                        out.insert("items".to_owned(), converted);
                    }
                    continue;
                }
                // Draft 7's `dependencies`: lists of names are `dependentRequired`, schemas
                // `dependentSchemas`.
                "dependencies" => {
                    for (name, dependency) in value.as_object().into_iter().flatten() {
                        let (keyword, converted) = match dependency {
                            Value::Array(_) => ("dependentRequired", dependency.clone()),
                            _ => (
                                "dependentSchemas",
                                self.convert_body(
                                    dependency,
                                    &format!("{here}/{}", crate::diag::pointer_token(name)),
                                    direction,
                                ),
                            ),
                        };
                        if let Some(map) = out.entry(keyword).or_insert_with(|| json!({})).as_object_mut() {
                            map.insert(name.clone(), converted);
                        }
                    }
                    continue;
                }
                "items"
                | "additionalProperties"
                | "not"
                | "contains"
                | "propertyNames"
                | "unevaluatedProperties"
                | "unevaluatedItems"
                | "if"
                | "then"
                | "else" => self.convert_body(value, &here, direction),
                "allOf" | "oneOf" | "anyOf" | "prefixItems" => match value.as_array() {
                    Some(items) => self.convert_each(items, &here, direction),
                    None => value.clone(),
                },
                "patternProperties" | "dependentSchemas" | "$defs" | "definitions" => match value.as_object() {
                    Some(map) => Value::Object(
                        map.iter()
                            .map(|(k, v)| (k.clone(), self.convert_body(v, &format!("{here}/{k}"), direction)))
                            .collect(),
                    ),
                    None => value.clone(),
                },
                "description" => match value.as_str() {
                    Some(description) => json!(self.description(description)),
                    None => value.clone(),
                },
                "examples" if self.lean.examples == Some(false) => continue,
                _ => value.clone(),
            };
            out.insert(key.clone(), converted);
        }
        if let Some(Value::Array(required)) = out.get("required").cloned() {
            let mut kept: Vec<Value> = Vec::with_capacity(required.len());
            for name in required {
                // A name listed twice (OpenAI's containers) fails the metaschema's `uniqueItems`.
                if !kept.contains(&name) && !self.prop_is_hidden(object, name.as_str().unwrap_or_default(), direction) {
                    kept.push(name);
                }
            }
            out.insert("required".to_owned(), Value::Array(kept));
        }
        apply_openapi_30_idioms(object, &mut out);
        drop_no_ops(&mut out);
        Value::Object(out)
    }

    fn convert_each(&mut self, items: &[Value], pointer: &str, direction: Direction) -> Value {
        Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| self.convert_body(item, &format!("{pointer}/{i}"), direction))
                .collect(),
        )
    }

    /// 2019-09's `$recursiveRef: "#"`: in an OpenAPI document, whose components are not
    /// schema resources of their own, the recursion its author meant is to the component
    /// that holds it (OpenAI's `CompoundFilter` lists itself among its filters).
    fn convert_recursive_ref(&mut self, object: &Map<String, Value>, pointer: &str, direction: Direction) -> Value {
        let Some(current) = self.current else {
            self.diagnostics.push(
                Diagnostic::warning(
                    "C0109",
                    pointer,
                    "`$recursiveRef` outside a component has nothing to recurse to",
                )
                .hint("the value is accepted as any JSON; name the schema under `components/schemas` and `$ref` it"),
            );
            return json!({});
        };
        let reference = self.arena[current].reference.clone();
        let site: Map<String, Value> = object
            .iter()
            .filter(|(key, _)| *key != "$recursiveRef")
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        self.convert_ref(&reference, &site, pointer, direction)
    }

    fn prop_is_hidden(&self, object: &Map<String, Value>, name: &str, direction: Direction) -> bool {
        object
            .get("properties")
            .and_then(|p| p.get(name))
            .is_some_and(|p| self.is_hidden(p, direction))
    }

    /// `readOnly` properties are not sent; `writeOnly` ones are not returned.
    fn is_hidden(&self, schema: &Value, direction: Direction) -> bool {
        let keyword = match direction {
            Direction::Request => "readOnly",
            Direction::Response => "writeOnly",
        };
        let flag = |s: &Value| s.get(keyword).and_then(Value::as_bool).unwrap_or(false);
        flag(schema) || deref(self.doc, schema).is_some_and(flag)
    }

    fn convert_ref(
        &mut self,
        reference: &str,
        object: &Map<String, Value>,
        pointer: &str,
        direction: Direction,
    ) -> Value {
        let key = (reference.to_owned(), direction);
        let id = match self.ids.get(&key) {
            Some(id) => *id,
            None => {
                if resolve(self.doc, reference).is_none() {
                    self.diagnostics.push(
                        Diagnostic::warning("C0102", pointer, format!("cannot resolve `$ref: {reference}`")).hint(
                            "only references within the document are supported; the value is accepted as any JSON",
                        ),
                    );
                    return json!({});
                }
                let id = self.arena.len();
                self.arena.push(Def {
                    reference: reference.to_owned(),
                    direction,
                    body: Value::Null,
                    refs: Vec::new(),
                });
                self.ids.insert(key, id);
                self.pending.push(id);
                id
            }
        };
        if !self.named.contains(&id) {
            self.named.push(id);
        }
        // 3.1 allows keywords beside `$ref`; they are about this use, so they stay here and
        // win over the component's own when it is inlined.
        let mut site = Map::new();
        site.insert("$ref".to_owned(), json!(marker(id)));
        for (key, value) in object {
            if key != "$ref" && !key.starts_with("x-") && !OPENAPI_ONLY.contains(&key.as_str()) {
                site.insert(key.clone(), value.clone());
            }
        }
        Value::Object(site)
    }

    /// Converts the components named so far, and those they name, until none is left.
    fn convert_pending(&mut self) {
        while let Some(id) = self.pending.pop() {
            let reference = self.arena[id].reference.clone();
            let direction = self.arena[id].direction;
            let target = resolve(self.doc, &reference).cloned().unwrap_or(Value::Null);
            let outer = std::mem::take(&mut self.named);
            self.current = Some(id);
            let body = self.convert_body(&target, &reference, direction);
            self.current = None;
            let refs = std::mem::replace(&mut self.named, outer);
            self.arena[id].body = body;
            self.arena[id].refs = refs;
        }
    }

    /// Component `id` as converted: its `$ref` pointer and its body (with markers).
    pub(crate) fn component(&mut self, id: usize) -> (&str, &Value) {
        self.convert_pending();
        let def = &self.arena[id];
        (&def.reference, &def.body)
    }

    /// One self-contained JSON Schema from a converted one: components used once are
    /// inlined where they are used, the others written once under `$defs` (named by their
    /// last pointer segment, made unique within this schema).
    pub fn finish(&mut self, schema: Value) -> Value {
        self.convert_pending();
        // A schema that is itself a reference keeps its shape at the root (an MCP output
        // schema must say `"type": "object"` there).
        let root = match marked(&schema) {
            Some(id) => merge_site(self.arena[id].body.clone(), &schema),
            None => schema,
        };
        let uses = self.uses(&root);
        let cyclic = self.cyclic(&uses);
        let mut out = Assembly {
            cx: self,
            uses: &uses,
            cyclic: &cyclic,
            names: HashMap::new(),
            taken: std::collections::HashSet::new(),
            queue: Vec::new(),
        };
        let mut root = out.emit(&root, 0);
        let mut defs = Map::new();
        while let Some(id) = out.queue.pop() {
            let name = out.names[&id].clone();
            let body = out.emit(&out.cx.arena[id].body, 0);
            defs.insert(name, body);
        }
        if !defs.is_empty()
            && let Some(map) = root.as_object_mut()
        {
            let mut sorted: Vec<(String, Value)> = defs.into_iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            match map.get_mut("$defs").and_then(Value::as_object_mut) {
                Some(existing) => existing.extend(sorted),
                None => {
                    map.insert("$defs".to_owned(), Value::Object(sorted.into_iter().collect()));
                }
            }
        }
        root
    }

    /// How often each component reachable from `root` is used in it, counting each
    /// component's own body once (as it will be written once).
    fn uses(&self, root: &Value) -> IndexMap<usize, usize> {
        let mut uses: IndexMap<usize, usize> = IndexMap::new();
        let mut queue = Vec::new();
        count_markers(root, &mut |id| {
            let n = uses.entry(id).or_insert(0);
            if *n == 0 {
                queue.push(id);
            }
            *n += 1;
        });
        while let Some(id) = queue.pop() {
            count_markers(&self.arena[id].body, &mut |inner| {
                let n = uses.entry(inner).or_insert(0);
                if *n == 0 {
                    queue.push(inner);
                }
                *n += 1;
            });
        }
        uses
    }

    /// The components among `reachable` that lie on a cycle (Tarjan's strongly connected
    /// components, iteratively).
    fn cyclic(&self, reachable: &IndexMap<usize, usize>) -> std::collections::HashSet<usize> {
        let mut index: HashMap<usize, (usize, usize)> = HashMap::new(); // id → (index, lowlink)
        let mut on_stack = std::collections::HashSet::new();
        let mut stack = Vec::new();
        let mut cyclic = std::collections::HashSet::new();
        let mut next = 0;
        for &start in reachable.keys() {
            if index.contains_key(&start) {
                continue;
            }
            let mut work: Vec<(usize, usize)> = vec![(start, 0)];
            index.insert(start, (next, next));
            next += 1;
            stack.push(start);
            on_stack.insert(start);
            while let Some(&mut (node, ref mut child)) = work.last_mut() {
                let refs = &self.arena[node].refs;
                if *child < refs.len() {
                    let target = refs[*child];
                    *child += 1;
                    if target == node {
                        cyclic.insert(node);
                    }
                    match index.get(&target) {
                        None => {
                            index.insert(target, (next, next));
                            next += 1;
                            stack.push(target);
                            on_stack.insert(target);
                            work.push((target, 0));
                        }
                        Some(&(target_index, _)) if on_stack.contains(&target) => {
                            let entry = index.get_mut(&node).expect("indexed");
                            entry.1 = entry.1.min(target_index);
                        }
                        Some(_) => {}
                    }
                    continue;
                }
                work.pop();
                let (node_index, low) = index[&node];
                if let Some(&(parent, _)) = work.last() {
                    let entry = index.get_mut(&parent).expect("indexed");
                    entry.1 = entry.1.min(low);
                }
                if low == node_index {
                    let mut component = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack.remove(&member);
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        cyclic.extend(component);
                    }
                }
            }
        }
        cyclic
    }

    /// Whether `schema` admits `null` (3.0 `nullable`, 3.1 `type: [.., "null"]`).
    pub fn is_nullable(&self, schema: &Value) -> bool {
        let Some(schema) = deref(self.doc, schema) else {
            return false;
        };
        schema.get("nullable").and_then(Value::as_bool).unwrap_or(false)
            || schema
                .get("type")
                .and_then(Value::as_array)
                .is_some_and(|ts| ts.iter().any(|t| t == "null"))
    }
}

/// Writes one schema out of the arena: markers become the inlined component or a
/// `$defs` reference.
struct Assembly<'c, 'a> {
    cx: &'c SchemaCx<'a>,
    uses: &'c IndexMap<usize, usize>,
    cyclic: &'c std::collections::HashSet<usize>,
    names: HashMap<usize, String>,
    taken: std::collections::HashSet<String>,
    /// Components to write under `$defs`.
    queue: Vec<usize>,
}

impl Assembly<'_, '_> {
    fn emit(&mut self, value: &Value, depth: usize) -> Value {
        if let Some(id) = marked(value) {
            let once = self.uses.get(&id).copied().unwrap_or(0) <= 1 && !self.cyclic.contains(&id);
            if once && depth < MAX_INLINE_DEPTH {
                let inlined = merge_site(self.cx.arena[id].body.clone(), value);
                return self.emit(&inlined, depth + 1);
            }
            let name = self.name(id);
            let mut site = value.as_object().cloned().unwrap_or_default();
            site.insert("$ref".to_owned(), json!(format!("#/$defs/{name}")));
            return Value::Object(
                site.into_iter()
                    .map(|(k, v)| {
                        let v = if k == "$ref" { v } else { self.emit(&v, depth) };
                        (k, v)
                    })
                    .collect(),
            );
        }
        match value {
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), self.emit(v, depth))).collect()),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.emit(v, depth)).collect()),
            other => other.clone(),
        }
    }

    /// The `$defs` name of component `id` in this schema, queued for writing on first use.
    fn name(&mut self, id: usize) -> String {
        if let Some(name) = self.names.get(&id) {
            return name.clone();
        }
        let reference = &self.cx.arena[id].reference;
        let mut name = def_name(reference);
        if self.taken.contains(&name) {
            // Two components with the same last segment: the whole pointer tells them apart.
            name = def_name(&reference.trim_start_matches("#/").replace('/', "_"));
            let base = name.clone();
            let mut n = 2;
            while self.taken.contains(&name) {
                name = format!("{base}_{n}");
                n += 1;
            }
        }
        self.taken.insert(name.clone());
        self.names.insert(id, name.clone());
        self.queue.push(id);
        name
    }
}

/// A component's body used at a site: the site's own keywords win.
fn merge_site(body: Value, site: &Value) -> Value {
    let extra: Vec<(&String, &Value)> = site
        .as_object()
        .map(|m| m.iter().filter(|(k, _)| *k != "$ref").collect())
        .unwrap_or_default();
    if extra.is_empty() {
        return body;
    }
    match body {
        Value::Object(mut map) => {
            for (k, v) in extra {
                map.insert(k.clone(), v.clone());
            }
            Value::Object(map)
        }
        // `true`/`false` schemas have no keywords to merge into.
        other => other,
    }
}

fn count_markers(value: &Value, found: &mut impl FnMut(usize)) {
    if let Some(id) = marked(value) {
        found(id);
    }
    match value {
        Value::Object(map) => map.values().for_each(|v| count_markers(v, found)),
        Value::Array(items) => items.iter().for_each(|v| count_markers(v, found)),
        _ => {}
    }
}

/// Keywords that only apply to instances of one type.
const TYPE_KEYWORDS: &[(&str, &[&str])] = &[
    (
        "array",
        &[
            "items",
            "prefixItems",
            "contains",
            "minItems",
            "maxItems",
            "uniqueItems",
            "minContains",
            "maxContains",
            "unevaluatedItems",
        ],
    ),
    (
        "object",
        &[
            "properties",
            "patternProperties",
            "additionalProperties",
            "required",
            "minProperties",
            "maxProperties",
            "propertyNames",
            "dependentRequired",
            "dependentSchemas",
            "unevaluatedProperties",
        ],
    ),
    ("string", &["minLength", "maxLength", "pattern"]),
    (
        "number",
        &[
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
        ],
    ),
];

/// Drops keywords that cannot change what the schema accepts: those of a type the schema
/// excludes (`uniqueItems` on a string) and the trivially true (`minItems: 0`,
/// `uniqueItems: false`, `required: []`). They cost every agent tokens and say nothing.
fn drop_no_ops(out: &mut Map<String, Value>) {
    let types: Option<Vec<&str>> = match out.get("type") {
        Some(Value::String(t)) => Some(vec![t.as_str()]),
        Some(Value::Array(ts)) => ts.iter().map(Value::as_str).collect(),
        _ => None,
    };
    if let Some(types) = types {
        let admits = |kind: &str| {
            types
                .iter()
                .any(|t| *t == kind || (kind == "number" && *t == "integer"))
        };
        let dropped: Vec<&str> = TYPE_KEYWORDS
            .iter()
            .filter(|(kind, _)| !admits(kind))
            .flat_map(|(_, keywords)| keywords.iter().copied())
            .collect();
        out.retain(|key, _| !dropped.contains(&key.as_str()));
    }
    let trivially_true = |key: &str, value: &Value| match key {
        "uniqueItems" => *value == Value::Bool(false),
        "minItems" | "minLength" | "minProperties" => value.as_u64() == Some(0),
        "required" => value.as_array().is_some_and(Vec::is_empty),
        _ => false,
    };
    out.retain(|key, value| !trivially_true(key, value));
}

/// 3.0's `nullable` and boolean `exclusiveMinimum`/`exclusiveMaximum` in JSON Schema 2020-12 terms.
fn apply_openapi_30_idioms(original: &Map<String, Value>, out: &mut Map<String, Value>) {
    if original.get("nullable").and_then(Value::as_bool) == Some(true) {
        match out.get_mut("type") {
            Some(Value::String(t)) => {
                let t = t.clone();
                out.insert("type".to_owned(), json!([t, "null"]));
            }
            Some(Value::Array(ts)) if !ts.iter().any(|t| t == "null") => ts.push(json!("null")),
            _ => {}
        }
        if let Some(Value::Array(values)) = out.get_mut("enum")
            && !values.contains(&Value::Null)
        {
            values.push(Value::Null);
        }
    }
    for (exclusive, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
        if let Some(Value::Bool(flag)) = out.get(exclusive).cloned() {
            out.remove(exclusive);
            if flag && let Some(limit) = out.remove(bound) {
                out.insert(exclusive.to_owned(), limit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "components": { "schemas": {
                "Node": { "type": "object", "properties": {
                    "id": { "type": "integer", "readOnly": true },
                    "label": { "type": "string", "nullable": true, "x-internal": 1 },
                    "children": { "type": "array", "items": { "$ref": "#/components/schemas/Node" } }
                }, "required": ["id", "label"] },
                "Tags": { "type": "array", "items": { "type": "string" } }
            }}
        })
    }

    #[test]
    fn cycles_become_defs_and_read_only_is_dropped() {
        let doc = doc();
        let mut cx = SchemaCx::new(&doc);
        let converted = cx.convert(
            &json!({ "$ref": "#/components/schemas/Node" }),
            "/x",
            Direction::Request,
        );
        let node = json!({ "type": "object", "properties": {
            "label": { "type": ["string", "null"] },
            "children": { "type": "array", "items": { "$ref": "#/$defs/Node" } }
        }, "required": ["label"] });
        let mut expected = node.clone();
        expected["$defs"] = json!({ "Node": node });
        assert_eq!(cx.finish(converted), expected);
    }

    fn finished(doc: &Value, schema: Value) -> Value {
        let mut cx = SchemaCx::new(doc);
        let converted = cx.convert(&schema, "/x", Direction::Request);
        cx.finish(converted)
    }

    #[test]
    fn a_component_used_once_is_inlined_and_one_used_twice_is_written_once() {
        let doc = json!({ "components": { "schemas": {
            "Money": { "type": "object", "properties": { "cents": { "type": "integer" } } },
            "Note": { "type": "string", "description": "A note." }
        }}});
        let money = json!({ "$ref": "#/components/schemas/Money" });
        let schema = json!({ "type": "object", "properties": {
            "price": money, "tax": money,
            "note": { "$ref": "#/components/schemas/Note", "description": "Why." }
        }});
        assert_eq!(
            finished(&doc, schema),
            json!({ "type": "object", "properties": {
                "price": { "$ref": "#/$defs/Money" },
                "tax": { "$ref": "#/$defs/Money" },
                "note": { "type": "string", "description": "Why." }
            }, "$defs": { "Money": { "type": "object", "properties": { "cents": { "type": "integer" } } } } })
        );
    }

    #[test]
    fn components_with_the_same_last_segment_keep_apart() {
        let doc = json!({
            "components": { "schemas": { "Item": { "type": "string" } } },
            "definitions": { "Item": { "type": "integer" } }
        });
        let (a, b) = (
            json!({ "$ref": "#/components/schemas/Item" }),
            json!({ "$ref": "#/definitions/Item" }),
        );
        let schema = json!({ "type": "object", "properties": { "a": a, "a2": a, "b": b, "b2": b } });
        let out = finished(&doc, schema);
        let defs = out["$defs"].as_object().expect("defs");
        assert_eq!(defs.len(), 2, "{out}");
        let a_name = out["properties"]["a"]["$ref"].as_str().expect("ref");
        let b_name = out["properties"]["b"]["$ref"].as_str().expect("ref");
        assert_ne!(a_name, b_name);
        assert_eq!(defs[a_name.trim_start_matches("#/$defs/")], json!({ "type": "string" }));
        assert_eq!(
            defs[b_name.trim_start_matches("#/$defs/")],
            json!({ "type": "integer" })
        );
    }

    /// Each level names the next twice: 2^40 paths, 40 components.
    #[test]
    fn a_shared_reference_graph_costs_its_size_not_its_paths() {
        let mut schemas = Map::new();
        for level in 0..40 {
            let next = json!({ "$ref": format!("#/components/schemas/L{}", level + 1) });
            schemas.insert(
                format!("L{level}"),
                json!({ "type": "object", "properties": { "left": next, "right": next } }),
            );
        }
        schemas.insert("L40".to_owned(), json!({ "type": "string" }));
        let doc = json!({ "components": { "schemas": schemas } });
        let out = finished(&doc, json!({ "$ref": "#/components/schemas/L0" }));
        assert_eq!(out["$defs"].as_object().map(Map::len), Some(40));
        assert!(out.to_string().len() < 10_000);
    }

    /// A chain far longer than any stack could follow by recursion.
    #[test]
    fn a_long_chain_of_components_does_not_exhaust_the_stack() {
        let mut schemas = Map::new();
        for level in 0..20_000 {
            schemas.insert(
                format!("C{level}"),
                json!({ "anyOf": [{ "type": "string" }, { "$ref": format!("#/components/schemas/C{}", level + 1) }] }),
            );
        }
        schemas.insert("C20000".to_owned(), json!({ "type": "integer" }));
        let doc = json!({ "components": { "schemas": schemas } });
        let out = finished(
            &doc,
            json!({ "type": "object", "properties": { "c": { "$ref": "#/components/schemas/C0" } } }),
        );
        // Inlined 32 deep at a time, each next stretch written under `$defs`, each
        // component exactly once.
        let defs = out["$defs"].as_object().expect("defs");
        assert_eq!(defs.len(), (20_001 - MAX_INLINE_DEPTH).div_ceil(MAX_INLINE_DEPTH + 1));
        let text = out.to_string();
        assert_eq!(text.matches("\"$ref\"").count(), defs.len());
        assert_eq!(text.matches("\"integer\"").count(), 1);
    }

    #[test]
    fn exclusive_bounds_from_30() {
        let doc = json!({});
        let mut cx = SchemaCx::new(&doc);
        let schema = cx.convert(
            &json!({ "type": "number", "minimum": 0, "exclusiveMinimum": true }),
            "",
            Direction::Request,
        );
        assert_eq!(schema, json!({ "type": "number", "exclusiveMinimum": 0 }));
    }
}
