//! Catalog images against the real Debian `docker-registry`, checked with `skopeo` (the shared
//! peer harness of `test-support`).
//!
//! Ignored by default; `cargo xtask ci` runs them with `--run-ignored all` and the peer paths in
//! `OMPS_DOCKER_REGISTRY` and `OMPS_SKOPEO`. Base images are built here and pushed to the local
//! registry: nothing leaves 127.0.0.1.

use bytes::Bytes;
use catalog_image::{
    BaseRef, CONFIGS_LABEL, CatalogImageError, CatalogLayer, ImageOptions, PulledImage, compose,
    pull, pull_bundle, pull_catalog, push_catalog,
};
use olm_catalog::{Catalog, CatalogLimits, FileSet, Format, load_text, to_text};
use quay_client::oci::{Manifest, media_types, sha256_digest};
use quay_client::{ImageReference, RegistryClient};
use serde_json::{Value as Json, json};
use test_support::registry::Registry;
use test_support::skopeo;

fn client(reg: &Registry) -> RegistryClient {
    RegistryClient::builder(reg.url())
        .chunk_size(64 * 1024)
        .build()
        .unwrap()
}

/// `<registry host>/<image>` as the one reference type.
fn at(reg: &Registry, image: &str) -> ImageReference {
    ImageReference::parse(&format!("{}/{image}", reg.host())).unwrap()
}

fn catalog() -> Catalog {
    let text = br#"{"schema":"olm.package","name":"demo","defaultChannel":"stable"}
{"schema":"olm.channel","name":"stable","package":"demo","entries":[{"name":"demo.v1.0.0"},{"name":"demo.v1.1.0","replaces":"demo.v1.0.0"}]}
{"schema":"olm.bundle","name":"demo.v1.0.0","package":"demo","image":"quay.io/demo/bundle:1.0.0","properties":[{"type":"olm.package","value":{"packageName":"demo","version":"1.0.0"}}]}
{"schema":"olm.bundle","name":"demo.v1.1.0","package":"demo","image":"quay.io/demo/bundle:1.1.0","properties":[{"type":"olm.package","value":{"packageName":"demo","version":"1.1.0"}}]}
{"schema":"olm.package","name":"other","defaultChannel":"alpha"}
{"schema":"olm.channel","name":"alpha","package":"other","entries":[{"name":"other.v0.1.0"}]}
{"schema":"olm.bundle","name":"other.v0.1.0","package":"other","image":"quay.io/other/bundle:0.1.0","properties":[{"type":"olm.package","value":{"packageName":"other","version":"0.1.0"}}]}"#;
    load_text("c.json", text, &CatalogLimits::default()).unwrap()
}

/// A gzip tar layer holding `files`.
fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tree = manifest_bundle::ManifestTree::new();
    for (p, d) in files {
        tree.insert(*p, d.to_vec());
    }
    manifest_bundle::package::gzip(&manifest_bundle::package::deterministic_tar("", &tree).unwrap())
        .unwrap()
}

fn diff_id(gz: &[u8]) -> String {
    let mut files = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut files).unwrap();
    sha256_digest(&files)
}

/// Pushes a small single-platform base image (Docker schema 2, like most registries serve
/// opm's base) and returns its manifest digest.
async fn push_base(
    c: &RegistryClient,
    repo: &str,
    tag: &str,
    arch: &str,
    extra_label: (&str, &str),
) -> String {
    let l = layer(&[(
        "bin/opm",
        format!("#!/bin/sh\n# fake opm for {arch}\n").as_bytes(),
    )]);
    let config = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "config": {"Labels": {extra_label.0: extra_label.1}, "Env": ["PATH=/bin"], "Entrypoint": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id(&l)]},
        "history": [{"created_by": "test base"}],
    }))
    .unwrap();
    c.push_blob(repo, Bytes::from(l.clone())).await.unwrap();
    c.push_blob(repo, Bytes::from(config.clone()))
        .await
        .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": media_types::DOCKER_MANIFEST,
        "config": {"mediaType": media_types::DOCKER_CONFIG, "digest": sha256_digest(&config), "size": config.len()},
        "layers": [{"mediaType": media_types::DOCKER_LAYER_GZIP, "digest": sha256_digest(&l), "size": l.len()}],
    }))
    .unwrap();
    c.put_manifest(
        repo,
        tag,
        &Manifest::new(media_types::DOCKER_MANIFEST, manifest),
    )
    .await
    .unwrap()
}

fn inspect(host: &str, image: &str, extra: &[&str]) -> Json {
    let reference = format!("docker://{host}/{image}");
    let mut args = vec!["inspect", "--tls-verify=false"];
    args.extend_from_slice(extra);
    args.push(&reference);
    serde_json::from_slice(&skopeo::run(&args)).unwrap()
}

/// Copies the image with skopeo into a `dir:` layout and returns the files of its layers under
/// `configs/`.
fn configs_via_skopeo(host: &str, image: &str) -> FileSet {
    let out = tempfile::tempdir().unwrap();
    let target = format!("dir:{}", out.path().display());
    skopeo::run(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{host}/{image}"),
        &target,
    ]);
    let manifest: Json =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    let mut files = FileSet::new();
    for l in manifest["layers"].as_array().unwrap() {
        let hex = l["digest"].as_str().unwrap().trim_start_matches("sha256:");
        let data = std::fs::read(out.path().join(hex)).unwrap();
        olm_catalog::layer::apply_layer(&mut files, &data[..], "", &CatalogLimits::default())
            .unwrap();
    }
    files
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn scratch_catalog_image_is_read_back_by_skopeo_and_reproducible() {
    let reg = Registry::start();
    let c = client(&reg);
    let report = push_catalog(
        &c,
        &at(&reg, "catalogs/demo:v1"),
        &catalog(),
        BaseRef::Scratch,
        &ImageOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.platforms, 1);

    let info = inspect(&reg.host(), "catalogs/demo:v1", &[]);
    assert_eq!(info["Digest"], report.digest.as_str());
    assert_eq!(info["Labels"][CONFIGS_LABEL], "/configs");
    let config = inspect(&reg.host(), "catalogs/demo:v1", &["--config"]);
    assert!(
        config["config"].get("Cmd").is_none(),
        "scratch images carry no command"
    );

    let files = configs_via_skopeo(&reg.host(), "catalogs/demo:v1");
    let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        ["configs/demo/catalog.json", "configs/other/catalog.json"]
    );
    let demo = std::str::from_utf8(files.get("configs/demo/catalog.json").unwrap()).unwrap();
    assert_eq!(demo, to_text(&catalog().only_package("demo"), Format::Json));

    // Same input, same digest: pushed again under another tag, and computed offline.
    let again = push_catalog(
        &c,
        &at(&reg, "catalogs/demo:v2"),
        &catalog(),
        BaseRef::Scratch,
        &ImageOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(again.digest, report.digest);
    let offline = compose(
        None,
        &CatalogLayer::build(&catalog()).unwrap(),
        &ImageOptions::default(),
    )
    .unwrap();
    assert_eq!(offline.digest(), report.digest);

    let pulled = pull_catalog(&c, &at(&reg, "catalogs/demo:v1"), &CatalogLimits::default())
        .await
        .unwrap();
    assert_eq!(pulled.configs_dir, "/configs");
    assert_eq!(pulled.digest, report.digest);
    assert_eq!(
        to_text(&pulled.catalog, Format::Json),
        to_text(&catalog(), Format::Json)
    );
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn catalog_on_a_base_image_from_another_registry() {
    let base_reg = Registry::start();
    let reg = Registry::start();
    let base_client = client(&base_reg);
    push_base(
        &base_client,
        "base/opm",
        "latest",
        "amd64",
        ("org.example.base", "opm"),
    )
    .await;
    let c = client(&reg);
    let opm_ref = at(&base_reg, "base/opm:latest");
    let base = BaseRef::Image {
        client: &base_client,
        reference: &opm_ref,
    };
    let labels = [("org.example.team".to_owned(), "catalogs".to_owned())].into();
    let report = push_catalog(
        &c,
        &at(&reg, "catalogs/demo:based"),
        &catalog(),
        base,
        &ImageOptions { labels },
    )
    .await
    .unwrap();
    assert_eq!(
        report.media_type,
        media_types::DOCKER_MANIFEST,
        "the base's manifest type is kept"
    );

    let config = inspect(&reg.host(), "catalogs/demo:based", &["--config"]);
    assert_eq!(config["config"]["Entrypoint"], json!(["/bin/opm"]));
    assert_eq!(config["config"]["Cmd"], json!(["serve", "/configs"]));
    assert_eq!(config["config"]["Env"], json!(["PATH=/bin"]));
    assert_eq!(config["config"]["Labels"][CONFIGS_LABEL], "/configs");
    assert_eq!(config["config"]["Labels"]["org.example.base"], "opm");
    assert_eq!(config["config"]["Labels"]["org.example.team"], "catalogs");
    let info = inspect(&reg.host(), "catalogs/demo:based", &[]);
    assert_eq!(info["Layers"].as_array().unwrap().len(), 2);

    let files = configs_via_skopeo(&reg.host(), "catalogs/demo:based");
    assert!(files.get("bin/opm").is_some(), "the base layer is there");
    assert!(files.get("configs/other/catalog.json").is_some());

    let pulled = pull_catalog(
        &c,
        &at(&reg, "catalogs/demo:based"),
        &CatalogLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        to_text(&pulled.catalog, Format::Yaml),
        to_text(&catalog(), Format::Yaml)
    );
    let paths: Vec<&str> = pulled.files.iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        ["demo/catalog.json", "other/catalog.json"],
        "only the configs directory"
    );
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn multi_platform_base_gives_a_multi_platform_catalog() {
    let reg = Registry::start();
    let c = client(&reg);
    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let digest = push_base(&c, "base/opm", arch, arch, ("arch", arch)).await;
        let m = c.get_manifest("base/opm", &digest).await.unwrap();
        entries.push(json!({"mediaType": m.media_type, "digest": digest, "size": m.bytes.len(), "platform": {"architecture": arch, "os": "linux"}}));
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": media_types::DOCKER_MANIFEST_LIST, "manifests": entries})).unwrap();
    c.put_manifest(
        "base/opm",
        "multi",
        &Manifest::new(media_types::DOCKER_MANIFEST_LIST, index),
    )
    .await
    .unwrap();

    let base_ref = at(&reg, "base/opm:multi");
    let base = BaseRef::Image {
        client: &c,
        reference: &base_ref,
    };
    let report = push_catalog(
        &c,
        &at(&reg, "catalogs/multi:v1"),
        &catalog(),
        base,
        &ImageOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.platforms, 2);
    assert_eq!(report.media_type, media_types::DOCKER_MANIFEST_LIST);
    let raw = inspect(&reg.host(), "catalogs/multi:v1", &["--raw"]);
    let platforms: Vec<&str> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["amd64", "arm64"]);
    for arch in ["amd64", "arm64"] {
        let config = inspect(
            &reg.host(),
            "catalogs/multi:v1",
            &[
                "--override-arch",
                arch,
                "--override-os",
                "linux",
                "--config",
            ],
        );
        assert_eq!(config["architecture"], arch);
        assert_eq!(config["config"]["Labels"]["arch"], arch);
        assert_eq!(config["config"]["Labels"][CONFIGS_LABEL], "/configs");
    }
    let pulled = pull_catalog(
        &c,
        &at(&reg, "catalogs/multi:v1"),
        &CatalogLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(pulled.catalog.packages.len(), 2);
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn bundle_and_sqlite_images_are_not_catalogs() {
    let reg = Registry::start();
    let c = client(&reg);
    push_base(
        &c,
        "x/bundle",
        "v1",
        "amd64",
        ("operators.operatorframework.io.bundle.package.v1", "demo"),
    )
    .await;
    push_base(
        &c,
        "x/index",
        "v1",
        "amd64",
        (
            "operators.operatorframework.io.index.database.v1",
            "/database/index.db",
        ),
    )
    .await;
    push_base(&c, "x/plain", "v1", "amd64", ("a", "b")).await;
    let limits = CatalogLimits::default();
    for (repo, words) in [
        ("x/bundle", "is a bundle image"),
        ("x/index", "sqlite-based index"),
        (
            "x/plain",
            "has no operators.operatorframework.io.index.configs.v1 label",
        ),
    ] {
        let e = pull_catalog(&c, &at(&reg, &format!("{repo}:v1")), &limits)
            .await
            .unwrap_err();
        assert!(matches!(e, CatalogImageError::NotACatalog(_)), "{e}");
        assert!(e.to_string().contains(words), "{e}");
    }
    let e = pull_catalog(&c, &at(&reg, "x/none:v1"), &limits)
        .await
        .unwrap_err();
    assert!(matches!(e, CatalogImageError::Registry(_)), "{e}");
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn a_pushed_bundle_image_renders_like_its_directory() {
    use manifest_bundle::{Limits, ManifestTree, to_bundles, validate_tree};
    let reg = Registry::start();
    let c = client(&reg);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators/sosreport-operator/0.0.2");
    let tree = ManifestTree::from_dir(&dir, &Limits::default()).unwrap();
    let (manifests, _) = validate_tree(&tree, None, &Limits::default().yaml).unwrap();
    let image =
        manifest_bundle::image::build_image(&to_bundles(&manifests, &tree).unwrap()[0]).unwrap();
    c.push_blob("bundles/sos", Bytes::from(image.layer.clone()))
        .await
        .unwrap();
    c.push_blob("bundles/sos", Bytes::from(image.config.clone()))
        .await
        .unwrap();
    c.put_manifest(
        "bundles/sos",
        "0.0.2",
        &Manifest::new(media_types::OCI_MANIFEST, image.manifest.clone()),
    )
    .await
    .unwrap();

    let limits = CatalogLimits::default();
    let files = pull_bundle(&c, &at(&reg, "bundles/sos:0.0.2"), &limits)
        .await
        .unwrap()
        .files;
    let options = olm_catalog::RenderOptions {
        image: Some(format!("{}/bundles/sos:0.0.2", reg.host())),
        ..Default::default()
    };
    let pulled = olm_catalog::render_bundle(&files, &options, &limits).unwrap();
    let local = olm_catalog::render_bundle_dir(&dir, &options, &limits).unwrap();
    assert_eq!(pulled.bundle, local.bundle);

    push_catalog(
        &c,
        &at(&reg, "catalogs/demo:v1"),
        &catalog(),
        BaseRef::Scratch,
        &ImageOptions::default(),
    )
    .await
    .unwrap();
    let e = pull_bundle(&c, &at(&reg, "catalogs/demo:v1"), &limits)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}/catalogs/demo:v1 is a catalog image, not a bundle image",
            reg.host()
        )
    );

    // `pull` tells the two apart by their labels.
    match pull(&c, &at(&reg, "bundles/sos:0.0.2"), &limits)
        .await
        .unwrap()
    {
        PulledImage::Bundle(b) => assert_eq!(b.files, files),
        other => panic!("not read as a bundle: {other:?}"),
    }
    match pull(&c, &at(&reg, "catalogs/demo:v1"), &limits)
        .await
        .unwrap()
    {
        PulledImage::Catalog(cat) => assert_eq!(cat.catalog, catalog()),
        other => panic!("not read as a catalog: {other:?}"),
    }
    // Neither label and no bundle inside: refused, saying what is missing.
    push_base(&c, "x/plain", "v1", "amd64", ("a", "b")).await;
    let e = pull(&c, &at(&reg, "x/plain:v1"), &limits)
        .await
        .unwrap_err();
    assert!(matches!(e, CatalogImageError::NotACatalog(_)), "{e}");
    assert!(
        e.to_string()
            .ends_with("holds no manifests/ and metadata/: not a bundle image"),
        "{e}"
    );
}

/// A catalog of one package `pkg` with one bundle per version, chained in one channel.
fn package_catalog(pkg: &str, versions: &[&str]) -> Catalog {
    let mut text =
        format!(r#"{{"schema":"olm.package","name":"{pkg}","defaultChannel":"stable"}}"#);
    let mut entries = Vec::new();
    let mut previous: Option<String> = None;
    for v in versions {
        let name = format!("{pkg}.v{v}");
        entries.push(match &previous {
            Some(p) => json!({"name": name, "replaces": p}),
            None => json!({"name": name}),
        });
        previous = Some(name);
    }
    text.push_str(
        &json!({"schema":"olm.channel","name":"stable","package":pkg,"entries":entries})
            .to_string(),
    );
    for v in versions {
        text.push_str(
            &json!({
                "schema":"olm.bundle","name":format!("{pkg}.v{v}"),"package":pkg,
                "image":format!("quay.io/{pkg}/bundle:{v}"),
                "properties":[{"type":"olm.package","value":{"packageName":pkg,"version":v}}]
            })
            .to_string(),
        );
    }
    load_text("c.json", text.as_bytes(), &CatalogLimits::default()).unwrap()
}

/// An edit that merges `other` into the catalog (its packages replace same-named ones).
fn merge(catalog: &mut Catalog, other: &Catalog) -> bool {
    let names: Vec<&str> = other.packages.iter().map(|p| p.name.as_str()).collect();
    let before = to_text(catalog, Format::Json);
    catalog
        .packages
        .retain(|p| !names.contains(&p.name.as_str()));
    catalog
        .channels
        .retain(|c| !names.contains(&c.package.as_str()));
    catalog
        .bundles
        .retain(|b| !names.contains(&b.package.as_str()));
    catalog.packages.extend(other.packages.iter().cloned());
    catalog.channels.extend(other.channels.iter().cloned());
    catalog.bundles.extend(other.bundles.iter().cloned());
    to_text(catalog, Format::Json) != before
}

fn packages_of(catalog: &Catalog) -> Vec<String> {
    let mut names: Vec<String> = catalog.packages.iter().map(|p| p.name.clone()).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn catalog_updates_create_edit_and_skip_unchanged_catalogs() {
    let reg = Registry::start();
    let c = client(&reg);
    let target = at(&reg, "catalogs/live:latest");
    let limits = CatalogLimits::default();
    let options = ImageOptions::default();
    let update = catalog_image::CatalogUpdate {
        client: &c,
        target: &target,
        base: BaseRef::Scratch,
        options: &options,
        limits: &limits,
        max_attempts: 3,
    };
    let first = package_catalog("alpha", &["1.0.0"]);
    let created = catalog_image::update_catalog(update, |cat| Ok(merge(cat, &first)))
        .await
        .unwrap();
    assert_eq!(created.previous, None, "the catalog did not exist");
    assert_eq!(created.attempts, 1);
    let pushed = created.pushed.expect("a new catalog is written");
    assert_eq!(
        inspect(&reg.host(), "catalogs/live:latest", &[])["Digest"],
        pushed.digest.as_str()
    );

    let second = package_catalog("beta", &["0.1.0", "0.2.0"]);
    let edited = catalog_image::update_catalog(update, |cat| Ok(merge(cat, &second)))
        .await
        .unwrap();
    assert_eq!(edited.previous.as_deref(), Some(pushed.digest.as_str()));
    let after = edited.pushed.expect("an edit is written");
    assert_ne!(after.digest, pushed.digest);
    let files = configs_via_skopeo(&reg.host(), "catalogs/live:latest");
    let paths: Vec<&str> = files.iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        ["configs/alpha/catalog.json", "configs/beta/catalog.json"],
        "one layer with both packages, not a stack of old layers"
    );
    let layers = inspect(&reg.host(), "catalogs/live:latest", &[])["Layers"].clone();
    assert_eq!(layers.as_array().map(Vec::len), Some(1), "{layers}");

    // An edit that changes nothing writes nothing.
    let unchanged = catalog_image::update_catalog(update, |cat| Ok(merge(cat, &second)))
        .await
        .unwrap();
    assert_eq!(unchanged.pushed, None);
    assert_eq!(unchanged.previous.as_deref(), Some(after.digest.as_str()));

    // An edit that breaks the catalog is refused before anything is written.
    let err = catalog_image::update_catalog(update, |cat| {
        cat.bundles[0].image.clear();
        Ok(true)
    })
    .await
    .unwrap_err();
    assert!(matches!(err, CatalogImageError::Catalog(_)), "{err}");
    assert_eq!(
        inspect(&reg.host(), "catalogs/live:latest", &[])["Digest"],
        after.digest.as_str(),
        "nothing written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn a_writer_that_moved_the_tag_meanwhile_is_not_overwritten() {
    let reg = Registry::start();
    let c = client(&reg);
    let target = at(&reg, "catalogs/contended:latest");
    let limits = CatalogLimits::default();
    let options = ImageOptions::default();
    let update = catalog_image::CatalogUpdate {
        client: &c,
        target: &target,
        base: BaseRef::Scratch,
        options: &options,
        limits: &limits,
        max_attempts: 3,
    };
    let start = package_catalog("alpha", &["1.0.0"]);
    catalog_image::update_catalog(update, |cat| Ok(merge(cat, &start)))
        .await
        .unwrap();

    // While our edit runs, another writer adds `gamma`.
    let ours = package_catalog("beta", &["0.1.0"]);
    let theirs = package_catalog("gamma", &["2.0.0"]);
    let handle = tokio::runtime::Handle::current();
    // Another writer's whole update, run from inside our edit (after our read, before our write).
    let another_writer_adds = |package: &Catalog| {
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                let mut other = pull_catalog(&c, &target, &limits).await.unwrap().catalog;
                merge(&mut other, package);
                push_catalog(&c, &target, &other, BaseRef::Scratch, &options)
                    .await
                    .unwrap();
            });
        });
    };
    let mut calls = 0;
    let report = catalog_image::update_catalog(update, |cat| {
        calls += 1;
        if calls == 1 {
            another_writer_adds(&theirs);
        }
        Ok(merge(cat, &ours))
    })
    .await
    .unwrap();
    assert_eq!(report.attempts, 2, "the moved tag forced a second attempt");
    assert_eq!(calls, 2);
    let pulled = pull_catalog(&c, &target, &limits).await.unwrap();
    assert_eq!(
        packages_of(&pulled.catalog),
        ["alpha", "beta", "gamma"],
        "neither writer's entries are lost"
    );

    // A tag that moves under every attempt: a typed, retryable error and nothing of ours.
    let mut round = 0u32;
    let loser = package_catalog("delta", &["3.0.0"]);
    let err = catalog_image::update_catalog(update, |cat| {
        round += 1;
        let extra = package_catalog(&format!("noise{round}"), &["1.0.0"]);
        another_writer_adds(&extra);
        Ok(merge(cat, &loser))
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, CatalogImageError::Contended { attempts: 3, .. }),
        "{err}"
    );
    assert!(err.is_retryable());
    let pulled = pull_catalog(&c, &target, &limits).await.unwrap();
    assert!(!packages_of(&pulled.catalog).contains(&"delta".to_owned()));
}
