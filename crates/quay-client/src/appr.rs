//! App Registry (CNR) client: Quay's legacy `/cnr` API and the appr reference server.

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{Api, QuayError};
use crate::http::{ClientBuilder, Http};

/// Repository visibility, as App Registry push bodies and Quay's REST API spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Anyone can read.
    Public,
    /// Only users with permissions can read.
    Private,
}

impl Visibility {
    /// `public` or `private`.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

/// The App Registry client has no options beyond the connection settings.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct AppRegistryOptions {}

/// Builder for [`AppRegistryClient`].
pub type AppRegistryClientBuilder = ClientBuilder<AppRegistryOptions>;

impl ClientBuilder<AppRegistryOptions> {
    /// Builds the client.
    pub fn build(self) -> Result<AppRegistryClient, QuayError> {
        let (http, AppRegistryOptions {}) = self.into_http(Api::AppRegistry)?;
        Ok(AppRegistryClient { http })
    }
}

/// Client for the App Registry API (`<base>/cnr/...`).
///
/// The `Authorization` value of each call is sent verbatim: App Registry servers take
/// `basic <base64>` (what [`AppRegistryClient::login`] returns) and services like OMPS forward
/// their caller's header unchanged. Pass `None` for anonymous calls.
#[derive(Debug, Clone)]
pub struct AppRegistryClient {
    http: Http,
}

/// Answer of `GET /cnr/version`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AppRegistryVersion {
    /// Quay's version key.
    #[serde(rename = "cnr-api")]
    pub cnr_api: Option<String>,
    /// The appr reference server's version key.
    #[serde(rename = "appr-api")]
    pub appr_api: Option<String>,
}

/// One package of a namespace listing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct PackageSummary {
    /// `<namespace>/<name>`.
    pub name: String,
    /// Releases, newest first.
    #[serde(default)]
    pub releases: Vec<String>,
    /// Latest stable release.
    #[serde(default)]
    pub default: Option<String>,
    /// Media types present (`helm`, ...).
    #[serde(default)]
    pub manifests: Vec<String>,
    /// `public` or `private`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Content descriptor of a release.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ReleaseContent {
    /// Blob media type, e.g. `application/vnd.cnr.package.helm.v0.tar+gzip`.
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    /// Size of the compressed blob.
    #[serde(default)]
    pub size: Option<u64>,
    /// sha256 hex of the uncompressed tar.
    pub digest: String,
}

/// A release manifest (one release of one media type).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ReleaseManifest {
    /// `<namespace>/<name>`.
    pub package: String,
    /// Release string.
    pub release: String,
    /// Manifest media type, e.g. `application/vnd.cnr.package-manifest.helm.v0.json`.
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    /// Creation time (ISO 8601).
    #[serde(default)]
    pub created_at: Option<String>,
    /// The blob descriptor.
    pub content: ReleaseContent,
    /// Free-form metadata (appr).
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// Channels whose current release is this one (single-release view only).
    #[serde(default)]
    pub channels: Option<Vec<String>>,
}

impl ReleaseManifest {
    /// Short media type word (`helm`) derived from the manifest media type, when recognisable.
    pub fn media_type_word(&self) -> Option<&str> {
        let mt = self.media_type.as_deref()?;
        let rest = mt
            .strip_prefix("application/vnd.cnr.package-manifest.")
            .or_else(|| mt.strip_prefix("application/vnd.appr.package-manifest."))?;
        rest.strip_suffix(".v0.json")
    }
}

/// A release to push.
#[derive(Clone, PartialEq, Eq)]
pub struct PushRelease {
    /// Release (semantic version).
    pub release: String,
    /// Media type word; OMPS always uses `helm`.
    pub media_type: String,
    /// The raw `.tar.gz` blob (base64-encoded by the client).
    pub blob: Bytes,
    /// Visibility applied by Quay when the push creates the repository.
    pub visibility: Option<Visibility>,
    /// Overwrite an existing release (`?force=true`).
    pub force: bool,
}

impl std::fmt::Debug for PushRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushRelease")
            .field("release", &self.release)
            .field("media_type", &self.media_type)
            .field("blob_len", &self.blob.len())
            .field("visibility", &self.visibility)
            .field("force", &self.force)
            .finish()
    }
}

#[derive(Serialize)]
struct PushBody<'a> {
    blob: String,
    release: &'a str,
    media_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    visibility: Option<Visibility>,
}

/// Answer of a release delete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct DeletedRelease {
    /// `deleted`.
    #[serde(default)]
    pub status: Option<String>,
    /// `<namespace>/<name>`.
    #[serde(default)]
    pub package: Option<String>,
    /// The deleted release.
    #[serde(default)]
    pub release: Option<String>,
}

#[derive(Deserialize)]
struct LoginAnswer {
    token: String,
}

impl AppRegistryClient {
    /// Starts a builder for the server at `base_url` (e.g. `https://quay.example.com`; the
    /// `/cnr` prefix is added by the client).
    pub fn builder(base_url: impl Into<String>) -> AppRegistryClientBuilder {
        ClientBuilder::new(base_url.into(), AppRegistryOptions::default())
    }

    /// The configured base URL.
    pub fn base_url(&self) -> &url::Url {
        &self.http.base
    }

    fn cnr_url(&self, segments: &[&str]) -> url::Url {
        let mut all = vec!["cnr"];
        all.extend_from_slice(segments);
        self.http.url(&all)
    }

    /// Turns the verbatim `Authorization` value into a (sensitive) header value once.
    fn auth_header(auth: Option<&SecretString>) -> Result<Option<HeaderValue>, QuayError> {
        auth.map(|a| {
            let mut v = HeaderValue::from_str(a.expose_secret()).map_err(|_| {
                QuayError::InvalidArgument(
                    "Authorization value contains characters not allowed in a header".to_owned(),
                )
            })?;
            // Keeps the value out of reqwest's and hyper's Debug output.
            v.set_sensitive(true);
            Ok(v)
        })
        .transpose()
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: &url::Url,
        auth: Option<&HeaderValue>,
    ) -> reqwest::RequestBuilder {
        let rb = self.http.client.request(method, url.clone());
        match auth {
            Some(v) => rb.header(AUTHORIZATION, v.clone()),
            None => rb,
        }
    }

    async fn get_ok(
        &self,
        context: &str,
        auth: Option<&SecretString>,
        url: url::Url,
    ) -> Result<reqwest::Response, QuayError> {
        let hv = Self::auth_header(auth)?;
        let resp = self
            .http
            .send_api(context, true, || {
                self.request(reqwest::Method::GET, &url, hv.as_ref())
            })
            .await?;
        self.http.check(resp).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        context: &str,
        auth: Option<&SecretString>,
        url: url::Url,
    ) -> Result<T, QuayError> {
        let resp = self.get_ok(context, auth, url).await?;
        self.http.json(context, resp).await
    }

    async fn get_bytes(
        &self,
        context: &str,
        auth: Option<&SecretString>,
        url: url::Url,
    ) -> Result<Bytes, QuayError> {
        let resp = self.get_ok(context, auth, url).await?;
        self.http.body(context, resp).await
    }

    /// `GET /cnr/version` (no authentication).
    pub async fn version(&self) -> Result<AppRegistryVersion, QuayError> {
        self.get_json("App Registry version", None, self.cnr_url(&["version"]))
            .await
    }

    /// Logs in (Quay only) and returns the token to pass as `Authorization`
    /// (`basic <base64(user:password)>`).
    pub async fn login(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<SecretString, QuayError> {
        let url = self.cnr_url(&["api", "v1", "users", "login"]);
        let body = serde_json::json!({
            "user": {"username": username, "password": password.expose_secret()}
        });
        let resp = self
            .http
            .send_api("App Registry login", false, || {
                self.http.client.post(url.clone()).json(&body)
            })
            .await?;
        let resp = self.http.check(resp).await?;
        let answer: LoginAnswer = self.http.json("App Registry login", resp).await?;
        Ok(SecretString::from(answer.token))
    }

    /// Lists the packages of a namespace (`GET /cnr/api/v1/packages?namespace=`). Quay caps this
    /// list and hides packages the caller cannot see; prefer [`Self::list_releases`] for one
    /// package.
    pub async fn list_packages(
        &self,
        auth: Option<&SecretString>,
        namespace: &str,
        media_type: Option<&str>,
    ) -> Result<Vec<PackageSummary>, QuayError> {
        let mut url = self.cnr_url(&["api", "v1", "packages"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("namespace", namespace);
            if let Some(mt) = media_type {
                q.append_pair("media_type", mt);
            }
        }
        self.get_json("App Registry package list", auth, url).await
    }

    /// Lists the release manifests of a package
    /// (`GET /cnr/api/v1/packages/<ns>/<name>[?media_type=]`). An unknown package is
    /// [`QuayError::NotFound`].
    pub async fn list_releases(
        &self,
        auth: Option<&SecretString>,
        namespace: &str,
        package: &str,
        media_type: Option<&str>,
    ) -> Result<Vec<ReleaseManifest>, QuayError> {
        let mut url = self.cnr_url(&["api", "v1", "packages", namespace, package]);
        if let Some(mt) = media_type {
            url.query_pairs_mut().append_pair("media_type", mt);
        }
        self.get_json("App Registry release list", auth, url).await
    }

    /// Shows one release of one media type; `release` may also be `default` or a semver range.
    pub async fn show_release(
        &self,
        auth: Option<&SecretString>,
        namespace: &str,
        package: &str,
        release: &str,
        media_type: &str,
    ) -> Result<ReleaseManifest, QuayError> {
        let url = self.cnr_url(&[
            "api", "v1", "packages", namespace, package, release, media_type,
        ]);
        self.get_json("App Registry release", auth, url).await
    }

    /// Pushes a release (`POST /cnr/api/v1/packages/<ns>/<name>`). Returns the server's JSON
    /// answer (`{"status": "ok"}` on appr; `null` when the body was not JSON). A duplicate
    /// release is [`QuayError::AlreadyExists`]. Never retried automatically.
    pub async fn push_release(
        &self,
        auth: Option<&SecretString>,
        namespace: &str,
        package: &str,
        push: &PushRelease,
    ) -> Result<serde_json::Value, QuayError> {
        let mut url = self.cnr_url(&["api", "v1", "packages", namespace, package]);
        if push.force {
            url.query_pairs_mut().append_pair("force", "true");
        }
        let body = serde_json::to_vec(&PushBody {
            blob: base64::engine::general_purpose::STANDARD.encode(&push.blob),
            release: &push.release,
            media_type: &push.media_type,
            visibility: push.visibility,
        })
        .map_err(|e| QuayError::InvalidArgument(format!("cannot encode push body: {e}")))?;
        let body = Bytes::from(body);
        let hv = Self::auth_header(auth)?;
        let resp = self
            .http
            .send_api("App Registry push", false, || {
                self.request(reqwest::Method::POST, &url, hv.as_ref())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        let resp = self.http.check(resp).await?;
        let bytes = self.http.body("App Registry push", resp).await?;
        Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    /// Downloads the `.tar.gz` blob of a release
    /// (`GET .../<ns>/<name>/<release>/<media_type>/pull`).
    pub async fn pull_release(
        &self,
        auth: Option<&SecretString>,
        namespace: &str,
        package: &str,
        release: &str,
        media_type: &str,
    ) -> Result<Bytes, QuayError> {
        let url = self.cnr_url(&[
            "api", "v1", "packages", namespace, package, release, media_type, "pull",
        ]);
        self.get_bytes("App Registry pull", auth, url).await
    }

    /// Downloads a blob by its digest (`GET .../<ns>/<name>/blobs/sha256/<digest>`).
    pub async fn pull_blob(
        &self,
        auth: Option<&SecretString>,
        namespace: &str,
        package: &str,
        digest: &str,
    ) -> Result<Bytes, QuayError> {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let url = self.cnr_url(&[
            "api", "v1", "packages", namespace, package, "blobs", "sha256", hex,
        ]);
        self.get_bytes("App Registry blob pull", auth, url).await
    }

    /// Deletes one release of one media type
    /// (`DELETE .../<ns>/<name>/<release>/<media_type>`). A missing release is
    /// [`QuayError::NotFound`]. Never retried automatically.
    pub async fn delete_release(
        &self,
        auth: Option<&SecretString>,
        namespace: &str,
        package: &str,
        release: &str,
        media_type: &str,
    ) -> Result<DeletedRelease, QuayError> {
        let url = self.cnr_url(&[
            "api", "v1", "packages", namespace, package, release, media_type,
        ]);
        let hv = Self::auth_header(auth)?;
        let resp = self
            .http
            .send_api("App Registry delete", false, || {
                self.request(reqwest::Method::DELETE, &url, hv.as_ref())
            })
            .await?;
        let resp = self.http.check(resp).await?;
        let bytes = self.http.body("App Registry delete", resp).await?;
        Ok(serde_json::from_slice(&bytes).unwrap_or_default())
    }
}
