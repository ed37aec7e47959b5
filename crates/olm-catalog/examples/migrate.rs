//! `cargo run -p olm-catalog --example migrate -- <package dir> [image template] [yaml]`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = olm_catalog::MigrateOptions {
        image_template: args.get(1).filter(|s| !s.is_empty()).cloned(),
    };
    let m = olm_catalog::migrate_dir(
        std::path::Path::new(&args[0]),
        &options,
        &olm_catalog::CatalogLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let format = if args.iter().any(|a| a == "yaml") {
        olm_catalog::Format::Yaml
    } else {
        olm_catalog::Format::Json
    };
    print!("{}", olm_catalog::to_text(&m.catalog, format));
    for w in m.warnings {
        eprintln!("warning: {w}");
    }
}
