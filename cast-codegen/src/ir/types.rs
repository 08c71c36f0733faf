//! Rust types for the arguments a tool takes, read from the request-direction JSON Schema
//! that [`SchemaCx`] converted, so the handler's types and the advertised schema come from
//! the same text. Each component gets one type (an item or an alias) however many tools
//! use it; a reference back into a type still being built becomes a `Box`.
//!
//! Every shape without a faithful Rust type stays `serde_json::Value` and is reported as a
//! `C0401` note at its JSON pointer.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::{
    diag::{Diagnostic, pointer_token},
    ir::{
        RustType, TypeId,
        naming::{self, type_ident},
        schema::{SchemaCx, marked},
    },
};

/// A named Rust type of the generated crate.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDef {
    /// Rust type name, unique in the crate.
    pub name: String,
    /// The schema's `description`.
    pub description: Option<String>,
    /// What it is.
    pub kind: TypeKind,
}

/// The shape of a named type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// A struct, from an object schema (or the merged parts of an `allOf`).
    Struct {
        /// Declared properties, in spec order.
        fields: Vec<FieldDef>,
        /// Properties beyond the declared ones and the type of their values, kept and sent on
        /// as given; `None` when the schema forbids them (`additionalProperties: false`).
        additional: Option<RustType>,
    },
    /// A string enum: each variant's Rust name and its value on the wire.
    Enum(Vec<(String, String)>),
    /// A `oneOf`/`anyOf`: the first variant the value deserializes as wins.
    Union(Vec<(String, RustType)>),
    /// `type Name = …;`, for components that are not items themselves.
    Alias(RustType),
}

/// One property of a struct.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    /// Rust field identifier (may be raw).
    pub ident: String,
    /// Property name on the wire.
    pub wire: String,
    /// Whether it must be present.
    pub required: bool,
    /// Its type.
    pub ty: RustType,
    /// Its description.
    pub description: Option<String>,
}

/// How many argument fields (top-level arguments and struct fields, each type counted once)
/// are typed, and how many are `serde_json::Value`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// All fields.
    pub fields: usize,
    /// Fields whose schema has a shape Cast could not type (`C0401` notes).
    pub untyped: usize,
    /// Fields whose schema allows any JSON, where `Value` is the faithful type.
    pub any: usize,
}

impl Census {
    /// The share of fields that are `Value` for want of a type, in percent.
    pub fn untyped_percent(&self) -> f64 {
        if self.fields == 0 {
            0.0
        } else {
            100.0 * self.untyped as f64 / self.fields as f64
        }
    }
}

#[derive(Debug, Clone)]
enum Slot {
    /// Being built: references to it are back edges.
    Busy(TypeId),
    Done(RustType),
}

/// Builds the named types of one API.
#[derive(Debug, Default)]
pub struct TypeSpace {
    types: Vec<TypeDef>,
    components: HashMap<usize, Slot>,
    names: HashSet<String>,
    /// Slots whose item was filled while building (the rest become aliases).
    filled: HashSet<usize>,
    /// Inline string enums by their values: specs repeat the same list on many operations
    /// (Asana's `opt_fields`), and one type serves them all.
    inline_enums: HashMap<Vec<(String, String)>, TypeId>,
    /// Components being built inside one another right now.
    depth: usize,
    /// Components met deeper than [`MAX_NESTING`], built once the outer walk returns, so a
    /// chain of thousands of references never deepens the stack.
    deferred: Vec<(usize, TypeId)>,
}

/// How many components are built inside one another before the next is deferred.
const MAX_NESTING: usize = 24;

/// The JSON Schema keywords that only annotate: a schema made of these alone allows any JSON.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "default",
    "examples",
    "deprecated",
    "$comment",
    "format",
    "contentEncoding",
    "contentMediaType",
];

impl TypeSpace {
    /// The types built so far, indexed by [`TypeId`].
    pub fn into_types(self) -> Vec<TypeDef> {
        self.types
    }

    /// The Rust type of a converted (request-direction) schema found at `pointer`; `hint`
    /// names any inline type it needs.
    pub fn rust_type(&mut self, cx: &mut SchemaCx<'_>, schema: &Value, pointer: &str, hint: &str) -> RustType {
        let ty = self.walk(cx, schema, pointer, hint, None, false);
        while let Some((def, id)) = self.deferred.pop() {
            self.build_deferred(cx, def, id);
        }
        ty
    }

    /// A deferred component: already named by `Box<Name>` where it was met, so `Name`
    /// becomes an alias of whatever its schema gives.
    fn build_deferred(&mut self, cx: &mut SchemaCx<'_>, def: usize, id: TypeId) {
        let (reference, body) = cx.component(def);
        let (reference, body) = (reference.to_owned(), body.clone());
        let name = reference.rsplit('/').next().unwrap_or("schema").to_owned();
        let pointer = reference.strip_prefix('#').unwrap_or(&reference).to_owned();
        let ty = self.walk(cx, &body, &pointer, &name, None, false);
        let alias = self.alias(cx, id, ty, &body, &pointer);
        self.components.insert(def, Slot::Done(alias));
    }

    /// Makes component `id` an alias of `ty`, unless the alias would name itself.
    fn alias(&mut self, cx: &mut SchemaCx<'_>, id: TypeId, ty: RustType, body: &Value, pointer: &str) -> RustType {
        let target = if mentions_in(&ty, id, &self.types, 0) {
            Self::note(
                cx,
                pointer,
                "a schema that contains itself other than through an object",
            )
        } else {
            ty
        };
        self.types[id.0].description = description(body);
        self.types[id.0].kind = TypeKind::Alias(target);
        self.filled.insert(id.0);
        RustType::Named(id)
    }

    fn note(cx: &mut SchemaCx<'_>, pointer: &str, what: &str) -> RustType {
        cx.diagnostics.push(
            Diagnostic::note("C0401", pointer, format!("{what}: no faithful Rust type"))
                .hint("the value is accepted as any JSON and sent as given; the upstream checks it"),
        );
        RustType::Json
    }

    fn reserve(&mut self, name: &str) -> TypeId {
        let name = naming::unique_camel(type_ident(name), &mut self.names);
        self.types.push(TypeDef {
            name,
            description: None,
            kind: TypeKind::Alias(RustType::Any),
        });
        TypeId(self.types.len() - 1)
    }

    /// Fills `slot` (a component's reserved id) or a new id with an item.
    fn item(&mut self, slot: Option<TypeId>, name: &str, description: Option<String>, kind: TypeKind) -> RustType {
        if let (None, TypeKind::Enum(variants)) = (slot, &kind) {
            if let Some(id) = self.inline_enums.get(variants) {
                return RustType::Named(*id);
            }
            let id = self.reserve(name);
            self.inline_enums.insert(variants.clone(), id);
            self.filled.insert(id.0);
            self.types[id.0].kind = kind;
            return RustType::Named(id);
        }
        let id = match slot {
            Some(id) => id,
            None => self.reserve(name),
        };
        self.filled.insert(id.0);
        self.types[id.0].description = description;
        self.types[id.0].kind = kind;
        RustType::Named(id)
    }

    fn component(&mut self, cx: &mut SchemaCx<'_>, def: usize, indirect: bool) -> RustType {
        match self.components.get(&def) {
            Some(Slot::Done(ty)) => return ty.clone(),
            Some(Slot::Busy(id)) => {
                let named = RustType::Named(*id);
                return if indirect {
                    named
                } else {
                    RustType::Boxed(Box::new(named))
                };
            }
            None => {}
        }
        let (reference, body) = cx.component(def);
        let (reference, body) = (reference.to_owned(), body.clone());
        let name = reference.rsplit('/').next().unwrap_or("schema").to_owned();
        if self.depth >= MAX_NESTING {
            // Reserved under a name of its own (the alias); Boxed, since it is built later and
            // may contain what contains it.
            let id = self.reserve(&name);
            self.components.insert(def, Slot::Busy(id));
            self.deferred.push((def, id));
            let named = RustType::Named(id);
            return if indirect {
                named
            } else {
                RustType::Boxed(Box::new(named))
            };
        }
        let id = self.reserve(&name);
        self.components.insert(def, Slot::Busy(id));
        let pointer = reference.strip_prefix('#').unwrap_or(&reference).to_owned();
        self.depth += 1;
        let ty = self.walk(cx, &body, &pointer, &name, Some(id), false);
        self.depth -= 1;
        // Not an item: the component becomes an alias.
        let ty = if self.filled.contains(&id.0) {
            ty
        } else {
            self.alias(cx, id, ty, &body, &pointer)
        };
        self.components.insert(def, Slot::Done(ty.clone()));
        ty
    }

    fn walk(
        &mut self,
        cx: &mut SchemaCx<'_>,
        schema: &Value,
        pointer: &str,
        hint: &str,
        slot: Option<TypeId>,
        indirect: bool,
    ) -> RustType {
        if let Some(def) = marked(schema) {
            return self.component(cx, def, indirect);
        }
        let Some(object) = schema.as_object() else {
            // `true` allows anything; `false` nothing, which no argument can satisfy anyway.
            return RustType::Any;
        };
        if let Some(without) = without_null(object) {
            return match self.walk(cx, &without, pointer, hint, slot, indirect) {
                ty @ (RustType::Any | RustType::Json | RustType::Nullable(_)) => ty,
                ty => RustType::Nullable(Box::new(ty)),
            };
        }
        if let Some(Value::String(only)) = object.get("const") {
            let variants = vec![(variant_ident(only, 0), only.clone())];
            return self.item(slot, hint, description(schema), TypeKind::Enum(variants));
        }
        if let Some(Value::Array(values)) = object.get("enum") {
            let strings: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            if !strings.is_empty() && strings.len() == values.len() {
                // Specs repeat values (Okta's grant types); one variant each.
                let mut once = HashSet::new();
                let strings: Vec<&str> = strings.into_iter().filter(|v| once.insert(*v)).collect();
                let mut taken = HashSet::new();
                let variants = strings
                    .iter()
                    .enumerate()
                    .map(|(i, value)| {
                        let ident = naming::unique_camel(variant_ident(value, i), &mut taken);
                        (ident, (*value).to_owned())
                    })
                    .collect();
                return self.item(slot, hint, description(schema), TypeKind::Enum(variants));
            }
        }
        if let Some(Value::Array(parts)) = object.get("allOf") {
            return self.all_of(cx, object, parts, pointer, hint, slot, indirect);
        }
        for keyword in ["oneOf", "anyOf"] {
            if let Some(Value::Array(members)) = object.get(keyword) {
                if has_properties(object) {
                    return Self::note(
                        cx,
                        pointer,
                        &format!("an object with both `properties` and `{keyword}`"),
                    );
                }
                let here = format!("{pointer}/{keyword}");
                return self.union(cx, members, &here, hint, slot, indirect, description(schema));
            }
        }
        let types: Vec<&str> = match object.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => {
                let mut once = HashSet::new();
                ts.iter()
                    .filter_map(Value::as_str)
                    .filter(|t| once.insert(*t))
                    .collect()
            }
            _ if has_properties(object) || object.contains_key("additionalProperties") => vec!["object"],
            _ if object.contains_key("items") => vec!["array"],
            _ => Vec::new(),
        };
        match types.as_slice() {
            // No type: any JSON that passes the constraints (`not`, `if`, a lone `minimum`)
            // is valid, so `Value` stays faithful.
            [] => RustType::Any,
            ["string"] => RustType::String,
            ["boolean"] => RustType::Bool,
            ["number"] => RustType::Number,
            ["integer"] => integer(object),
            ["null"] => RustType::Any,
            ["array"] => self.array(cx, object, pointer, hint),
            ["object"] => self.object(cx, object, pointer, hint, slot, description(schema)),
            [unknown] => Self::note(
                cx,
                pointer,
                &format!("`type: {unknown}`, which JSON Schema does not define"),
            ),
            several => {
                // `type: [string, integer]`: one variant per type, tried in the spec's order.
                let members: Vec<Value> = several
                    .iter()
                    .map(|t| {
                        let mut member = object.clone();
                        member.insert("type".to_owned(), Value::String((*t).to_owned()));
                        Value::Object(member)
                    })
                    .collect();
                self.union(cx, &members, pointer, hint, slot, indirect, description(schema))
            }
        }
    }

    fn array(&mut self, cx: &mut SchemaCx<'_>, object: &Map<String, Value>, pointer: &str, hint: &str) -> RustType {
        if object.contains_key("prefixItems") || object.get("items").is_some_and(Value::is_array) {
            return Self::note(cx, pointer, "a tuple (`prefixItems`)");
        }
        let item = match object.get("items") {
            Some(items) => self.walk(
                cx,
                items,
                &format!("{pointer}/items"),
                &format!("{hint}Item"),
                None,
                true,
            ),
            None => RustType::Any,
        };
        RustType::Vec(Box::new(item))
    }

    fn object(
        &mut self,
        cx: &mut SchemaCx<'_>,
        object: &Map<String, Value>,
        pointer: &str,
        hint: &str,
        slot: Option<TypeId>,
        description: Option<String>,
    ) -> RustType {
        let additional = match object.get("additionalProperties") {
            None | Some(Value::Bool(true)) => Some(RustType::Any),
            Some(Value::Bool(false)) => None,
            Some(schema) => Some(self.walk(
                cx,
                schema,
                &format!("{pointer}/additionalProperties"),
                &format!("{hint}Value"),
                None,
                true,
            )),
        };
        let additional = if object.contains_key("patternProperties") {
            Some(RustType::Any)
        } else {
            additional
        };
        if !has_properties(object) {
            return match additional {
                None | Some(RustType::Any) => RustType::Any,
                Some(values) => RustType::Map(Box::new(values)),
            };
        }
        let props = Properties::of(object, pointer);
        let fields = self.fields(cx, props, hint);
        self.item(slot, hint, description, TypeKind::Struct { fields, additional })
    }

    fn fields(&mut self, cx: &mut SchemaCx<'_>, props: Properties, hint: &str) -> Vec<FieldDef> {
        let mut taken = HashSet::new();
        let mut fields = Vec::with_capacity(props.list.len());
        for (wire, schema, at) in props.list {
            let ident = naming::unique(naming::field_ident(&wire), &mut taken, usize::MAX);
            let field_hint = format!("{hint}{}", type_ident(&wire));
            let ty = match schema {
                Some(schema) => self.walk(cx, &schema, &at, &field_hint, None, false),
                None => Self::note(cx, &at, "a property whose `allOf` parts disagree"),
            };
            fields.push(FieldDef {
                required: props.required.contains(&wire),
                description: props.descriptions.get(&wire).cloned(),
                ident,
                wire,
                ty,
            });
        }
        fields
    }

    #[allow(clippy::too_many_arguments)]
    fn union(
        &mut self,
        cx: &mut SchemaCx<'_>,
        members: &[Value],
        pointer: &str,
        hint: &str,
        slot: Option<TypeId>,
        indirect: bool,
        description: Option<String>,
    ) -> RustType {
        match members {
            [] => RustType::Any,
            [only] => self.walk(cx, only, &format!("{pointer}/0"), hint, slot, indirect),
            _ => {
                let mut taken = HashSet::new();
                let mut variants = Vec::with_capacity(members.len());
                for (i, member) in members.iter().enumerate() {
                    let ty = self.walk(
                        cx,
                        member,
                        &format!("{pointer}/{i}"),
                        &format!("{hint}Option{}", i + 1),
                        None,
                        false,
                    );
                    if matches!(ty, RustType::Any | RustType::Json) {
                        // A member that accepts anything swallows the rest: the whole is any JSON.
                        return ty;
                    }
                    let name = naming::unique_camel(variant_name(&ty, &self.types, i), &mut taken);
                    variants.push((name, ty));
                }
                self.item(slot, hint, description, TypeKind::Union(variants))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn all_of(
        &mut self,
        cx: &mut SchemaCx<'_>,
        object: &Map<String, Value>,
        parts: &[Value],
        pointer: &str,
        hint: &str,
        slot: Option<TypeId>,
        indirect: bool,
    ) -> RustType {
        let own_shape = has_properties(object) || object.contains_key("oneOf") || object.contains_key("anyOf");
        if parts.len() == 1 && !own_shape {
            return self.walk(cx, &parts[0], &format!("{pointer}/allOf/0"), hint, slot, indirect);
        }
        // Merge the parts' properties into one struct; every part must be an object.
        let mut merged = Properties::default();
        let mut open = true;
        let mut seen = HashSet::new();
        let mut queue: Vec<(Value, String)> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), format!("{pointer}/allOf/{i}")))
            .collect();
        queue.reverse();
        let mut own = object.clone();
        own.remove("allOf");
        if has_properties(&own) {
            queue.insert(0, (Value::Object(own), pointer.to_owned()));
        }
        while let Some((part, at)) = queue.pop() {
            let (part, at) = match marked(&part) {
                Some(def) => {
                    if !seen.insert(def) {
                        continue;
                    }
                    let (reference, body) = cx.component(def);
                    (
                        body.clone(),
                        reference.strip_prefix('#').unwrap_or(reference).to_owned(),
                    )
                }
                None => (part, at),
            };
            let Some(part_object) = part.as_object() else {
                continue;
            };
            if let Some(Value::Array(nested)) = part_object.get("allOf") {
                for (i, nested) in nested.iter().enumerate().rev() {
                    queue.push((nested.clone(), format!("{at}/allOf/{i}")));
                }
            }
            let annotations_only = part_object
                .keys()
                .all(|k| ANNOTATIONS.contains(&k.as_str()) || k == "allOf" || k == "required");
            if annotations_only {
                if let Some(Value::Array(required)) = part_object.get("required") {
                    merged
                        .required
                        .extend(required.iter().filter_map(Value::as_str).map(str::to_owned));
                }
                continue;
            }
            let is_object = part_object.get("type").is_none_or(|t| t == "object")
                && !part_object.contains_key("oneOf")
                && !part_object.contains_key("anyOf")
                && !part_object.contains_key("enum");
            if !is_object {
                return Self::note(cx, pointer, "an `allOf` whose parts are not all objects");
            }
            if part_object
                .get("additionalProperties")
                .is_some_and(|a| a != &Value::Bool(false))
            {
                return Self::note(cx, pointer, "an `allOf` with `additionalProperties` in a part");
            }
            open &= part_object.get("additionalProperties") != Some(&Value::Bool(false));
            merged.merge(Properties::of(part_object, &at));
        }
        if merged.list.is_empty() {
            return RustType::Any;
        }
        let fields = self.fields(cx, merged, hint);
        let additional = open.then_some(RustType::Any);
        self.item(
            slot,
            hint,
            description(&Value::Object(object.clone())),
            TypeKind::Struct { fields, additional },
        )
    }
}

/// Properties of one object schema (or of merged `allOf` parts).
#[derive(Debug, Default)]
struct Properties {
    /// Wire name, schema (`None` when merged parts disagree) and pointer, in order.
    list: Vec<(String, Option<Value>, String)>,
    required: HashSet<String>,
    descriptions: HashMap<String, String>,
}

impl Properties {
    fn of(object: &Map<String, Value>, pointer: &str) -> Self {
        let mut out = Self::default();
        if let Some(Value::Object(props)) = object.get("properties") {
            for (name, schema) in props {
                if let Some(Value::String(d)) = schema.get("description") {
                    out.descriptions.insert(name.clone(), d.clone());
                }
                let at = format!("{pointer}/properties/{}", pointer_token(name));
                out.list.push((name.clone(), Some(schema.clone()), at));
            }
        }
        if let Some(Value::Array(required)) = object.get("required") {
            out.required
                .extend(required.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        out
    }

    fn merge(&mut self, other: Self) {
        for (name, schema, at) in other.list {
            match self.list.iter_mut().find(|(n, _, _)| *n == name) {
                Some((_, existing, _)) => {
                    if existing.as_ref() != schema.as_ref() {
                        *existing = None;
                    }
                }
                None => self.list.push((name, schema, at)),
            }
        }
        self.required.extend(other.required);
        for (name, d) in other.descriptions {
            self.descriptions.entry(name).or_insert(d);
        }
    }
}

fn has_properties(object: &Map<String, Value>) -> bool {
    object
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty())
}

fn description(schema: &Value) -> Option<String> {
    schema.get("description").and_then(Value::as_str).map(str::to_owned)
}

/// The schema without what admits `null`, when something does.
fn without_null(object: &Map<String, Value>) -> Option<Value> {
    let mut out = object.clone();
    let mut changed = false;
    if let Some(Value::Array(types)) = object.get("type")
        && types.iter().any(|t| t == "null")
    {
        let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if rest.is_empty() {
            return None;
        }
        out.insert(
            "type".to_owned(),
            if rest.len() == 1 {
                rest[0].clone()
            } else {
                Value::Array(rest)
            },
        );
        changed = true;
    }
    if let Some(Value::Array(values)) = object.get("enum")
        && values.contains(&Value::Null)
    {
        out.insert(
            "enum".to_owned(),
            Value::Array(values.iter().filter(|v| !v.is_null()).cloned().collect()),
        );
        changed = true;
    }
    for keyword in ["oneOf", "anyOf"] {
        if let Some(Value::Array(members)) = object.get(keyword) {
            let is_null = |m: &Value| {
                m.get("type").is_some_and(|t| t == "null") || m.get("enum") == Some(&serde_json::json!([null]))
            };
            if members.iter().any(is_null) && members.len() > 1 {
                out.insert(
                    keyword.to_owned(),
                    Value::Array(members.iter().filter(|m| !is_null(m)).cloned().collect()),
                );
                changed = true;
            }
        }
    }
    changed.then_some(Value::Object(out))
}

/// `int32` and `int64` as declared; unsigned where the schema says `minimum >= 0`.
fn integer(object: &Map<String, Value>) -> RustType {
    let non_negative = ["minimum", "exclusiveMinimum"]
        .iter()
        .filter_map(|k| object.get(*k))
        .any(|m| m.as_f64().is_some_and(|m| m >= 0.0));
    let maximum = ["maximum", "exclusiveMaximum"]
        .iter()
        .filter_map(|k| object.get(*k))
        .find_map(Value::as_f64);
    let int32 = object.get("format").and_then(Value::as_str) == Some("int32");
    match (int32, non_negative) {
        (true, true) if maximum.is_none_or(|m| m <= f64::from(u32::MAX)) => RustType::U32,
        (true, false) => RustType::I32,
        (_, true) => RustType::U64,
        _ => RustType::I64,
    }
}

fn variant_ident(value: &str, index: usize) -> String {
    let ident = type_ident(value);
    if ident.starts_with("Type") && value.chars().all(|c| !c.is_ascii_alphanumeric()) {
        format!("Value{}", index + 1)
    } else {
        ident
    }
}

fn variant_name(ty: &RustType, types: &[TypeDef], index: usize) -> String {
    match ty {
        RustType::Named(id) => types[id.0].name.clone(),
        RustType::Boxed(inner) | RustType::Nullable(inner) => variant_name(inner, types, index),
        RustType::String => "String".to_owned(),
        RustType::Bool => "Boolean".to_owned(),
        RustType::I32 | RustType::I64 | RustType::U32 | RustType::U64 => "Integer".to_owned(),
        RustType::Number => "Number".to_owned(),
        RustType::Vec(_) => "Array".to_owned(),
        RustType::Map(_) => "Object".to_owned(),
        RustType::Any | RustType::Json => format!("Option{}", index + 1),
    }
}

/// Whether `ty` names `id` other than through a `Vec` or a map, following the aliases in
/// `types` (an alias of an alias of itself is as infinite as an alias of itself).
fn mentions_in(ty: &RustType, id: TypeId, types: &[TypeDef], depth: usize) -> bool {
    if depth > 64 {
        return true;
    }
    match ty {
        RustType::Named(other) if *other == id => true,
        RustType::Named(other) => match types.get(other.0).map(|t| &t.kind) {
            Some(TypeKind::Alias(target)) => mentions_in(target, id, types, depth + 1),
            _ => false,
        },
        RustType::Boxed(inner) | RustType::Nullable(inner) | RustType::Vec(inner) | RustType::Map(inner) => {
            mentions_in(inner, id, types, depth + 1)
        }
        _ => false,
    }
}

/// Counts the fields of the given top-level argument types and of every type they reach.
pub fn census<'t>(types: &[TypeDef], arguments: impl IntoIterator<Item = &'t RustType>) -> Census {
    let mut census = Census::default();
    let mut seen = HashSet::new();
    let mut queue = Vec::new();
    let count = |ty: &RustType, census: &mut Census, queue: &mut Vec<TypeId>| {
        census.fields += 1;
        match ty.leaf(types) {
            RustType::Json => census.untyped += 1,
            RustType::Any => census.any += 1,
            _ => {}
        }
        ty.named(queue);
    };
    for ty in arguments {
        count(ty, &mut census, &mut queue);
    }
    while let Some(id) = queue.pop() {
        if !seen.insert(id) {
            continue;
        }
        match &types[id.0].kind {
            TypeKind::Struct { fields, .. } => {
                for field in fields {
                    count(&field.ty, &mut census, &mut queue);
                }
            }
            TypeKind::Union(variants) => {
                for (_, ty) in variants {
                    ty.named(&mut queue);
                }
            }
            TypeKind::Alias(ty) => ty.named(&mut queue),
            TypeKind::Enum(_) => {}
        }
    }
    census
}

impl RustType {
    /// The type under `Option`-like and container wrappers and aliases.
    pub fn leaf<'t>(&'t self, types: &'t [TypeDef]) -> &'t RustType {
        let mut ty = self;
        for _ in 0..64 {
            ty = match ty {
                RustType::Boxed(inner) | RustType::Nullable(inner) | RustType::Vec(inner) | RustType::Map(inner) => {
                    inner
                }
                RustType::Named(id) => match &types[id.0].kind {
                    TypeKind::Alias(target) => target,
                    _ => return ty,
                },
                _ => return ty,
            };
        }
        ty
    }

    /// The type an alias chain ends at.
    pub fn leaf_alias<'t>(&'t self, types: &'t [TypeDef]) -> &'t RustType {
        let mut ty = self;
        for _ in 0..64 {
            match ty {
                RustType::Named(id) => match &types[id.0].kind {
                    TypeKind::Alias(target) => ty = target,
                    _ => return ty,
                },
                _ => return ty,
            }
        }
        ty
    }

    /// Pushes the named types this type mentions directly.
    pub fn named(&self, out: &mut Vec<TypeId>) {
        match self {
            RustType::Named(id) => out.push(*id),
            RustType::Boxed(inner) | RustType::Nullable(inner) | RustType::Vec(inner) | RustType::Map(inner) => {
                inner.named(out)
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ir::schema::Direction;

    fn typed(doc: &Value, schema: Value) -> (RustType, Vec<TypeDef>, usize) {
        let mut cx = SchemaCx::new(doc);
        let mut space = TypeSpace::default();
        let converted = cx.convert(&schema, "/x", Direction::Request);
        let ty = space.rust_type(&mut cx, &converted, "/x", "Arg");
        let notes = cx.diagnostics.iter().filter(|d| d.code == "C0401").count();
        (ty, space.into_types(), notes)
    }

    fn doc() -> Value {
        json!({ "components": { "schemas": {
            "Pet": { "type": "object", "required": ["name"], "properties": {
                "name": { "type": "string" },
                "status": { "type": "string", "enum": ["available", "sold"] },
                "parent": { "$ref": "#/components/schemas/Pet" },
                "children": { "type": "array", "items": { "$ref": "#/components/schemas/Pet" } },
                "age": { "type": "integer", "format": "int32", "minimum": 0 },
                "nick": { "type": ["string", "null"] }
            }, "additionalProperties": false },
            "Id": { "type": "string" },
            "Dog": { "allOf": [ { "$ref": "#/components/schemas/Pet" }, { "type": "object", "properties": { "bark": { "type": "boolean" } } } ] },
            "IdOrPet": { "anyOf": [ { "$ref": "#/components/schemas/Id" }, { "$ref": "#/components/schemas/Pet" } ] }
        } } })
    }

    #[test]
    fn components_become_one_type_each_and_cycles_go_through_box() {
        let doc = doc();
        let (ty, types, notes) = typed(&doc, json!({ "$ref": "#/components/schemas/Pet" }));
        assert_eq!(notes, 0);
        let RustType::Named(pet) = ty else { panic!("{ty:?}") };
        let TypeKind::Struct { fields, additional } = &types[pet.0].kind else {
            panic!("{:?}", types[pet.0])
        };
        assert_eq!(types[pet.0].name, "Pet");
        assert_eq!(additional, &None);
        let by_wire = |w: &str| fields.iter().find(|f| f.wire == w).expect(w);
        assert!(by_wire("name").required);
        assert_eq!(by_wire("parent").ty, RustType::Boxed(Box::new(RustType::Named(pet))));
        assert_eq!(by_wire("children").ty, RustType::Vec(Box::new(RustType::Named(pet))));
        assert_eq!(by_wire("age").ty, RustType::U32);
        assert_eq!(by_wire("nick").ty, RustType::Nullable(Box::new(RustType::String)));
        let RustType::Named(status) = by_wire("status").ty else {
            panic!()
        };
        assert_eq!(
            types[status.0].kind,
            TypeKind::Enum(vec![
                ("Available".into(), "available".into()),
                ("Sold".into(), "sold".into())
            ])
        );
    }

    #[test]
    fn all_of_merges_and_any_of_is_a_union() {
        let doc = doc();
        let (ty, types, notes) = typed(&doc, json!({ "$ref": "#/components/schemas/Dog" }));
        assert_eq!(notes, 0);
        let RustType::Named(dog) = ty else { panic!() };
        let TypeKind::Struct { fields, additional } = &types[dog.0].kind else {
            panic!()
        };
        let wires: Vec<&str> = fields.iter().map(|f| f.wire.as_str()).collect();
        assert_eq!(wires, ["name", "status", "parent", "children", "age", "nick", "bark"]);
        assert_eq!(additional, &None, "Pet closes the merged object");

        let (ty, types, _) = typed(&doc, json!({ "$ref": "#/components/schemas/IdOrPet" }));
        let RustType::Named(union) = ty else { panic!() };
        let TypeKind::Union(variants) = &types[union.0].kind else {
            panic!()
        };
        let names: Vec<&str> = variants.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Id", "Pet"]);
        assert_eq!(
            variants[0].1.leaf(&types),
            &RustType::String,
            "`Id` is an alias of String"
        );
    }

    #[test]
    fn a_long_chain_of_components_does_not_exhaust_the_stack() {
        let n = 20_000;
        let mut schemas = serde_json::Map::new();
        for i in 0..n {
            let next = if i + 1 < n {
                json!({ "$ref": format!("#/components/schemas/S{}", i + 1) })
            } else {
                json!({ "type": "string" })
            };
            schemas.insert(
                format!("S{i}"),
                json!({ "type": "object", "properties": { "next": next } }),
            );
        }
        let doc = json!({ "components": { "schemas": schemas } });
        let handle = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let (ty, types, notes) = typed(&doc, json!({ "$ref": "#/components/schemas/S0" }));
                assert_eq!(notes, 0);
                assert!(matches!(ty, RustType::Named(_)));
                assert!(types.len() >= n, "{} types", types.len());
            })
            .expect("thread");
        handle.join().expect("no stack overflow");
    }

    #[test]
    fn components_that_only_name_each_other_are_notes_not_alias_cycles() {
        let doc = json!({ "components": { "schemas": {
            "A": { "$ref": "#/components/schemas/B" },
            "B": { "$ref": "#/components/schemas/A" }
        } } });
        let (ty, types, notes) = typed(&doc, json!({ "$ref": "#/components/schemas/A" }));
        assert_eq!(notes, 1);
        assert_eq!(ty.leaf(&types), &RustType::Json);
        let (ty, _, notes) = typed(&doc, json!({ "type": ["string", "strange"] }));
        assert!(matches!(ty, RustType::Json) && notes == 1, "{ty:?}");
    }

    #[test]
    fn shapes_without_a_type_are_notes_and_any_json_is_not() {
        let doc = json!({});
        let (ty, _, notes) = typed(&doc, json!({ "type": "array", "prefixItems": [{ "type": "string" }] }));
        assert_eq!((ty, notes), (RustType::Json, 1));
        let (ty, _, notes) = typed(&doc, json!({ "description": "anything" }));
        assert_eq!((ty, notes), (RustType::Any, 0));
        let (ty, _, _) = typed(
            &doc,
            json!({ "type": "object", "additionalProperties": { "type": "integer" } }),
        );
        assert_eq!(ty, RustType::Map(Box::new(RustType::I64)));
    }
}
