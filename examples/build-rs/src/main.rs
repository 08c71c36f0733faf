//! An MCP server for the test API whose tools are generated at build time (see `build.rs`):
//! `cargo run -p cast-example-build -- stdio`.

include!(concat!(env!("OUT_DIR"), "/cast_server.rs"));

fn main() -> std::process::ExitCode {
    cast_runtime::codegen::main(&API)
}
