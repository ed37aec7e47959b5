//! Validate an operator package directory or zip and print courier's `validation_info`.
//!
//! `cargo run -p manifest-bundle --example validate -- <DIR|ZIP> [REPOSITORY]`

use std::path::Path;

use manifest_bundle::{Limits, ManifestTree, app_registry_blob, to_bundles, validate_tree};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: validate <DIR|ZIP> [REPOSITORY]")?;
    let repository = args.next();
    let limits = Limits::default();
    let path = Path::new(&path);
    let tree = if path.is_dir() {
        ManifestTree::from_dir(path, &limits)?
    } else {
        ManifestTree::from_zip_file(path, &limits)?
    };
    let (manifests, report) = validate_tree(&tree, repository.as_deref(), &limits.yaml)?;
    println!("layout: {:?}, files: {}", manifests.layout, tree.len());
    println!("{}", report.to_courier_json());
    if report.is_valid() {
        for bundle in to_bundles(&manifests, &tree)? {
            println!("bundle {} ({} files)", bundle.version, bundle.files.len());
        }
        if let (Some(repo), manifest_bundle::Layout::Flat | manifest_bundle::Layout::Nested) =
            (&repository, manifests.layout)
        {
            let blob = app_registry_blob(&manifests, &tree, repo)?;
            println!(
                "App Registry blob: {} bytes, tar sha256 {}",
                blob.tar_gz.len(),
                blob.tar_sha256
            );
        }
    }
    Ok(())
}
