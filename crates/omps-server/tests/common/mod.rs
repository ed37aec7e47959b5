//! Fakes and helpers shared by the server tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use omps_server::backends::{
    Auth, BuildError, BuildSystem, Gate, GateDecision, GateError, ManifestStore, Publication,
    PushReport, PushedImage, Release, ReleaseContent, ReleaseNaming, RepoPublisher,
    StoreCapabilities, StoreError,
};
use omps_server::config::StoreKind;
use omps_server::{AppState, Backends, Config, app};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub const AUTH: &str = "basic dXNlcjpwYXNz";

/// Failures a fake store injects, consumed in order per operation.
#[derive(Default)]
pub struct Faults {
    pub push: Vec<StoreError>,
    pub list: Vec<StoreError>,
    /// `None` lets that call through.
    pub delete: Vec<Option<StoreError>>,
    pub health: Option<String>,
}

/// `(org, repo)` → `(version, blob)` in push order.
pub type Releases = BTreeMap<(String, String), Vec<(String, Vec<u8>)>>;

/// An in-memory store of either shape: App-Registry-like (blobs named by the chosen version,
/// the default) or OCI-like (bundle images, one release per image, named by the CSV version or
/// by the chosen version). 409 on duplicates; records the calls it got; publishes through its
/// [`FakePublisher`].
pub struct FakeStore {
    pub capabilities: StoreCapabilities,
    pub releases: Mutex<Releases>,
    pub faults: Mutex<Faults>,
    pub auth_seen: Mutex<Vec<String>>,
    pub pushes: Mutex<Vec<(String, String, String, bool)>>,
    /// Images pushed (bundle shape): `(org, repo, tag, manifest digest)`.
    pub images: Mutex<Vec<(String, String, String, String)>>,
    pub publisher: Arc<FakePublisher>,
    /// Whether the store has a visibility to change (the local store has none).
    pub has_visibility: bool,
}

impl Default for FakeStore {
    fn default() -> Self {
        Self::with_capabilities(StoreCapabilities::APP_REGISTRY)
    }
}

impl FakeStore {
    pub fn with_capabilities(capabilities: StoreCapabilities) -> Self {
        Self {
            capabilities,
            releases: Mutex::default(),
            faults: Mutex::default(),
            auth_seen: Mutex::default(),
            pushes: Mutex::default(),
            images: Mutex::default(),
            publisher: Arc::default(),
            has_visibility: true,
        }
    }

    /// A store taking bundle images, naming releases as `naming` says.
    pub fn bundle_images(naming: ReleaseNaming) -> Self {
        Self::with_capabilities(StoreCapabilities {
            takes: omps_server::backends::ReleaseShape::BundleImages,
            naming,
        })
    }

    pub fn with_releases(org: &str, repo: &str, versions: &[&str]) -> Self {
        let store = FakeStore::default();
        store.releases.lock().unwrap().insert(
            (org.into(), repo.into()),
            versions.iter().map(|v| ((*v).to_owned(), vec![])).collect(),
        );
        store
    }

    pub fn versions(&self, org: &str, repo: &str) -> Vec<String> {
        self.releases
            .lock()
            .unwrap()
            .get(&(org.into(), repo.into()))
            .map(|r| r.iter().map(|(v, _)| v.clone()).collect())
            .unwrap_or_default()
    }

    fn note(&self, auth: Option<&Auth>) {
        if let Some(a) = auth {
            self.auth_seen
                .lock()
                .unwrap()
                .push(a.expose_secret().to_owned());
        }
    }
}

#[async_trait]
impl ManifestStore for FakeStore {
    fn kind(&self) -> &'static str {
        "fake"
    }

    async fn list_releases(
        &self,
        org: &str,
        repo: &str,
        auth: Option<&Auth>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        self.note(auth);
        if let Some(e) = pop(&mut self.faults.lock().unwrap().list) {
            return Err(e);
        }
        Ok(self
            .releases
            .lock()
            .unwrap()
            .get(&(org.into(), repo.into()))
            .map(|r| r.iter().map(|(v, _)| v.clone()).collect()))
    }

    fn capabilities(&self, _org: &str) -> StoreCapabilities {
        self.capabilities
    }

    async fn push(
        &self,
        org: &str,
        repo: &str,
        release: &Release,
        auth: &Auth,
    ) -> Result<PushReport, StoreError> {
        self.note(Some(auth));
        if let Some(e) = pop(&mut self.faults.lock().unwrap().push) {
            return Err(e);
        }
        let exists = || StoreError::ReleaseExists {
            message: "package exists already".into(),
            body: json!({"error": {"code": "package-exists", "message": "package exists already"}}),
        };
        let mut all = self.releases.lock().unwrap();
        let list = all.entry((org.into(), repo.into())).or_default();
        let mut report = PushReport::default();
        match &release.content {
            ReleaseContent::AppRegistryBlob { blob, .. } => {
                if list.iter().any(|(v, _)| *v == release.version) {
                    return Err(exists());
                }
                list.push((release.version.clone(), blob.to_vec()));
            }
            ReleaseContent::BundleImages(bundles) => {
                // One release per image, like the OCI store's tags.
                let names: Vec<String> = bundles
                    .iter()
                    .map(|b| match self.capabilities.naming {
                        ReleaseNaming::FromContent => b.csv_version.clone(),
                        ReleaseNaming::FromVersion if bundles.len() == 1 => release.version.clone(),
                        ReleaseNaming::FromVersion => {
                            format!("{}-{}", release.version, b.csv_version)
                        }
                    })
                    .collect();
                if names.iter().any(|n| list.iter().any(|(v, _)| v == n)) {
                    return Err(exists());
                }
                for (name, bundle) in names.iter().zip(bundles) {
                    list.push((name.clone(), bundle.image.layer.clone()));
                    self.images.lock().unwrap().push((
                        org.into(),
                        repo.into(),
                        name.clone(),
                        bundle.image.manifest_digest.clone(),
                    ));
                    report.images.push(PushedImage {
                        reference: format!("fake.registry/{org}/{repo}:{name}"),
                        digest: bundle.image.manifest_digest.clone(),
                        tag: name.clone(),
                        csv_version: bundle.csv_version.clone(),
                    });
                }
            }
        }
        self.pushes.lock().unwrap().push((
            org.into(),
            repo.into(),
            release.version.clone(),
            release.public,
        ));
        Ok(report)
    }

    async fn publish(
        &self,
        org: &str,
        repo: &str,
        token: &SecretString,
    ) -> Result<Publication, String> {
        if !self.has_visibility {
            return Ok(Publication::NotSupported);
        }
        self.publisher
            .make_public(org, repo, token)
            .await
            .map(|()| Publication::Published)
    }

    async fn delete(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        auth: &Auth,
    ) -> Result<(), StoreError> {
        self.note(Some(auth));
        if let Some(Some(e)) = pop(&mut self.faults.lock().unwrap().delete) {
            return Err(e);
        }
        let mut all = self.releases.lock().unwrap();
        let list = all.entry((org.into(), repo.into())).or_default();
        let before = list.len();
        list.retain(|(v, _)| v != version);
        if list.len() == before {
            return Err(StoreError::NotFound {
                message: format!("package {org}/{repo} doesn't exist, v: {version}, type: helm"),
                body: json!({}),
            });
        }
        Ok(())
    }

    async fn pull(
        &self,
        org: &str,
        repo: &str,
        version: &str,
        _auth: Option<&Auth>,
    ) -> Result<bytes::Bytes, StoreError> {
        self.releases
            .lock()
            .unwrap()
            .get(&(org.into(), repo.into()))
            .and_then(|r| {
                r.iter()
                    .find(|(v, _)| v == version)
                    .map(|(_, b)| bytes::Bytes::from(b.clone()))
            })
            .ok_or(StoreError::NotFound {
                message: format!("package {org}/{repo} doesn't exist, v: {version}, type: helm"),
                body: json!({}),
            })
    }

    async fn list_repositories(
        &self,
        org: &str,
        _auth: Option<&Auth>,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self
            .releases
            .lock()
            .unwrap()
            .keys()
            .filter(|(o, _)| o == org)
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn health(&self) -> Result<(), String> {
        match &self.faults.lock().unwrap().health {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

fn pop<T>(v: &mut Vec<T>) -> Option<T> {
    if v.is_empty() {
        None
    } else {
        Some(v.remove(0))
    }
}

/// A build system serving one zip per NVR, or an error.
#[derive(Default)]
pub struct FakeKoji {
    pub builds: Mutex<HashMap<String, Result<Vec<u8>, BuildError>>>,
    pub health: Option<String>,
}

#[async_trait]
impl BuildSystem for FakeKoji {
    async fn fetch_manifests(
        &self,
        nvr: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<(), BuildError> {
        let build = self
            .builds
            .lock()
            .unwrap()
            .get(nvr)
            .cloned()
            .unwrap_or(Err(BuildError::NotFound { nvr: nvr.into() }))?;
        if build.len() as u64 > max_bytes {
            return Err(BuildError::Other(format!(
                "response exceeds the limit of {max_bytes} bytes"
            )));
        }
        std::fs::write(dest, build).map_err(|e| BuildError::Other(e.to_string()))
    }

    async fn health(&self) -> Result<(), String> {
        self.health.clone().map_or(Ok(()), Err)
    }
}

/// A gate with a fixed answer.
pub struct FakeGate(pub Result<GateDecision, GateError>);

#[async_trait]
impl Gate for FakeGate {
    async fn decide(&self, _nvr: &str) -> Result<GateDecision, GateError> {
        self.0.clone()
    }

    async fn health(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A publisher that fails `failures` times, recording the tokens it was given.
#[derive(Default)]
pub struct FakePublisher {
    pub failures: Mutex<u32>,
    pub calls: Mutex<Vec<(String, String, String)>>,
}

#[async_trait]
impl RepoPublisher for FakePublisher {
    async fn make_public(&self, org: &str, repo: &str, token: &SecretString) -> Result<(), String> {
        self.calls.lock().unwrap().push((
            org.into(),
            repo.into(),
            token.expose_secret().to_owned(),
        ));
        let mut f = self.failures.lock().unwrap();
        if *f > 0 {
            *f -= 1;
            return Err("Unauthorized: token lacks admin scope".into());
        }
        Ok(())
    }
}

pub struct Harness {
    pub store: Arc<FakeStore>,
    pub koji: Option<Arc<FakeKoji>>,
    pub publisher: Arc<FakePublisher>,
    pub router: axum::Router,
    pub state: AppState,
}

pub fn harness_with(
    config: Config,
    mut store: FakeStore,
    koji: Option<FakeKoji>,
    gate: Option<FakeGate>,
    publisher: FakePublisher,
) -> Harness {
    let publisher = Arc::new(publisher);
    store.publisher = publisher.clone();
    let store = Arc::new(store);
    let koji = koji.map(Arc::new);
    let mut stores: HashMap<StoreKind, Arc<dyn ManifestStore>> = HashMap::new();
    stores.insert(StoreKind::Local, store.clone());
    stores.insert(StoreKind::AppRegistry, store.clone());
    stores.insert(StoreKind::Oci, store.clone());
    let backends = Backends {
        stores,
        build_system: koji.clone().map(|k| k as Arc<dyn BuildSystem>),
        gate: gate.map(|g| Arc::new(g) as Arc<dyn Gate>),
    };
    let state = AppState::new(config, backends).unwrap();
    Harness {
        store,
        koji,
        publisher,
        router: app(state.clone()),
        state,
    }
}

pub fn harness() -> Harness {
    harness_with(
        Config::default(),
        FakeStore::default(),
        None,
        None,
        FakePublisher::default(),
    )
}

pub fn config_from(text: &str) -> Config {
    Config::from_toml_str(text).unwrap()
}

/// A zip of `files`.
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A zip of a fixture directory (manifests at the archive root).
pub fn fixture_zip(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators")
        .join(name);
    let tree =
        manifest_bundle::ManifestTree::from_dir(&dir, &manifest_bundle::Limits::default()).unwrap();
    let files: Vec<(String, Vec<u8>)> = tree
        .iter()
        .map(|(p, d)| (p.to_owned(), d.to_vec()))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect();
    zip_of(&refs)
}

/// The sorted file list of a fixture.
pub fn fixture_files(name: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators")
        .join(name);
    manifest_bundle::ManifestTree::from_dir(&dir, &manifest_bundle::Limits::default())
        .unwrap()
        .paths()
}

pub const BOUNDARY: &str = "omps-test-boundary";

/// A multipart body with one `file` field.
pub fn multipart(filename: &str, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes());
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub fn upload(path: &str, auth: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut b = Request::post(path).header(
        "content-type",
        format!("multipart/form-data; boundary={BOUNDARY}"),
    );
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(Body::from(body)).unwrap()
}

pub fn request(method: &str, path: &str, auth: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(a) = auth {
        b = b.header("authorization", a);
    }
    b.body(Body::empty()).unwrap()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: Value,
    pub bytes: Vec<u8>,
}

pub async fn send(router: &axum::Router, req: Request<Body>) -> Answer {
    let response = router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
        bytes,
    }
}

/// Asserts an error envelope: status, id, and that `status` mirrors the HTTP status.
pub fn assert_error(answer: &Answer, status: u16, id: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.json);
    assert_eq!(answer.json["error"], id, "{}", answer.json);
    assert_eq!(answer.json["status"], status, "{}", answer.json);
    assert!(answer.json["message"].is_string(), "{}", answer.json);
    assert_eq!(
        answer.headers.get("content-type").unwrap(),
        "application/json"
    );
}

pub const PACKAGE: &str =
    "packageName: marketplace\nchannels:\n- name: alpha\n  currentCSV: marketplace.v0.0.1\n";
pub const CSV: &str = "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata:\n  name: marketplace.v0.0.1\n  annotations:\n    categories: x\n    description: d\n    containerImage: registry.stage.example.com/op:1\n    createdAt: c\n    support: s\n    certified: 'false'\nspec:\n  displayName: M\n  description: d\n  icon: []\n  version: 0.0.1\n  provider: {name: p}\n  maturity: alpha\n  installModes: []\n  install:\n    strategy: deployment\n    spec:\n      deployments: []\n";

/// A minimal valid flat package named `marketplace`.
pub fn flat_zip() -> Vec<u8> {
    zip_of(&[
        ("packages.yaml", PACKAGE.as_bytes()),
        ("csv.yaml", CSV.as_bytes()),
    ])
}

/// What a ~20 MiB-inflating push carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inflating {
    /// A nested package plus a 19.5 MiB text file beside its CSV: not a manifest, so the server
    /// spools it, yet the App Registry blob of a nested package carries it.
    Payload,
    /// A flat package plus three 6.5 MiB YAML files: manifests, held and parsed in memory.
    Manifests,
}

/// A valid package zip of about 150 KB that inflates to about 19.6 MiB.
pub fn inflating_zip(kind: Inflating) -> Vec<u8> {
    // Text that differs from line to line, so parsers and compressors do real work.
    let text = |lines: usize, yaml: bool| -> Vec<u8> {
        let mut out = Vec::with_capacity(lines * 40);
        for i in 0..lines {
            let line = if yaml {
                format!("- \"line {i:08} of a manifest payload\"\n")
            } else {
                format!("line {i:08} of a payload that is not a manifest\n")
            };
            out.extend_from_slice(line.as_bytes());
        }
        out
    };
    match kind {
        Inflating::Payload => {
            let payload = text(19 * 1024 * 1024 / 50, false);
            zip_of(&[
                ("packages.yaml", PACKAGE.as_bytes()),
                ("0.0.1/csv.yaml", CSV.as_bytes()),
                ("0.0.1/payload.txt", &payload),
            ])
        }
        Inflating::Manifests => {
            let yaml = text(13 * 1024 * 1024 / 2 / 40, true);
            zip_of(&[
                ("packages.yaml", PACKAGE.as_bytes()),
                ("csv.yaml", CSV.as_bytes()),
                ("extra-1.yaml", &yaml),
                ("extra-2.yaml", &yaml),
                ("extra-3.yaml", &yaml),
            ])
        }
    }
}
