//! The generator and the runtime agree on the contract between generated code and runtime:
//! the same version, and enums with the same variants. Each mapping below is an exhaustive
//! `match` in both directions, so a variant added on one side alone fails to compile here.

use cast_codegen::{emit::RUNTIME_CONTRACT, ir};
use cast_runtime::codegen as rt;

#[test]
fn the_generator_writes_for_this_runtime_contract() {
    assert_eq!(RUNTIME_CONTRACT, rt::CONTRACT);
}

fn method_to_runtime(method: ir::HttpMethod) -> rt::Method {
    match method {
        ir::HttpMethod::Get => rt::Method::Get,
        ir::HttpMethod::Put => rt::Method::Put,
        ir::HttpMethod::Post => rt::Method::Post,
        ir::HttpMethod::Delete => rt::Method::Delete,
        ir::HttpMethod::Options => rt::Method::Options,
        ir::HttpMethod::Head => rt::Method::Head,
        ir::HttpMethod::Patch => rt::Method::Patch,
        ir::HttpMethod::Trace => rt::Method::Trace,
    }
}

fn method_from_runtime(method: rt::Method) -> ir::HttpMethod {
    match method {
        rt::Method::Get => ir::HttpMethod::Get,
        rt::Method::Put => ir::HttpMethod::Put,
        rt::Method::Post => ir::HttpMethod::Post,
        rt::Method::Delete => ir::HttpMethod::Delete,
        rt::Method::Options => ir::HttpMethod::Options,
        rt::Method::Head => ir::HttpMethod::Head,
        rt::Method::Patch => ir::HttpMethod::Patch,
        rt::Method::Trace => ir::HttpMethod::Trace,
    }
}

#[test]
fn methods_agree_and_are_spelled_alike() {
    for key in ["get", "put", "post", "delete", "options", "head", "patch", "trace"] {
        let method = ir::HttpMethod::from_key(key).expect("a method");
        let runtime = method_to_runtime(method);
        assert_eq!(method.as_str(), runtime.as_str());
        assert_eq!(method_from_runtime(runtime), method);
    }
}

fn style_to_runtime(style: ir::Style) -> rt::Style {
    match style {
        ir::Style::Simple => rt::Style::Simple,
        ir::Style::Label => rt::Style::Label,
        ir::Style::Matrix => rt::Style::Matrix,
        ir::Style::Form => rt::Style::Form,
        ir::Style::SpaceDelimited => rt::Style::SpaceDelimited,
        ir::Style::PipeDelimited => rt::Style::PipeDelimited,
        ir::Style::DeepObject => rt::Style::DeepObject,
        ir::Style::DeepObjectIndexed => rt::Style::DeepObjectIndexed,
        ir::Style::Json => rt::Style::Json,
    }
}

fn style_from_runtime(style: rt::Style) -> ir::Style {
    match style {
        rt::Style::Simple => ir::Style::Simple,
        rt::Style::Label => ir::Style::Label,
        rt::Style::Matrix => ir::Style::Matrix,
        rt::Style::Form => ir::Style::Form,
        rt::Style::SpaceDelimited => ir::Style::SpaceDelimited,
        rt::Style::PipeDelimited => ir::Style::PipeDelimited,
        rt::Style::DeepObject => ir::Style::DeepObject,
        rt::Style::DeepObjectIndexed => ir::Style::DeepObjectIndexed,
        rt::Style::Json => ir::Style::Json,
    }
}

fn location_to_runtime(location: ir::Location) -> rt::In {
    match location {
        ir::Location::Path => rt::In::Path,
        ir::Location::Query => rt::In::Query,
        ir::Location::Header => rt::In::Header,
        ir::Location::Cookie => rt::In::Cookie,
    }
}

fn location_from_runtime(location: rt::In) -> ir::Location {
    match location {
        rt::In::Path => ir::Location::Path,
        rt::In::Query => ir::Location::Query,
        rt::In::Header => ir::Location::Header,
        rt::In::Cookie => ir::Location::Cookie,
    }
}

#[test]
fn styles_and_locations_agree_with_the_same_defaults() {
    use ir::Style::*;
    for style in [
        Simple,
        Label,
        Matrix,
        Form,
        SpaceDelimited,
        PipeDelimited,
        DeepObject,
        DeepObjectIndexed,
        Json,
    ] {
        assert_eq!(style_from_runtime(style_to_runtime(style)), style);
    }
    for location in [
        ir::Location::Path,
        ir::Location::Query,
        ir::Location::Header,
        ir::Location::Cookie,
    ] {
        let runtime = location_to_runtime(location);
        assert_eq!(location_from_runtime(runtime), location);
        let (ours, theirs) = (ir::Styled::default_for(location), rt::Styled::default_for(runtime));
        assert_eq!(style_to_runtime(ours.style), theirs.style, "{location:?}");
        assert_eq!(
            (ours.explode, ours.allow_reserved),
            (theirs.explode, theirs.allow_reserved)
        );
    }
}

/// Scheme kinds carry data; the match pairs the variants (values are the generator's).
fn scheme_kind_of(kind: &ir::SchemeKind) -> &'static str {
    match kind {
        ir::SchemeKind::Header(_) => "header",
        ir::SchemeKind::Query(_) => "query",
        ir::SchemeKind::Cookie(_) => "cookie",
        ir::SchemeKind::Field(_) => "field",
        ir::SchemeKind::Bearer => "bearer",
        ir::SchemeKind::Basic => "basic",
        ir::SchemeKind::OAuth2ClientCredentials { .. } => "oauth2-client-credentials",
        ir::SchemeKind::OpenIdConnect { .. } => "openid-connect",
        ir::SchemeKind::OAuth2AuthorizationCode { .. } => "oauth2-authorization-code",
    }
}

fn runtime_scheme_kind_of(kind: &rt::SchemeKind) -> &'static str {
    match kind {
        rt::SchemeKind::Header { .. } => "header",
        rt::SchemeKind::Query { .. } => "query",
        rt::SchemeKind::Cookie { .. } => "cookie",
        rt::SchemeKind::Field { .. } => "field",
        rt::SchemeKind::Bearer => "bearer",
        rt::SchemeKind::Basic => "basic",
        rt::SchemeKind::OAuth2ClientCredentials { .. } => "oauth2-client-credentials",
        rt::SchemeKind::OpenIdConnect { .. } => "openid-connect",
        rt::SchemeKind::OAuth2AuthorizationCode { .. } => "oauth2-authorization-code",
    }
}

#[test]
fn scheme_kinds_agree_and_seal_under_the_same_labels() {
    let pairs = [
        (
            ir::SchemeKind::Header("X-Key".into()),
            rt::SchemeKind::Header { name: "X-Key" },
        ),
        (
            ir::SchemeKind::Query("key".into()),
            rt::SchemeKind::Query { name: "key" },
        ),
        (
            ir::SchemeKind::Cookie("sid".into()),
            rt::SchemeKind::Cookie { name: "sid" },
        ),
        (
            ir::SchemeKind::Field("token".into()),
            rt::SchemeKind::Field { name: "token" },
        ),
        (ir::SchemeKind::Bearer, rt::SchemeKind::Bearer),
        (ir::SchemeKind::Basic, rt::SchemeKind::Basic),
        (
            ir::SchemeKind::OAuth2ClientCredentials {
                token_url: "https://t".into(),
                scopes: vec![],
                params: vec![],
            },
            rt::SchemeKind::OAuth2ClientCredentials {
                token_url: "https://t",
                scopes: &[],
                params: &[],
            },
        ),
        (
            ir::SchemeKind::OpenIdConnect {
                discovery_url: "https://d".into(),
                scopes: vec![],
            },
            rt::SchemeKind::OpenIdConnect {
                discovery_url: "https://d",
                scopes: &[],
            },
        ),
        (
            ir::SchemeKind::OAuth2AuthorizationCode {
                authorize_url: "https://a".into(),
                token_url: "https://t".into(),
                scopes: vec![],
            },
            rt::SchemeKind::OAuth2AuthorizationCode {
                authorize_url: "https://a",
                token_url: "https://t",
                scopes: &[],
            },
        ),
    ];
    for (ours, theirs) in &pairs {
        assert_eq!(scheme_kind_of(ours), runtime_scheme_kind_of(theirs));
        assert_eq!(ours.label(), theirs.label(), "{ours:?}");
    }
}

/// A crate generated for another contract version does not build, and the compiler's
/// message says what to do.
#[test]
fn a_crate_made_for_another_contract_fails_to_build_and_says_to_regenerate() {
    use cast_e2e::{generate, generated_cargo, workspace_root};
    let out = workspace_root().join("target/contract/petstore-mcp");
    let _ = std::fs::remove_dir_all(&out);
    let spec = workspace_root().join("tests/corpus/petstore-3.0.yaml");
    let settings = cast_codegen::Settings::default().with_name("petstore-mcp");
    generate(spec.to_str().expect("UTF-8"), settings, &out).expect("generate");
    std::fs::copy(workspace_root().join("Cargo.lock"), out.join("Cargo.lock")).expect("lock");
    let main = out.join("src/main.rs");
    let text = std::fs::read_to_string(&main).expect("main.rs");
    let written = format!("CONTRACT == {RUNTIME_CONTRACT},");
    assert!(text.contains(&written), "main.rs states its contract:\n{text}");
    let other = format!("CONTRACT == {},", RUNTIME_CONTRACT + 1);
    std::fs::write(&main, text.replace(&written, &other)).expect("write");
    let output = generated_cargo("check", &out).output().expect("cargo check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a mismatched contract must not build");
    assert!(
        stderr.contains("regenerate it with the cast-codegen release that matches this cast-runtime"),
        "{stderr}"
    );
}

#[test]
fn named_annotations_mean_what_the_generator_thinks() {
    let mut named = 0;
    for bits in 0..8u8 {
        let generated = ir::Annotations {
            read_only: bits & 1 != 0,
            destructive: bits & 2 != 0,
            idempotent: bits & 4 != 0,
        };
        let Some(name) = cast_codegen::emit::annotations_constant(generated) else {
            continue;
        };
        let runtime = match name {
            "READ_ONLY" => rt::Annotations::READ_ONLY,
            "WRITE" => rt::Annotations::WRITE,
            "IDEMPOTENT_WRITE" => rt::Annotations::IDEMPOTENT_WRITE,
            "DESTRUCTIVE" => rt::Annotations::DESTRUCTIVE,
            other => panic!("the runtime has no `Annotations::{other}`"),
        };
        let rt::Annotations {
            read_only,
            destructive,
            idempotent,
        } = runtime;
        assert_eq!(
            (read_only, destructive, idempotent),
            (generated.read_only, generated.destructive, generated.idempotent),
            "{name}"
        );
        named += 1;
    }
    assert_eq!(named, 4);
}
