//! `cast-codegen`: see [`cast_codegen::cli`].

fn main() -> std::process::ExitCode {
    cast_codegen::cli::main()
}
