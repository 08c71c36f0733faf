//! Any bytes through the whole pipeline (load → lower → emit): diagnostics, never a panic.
//!
//! `cargo fuzz run generate -- -max_total_time=60` from the repository root.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let source = cast_codegen::Source::new("fuzz.json");
    let generator = cast_codegen::Generator::new(cast_codegen::Settings::default().with_all_enabled());
    let _ = generator.generate(data, &source);
});
