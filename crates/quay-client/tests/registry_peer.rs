//! Real-peer tests against Debian's `docker-registry` (distribution 2.8) and `skopeo`.
//!
//! Ignored by default; `cargo xtask ci` runs them with `--run-ignored all` after installing the
//! packages. They need `OMPS_DOCKER_REGISTRY` (path of the `docker-registry` binary) and
//! `OMPS_SKOPEO` (path of `skopeo`) and fail loudly when those are missing.

use bytes::Bytes;
use quay_client::oci::{Manifest, sha256_digest};
use quay_client::{CopyOptions, QuayError, RegistryClient, copy_image};
use serde_json::json;
use test_support::oci_image::{self, Flavor, RawManifest};
use test_support::registry::{Registry, RegistryOptions};
use test_support::skopeo;

/// A client of `reg` with a small chunk size, so modest layers take the chunked upload path.
fn client(reg: &Registry) -> RegistryClient {
    RegistryClient::builder(reg.url())
        .chunk_size(64 * 1024)
        .build()
        .unwrap()
}

fn noise(seed: &str, len: usize) -> Bytes {
    Bytes::from(oci_image::noise(seed, len))
}

/// A test image in the client's types.
struct TestImage {
    config: Bytes,
    layers: Vec<Bytes>,
    manifest: Manifest,
    raw: RawManifest,
}

fn flavor(docker: bool) -> Flavor {
    if docker { Flavor::Docker } else { Flavor::Oci }
}

fn image(seed: &str, arch: &str, layer_sizes: &[usize], docker: bool) -> TestImage {
    let img = oci_image::TestImage::new(seed, arch, layer_sizes, flavor(docker));
    TestImage {
        config: Bytes::from(img.config),
        layers: img.layers.into_iter().map(Bytes::from).collect(),
        manifest: Manifest::new(img.manifest.media_type, img.manifest.bytes.clone()),
        raw: img.manifest,
    }
}

fn index(children: &[(&TestImage, &str)], docker: bool) -> Manifest {
    let raw: Vec<(&RawManifest, &str)> = children.iter().map(|(i, a)| (&i.raw, *a)).collect();
    let idx = oci_image::index(&raw, flavor(docker));
    Manifest::new(idx.media_type, idx.bytes)
}

async fn push_image(c: &RegistryClient, repo: &str, reference: &str, img: &TestImage) -> String {
    c.push_blob(repo, img.config.clone()).await.unwrap();
    for l in &img.layers {
        c.push_blob(repo, l.clone()).await.unwrap();
    }
    c.put_manifest(repo, reference, &img.manifest)
        .await
        .unwrap()
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn push_then_pull_monolithic_and_chunked() {
    let reg = Registry::start();
    let c = client(&reg);
    // 10 KiB goes in one PUT; 200 KiB goes in 64 KiB PATCH chunks.
    let img = image("pushpull", "amd64", &[10 * 1024, 200 * 1024], false);
    let digest = push_image(&c, "team/app", "v1", &img).await;
    assert_eq!(digest, img.manifest.digest);

    let got = c.get_manifest("team/app", "v1").await.unwrap();
    assert_eq!(got.bytes, img.manifest.bytes, "manifest bytes changed");
    assert_eq!(got.media_type, quay_client::oci::media_types::OCI_MANIFEST);
    let head = c.head_manifest("team/app", &digest).await.unwrap().unwrap();
    assert_eq!(head.digest, digest);
    assert_eq!(c.head_manifest("team/app", "nope").await.unwrap(), None);

    for layer in &img.layers {
        let d = sha256_digest(layer);
        assert_eq!(
            c.blob_exists("team/app", &d).await.unwrap(),
            Some(layer.len() as u64)
        );
        assert_eq!(c.get_blob("team/app", &d).await.unwrap(), *layer);
        let mut sink = Vec::new();
        let n = c.download_blob("team/app", &d, &mut sink).await.unwrap();
        assert_eq!(n, layer.len() as u64);
        assert_eq!(sink, layer.to_vec());
    }
    let missing = sha256_digest(b"never pushed");
    assert_eq!(c.blob_exists("team/app", &missing).await.unwrap(), None);
    let err = c.get_blob("team/app", &missing).await.unwrap_err();
    assert!(matches!(err, QuayError::NotFound(_)), "{err:?}");
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn explicit_chunked_upload_and_pushing_twice_is_a_no_op() {
    let reg = Registry::start();
    let c = client(&reg);
    let blob = noise("chunky", 100_003);
    let d = c
        .push_blob_chunked("chunks", blob.clone(), 7_000)
        .await
        .unwrap();
    assert_eq!(d, sha256_digest(&blob));
    assert_eq!(c.get_blob("chunks", &d).await.unwrap(), blob);
    // Already present: push_blob returns the digest without uploading again.
    assert_eq!(c.push_blob("chunks", blob.clone()).await.unwrap(), d);
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn tag_list_and_missing_repository() {
    let reg = Registry::start();
    let c = client(&reg);
    let img = image("tags", "amd64", &[1024], false);
    for tag in ["v1", "v2", "latest"] {
        push_image(&c, "tagged", tag, &img).await;
    }
    let mut tags = c.list_tags("tagged", Some(2)).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["latest", "v1", "v2"]);
    let err = c.list_tags("never/existed", None).await.unwrap_err();
    let QuayError::NotFound(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code(), Some("NAME_UNKNOWN"));
    // Catalog paging through Link headers (n=1 pages one repository at a time).
    push_image(&c, "other", "v1", &img).await;
    let mut repos = c.catalog(Some(1)).await.unwrap();
    repos.sort();
    assert_eq!(repos, ["other", "tagged"]);
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn cross_repository_mount() {
    let reg = Registry::start();
    let c = client(&reg);
    let blob = noise("mount-me", 5000);
    let d = c.push_blob("src/repo", blob.clone()).await.unwrap();
    assert_eq!(c.blob_exists("dst/repo", &d).await.unwrap(), None);
    assert!(c.mount_blob("dst/repo", &d, "src/repo").await.unwrap());
    assert_eq!(c.get_blob("dst/repo", &d).await.unwrap(), blob);
    let absent = sha256_digest(b"absent");
    assert!(!c.mount_blob("dst/repo", &absent, "src/repo").await.unwrap());
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn delete_manifest_and_blob() {
    let reg = Registry::start();
    let c = client(&reg);
    let img = image("delete", "amd64", &[2048], false);
    let digest = push_image(&c, "gone", "v1", &img).await;
    push_image(&c, "gone", "v2", &img).await;

    // Deletion is by digest only (distribution 2.8 refuses tags); refused before sending.
    let err = c.delete_manifest("gone", "v1").await.unwrap_err();
    assert!(matches!(err, QuayError::InvalidArgument(_)), "{err:?}");

    c.delete_manifest("gone", &digest).await.unwrap();
    let err = c.get_manifest("gone", "v1").await.unwrap_err();
    assert!(matches!(err, QuayError::NotFound(_)), "{err:?}");
    assert_eq!(
        c.list_tags("gone", None).await.unwrap(),
        Vec::<String>::new()
    );
    let err = c.delete_manifest("gone", &digest).await.unwrap_err();
    let QuayError::NotFound(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code(), Some("MANIFEST_UNKNOWN"));

    let layer = sha256_digest(&img.layers[0]);
    c.delete_blob("gone", &layer).await.unwrap();
    assert_eq!(c.blob_exists("gone", &layer).await.unwrap(), None);
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn manifest_with_missing_blobs_is_rejected() {
    let reg = Registry::start();
    let c = client(&reg);
    let img = image("orphan", "amd64", &[512], false);
    let err = c
        .put_manifest("orphan", "v1", &img.manifest)
        .await
        .unwrap_err();
    let QuayError::InvalidRequest(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code(), Some("MANIFEST_BLOB_UNKNOWN"));
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn index_push_and_skopeo_agrees() {
    let reg = Registry::start();
    let c = client(&reg);
    let amd = image("idx-amd64", "amd64", &[3000, 4000], false);
    let arm = image("idx-arm64", "arm64", &[5000], false);
    for img in [&amd, &arm] {
        push_image(&c, "multi", &img.manifest.digest.clone(), img).await;
    }
    let idx = index(&[(&amd, "amd64"), (&arm, "arm64")], false);
    let digest = c.put_manifest("multi", "v1", &idx).await.unwrap();
    assert_eq!(digest, idx.digest);

    let got = c.get_manifest("multi", "v1").await.unwrap();
    assert!(got.is_index());
    assert_eq!(got.bytes, idx.bytes);
    let children: Vec<_> = got
        .index()
        .unwrap()
        .manifests
        .into_iter()
        .map(|d| d.digest)
        .collect();
    assert_eq!(
        children,
        [amd.manifest.digest.clone(), arm.manifest.digest.clone()]
    );

    // skopeo reads back exactly what we pushed.
    let raw = skopeo::run(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{}/multi:v1", reg.host()),
    ]);
    assert_eq!(raw, idx.bytes.to_vec());
    let info: serde_json::Value = serde_json::from_slice(&skopeo::run(&[
        "inspect",
        "--tls-verify=false",
        "--override-arch=arm64",
        &format!("docker://{}/multi:v1", reg.host()),
    ]))
    .unwrap();
    assert_eq!(info["Architecture"], "arm64");
    assert_eq!(info["Labels"]["test.seed"], "idx-arm64");
    assert_eq!(info["Layers"], json!([sha256_digest(&arm.layers[0])]));
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn skopeo_inspect_agrees_with_single_image_push() {
    let reg = Registry::start();
    let c = client(&reg);
    let img = image("inspect", "amd64", &[1500, 2500], true);
    let digest = push_image(&c, "ns/inspect", "1.0.0", &img).await;
    let info: serde_json::Value = serde_json::from_slice(&skopeo::run(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{}/ns/inspect:1.0.0", reg.host()),
    ]))
    .unwrap();
    assert_eq!(info["Digest"], json!(digest));
    assert_eq!(info["Architecture"], "amd64");
    assert_eq!(info["Labels"]["test.seed"], "inspect");
    let layers: Vec<String> = img.layers.iter().map(|l| sha256_digest(l)).collect();
    assert_eq!(info["Layers"], json!(layers));
    assert_eq!(info["RepoTags"], json!(["1.0.0"]));

    // And the other way: skopeo copies within the registry, we read the same digest.
    skopeo::run(&[
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/ns/inspect:1.0.0", reg.host()),
        &format!("docker://{}/ns/copied:1.0.0", reg.host()),
    ]);
    let copied = c.get_manifest("ns/copied", "1.0.0").await.unwrap();
    assert_eq!(copied.digest, digest);
    assert_eq!(copied.bytes, img.manifest.bytes);
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn digest_preserving_copy_between_two_registries() {
    let a = Registry::start();
    let b = Registry::start();
    let (ca, cb) = (client(&a), client(&b));
    // Layers above and below the 64 KiB chunk size: streamed and single-request paths.
    let amd = image("copy-amd64", "amd64", &[100 * 1024, 2000], false);
    let arm = image("copy-arm64", "arm64", &[150 * 1024], false);
    for img in [&amd, &arm] {
        push_image(&ca, "src/app", &img.manifest.digest.clone(), img).await;
    }
    let idx = index(&[(&amd, "amd64"), (&arm, "arm64")], false);
    ca.put_manifest("src/app", "v1", &idx).await.unwrap();

    let report = copy_image(
        &ca,
        "src/app",
        "v1",
        &cb,
        "mirror/app",
        "v1",
        &CopyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.digest, idx.digest);
    assert_eq!(report.manifests_pushed, 3);
    assert_eq!(report.blobs_copied, 5, "{report:?}");
    assert_eq!(report.blobs_mounted, 0);
    assert_eq!(
        report.bytes_copied,
        (100 + 150) * 1024 + 2000 + amd.config.len() as u64 + arm.config.len() as u64
    );

    let got = cb.get_manifest("mirror/app", "v1").await.unwrap();
    assert_eq!(got.bytes, idx.bytes);
    for img in [&amd, &arm] {
        let child = cb
            .get_manifest("mirror/app", &img.manifest.digest)
            .await
            .unwrap();
        assert_eq!(child.bytes, img.manifest.bytes);
        for l in &img.layers {
            assert_eq!(
                cb.get_blob("mirror/app", &sha256_digest(l)).await.unwrap(),
                *l
            );
        }
    }
    let raw = skopeo::run(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{}/mirror/app:v1", b.host()),
    ]);
    assert_eq!(raw, idx.bytes.to_vec());

    // Copying again moves nothing: children and blobs are present.
    let again = copy_image(
        &ca,
        "src/app",
        "v1",
        &cb,
        "mirror/app",
        "v2",
        &CopyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(again.manifests_skipped, 2);
    assert_eq!(again.blobs_copied, 0);
    assert_eq!(again.manifests_pushed, 1);

    // A single image on the same registry is mounted, not transferred.
    let single = copy_image(
        &cb,
        "mirror/app",
        &amd.manifest.digest,
        &cb,
        "other/app",
        "x",
        &CopyOptions::default().blob_concurrency(1),
    )
    .await
    .unwrap();
    assert_eq!(single.digest, amd.manifest.digest);
    assert_eq!(single.blobs_mounted, 3, "{single:?}");
    assert_eq!(single.blobs_copied, 0);
    assert_eq!(
        cb.get_manifest("other/app", "x").await.unwrap().bytes,
        amd.manifest.bytes
    );
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn tls_needs_the_ca_bundle_or_an_explicit_opt_out() {
    let reg = Registry::start_with(RegistryOptions::default().tls(true));
    // Unknown issuer: refused.
    let plain = RegistryClient::builder(reg.url())
        .max_retries(0)
        .build()
        .unwrap();
    let err = plain.ping().await.unwrap_err();
    assert!(matches!(err, QuayError::Transport { .. }), "{err:?}");

    // With the CA bundle: trusted, and a push/pull round trip works.
    let with_ca = RegistryClient::builder(reg.url())
        .ca_bundle_pem(test_support::certs::CA_PEM)
        .build()
        .unwrap();
    assert_eq!(with_ca.ping().await.unwrap(), quay_client::oci::Ping::Ok);
    let img = image("tls", "amd64", &[777], false);
    let digest = push_image(&with_ca, "secure/app", "v1", &img).await;
    assert_eq!(
        with_ca
            .get_manifest("secure/app", "v1")
            .await
            .unwrap()
            .digest,
        digest
    );

    // Verification off (logged at WARN): accepted without the CA.
    let insecure = RegistryClient::builder(reg.url())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    assert_eq!(
        insecure
            .get_manifest("secure/app", &digest)
            .await
            .unwrap()
            .bytes,
        img.manifest.bytes
    );
    let info: serde_json::Value = serde_json::from_slice(&skopeo::run(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{}/secure/app:v1", reg.host()),
    ]))
    .unwrap();
    assert_eq!(info["Digest"], json!(digest));
}
