//! Prints the OpenAPI document (`cargo xtask openapi` writes it to docs/openapi.json), or with
//! the argument `error-table` the error-id table of docs/api.md.

fn main() {
    if std::env::args().nth(1).as_deref() == Some("error-table") {
        print!("{}", omps_server::openapi::error_table());
        return;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&omps_server::openapi::document())
            .expect("a JSON value serialises")
    );
}
