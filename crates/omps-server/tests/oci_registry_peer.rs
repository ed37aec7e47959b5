//! The OCI bundle store against a real Debian `docker-registry` on 127.0.0.1, checked with
//! `skopeo` and raw registry reads. Ignored by default; `cargo xtask ci` runs them with
//! `OMPS_DOCKER_REGISTRY` and `OMPS_SKOPEO` set.

#[allow(clippy::type_complexity)]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{AUTH, fixture_zip, multipart, request, send, upload};
use omps_server::{AppState, Config, app};
use serde_json::Value;
use sha2::Digest as _;
use test_support::server::OmpsServer;

/// The shared `docker-registry` peer (deletes enabled) plus raw reads for these tests.
struct Registry(test_support::registry::Registry);

impl Registry {
    #[allow(clippy::unused_async)] // keeps the call sites' shape
    async fn start() -> Self {
        Self(test_support::registry::Registry::start())
    }

    fn url(&self) -> String {
        self.0.url()
    }

    fn host(&self) -> String {
        self.0.host()
    }

    /// `GET` of a manifest or blob path below `/v2/`, with the OCI manifest type accepted.
    async fn raw(&self, tail: &str) -> (u16, Vec<u8>) {
        let r = reqwest::Client::new()
            .get(format!("{}/v2/{tail}", self.url()))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }

    async fn tags(&self, repo: &str) -> BTreeSet<String> {
        let (status, body) = self.raw(&format!("{repo}/tags/list")).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).unwrap();
        v["tags"]
            .as_array()
            .map(|a| a.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }
}

/// `skopeo inspect` of an image: `Ok(json)` or `Err(stderr)`.
fn skopeo_inspect(reference: &str, raw: bool) -> Result<Value, String> {
    let mut cmd = Command::new(test_support::peers::require("OMPS_SKOPEO"));
    cmd.args(["inspect", "--tls-verify=false"]);
    if raw {
        cmd.arg("--raw");
    }
    let out = cmd.arg(format!("docker://{reference}")).output().unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn sha(data: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(data))
}

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators")
        .join(name)
}

/// The files of a layer: path → bytes (directories left out).
fn layer_files(layer_gz: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(layer_gz)
        .read_to_end(&mut tar)
        .unwrap();
    let mut out = BTreeMap::new();
    for entry in tar::Archive::new(&tar[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.insert(path, data);
    }
    out
}

fn router_for(registry: &Registry, extra: &str) -> axum::Router {
    let text = format!(
        "store = \"oci\"\n[oci]\nregistry_url = \"{}\"\n{extra}",
        registry.url()
    );
    let config = Config::from_toml_str(&text).unwrap();
    app(AppState::from_config(config).unwrap())
}

/// Expected channels per CSV version of the etcd fixture (our rules, validation.md §9.1).
fn etcd_channels() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("0.6.1", "alpha"),
        ("0.9.0", "singlenamespace-alpha,clusterwide-alpha"),
        ("0.9.2", "singlenamespace-alpha"),
        ("0.9.4", "singlenamespace-alpha"),
        ("0.9.2-clusterwide", "clusterwide-alpha"),
        ("0.9.4-clusterwide", "clusterwide-alpha"),
    ])
}

/// Checks one pushed etcd bundle image with skopeo and raw reads.
async fn check_etcd_image(
    registry: &Registry,
    version: &str,
    image: &Value,
    expected_channels: &str,
) {
    let fixture = fixture_dir("etcd");
    let reference = format!("{}/myorg/etcd:{version}", registry.host());
    assert_eq!(image["reference"], reference.as_str());
    let digest = image["digest"].as_str().unwrap();

    // skopeo sees the image, its digest and the bundle labels: six, or five for a bundle that
    // is not in the default channel (no default-channel label then).
    let inspect = skopeo_inspect(&reference, false).unwrap();
    assert_eq!(inspect["Digest"], digest, "{inspect}");
    let labels = &inspect["Labels"];
    let in_default = expected_channels
        .split(',')
        .any(|c| c == "singlenamespace-alpha");
    assert_eq!(
        labels.as_object().unwrap().len(),
        if in_default { 6 } else { 5 },
        "{labels}"
    );
    assert_eq!(
        labels["operators.operatorframework.io.bundle.package.v1"],
        "etcd"
    );
    assert_eq!(
        labels["operators.operatorframework.io.bundle.mediatype.v1"],
        "registry+v1"
    );
    assert_eq!(
        labels["operators.operatorframework.io.bundle.manifests.v1"],
        "manifests/"
    );
    assert_eq!(
        labels["operators.operatorframework.io.bundle.metadata.v1"],
        "metadata/"
    );
    assert_eq!(
        labels["operators.operatorframework.io.bundle.channels.v1"],
        expected_channels
    );
    let default = labels["operators.operatorframework.io.bundle.channel.default.v1"].as_str();
    assert_eq!(default, in_default.then_some("singlenamespace-alpha"));
    let raw_manifest = skopeo_inspect(&reference, true).unwrap();
    assert_eq!(raw_manifest["layers"].as_array().unwrap().len(), 1);

    // Raw reads: the manifest bytes hash to the digest; config and layer match.
    let (status, manifest_bytes) = registry
        .raw(&format!("myorg/etcd/manifests/{version}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(sha(&manifest_bytes), digest);
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    assert_eq!(manifest, raw_manifest);
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let (_, config) = registry
        .raw(&format!("myorg/etcd/blobs/{config_digest}"))
        .await;
    assert_eq!(sha(&config), config_digest);
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(&config["config"]["Labels"], labels);
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
    let (_, layer) = registry
        .raw(&format!("myorg/etcd/blobs/{layer_digest}"))
        .await;
    assert_eq!(sha(&layer), layer_digest);
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&layer[..])
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(config["rootfs"]["diff_ids"][0], sha(&tar).as_str());

    // The layer holds the version directory's CSV and CRDs byte for byte, plus annotations.
    let files = layer_files(&layer);
    let mut expected: BTreeSet<String> = std::fs::read_dir(fixture.join(version))
        .unwrap()
        .map(|e| format!("manifests/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    expected.insert("metadata/annotations.yaml".into());
    assert_eq!(files.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for (path, data) in &files {
        if let Some(name) = path.strip_prefix("manifests/") {
            assert_eq!(
                data,
                &std::fs::read(fixture.join(version).join(name)).unwrap()
            );
        }
    }
    let annotations = String::from_utf8(files["metadata/annotations.yaml"].clone()).unwrap();
    let parsed =
        manifest_bundle::yaml::parse(&annotations, &manifest_bundle::YamlLimits::default())
            .unwrap()
            .unwrap();
    let parsed = parsed.get("annotations").unwrap();
    // annotations.yaml and the labels agree (the file wins when they do not, so check both).
    for (key, value) in labels.as_object().unwrap() {
        assert_eq!(
            parsed
                .get(key)
                .and_then(manifest_bundle::yaml::Yaml::as_str),
            value.as_str(),
            "{key} in {annotations}"
        );
    }
}
#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn etcd_pushed_through_the_server_is_readable_by_skopeo_and_reproducible() {
    let registry = Registry::start().await;
    let router = router_for(&registry, "");
    let zip = fixture_zip("etcd");

    let health = send(&router, request("GET", "/v2/health/ping", None)).await;
    assert_eq!(health.status, 200, "{}", health.json);

    let a = send(
        &router,
        upload("/v2/myorg/zipfile", Some(AUTH), multipart("etcd.zip", &zip)),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    let images = a.json["images"].as_array().unwrap().clone();
    let by_version: BTreeMap<String, Value> = images
        .iter()
        .map(|i| (i["csv_version"].as_str().unwrap().to_owned(), i.clone()))
        .collect();
    let channels = etcd_channels();
    assert_eq!(
        by_version.keys().map(String::as_str).collect::<Vec<_>>(),
        channels.keys().copied().collect::<Vec<_>>()
    );
    assert_eq!(
        registry.tags("myorg/etcd").await,
        channels.keys().map(|k| (*k).to_owned()).collect()
    );

    for (version, image) in &by_version {
        check_etcd_image(&registry, version, image, channels[version.as_str()]).await;
    }

    // The same input again: the same digests, nothing refused (csv-version tags).
    let b = send(
        &router,
        upload("/v2/myorg/zipfile", Some(AUTH), multipart("etcd.zip", &zip)),
    )
    .await;
    assert_eq!(b.status, 200, "{}", b.json);
    let digests = |v: &Value| -> BTreeSet<String> {
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["digest"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(digests(&a.json), digests(&b.json));

    // Versions come from the registry's tags; delete removes the tag.
    let listed = send(&router, request("GET", "/v2/myorg/etcd", None)).await;
    assert_eq!(
        listed.json["releases"].as_array().unwrap().len(),
        6,
        "{}",
        listed.json
    );
    let d = send(
        &router,
        request("DELETE", "/v2/myorg/etcd/0.9.4", Some(AUTH)),
    )
    .await;
    assert_eq!(d.status, 200, "{}", d.json);
    assert!(!registry.tags("myorg/etcd").await.contains("0.9.4"));
    assert!(skopeo_inspect(&format!("{}/myorg/etcd:0.9.4", registry.host()), false).is_err());
    let again = send(
        &router,
        request("DELETE", "/v2/myorg/etcd/0.9.4", Some(AUTH)),
    )
    .await;
    assert_eq!(again.status, 404, "{}", again.json);
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn release_tags_namespace_mapping_and_delete_by_digest() {
    let registry = Registry::start().await;
    let router = router_for(
        &registry,
        "[organizations.team]\noci = { namespace = \"ops/bundles\", repository = \"{repo}-bundle\", tag_policy = \"release\" }\npackage_name_suffix = \"-x\"",
    );
    let zip = fixture_zip("ext-postgres-operator");
    let mut answers = Vec::new();
    for expected in ["1.0.0", "2.0.0"] {
        let a = send(
            &router,
            upload("/v2/team/zipfile", Some(AUTH), multipart("p.zip", &zip)),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.json);
        assert_eq!(a.json["version"], expected);
        assert_eq!(a.json["repo"], "ext-postgres-operator-x");
        answers.push(a.json);
    }
    let repo = "ops/bundles/ext-postgres-operator-x-bundle";
    let tags = registry.tags(repo).await;
    let expected: BTreeSet<String> = ["1.0.0", "2.0.0"]
        .iter()
        .flat_map(|r| ["0.2.0", "0.3.0", "0.4.1"].map(|v| format!("{r}-{v}")))
        .collect();
    assert_eq!(tags, expected);
    // Same input, same images: both releases point at identical digests.
    for (i, j) in answers[0]["images"]
        .as_array()
        .unwrap()
        .iter()
        .zip(answers[1]["images"].as_array().unwrap())
    {
        assert_eq!(i["digest"], j["digest"]);
        assert_eq!(i["csv_version"], j["csv_version"]);
        let inspect = skopeo_inspect(j["reference"].as_str().unwrap(), false).unwrap();
        assert_eq!(inspect["Digest"], j["digest"]);
        assert_eq!(
            inspect["Labels"]["operators.operatorframework.io.bundle.package.v1"],
            "ext-postgres-operator-x"
        );
    }
    let listed = send(
        &router,
        request("GET", "/v2/team/ext-postgres-operator-x", None),
    )
    .await;
    assert_eq!(
        listed.json["releases"],
        serde_json::json!(["1.0.0", "2.0.0"])
    );
    let repos = send(&router, request("GET", "/v2/team", None)).await;
    assert_eq!(
        repos.json["repositories"],
        serde_json::json!(["ext-postgres-operator-x"]),
        "{}",
        repos.json
    );

    // Deleting release 1.0.0 deletes its manifests by digest; 2.0.0 shares them and survives.
    let d = send(
        &router,
        request(
            "DELETE",
            "/v2/team/ext-postgres-operator-x/1.0.0",
            Some(AUTH),
        ),
    )
    .await;
    assert_eq!(d.status, 200, "{}", d.json);
    let left = registry.tags(repo).await;
    assert!(left.iter().all(|t| t.starts_with("2.0.0-")), "{left:?}");
    assert_eq!(left.len(), 3);
    for image in answers[1]["images"].as_array().unwrap() {
        let inspect = skopeo_inspect(image["reference"].as_str().unwrap(), false).unwrap();
        assert_eq!(inspect["Digest"], image["digest"]);
    }
    let gone = answers[0]["images"][0]["reference"].as_str().unwrap();
    assert!(skopeo_inspect(gone, false).is_err(), "{gone} still exists");

    // A release with one bundle is tagged with the release version itself.
    let flat = send(
        &router,
        upload(
            "/v2/team/zipfile/7.0.0",
            Some(AUTH),
            multipart("f.zip", &fixture_zip("ext-postgres-operator-flat")),
        ),
    )
    .await;
    assert_eq!(flat.status, 200, "{}", flat.json);
    assert_eq!(
        flat.json["images"][0]["reference"],
        format!("{}/{repo}:7.0.0", registry.host())
    );
    // GET of a one-image release gives its layer.
    let pulled = send(
        &router,
        request("GET", "/v2/team/ext-postgres-operator-x/7.0.0", None),
    )
    .await;
    assert_eq!(pulled.status, 200);
    assert!(layer_files(&pulled.bytes).contains_key("metadata/annotations.yaml"));
}

#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn bundle_format_upload_is_pushed_byte_for_byte() {
    let registry = Registry::start().await;
    let router = router_for(&registry, "");
    let a = send(
        &router,
        upload(
            "/v2/myorg/zipfile",
            Some(AUTH),
            multipart("vault.zip", &fixture_zip("vault-helm")),
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["repo"], "vault-helm");
    let images = a.json["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    for image in images {
        let version = image["csv_version"].as_str().unwrap();
        let inspect = skopeo_inspect(image["reference"].as_str().unwrap(), false).unwrap();
        assert_eq!(inspect["Digest"], image["digest"]);
        assert_eq!(
            inspect["Labels"]["operators.operatorframework.io.bundle.package.v1"],
            "vault-helm"
        );
        let manifest = skopeo_inspect(image["reference"].as_str().unwrap(), true).unwrap();
        let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
        let (_, layer) = registry
            .raw(&format!("myorg/vault-helm/blobs/{layer_digest}"))
            .await;
        let files = layer_files(&layer);
        let source = fixture_dir("vault-helm").join(version);
        assert_eq!(files.len(), 3, "{:?}", files.keys());
        for (path, data) in &files {
            assert_eq!(data, &std::fs::read(source.join(path)).unwrap(), "{path}");
        }
    }
}

/// The real `omps-server` binary: OCI settings from its configuration file, validated at start.
#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn the_binary_pushes_bundle_images_and_refuses_a_bad_oci_config() {
    let registry = Registry::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "store = \"oci\"\n[oci]\ntag_policy = \"release\"\n").unwrap();
    let out = OmpsServer::builder(env!("CARGO_BIN_EXE_omps-server"))
        .config(&bad)
        .output();
    // A configuration error is exit 2 with one line naming the key.
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("oci.registry_url"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");

    let good = tmp.path().join("good.toml");
    std::fs::write(
        &good,
        format!(
            "store = \"oci\"\n[oci]\nregistry_url = \"{}\"\npassword = \"never-logged\"\nusername = \"u\"\n",
            registry.url()
        ),
    )
    .unwrap();
    let server = OmpsServer::builder(env!("CARGO_BIN_EXE_omps-server"))
        .config(&good)
        .start();
    let base = server.base().to_owned();
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{base}/v2/health/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let boundary = common::BOUNDARY;
    let answer: Value = client
        // The explicit version is the CSV version's release (1.0.0 was silently ignored before).
        .post(format!("{base}/v2/myorg/zipfile/0.0.1"))
        .header("authorization", AUTH)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(multipart("f.zip", &fixture_zip("flagsmith")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["version"], "0.0.1", "{answer}");
    let reference = answer["images"][0]["reference"].as_str().unwrap();
    assert_eq!(
        reference,
        format!("{}/myorg/flagsmith:0.0.1", registry.host())
    );
    let inspect = skopeo_inspect(reference, false).unwrap();
    assert_eq!(inspect["Digest"], answer["images"][0]["digest"]);
    let (_, logs) = server.stop();
    assert!(
        logs.contains("registry_url"),
        "the effective configuration is logged"
    );
    assert!(!logs.contains("never-logged"), "{logs}");
}

/// The `version` of a push answer is a release that GET and DELETE accept, with either tag
/// policy; an explicit version is honoured, or refused with a 4xx when the organization names
/// releases after CSV versions and the upload has no such CSV.
#[tokio::test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn answered_versions_are_downloadable_and_deletable_and_explicit_ones_honoured_or_refused() {
    let registry = Registry::start().await;
    let router = router_for(
        &registry,
        "[organizations.team]\noci = { tag_policy = \"release\" }",
    );
    let zip = common::flat_zip();
    let push = |path: &'static str| upload(path, Some(AUTH), multipart("m.zip", &zip));

    // csv-version policy: the release is the CSV version.
    let a = send(&router, push("/v2/myorg/zipfile")).await;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["version"], "0.0.1");
    let image = &a.json["images"][0];
    assert_eq!(
        image["reference"],
        format!("{}/myorg/marketplace:0.0.1", registry.host())
    );
    let (_, manifest) = registry.raw("myorg/marketplace/manifests/0.0.1").await;
    assert_eq!(image["digest"], sha(&manifest).as_str());
    let listed = send(&router, request("GET", "/v2/myorg/marketplace", None)).await;
    assert_eq!(listed.json["releases"], serde_json::json!(["0.0.1"]));
    let got = send(&router, request("GET", "/v2/myorg/marketplace/0.0.1", None)).await;
    assert_eq!(got.status, 200);
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(
        sha(&got.bytes),
        layer_digest,
        "GET answers the bundle layer"
    );

    // The same explicit version is honoured (same image, idempotent); another is refused.
    let again = send(&router, push("/v2/myorg/zipfile/0.0.1")).await;
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(again.json["version"], "0.0.1");
    let refused = send(&router, push("/v2/myorg/zipfile/9.9.9")).await;
    assert_eq!(refused.status, 400, "{}", refused.json);
    assert_eq!(refused.json["error"], "OMPSVersionNotApplicable");
    let (status, _) = registry.raw("myorg/marketplace/manifests/9.9.9").await;
    assert_eq!(status, 404, "nothing was tagged 9.9.9");

    let deleted = send(
        &router,
        request("DELETE", "/v2/myorg/marketplace/0.0.1", Some(AUTH)),
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.json);
    assert_eq!(deleted.json["deleted"], serde_json::json!(["0.0.1"]));
    let gone = send(&router, request("GET", "/v2/myorg/marketplace/0.0.1", None)).await;
    assert_eq!(gone.status, 404, "{}", gone.json);

    // release policy: an explicit version is the release; automatic ones follow it.
    let explicit = send(&router, push("/v2/team/zipfile/7.0.0")).await;
    assert_eq!(explicit.status, 200, "{}", explicit.json);
    assert_eq!(explicit.json["version"], "7.0.0");
    assert_eq!(explicit.json["images"][0]["tag"], "7.0.0");
    let automatic = send(&router, push("/v2/team/zipfile")).await;
    assert_eq!(automatic.json["version"], "8.0.0", "{}", automatic.json);
    for version in ["7.0.0", "8.0.0"] {
        let path = format!("/v2/team/marketplace/{version}");
        let got = send(&router, request("GET", &path, None)).await;
        assert_eq!(got.status, 200, "{version}: {}", got.json);
        let deleted = send(&router, request("DELETE", &path, Some(AUTH))).await;
        assert_eq!(deleted.status, 200, "{version}: {}", deleted.json);
    }
    let listed = send(&router, request("GET", "/v2/team/marketplace", None)).await;
    assert_eq!(
        listed.json["releases"],
        serde_json::json!([]),
        "{}",
        listed.json
    );
}
