//! IR to Rust source: `main.rs`, `tools/mod.rs` and one file per tool.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::{
    fragments::SharedSchemas,
    types::{TypePaths, has_types, types_rs},
};
use crate::ir::{ApiIr, ArgIr, BodyIr, BodyKind, HttpMethod, Location, SchemeKind, Style, Styled, Target, ToolIr};

/// The version of the generated-code/runtime contract this generator writes for; it must
/// equal `cast_runtime::codegen::CONTRACT` (the contract test checks it).
pub const RUNTIME_CONTRACT: u32 = 2;

/// Lints that judge generated type names and layouts the spec decided.
fn types_allow() -> TokenStream {
    quote!(#[allow(clippy::large_enum_variant, clippy::enum_variant_names)])
}

/// `#[doc = "..."]` lines for text from the spec. Code fences are marked `text`
/// so that nothing a spec author wrote is ever compiled as a doctest.
pub fn doc_attrs(text: &str) -> TokenStream {
    let mut in_fence = false;
    let lines = text.trim().lines().map(|line| {
        let trimmed = line.trim_start();
        let line = if trimmed.starts_with("```") {
            in_fence = !in_fence;
            if in_fence {
                "```text".to_owned()
            } else {
                "```".to_owned()
            }
        } else {
            line.trim_end().to_owned()
        };
        let line = if line.is_empty() { line } else { format!(" {line}") };
        quote!(#[doc = #line])
    });
    let lines: Vec<TokenStream> = lines.collect();
    quote!(#(#lines)*)
}

/// A raw string literal (`r#"..."#`) with enough hashes for `text`: schemas stay readable.
fn raw_string(text: &str) -> Literal {
    let mut hashes = 1;
    while text.contains(&format!("\"{}", "#".repeat(hashes))) {
        hashes += 1;
    }
    let hashes = "#".repeat(hashes);
    format!("r{hashes}\"{text}\"{hashes}")
        .parse()
        .expect("a raw string literal is always valid")
}

pub(super) fn ident(name: &str) -> syn::Ident {
    match name.strip_prefix("r#") {
        Some(raw) => format_ident!("r#{}", raw),
        None => format_ident!("{}", name),
    }
}

pub(super) fn plain(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// `src/main.rs`.
/// The `API` static: identity, upstream, schemes and the tool table.
fn api_static(api: &ApiIr, visibility: TokenStream, shared: &SharedSchemas) -> TokenStream {
    let fragments = if shared.fragments.is_empty() {
        quote!()
    } else {
        quote!(fragments: schemas::FRAGMENTS,)
    };
    let tools_lock = crate::lock::Lock::of(api).hash();
    let direct = &api.direct;
    let mode = match api.mode {
        crate::settings::ToolMode::Tools => quote!(),
        crate::settings::ToolMode::Catalog => quote!(mode: ::cast_runtime::codegen::Mode::Catalog,),
        crate::settings::ToolMode::Both => {
            quote!(mode: ::cast_runtime::codegen::Mode::Both, direct: &[#(#direct),*],)
        }
    };
    let title = &api.title;
    let instructions = match &api.instructions {
        Some(text) => quote!(::std::option::Option::Some(#text)),
        None => quote!(::std::option::Option::None),
    };
    let base_url = &api.base_url;
    let schemes = api.schemes.iter().map(|scheme| {
        let name = &scheme.name;
        let kind = match &scheme.kind {
            SchemeKind::Header(n) => quote!(::cast_runtime::codegen::SchemeKind::Header { name: #n }),
            SchemeKind::Query(n) => quote!(::cast_runtime::codegen::SchemeKind::Query { name: #n }),
            SchemeKind::Cookie(n) => quote!(::cast_runtime::codegen::SchemeKind::Cookie { name: #n }),
            SchemeKind::Field(n) => quote!(::cast_runtime::codegen::SchemeKind::Field { name: #n }),
            SchemeKind::Bearer => quote!(::cast_runtime::codegen::SchemeKind::Bearer),
            SchemeKind::Basic => quote!(::cast_runtime::codegen::SchemeKind::Basic),
            SchemeKind::OAuth2ClientCredentials { token_url, scopes, params } => {
                let params = params.iter().map(|(k, v)| quote!((#k, #v)));
                quote!(::cast_runtime::codegen::SchemeKind::OAuth2ClientCredentials {
                    token_url: #token_url,
                    scopes: &[#(#scopes),*],
                    params: &[#(#params),*],
                })
            }
            SchemeKind::OAuth2AuthorizationCode { authorize_url, token_url, scopes } => quote!(
                ::cast_runtime::codegen::SchemeKind::OAuth2AuthorizationCode {
                    authorize_url: #authorize_url,
                    token_url: #token_url,
                    scopes: &[#(#scopes),*],
                }
            ),
            SchemeKind::OpenIdConnect { discovery_url, scopes } => quote!(
                ::cast_runtime::codegen::SchemeKind::OpenIdConnect { discovery_url: #discovery_url, scopes: &[#(#scopes),*] }
            ),
        };
        quote!(::cast_runtime::codegen::Scheme { name: #name, kind: #kind })
    });
    let headers = api.static_headers.iter().map(|(name, value)| quote!((#name, #value)));
    let credential_files = api
        .credential_files
        .iter()
        .map(|(scheme, path)| quote!((#scheme, #path)));
    let always = api.always.iter().map(|i| Literal::usize_unsuffixed(*i));
    let redirects = if api.follow_same_origin_redirects {
        quote!(::cast_runtime::codegen::Redirects::SameOrigin)
    } else {
        quote!(::cast_runtime::codegen::Redirects::None)
    };
    let inbound_scopes = api
        .inbound_scopes
        .iter()
        .map(|(scope, grants)| quote!((#scope, &[#(#grants),*])));
    let tool_timeouts = api.tool_timeouts.iter().map(|(tool, secs)| {
        let secs = Literal::u64_unsuffixed(*secs);
        quote!((#tool, #secs))
    });
    let contract = Literal::u32_unsuffixed(RUNTIME_CONTRACT);
    let mismatch = format!(
        "this crate was generated for version {RUNTIME_CONTRACT} of the cast-runtime contract, and the cast-runtime it builds with has another: regenerate it with the cast-codegen release that matches this cast-runtime"
    );
    quote! {
        const _: () = ::std::assert!(
            ::cast_runtime::codegen::CONTRACT == #contract,
            #mismatch,
        );

        // `..BASE` fills what a later runtime may add; today every field is given.
        #[allow(clippy::needless_update)]
        #visibility static API: ::cast_runtime::codegen::Api = ::cast_runtime::codegen::Api {
            name: ::std::env!("CARGO_PKG_NAME"),
            version: ::std::env!("CARGO_PKG_VERSION"),
            title: #title,
            instructions: #instructions,
            base_url: #base_url,
            schemes: &[#(#schemes),*],
            static_headers: &[#(#headers),*],
            credential_files: &[#(#credential_files),*],
            always: &[#(#always),*],
            redirects: #redirects,
            inbound_scopes: &[#(#inbound_scopes),*],
            tool_timeouts: &[#(#tool_timeouts),*],
            tools: tools::ALL,
            #fragments
            #mode
            tools_lock: #tools_lock,
            ..::cast_runtime::codegen::Api::BASE
        };
    }
}

/// `src/main.rs`.
pub fn main_rs(api: &ApiIr, shared: &SharedSchemas) -> TokenStream {
    let docs = format!(" MCP server for {}, generated by Cast.", api.title);
    let api_static = api_static(api, quote!(), shared);
    let schemas = (!shared.fragments.is_empty()).then(|| {
        quote!(
            mod schemas;
        )
    });
    let types = has_types(api).then(|| {
        let allow = types_allow();
        quote!(#allow mod types;)
    });
    quote! {
        #![doc = #docs]
        // Tool docs are the spec authors' Markdown, kept as written: clippy's
        // doc-style lints would judge prose this crate does not own.
        #![allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]

        mod tools;
        #types
        #schemas

        #api_static

        fn main() -> ::std::process::ExitCode {
            ::cast_runtime::codegen::main(&API)
        }
    }
}

/// One file for `include!` from build.rs output: the `API` static and an inline `tools`
/// module. No inner attributes at its top level, which `include!` would reject.
pub fn module_rs(api: &ApiIr) -> TokenStream {
    let docs = format!(
        " The MCP server definition for {}, generated by Cast: pass it to `cast_runtime::codegen::main`.",
        api.title
    );
    let shared = super::fragments::share(api);
    let api_static = api_static(api, quote!(pub), &shared);
    let modules: Vec<syn::Ident> = api.enabled_tools().map(|t| ident(&t.module)).collect();
    let bodies = api
        .enabled_tools()
        .zip(&shared.tools)
        .map(|(tool, schemas)| tool_rs(api, tool, schemas));
    let schemas = (!shared.fragments.is_empty()).then(|| {
        let items = schemas_rs(&shared);
        quote! {
            /// Schema text the tools share, stored once.
            pub mod schemas { #items }
        }
    });
    let types = has_types(api).then(|| {
        let allow = types_allow();
        let items = types_rs(api);
        quote! {
            /// The argument types the tools share, each defined once. Only serde is derived:
            /// more would cost every build and serve no handler.
            #[allow(missing_debug_implementations, clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
            #allow
            pub mod types { #items }
        }
    });
    quote! {
        #[doc = #docs]
        #api_static

        #schemas

        #types

        /// The enabled tools, one module each, in spec order.
        #[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
        pub mod tools {
            use ::cast_runtime::codegen as cast;

            #(mod #modules { #bodies })*

            /// Every enabled tool.
            pub static ALL: &[&cast::ToolDef] = &[#(&#modules::TOOL),*];
        }
    }
}

/// The items of `src/schemas.rs`: the shared fragments, by id.
pub fn schemas_rs(shared: &SharedSchemas) -> TokenStream {
    let fragments = shared.fragments.iter().map(|text| raw_string(text));
    quote! {
        /// Sub-schemas that appear in more than one place, each stored once; tool schemas
        /// name them by `{"\u0000cast": ID}` and the runtime puts them back at start-up.
        pub static FRAGMENTS: &[&str] = &[#(#fragments),*];
    }
}

/// `src/tools/mod.rs`.
pub fn tools_mod_rs(api: &ApiIr) -> TokenStream {
    let modules: Vec<syn::Ident> = api.enabled_tools().map(|t| ident(&t.module)).collect();
    quote! {
        //! The enabled tools, one module each, in spec order.

        use ::cast_runtime::codegen as cast;

        #(mod #modules;)*

        /// Every enabled tool.
        pub static ALL: &[&cast::ToolDef] = &[#(&#modules::TOOL),*];
    }
}

fn method(method: HttpMethod) -> TokenStream {
    let variant = match method {
        HttpMethod::Get => quote!(Get),
        HttpMethod::Put => quote!(Put),
        HttpMethod::Post => quote!(Post),
        HttpMethod::Delete => quote!(Delete),
        HttpMethod::Options => quote!(Options),
        HttpMethod::Head => quote!(Head),
        HttpMethod::Patch => quote!(Patch),
        HttpMethod::Trace => quote!(Trace),
    };
    quote!(cast::Method::#variant)
}

/// The runtime's name for a combination of annotations (`Annotations::READ_ONLY`), if it
/// has one; the contract test checks that each means what the generator thinks.
pub fn annotations_constant(annotations: crate::ir::Annotations) -> Option<&'static str> {
    let crate::ir::Annotations {
        read_only,
        destructive,
        idempotent,
    } = annotations;
    match (read_only, destructive, idempotent) {
        (true, false, true) => Some("READ_ONLY"),
        (false, false, false) => Some("WRITE"),
        (false, false, true) => Some("IDEMPOTENT_WRITE"),
        (false, true, true) => Some("DESTRUCTIVE"),
        _ => None,
    }
}

/// A tool's annotations: one of the runtime's named combinations, or spelled out.
fn annotations(annotations: crate::ir::Annotations) -> TokenStream {
    if let Some(name) = annotations_constant(annotations) {
        let name = format_ident!("{}", name);
        return quote!(cast::Annotations::#name);
    }
    let crate::ir::Annotations {
        read_only,
        destructive,
        idempotent,
    } = annotations;
    quote!(cast::Annotations {
        read_only: #read_only,
        destructive: #destructive,
        idempotent: #idempotent,
    })
}

/// `src/tools/<module>.rs`.
pub fn tool_rs(api: &ApiIr, tool: &ToolIr, (input_schema, output_schema): &(String, Option<String>)) -> TokenStream {
    let paths = TypePaths {
        types: &api.types,
        from_tool: true,
    };
    let name = &tool.name;
    let description = &tool.description;
    let method = method(tool.method);
    let path_template = &tool.path;
    // A template without parameters is its own one piece, which the runtime knows.
    let pieces = tool.template.pieces();
    let path_pieces = (pieces.len() > 1).then(|| quote!(path_pieces: &[#(#pieces),*],));
    let schema = raw_string(input_schema);
    // Fields left at their `BASE` value are not written: most tools have no title of
    // their own server, no output schema or no security.
    let mut optional_fields = Vec::new();
    if let Some(title) = &tool.title {
        optional_fields.push(quote!(title: Some(#title),));
    }
    if let Some(schema) = output_schema {
        let text = raw_string(schema);
        optional_fields.push(quote!(output_schema: Some(#text),));
    }
    if let Some(url) = &tool.base_url {
        optional_fields.push(quote!(base_url: Some(#url),));
    }
    if api.mode != crate::settings::ToolMode::Tools && !api.direct.contains(&tool.name) {
        let terms = crate::ir::text::search_terms(tool);
        optional_fields.push(quote!(search_terms: #terms,));
    }
    if !tool.security.is_empty() {
        let security = tool.security.iter().map(|alternative| {
            let indices = alternative.iter().map(|i| Literal::usize_unsuffixed(*i));
            quote!(&[#(#indices),*])
        });
        optional_fields.push(quote!(security: &[#(#security),*],));
    }
    if tool.confirm {
        optional_fields.push(quote!(confirm: true,));
    }
    // `..BASE` stays even when every field is written, so fields added later have a value.
    let needless_update = (optional_fields.len() == 6).then(|| quote!(#[allow(clippy::needless_update)]));
    let annotations = annotations(tool.annotations);

    let mut reads = Vec::new();
    // Path parameters in template order, then the others in argument order, then the body.
    let mut chain: Vec<TokenStream> = tool
        .template
        .params()
        .filter_map(|index| param_call(&tool.args[index]))
        .collect();
    for arg in &tool.args {
        let binding = ident(&arg.name.ident);
        let key = &arg.name.arg;
        let ty = paths.rust(&arg.ty);
        reads.push(if arg.required {
            quote!(let #binding: #ty = call.required(#key)?;)
        } else {
            quote!(let #binding: Option<#ty> = call.optional(#key)?;)
        });
        if !matches!(
            arg.target,
            Target::Param {
                location: Location::Path,
                ..
            }
        ) {
            chain.extend(param_call(arg));
        }
    }
    if let Some(body) = &tool.body {
        chain.extend(body_calls(tool, body));
    }
    quote! {
        use super::cast;

        #needless_update
        pub static TOOL: cast::ToolDef = cast::ToolDef {
            name: #name,
            description: #description,
            method: #method,
            path_template: #path_template,
            #path_pieces
            input_schema: #schema,
            #(#optional_fields)*
            annotations: #annotations,
            handle,
            ..cast::ToolDef::BASE
        };

        // Not async: the runtime's one future sends what this builds.
        fn handle(call: &mut cast::Call) -> Result<cast::Prepared, cast::Refusal> {
            #(#reads)*
            call.request()
                #(#chain)*
                .prepare()
        }
    }
}

/// The calls that put the body on the request: one for a whole body, or `.fields` and then
/// each field in argument order.
fn body_calls(tool: &ToolIr, body: &BodyIr) -> Vec<TokenStream> {
    let media = &body.media;
    let files = tool.args.iter().filter_map(|arg| match arg.target {
        Target::Field { binary: true } => Some(arg.wire.as_str()),
        _ => None,
    });
    let encoding = match body.kind {
        BodyKind::Json => quote!(cast::Encoding::Json),
        BodyKind::Form if body.encodings.is_empty() => quote!(cast::Encoding::Form),
        BodyKind::Form => {
            let fields = body.encodings.iter().map(|(field, styled)| {
                let styled = styled_tokens(*styled);
                quote!((#field, #styled))
            });
            quote!(cast::Encoding::FormWith(&[#(#fields),*]))
        }
        BodyKind::Multipart => quote!(cast::Encoding::Multipart { files: &[#(#files),*] }),
        BodyKind::Text => quote!(cast::Encoding::Text),
        BodyKind::Binary => quote!(cast::Encoding::Binary),
    };
    let mut calls = Vec::new();
    if body.of_fields {
        calls.push(quote!(.fields(#encoding, #media)));
    }
    for arg in &tool.args {
        let binding = ident(&arg.name.ident);
        let wire = &arg.wire;
        calls.push(match (arg.target, arg.required) {
            (Target::Field { .. }, true) => quote!(.field(#wire, &#binding)),
            (Target::Field { .. }, false) => quote!(.optional_field(#wire, &#binding)),
            (Target::Body, true) => quote!(.body(#encoding, #media, &#binding)),
            (Target::Body, false) => quote!(.optional_body(#encoding, #media, &#binding)),
            (Target::Param { .. }, _) => continue,
        });
    }
    calls
}

/// `.query("limit", &limit)` for default styles, `.styled(...)` otherwise; `None` for an
/// argument that is not a parameter.
fn param_call(arg: &ArgIr) -> Option<TokenStream> {
    let Target::Param { location, styled } = arg.target else {
        return None;
    };
    let binding = ident(&arg.name.ident);
    let wire = &arg.wire;
    if styled == Styled::default_for(location) {
        let method = match location {
            Location::Path => quote!(path),
            Location::Query => quote!(query),
            Location::Header => quote!(header),
            Location::Cookie => quote!(cookie),
        };
        return Some(quote!(.#method(#wire, &#binding)));
    }
    let location = match location {
        Location::Path => quote!(Path),
        Location::Query => quote!(Query),
        Location::Header => quote!(Header),
        Location::Cookie => quote!(Cookie),
    };
    let styled = styled_tokens(styled);
    Some(quote!(.styled(cast::In::#location, #wire, #styled, &#binding)))
}

/// A `Styled` value, as the runtime spells it.
fn styled_tokens(styled: Styled) -> TokenStream {
    let style = match styled.style {
        Style::Simple => quote!(Simple),
        Style::Label => quote!(Label),
        Style::Matrix => quote!(Matrix),
        Style::Form => quote!(Form),
        Style::SpaceDelimited => quote!(SpaceDelimited),
        Style::PipeDelimited => quote!(PipeDelimited),
        Style::DeepObject => quote!(DeepObject),
        Style::DeepObjectIndexed => quote!(DeepObjectIndexed),
        Style::Json => quote!(Json),
    };
    let Styled {
        explode,
        allow_reserved,
        ..
    } = styled;
    quote!(cast::Styled {
        style: cast::Style::#style,
        explode: #explode,
        allow_reserved: #allow_reserved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_strings_pick_enough_hashes() {
        assert_eq!(raw_string("{\"a\":1}").to_string(), "r#\"{\"a\":1}\"#");
        assert_eq!(raw_string("x\"#y").to_string(), "r##\"x\"#y\"##");
    }

    #[test]
    fn code_fences_never_become_doctests() {
        let docs = doc_attrs("Example:\n```js\nfetch()\n```\nend").to_string();
        assert!(docs.contains("\" ```text\""), "{docs}");
        assert!(!docs.contains("```js"), "{docs}");
    }
}
