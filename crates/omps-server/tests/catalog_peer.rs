//! Catalogs updated on push (issue 14 item 4), against a real Debian `docker-registry` on
//! 127.0.0.1: concurrent pushes, a failed catalog update repaired by the next push, `GET
//! /v2/<org>/catalog`, and the start-up checks of the catalog settings. The registry tests are
//! ignored by default; `cargo xtask ci` runs them with `OMPS_DOCKER_REGISTRY` set.

#[allow(clippy::type_complexity)]
mod common;

use std::collections::BTreeSet;

use common::{AUTH, assert_error, multipart, request, send, upload};
use olm_catalog::{CatalogLimits, validate};
use omps_server::{AppState, Config, app};
use test_support::registry::Registry;

const PACKAGE: &str = "demo";

fn csv(version: &str, replaces: Option<&str>) -> String {
    let replaces = replaces.map_or_else(String::new, |r| format!("  replaces: demo.v{r}\n"));
    format!(
        "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: demo.v{version}\n  annotations:\n    containerImage: registry.example.com/demo/op:{version}\nspec:\n  displayName: Demo\n  description: d\n  version: {version}\n{replaces}  provider: {{name: p}}\n  maturity: alpha\n  installModes:\n  - {{type: AllNamespaces, supported: true}}\n  install:\n    strategy: deployment\n    spec:\n      deployments: []\n"
    )
}

const ANNOTATIONS: &str = "annotations:\n  operators.operatorframework.io.bundle.mediatype.v1: registry+v1\n  operators.operatorframework.io.bundle.manifests.v1: manifests/\n  operators.operatorframework.io.bundle.metadata.v1: metadata/\n  operators.operatorframework.io.bundle.package.v1: demo\n  operators.operatorframework.io.bundle.channels.v1: stable\n  operators.operatorframework.io.bundle.channel.default.v1: stable\n";

/// A bundle-format upload of `demo` at `version`, replacing `replaces`.
fn bundle_zip(version: &str, replaces: Option<&str>) -> Vec<u8> {
    let csv = csv(version, replaces);
    common::zip_of(&[
        ("manifests/demo.clusterserviceversion.yaml", csv.as_bytes()),
        ("metadata/annotations.yaml", ANNOTATIONS.as_bytes()),
    ])
}

fn catalog_ref(registry: &Registry) -> String {
    format!("{}/catalogs/myorg:latest", registry.host())
}

fn router(registry: &Registry, extra: &str) -> axum::Router {
    let text = format!(
        "store = \"oci\"\n[oci]\nregistry_url = \"{}\"\n[organizations.myorg.oci]\ncatalog = \"{}\"\n{extra}\n[organizations.plain]\n",
        registry.url(),
        catalog_ref(registry)
    );
    app(AppState::from_config(Config::from_toml_str(&text).unwrap()).unwrap())
}

async fn push(router: &axum::Router, version: &str, replaces: Option<&str>) -> common::Answer {
    send(
        router,
        upload(
            "/v2/myorg/zipfile",
            Some(AUTH),
            multipart("b.zip", &bundle_zip(version, replaces)),
        ),
    )
    .await
}

/// `GET /v2/myorg/catalog`, loaded and validated.
async fn get_catalog(router: &axum::Router) -> olm_catalog::Catalog {
    let answer = send(router, request("GET", "/v2/myorg/catalog", Some(AUTH))).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.bytes)
    );
    assert_eq!(answer.headers["content-type"], "application/json");
    let catalog =
        olm_catalog::load_text("catalog.json", &answer.bytes, &CatalogLimits::default()).unwrap();
    validate(&catalog).unwrap_or_else(|e| panic!("the catalog does not validate: {e}"));
    catalog
}

/// The channel `stable` of `demo`: entry names → replaces, and its single head.
fn stable_channel(catalog: &olm_catalog::Catalog) -> (Vec<(String, String)>, String) {
    let [channel] = catalog.channels.as_slice() else {
        panic!("expected one channel: {:?}", catalog.channels);
    };
    assert_eq!(
        (channel.package.as_str(), channel.name.as_str()),
        (PACKAGE, "stable")
    );
    let entries: Vec<(String, String)> = channel
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.replaces.clone()))
        .collect();
    let replaced: BTreeSet<&str> = entries.iter().map(|(_, r)| r.as_str()).collect();
    let heads: Vec<&String> = entries
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !replaced.contains(n.as_str()))
        .collect();
    assert_eq!(heads.len(), 1, "{entries:?}");
    let head = heads[0].clone();
    (entries, head)
}

#[tokio::test]
#[ignore = "needs docker-registry; run by cargo xtask ci"]
async fn twenty_concurrent_pushes_all_land_in_the_catalog() {
    let registry = Registry::start();
    let router = router(&registry, "");
    let versions: Vec<String> = (1..=20).map(|i| format!("1.0.{i}")).collect();
    let mut tasks = Vec::new();
    for (i, version) in versions.iter().enumerate() {
        let router = router.clone();
        let version = version.clone();
        let replaces = (i > 0).then(|| format!("1.0.{i}"));
        tasks.push(tokio::spawn(async move {
            push(&router, &version, replaces.as_deref()).await
        }));
    }
    let mut pushed = BTreeSet::new();
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.json);
        let image = &answer.json["images"][0];
        pushed.insert(format!(
            "{}/myorg/demo@{}",
            registry.host(),
            image["digest"].as_str().unwrap()
        ));
        let catalog = &answer.json["catalog"];
        assert_eq!(catalog["reference"], catalog_ref(&registry), "{catalog}");
        match catalog["status"].as_str() {
            // One writer at a time in this process: no update ever had to start over.
            Some("updated" | "unchanged") => assert_eq!(catalog["attempts"], 1, "{catalog}"),
            // Pushes landing out of version order leave two heads until the gap is pushed:
            // not written, added back by a later push.
            Some("failed") => assert_eq!(catalog["error"]["id"], "OMPSCatalogInvalid", "{catalog}"),
            other => panic!("unexpected status {other:?}: {catalog}"),
        }
    }
    assert_eq!(pushed.len(), 20);

    let catalog = get_catalog(&router).await;
    let images: BTreeSet<String> = catalog.bundles.iter().map(|b| b.image.clone()).collect();
    assert_eq!(
        images, pushed,
        "every pushed image, by digest, exactly once"
    );
    let (entries, head) = stable_channel(&catalog);
    assert_eq!(head, "demo.v1.0.20");
    assert_eq!(entries.len(), 20);
    for (name, replaces) in &entries {
        let n: u32 = name.rsplit('.').next().unwrap().parse().unwrap();
        let expected = if n == 1 {
            String::new()
        } else {
            format!("demo.v1.0.{}", n - 1)
        };
        assert_eq!(replaces, &expected, "{name}");
    }
    assert_eq!(catalog.packages.len(), 1);
    assert_eq!(catalog.packages[0].default_channel, "stable");
}

#[tokio::test]
#[ignore = "needs docker-registry; run by cargo xtask ci"]
async fn a_failed_catalog_update_keeps_the_push_and_the_next_push_repairs_it() {
    let registry = Registry::start();
    let router = router(&registry, "");
    // The catalog repository's path is a plain file: every write to it fails.
    let blocker = registry.repositories_dir().join("catalogs/myorg");
    std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
    std::fs::write(&blocker, b"not a directory").unwrap();

    let first = push(&router, "1.0.1", None).await;
    assert_eq!(first.status, 200, "{}", first.json);
    assert_eq!(first.json["images"][0]["tag"], "1.0.1");
    let catalog = &first.json["catalog"];
    assert_eq!(catalog["status"], "failed", "{catalog}");
    assert_eq!(
        catalog["error"]["id"], "OMPSCatalogRegistryError",
        "{catalog}"
    );
    assert!(catalog.get("digest").is_none(), "{catalog}");
    // The bundle push stands.
    let releases = send(&router, request("GET", "/v2/myorg/demo", Some(AUTH))).await;
    assert_eq!(releases.status, 200, "{}", releases.json);
    assert_eq!(releases.json["releases"], serde_json::json!(["1.0.1"]));

    std::fs::remove_file(&blocker).unwrap();
    let second = push(&router, "1.0.2", Some("1.0.1")).await;
    assert_eq!(second.status, 200, "{}", second.json);
    let catalog = &second.json["catalog"];
    assert_eq!(catalog["status"], "updated", "{catalog}");
    assert_eq!(catalog["bundles"], serde_json::json!(["demo.v1.0.2"]));
    assert_eq!(catalog["repaired"], serde_json::json!(["demo.v1.0.1"]));
    let digest = catalog["digest"].as_str().unwrap().to_owned();

    let answer = send(&router, request("GET", "/v2/myorg/catalog", Some(AUTH))).await;
    assert_eq!(answer.headers["docker-content-digest"], digest.as_str());
    let catalog = get_catalog(&router).await;
    let (entries, head) = stable_channel(&catalog);
    assert_eq!(head, "demo.v1.0.2");
    assert_eq!(
        entries,
        [
            ("demo.v1.0.1".to_owned(), String::new()),
            ("demo.v1.0.2".to_owned(), "demo.v1.0.1".to_owned())
        ]
    );
    let first_image = format!(
        "{}/myorg/demo@{}",
        registry.host(),
        first.json["images"][0]["digest"].as_str().unwrap()
    );
    assert!(
        catalog.bundles.iter().any(|b| b.image == first_image),
        "{:?}",
        catalog.bundles
    );

    // The same bundle again: nothing to write.
    let again = push(&router, "1.0.2", Some("1.0.1")).await;
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(
        again.json["catalog"]["status"], "unchanged",
        "{}",
        again.json
    );
    assert!(again.json["catalog"].get("repaired").is_none());
}

#[tokio::test]
#[ignore = "needs docker-registry; run by cargo xtask ci"]
async fn catalog_route_answers_404_without_a_catalog() {
    let registry = Registry::start();
    let router = router(&registry, "");
    // Configured, not pushed yet.
    let answer = send(&router, request("GET", "/v2/myorg/catalog", Some(AUTH))).await;
    assert_error(&answer, 404, "OMPSCatalogNotFound");
    assert!(
        answer.json["message"]
            .as_str()
            .unwrap()
            .contains("does not exist yet"),
        "{}",
        answer.json
    );
    // No catalog configured.
    let answer = send(&router, request("GET", "/v2/plain/catalog", Some(AUTH))).await;
    assert_error(&answer, 404, "OMPSCatalogNotFound");
    assert_eq!(
        answer.json["message"],
        "Organization plain has no catalog configured"
    );
    // Pushes to an organization without a catalog answer no catalog field.
    let answer = send(
        &router,
        upload(
            "/v2/plain/zipfile",
            Some(AUTH),
            multipart("b.zip", &bundle_zip("1.0.0", None)),
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert!(answer.json.get("catalog").is_none(), "{}", answer.json);
    let answer = send(&router, request("GET", "/v2/-bad-/catalog", Some(AUTH))).await;
    assert_error(&answer, 400, "OMPSInvalidName");
}

fn config_error(extra: &str) -> String {
    let text = format!(
        "store = \"oci\"\n[oci]\nregistry_url = \"http://127.0.0.1:5000\"\n[organizations.myorg.oci]\n{extra}\n"
    );
    Config::from_toml_str(&text).unwrap_err().to_string()
}

#[test]
fn catalog_settings_are_checked_at_start() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let e = config_error(&format!(
        "catalog = \"127.0.0.1:5000/catalogs/myorg@{digest}\""
    ));
    assert!(e.contains("organizations.myorg.oci.catalog"), "{e}");
    assert!(e.contains("names a digest"), "{e}");
    let e = config_error("catalog = \"catalogs/myorg:latest\"");
    assert!(e.contains("organizations.myorg.oci.catalog"), "{e}");
    assert!(e.contains("must start with a registry host"), "{e}");
    let e = config_error("catalog = \"other.example.com/catalogs/myorg:latest\"");
    assert!(e.contains("organizations.myorg.oci.catalog"), "{e}");
    assert!(
        e.contains("not on the organization's registry 127.0.0.1:5000"),
        "{e}"
    );
    let e = config_error(
        "catalog = \"127.0.0.1:5000/catalogs/myorg:latest\"\ncatalog_base = \"not a reference\"",
    );
    assert!(e.contains("organizations.myorg.oci.catalog_base"), "{e}");
    assert!(e.contains("scratch"), "{e}");
    let e = config_error("catalog_bse = \"scratch\"");
    assert!(e.contains("catalog_bse"), "{e}");
    // Accepted: a tag, a base by tag or digest, scratch; a catalog inherited from [oci].
    for extra in [
        "catalog = \"127.0.0.1:5000/catalogs/myorg:v1\"\ncatalog_base = \"scratch\"",
        "catalog = \"127.0.0.1:5000/catalogs/myorg\"\ncatalog_base = \"quay.example.com/operator-framework/opm:latest\"",
        &format!(
            "catalog = \"127.0.0.1:5000/c/m:v1\"\ncatalog_base = \"127.0.0.1:5000/base/opm@{digest}\"\ncatalog_repair_limit = 0"
        ),
    ] {
        let text = format!(
            "store = \"oci\"\n[oci]\nregistry_url = \"http://127.0.0.1:5000\"\n[organizations.myorg.oci]\n{extra}\n"
        );
        Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{extra}: {e}"));
    }
    let inherited = "store = \"oci\"\n[oci]\nregistry_url = \"http://127.0.0.1:5000\"\ncatalog = \"127.0.0.1:5000/c/all:latest\"\n[organizations.myorg.oci]\nregistry_url = \"http://127.0.0.1:6000\"\n";
    let e = Config::from_toml_str(inherited).unwrap_err().to_string();
    assert!(e.contains("organizations.myorg.oci.catalog"), "{e}");
}
