//! Argument types to Rust: `src/types.rs` (each named type once) and the type of every
//! field that names them.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::rust::{doc_attrs, ident, plain};
use crate::ir::{
    ApiIr, RustType, Target, TypeId,
    types::{TypeDef, TypeKind},
};

/// Where named types are, seen from the module being written.
#[derive(Debug, Clone, Copy)]
pub struct TypePaths<'a> {
    /// Every named type of the API.
    pub types: &'a [TypeDef],
    /// `super::super::types` from a tool module, `super::types` from the types module.
    pub from_tool: bool,
}

impl TypePaths<'_> {
    fn prefix(&self) -> TokenStream {
        if self.from_tool {
            quote!(super::super::types)
        } else {
            quote!(super::types)
        }
    }

    /// The Rust type.
    pub fn rust(&self, ty: &RustType) -> TokenStream {
        match ty {
            RustType::String => quote!(String),
            RustType::I32 => quote!(i32),
            RustType::I64 => quote!(i64),
            RustType::U32 => quote!(u32),
            RustType::U64 => quote!(u64),
            RustType::Number => quote!(cast::serde_json::Number),
            RustType::Bool => quote!(bool),
            RustType::Vec(inner) => {
                let inner = self.rust(inner);
                quote!(Vec<#inner>)
            }
            RustType::Map(inner) => {
                let inner = self.rust(inner);
                quote!(cast::IndexMap<String, #inner>)
            }
            RustType::Nullable(inner) => {
                let inner = self.rust(inner);
                quote!(cast::Nullable<#inner>)
            }
            RustType::Boxed(inner) => {
                let target = self.rust(inner);
                // A collection already breaks the cycle; `Box<Vec<_>>` would only add a hop.
                match inner.leaf_alias(self.types) {
                    RustType::Vec(_) | RustType::Map(_) | RustType::String | RustType::Any | RustType::Json => target,
                    _ => quote!(Box<#target>),
                }
            }
            RustType::Named(id) => {
                let prefix = self.prefix();
                let name = ident(&self.types[id.0].name);
                quote!(#prefix::#name)
            }
            RustType::Any | RustType::Json => quote!(cast::Value),
        }
    }

    /// A struct field, read and sent under `name_in`.
    pub fn field(
        &self,
        ident_text: &str,
        name_in: &str,
        ty: &RustType,
        required: bool,
        description: Option<&str>,
    ) -> TokenStream {
        let docs = description.map(doc_attrs).unwrap_or_default();
        let rename = (plain(ident_text) != name_in).then(|| quote!(#[serde(rename = #name_in)]));
        let field = ident(ident_text);
        let inner = self.rust(ty);
        if required {
            return quote!(#docs #rename pub #field: #inner);
        }
        // An optional field that admits `null`: absent and `null` are different things to send.
        let present = matches!(ty, RustType::Nullable(_)).then(|| quote!(#[serde(deserialize_with = "cast::present")]));
        quote! {
            #docs #rename #[serde(default, skip_serializing_if = "Option::is_none")] #present
            pub #field: Option<#inner>
        }
    }
}

/// The named types the enabled tools reach, in id order.
fn reachable(api: &ApiIr) -> BTreeSet<TypeId> {
    let mut queue = Vec::new();
    for tool in api.enabled_tools() {
        for ty in tool.argument_types() {
            ty.named(&mut queue);
        }
    }
    let mut seen = BTreeSet::new();
    while let Some(id) = queue.pop() {
        if !seen.insert(id) {
            continue;
        }
        match &api.types[id.0].kind {
            TypeKind::Struct { fields, additional } => {
                for field in fields {
                    field.ty.named(&mut queue);
                }
                if let Some(values) = additional {
                    values.named(&mut queue);
                }
            }
            TypeKind::Union(variants) => variants.iter().for_each(|(_, ty)| ty.named(&mut queue)),
            TypeKind::Alias(ty) => ty.named(&mut queue),
            TypeKind::Enum(_) => {}
        }
    }
    seen
}

/// Items sent as path, query, header or cookie parameters, which need `ParamValue`.
fn parameter_items(api: &ApiIr) -> BTreeSet<TypeId> {
    let mut queue = Vec::new();
    let params = api.enabled_tools().flat_map(|t| &t.args);
    for arg in params.filter(|arg| matches!(arg.target, Target::Param { .. })) {
        arg.ty.named(&mut queue);
    }
    let mut items = BTreeSet::new();
    let mut seen = BTreeSet::new();
    while let Some(id) = queue.pop() {
        if !seen.insert(id) {
            continue;
        }
        match &api.types[id.0].kind {
            TypeKind::Alias(target) => target.named(&mut queue),
            _ => {
                items.insert(id);
            }
        }
    }
    items
}

/// Whether the crate has a types module.
pub fn has_types(api: &ApiIr) -> bool {
    !reachable(api).is_empty()
}

/// The body of `src/types.rs`: every named type the enabled tools use.
pub fn types_rs(api: &ApiIr) -> TokenStream {
    let paths = TypePaths {
        types: &api.types,
        from_tool: false,
    };
    let params = parameter_items(api);
    let items = reachable(api).into_iter().map(|id| {
        let def = &api.types[id.0];
        let name = ident(&def.name);
        let docs = def.description.as_deref().map(doc_attrs).unwrap_or_default();
        let derive = quote!(#[derive(Deserialize, Serialize)]);
        let item = match &def.kind {
            TypeKind::Alias(target) => {
                let target = paths.rust(target);
                quote!(#docs pub type #name = #target;)
            }
            TypeKind::Enum(variants) => {
                let variants = variants.iter().map(|(variant, wire)| {
                    let variant = ident(variant);
                    quote!(#[serde(rename = #wire)] #variant)
                });
                quote! {
                    #docs #derive
                    #[serde(crate = "cast::serde")]
                    pub enum #name { #(#variants,)* }
                }
            }
            TypeKind::Union(variants) => {
                let variants = variants.iter().map(|(variant, ty)| {
                    let variant = ident(variant);
                    let ty = paths.rust(ty);
                    quote!(#variant(#ty))
                });
                quote! {
                    #docs #derive
                    #[serde(crate = "cast::serde", untagged)]
                    pub enum #name { #(#variants,)* }
                }
            }
            TypeKind::Struct { fields, additional } => {
                let mut members: Vec<TokenStream> = fields
                    .iter()
                    .map(|f| paths.field(&f.ident, &f.wire, &f.ty, f.required, f.description.as_deref()))
                    .collect();
                let serde = match additional {
                    Some(values) => {
                        let mut rest = "additional_properties".to_owned();
                        while fields.iter().any(|f| plain(&f.ident) == rest) {
                            rest.push('_');
                        }
                        let rest = ident(&rest);
                        let values = paths.rust(values);
                        members.push(quote! {
                            /// Properties the schema does not declare, sent on as given.
                            #[serde(flatten)]
                            pub #rest: cast::IndexMap<String, #values>
                        });
                        quote!(#[serde(crate = "cast::serde")])
                    }
                    None => quote!(#[serde(crate = "cast::serde", deny_unknown_fields)]),
                };
                quote! {
                    #docs #derive
                    #serde
                    pub struct #name { #(#members,)* }
                }
            }
        };
        let param = (params.contains(&id) && !matches!(def.kind, TypeKind::Alias(_))).then(|| {
            quote! {
                impl cast::ParamValue for #name {
                    fn param_text(&self) -> cast::ParamText {
                        cast::param_text_of(self)
                    }
                }
            }
        });
        quote!(#item #param)
    });
    // Spec names never take `Deserialize` or `Serialize` (they are reserved), so the short
    // derive names cannot be shadowed.
    quote! {
        use ::cast_runtime::codegen as cast;
        use cast::serde::{Deserialize, Serialize};

        #(#items)*
    }
}
