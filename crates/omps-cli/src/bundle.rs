//! `omps bundle convert` (package manifests → one bundle directory per version) and
//! `omps bundle push` (a bundle directory → an OCI image in any registry, no container builder).
//!
//! Exit status: the table of `omps --help` ([`crate::error`]).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use manifest_bundle::image::{BundleImage, build_image};
use manifest_bundle::layout::Layout;
use manifest_bundle::{BundleDir, Limits, ManifestTree, to_bundles, validate_tree};
use quay_client::oci::{Manifest, media_types};
use quay_client::{ImageReference, ImageToPush};
use serde_json::{Value, json};

use crate::error::{CliError, Exit};
use crate::output::{Output, print_data};
use crate::registry::RegistryArgs;
use crate::validate::read_tree;

/// `omps bundle ...`.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Convert package manifests (directory or zip) into bundle directories, one per version:
    /// `<OUT>/<version>/manifests/`, `<OUT>/<version>/metadata/annotations.yaml` and
    /// `<OUT>/<version>/bundle.Dockerfile` (not operator-sdk pkgman-to-bundle's
    /// `bundle-<dir>/bundle/` layout, on purpose: docs/bundle-conversion.md lists the
    /// differences).
    #[command(
        after_help = "Exit status: 0 converted, 1 invalid package, 2 unreadable input or OUT not empty.\n\nExamples:\n  omps bundle convert ./etcd ./bundles\n  omps bundle convert manifests.zip ./bundles --output json"
    )]
    Convert(ConvertArgs),
    /// Build a bundle directory (`manifests/` + `metadata/annotations.yaml`) into a reproducible
    /// single-layer OCI image and push it. No docker, podman or buildah needed.
    #[command(
        after_help = "Credentials, first found wins: --creds USER:PASSWORD, --username with --password-stdin\n(or OMPS_REGISTRY_USERNAME and OMPS_REGISTRY_PASSWORD), a bearer token in OMPS_REGISTRY_TOKEN;\nthen the container auth files: --authfile (REGISTRY_AUTH_FILE), else\n${XDG_RUNTIME_DIR}/containers/auth.json, ~/.config/containers/auth.json, ~/.docker/config.json\n(`auth` and `identitytoken` entries, as podman and docker write them). Never printed.\n\nTLS: --tls-verify=false (or --skip-tls-verify) turns certificate verification off and, like\nskopeo and podman, allows a registry that answers in plain HTTP; --plain-http forces HTTP.\n\nExit status: 0 pushed, 1 invalid bundle or refused by the registry, 2 unreadable input or\nusage error, 3 registry server failure, 4 registry unreachable.\n\nExamples:\n  omps bundle push ./bundles/0.9.4 quay.example.com/ops/etcd-bundle:0.9.4\n  printf %s \"$PW\" | omps bundle push ./bundles/0.9.4 quay.example.com/ops/etcd-bundle --username 'ops+robot' --password-stdin\n  omps bundle push ./b 127.0.0.1:5000/test/etcd:1 --plain-http --output json"
    )]
    Push(PushArgs),
}

/// Arguments of `omps bundle convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// A package-manifest directory or zip (bundle-format input is copied per version).
    input: PathBuf,
    /// Output directory; must not exist or be empty.
    out: PathBuf,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// Arguments of `omps bundle push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// A bundle directory: `manifests/` and `metadata/annotations.yaml`.
    dir: PathBuf,
    /// `registry[:port]/namespace/repository[:tag]`; the tag defaults to the CSV version.
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

impl BundleCommand {
    /// The output format asked for.
    pub fn output(&self) -> Output {
        match self {
            BundleCommand::Convert(a) => a.output,
            BundleCommand::Push(a) => a.output,
        }
    }
}

/// Loads and validates `path`; prints the problems and refuses an invalid package.
fn load_valid(path: &Path) -> Result<(manifest_bundle::Manifests, ManifestTree), CliError> {
    let limits = Limits::default();
    let tree = read_tree(path, &limits)?;
    let (manifests, report) = validate_tree(&tree, None, &limits.yaml).map_err(|e| {
        let err = CliError::invalid(format!("{}: {e}", path.display()));
        match crate::hints::unloadable(path, &tree, &e) {
            Some(hint) => err.with_hint(hint),
            None => err,
        }
    })?;
    for line in crate::validate::report_lines(&report, false) {
        eprintln!("{line}");
    }
    if !report.is_valid() {
        return Err(CliError::invalid(format!(
            "{} is not a valid operator package; nothing converted",
            path.display()
        )));
    }
    Ok((manifests, tree))
}

/// A version string used as a directory name must be one plain path component.
fn safe_dir_name(version: &str) -> bool {
    !version.is_empty()
        && !version.starts_with('.')
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}

fn annotation<'a>(bundle: &'a BundleDir, key: &str) -> Option<&'a str> {
    bundle
        .annotations
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn bundle_json(bundle: &BundleDir, path: &Path) -> Value {
    json!({
        "version": bundle.version,
        "csv": bundle.csv_name,
        "package": bundle.package,
        "channels": annotation(bundle, "operators.operatorframework.io.bundle.channels.v1"),
        "default_channel": annotation(bundle, "operators.operatorframework.io.bundle.channel.default.v1"),
        "path": path.display().to_string(),
        "files": bundle.files.paths(),
    })
}

/// Runs `omps bundle convert`.
pub fn convert(args: &ConvertArgs) -> Result<Exit, CliError> {
    let (manifests, tree) = load_valid(&args.input)?;
    let bundles = to_bundles(&manifests, &tree)
        .map_err(|e| CliError::invalid(format!("{}: {e}", args.input.display())))?;
    let mut seen = std::collections::BTreeSet::new();
    for b in &bundles {
        if !safe_dir_name(&b.version) {
            return Err(CliError::invalid(format!(
                "CSV {} has version {:?}, which cannot be a directory name",
                b.csv_name, b.version
            )));
        }
        if !seen.insert(b.version.as_str()) {
            return Err(CliError::invalid(format!(
                "two CSVs have version {}; each bundle needs its own",
                b.version
            )));
        }
    }
    // Like pkgman-to-bundle, never write into existing output (an empty directory is fine).
    if args.out.exists() {
        let empty = std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_none());
        if !empty {
            return Err(CliError::usage(format!(
                "{}: output directory exists and is not empty",
                args.out.display()
            )));
        }
    }
    let mut written = Vec::new();
    for bundle in &bundles {
        let dir = args.out.join(&bundle.version);
        std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| bundle.files.write_to(&dir).map_err(|e| e.to_string()))
            .and_then(|()| {
                std::fs::write(dir.join("bundle.Dockerfile"), bundle.dockerfile())
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| CliError::input(format!("cannot write {}: {e}", dir.display())))?;
        written.push(bundle_json(bundle, &dir));
    }
    let mut stdout = std::io::stdout().lock();
    match args.output {
        Output::Json | Output::Yaml => print_data(args.output, &json!({ "bundles": written })),
        Output::Text => {
            for b in &written {
                let _ = writeln!(
                    stdout,
                    "{}: {} (package {}, channels {}, {} files)",
                    b["path"].as_str().unwrap_or_default(),
                    b["csv"].as_str().unwrap_or_default(),
                    b["package"].as_str().unwrap_or_default(),
                    b["channels"].as_str().unwrap_or_default(),
                    b["files"].as_array().map_or(0, Vec::len),
                );
            }
        }
    }
    Ok(Exit::Success)
}

/// `registry[:port]/path[:tag]`: the registry part is required (no implicit default
/// registry) and a push needs a tag, not a digest.
fn parse_image(image: &str) -> Result<ImageReference, CliError> {
    let r = ImageReference::parse(image)
        .and_then(|r| r.require_registry(image))
        .map_err(|e| CliError::usage(e.to_string()))?;
    if r.digest.is_some() {
        return Err(CliError::usage(format!(
            "{image:?}: push needs a tag, not a digest"
        )));
    }
    Ok(r)
}

/// Reads the bundle directory and builds its image.
fn bundle_image(dir: &Path) -> Result<(BundleDir, BundleImage), CliError> {
    let (manifests, tree) = load_valid(dir)?;
    if manifests.layout != Layout::Bundle
        || manifests.versions.len() != 1
        || !manifests.versions[0].dir.is_empty()
    {
        return Err(CliError::invalid(format!(
            "{} is not one bundle directory (manifests/ and metadata/annotations.yaml at its root); \
             convert package manifests first with `omps bundle convert`",
            dir.display()
        )));
    }
    let mut bundles = to_bundles(&manifests, &tree)
        .map_err(|e| CliError::invalid(format!("{}: {e}", dir.display())))?;
    let bundle = bundles.remove(0);
    let image = build_image(&bundle)
        .map_err(|e| CliError::input(format!("cannot build the image: {e}")))?;
    Ok((bundle, image))
}

/// Runs `omps bundle push`: builds the image in memory and pushes it with the one image-push
/// function of `quay-client` (the OMPS server's OCI store uses the same).
pub async fn push(args: PushArgs) -> Result<Exit, CliError> {
    let image_ref = parse_image(&args.image)?;
    // Credentials first: a bad --creds or auth file is reported before any work.
    let registry = image_ref.registry.clone().unwrap_or_default();
    let explicit = args.registry.explicit()?;
    // Validation and the image build are CPU work: off the runtime.
    let dir = args.dir.clone();
    let (bundle, image) = tokio::task::spawn_blocking(move || bundle_image(&dir))
        .await
        .map_err(|e| CliError::internal(format!("building the image panicked: {e}")))??;
    let tag = image_ref
        .tag
        .clone()
        .unwrap_or_else(|| bundle.version.replace('+', "_"));
    let client = args
        .registry
        .client_with(&registry, Some(&image_ref.repository), explicit)
        .await?;
    let to_push = ImageToPush {
        layers: vec![image.layer.clone().into()],
        config: image.config.clone().into(),
        manifest: Manifest::new(media_types::OCI_MANIFEST, image.manifest.clone()),
    };
    let progress = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(to_push.total_bytes());
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg:>10} [{bar:30}] {bytes}/{total_bytes}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let repository = &image_ref.repository;
    let pushed = client
        .push_image_with_progress(repository, &tag, &to_push, &|part, bytes| {
            progress.set_message(part.to_owned());
            progress.inc(bytes);
        })
        .await;
    progress.finish_and_clear();
    let digest = pushed.map_err(|e| {
        crate::registry::registry_error(e, &registry)
            .with_context(format!("pushing {registry}/{repository}:{tag} failed"))
    })?;
    let reference = format!("{registry}/{repository}:{tag}");
    print_pushed(args.output, &reference, &digest, &tag, &bundle, &image);
    Ok(Exit::Success)
}

fn print_pushed(
    output: Output,
    reference: &str,
    digest: &str,
    tag: &str,
    bundle: &BundleDir,
    image: &BundleImage,
) {
    match output {
        Output::Json | Output::Yaml => {
            print_data(
                output,
                &json!({
                    "reference": reference,
                    "digest": digest,
                    "tag": tag,
                    "csv_version": bundle.version,
                    "package": bundle.package,
                    "config_digest": image.config_digest,
                    "layer_digest": image.layer_digest,
                    "size": image.layer.len() + image.config.len() + image.manifest.len(),
                    "labels": image.labels,
                }),
            );
        }
        Output::Text => {
            println!("pushed {reference}@{digest}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let r = parse_image("127.0.0.1:5000/ns/etcd-bundle:0.9.4").unwrap();
        assert_eq!(
            (
                r.registry.as_deref(),
                r.repository.as_str(),
                r.tag.as_deref()
            ),
            (Some("127.0.0.1:5000"), "ns/etcd-bundle", Some("0.9.4"))
        );
        let r = parse_image("docker://quay.example.com/a/b/c").unwrap();
        assert_eq!((r.repository.as_str(), r.tag), ("a/b/c", None));
        let r = parse_image("localhost/x:1").unwrap();
        assert_eq!(r.registry.as_deref(), Some("localhost"));
        for bad in [
            "etcd",
            "ns/etcd:1",
            "quay.example.com/ns/etcd@sha256:abc",
            &format!("quay.example.com/ns/etcd@sha256:{}", "a".repeat(64)),
            "quay.example.com/",
            "quay.example.com/ns/etcd:",
        ] {
            assert!(parse_image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn directory_names() {
        for ok in ["0.9.4", "0.9.2-clusterwide", "1.0.0+build.1"] {
            assert!(safe_dir_name(ok), "{ok}");
        }
        for bad in ["", "..", ".hidden", "a/b", "a\\b", "1 0"] {
            assert!(!safe_dir_name(bad), "{bad}");
        }
    }
}
