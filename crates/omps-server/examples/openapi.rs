//! Prints the OpenAPI document (`cargo xtask openapi` writes it to docs/openapi.json).

fn main() {
    println!(
        "{}",
        serde_json::to_string_pretty(&omps_server::openapi::document())
            .expect("a JSON value serialises")
    );
}
