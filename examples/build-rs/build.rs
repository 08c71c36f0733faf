fn main() {
    cast_codegen::build("../test-server/openapi.json");
}
