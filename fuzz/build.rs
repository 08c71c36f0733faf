//! The tools under fuzzing are the wire-conformance spec's, generated here as a
//! `build.rs` user would (every operation enabled, destructive ones included).

fn main() {
    let spec = std::path::Path::new("../tests/wire/wire-3.0.json");
    let settings = cast_codegen::Settings::default().with_all_enabled();
    if let Err(diagnostics) = cast_codegen::build_with(spec, &settings, &spec.with_file_name("cast.toml")) {
        eprintln!("{diagnostics}");
        std::process::exit(1);
    }
}
