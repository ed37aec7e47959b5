//! `cargo run -p olm-catalog --example render -- <bundle dir> [image] [yaml] [objects]`:
//! prints the rendered bundle (used to inspect output while writing expected files).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let limits = olm_catalog::CatalogLimits::default();
    let options = olm_catalog::RenderOptions {
        image: args.get(1).filter(|s| !s.is_empty()).cloned(),
        form: if args.iter().any(|a| a == "objects") {
            olm_catalog::ObjectForm::BundleObjects
        } else {
            olm_catalog::ObjectForm::CsvMetadata
        },
        ..Default::default()
    };
    let r = olm_catalog::render_bundle_dir(std::path::Path::new(&args[0]), &options, &limits)
        .unwrap_or_else(|e| panic!("{e}"));
    let format = if args.iter().any(|a| a == "yaml") {
        olm_catalog::Format::Yaml
    } else {
        olm_catalog::Format::Json
    };
    print!(
        "{}",
        olm_catalog::write::blob_text(&r.bundle.to_value(), format)
    );
    for w in r.warnings {
        eprintln!("warning: {w}");
    }
}
