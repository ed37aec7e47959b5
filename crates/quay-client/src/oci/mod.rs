//! OCI distribution / Docker Registry HTTP API v2 client, written directly on reqwest.

mod auth;
pub mod auth_file;
mod blob;
mod copy;
mod push;
mod reference;
mod types;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use url::Url;

pub use auth::RegistryAuth;
pub use blob::BlobStream;
pub use copy::{CopyOptions, CopyReport, copy_image};
pub use push::ImageToPush;
pub use reference::ImageReference;
pub use types::{
    Descriptor, ImageIndex, ImageManifest, Manifest, Platform, media_types, sha256_digest,
    validate_digest,
};

use crate::error::{Api, QuayError};
use crate::http::{ClientBuilder, Http, read_limited};
use auth::{Challenge, Scopes, TokenAnswer, TokenCache, parse_challenge};
use types::{embedded_media_type, is_digest_ref};

/// Manifests larger than this are refused (the OCI spec asks registries to accept 4 MiB).
const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Token server answers larger than this are refused.
const MAX_TOKEN_BYTES: u64 = 1024 * 1024;
/// Safety stop for `Link` paging.
const MAX_PAGES: usize = 10_000;
/// Default chunk size for chunked uploads, and the size up to which uploads are monolithic.
const DEFAULT_CHUNK_SIZE: usize = 8 * 1024 * 1024;

/// Options of [`RegistryClient`] beyond the connection settings: credentials and chunk size.
#[derive(Debug)]
#[non_exhaustive]
pub struct RegistryOptions {
    auth: RegistryAuth,
    chunk_size: usize,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        Self {
            auth: RegistryAuth::Anonymous,
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

/// Builder for [`RegistryClient`].
pub type RegistryClientBuilder = ClientBuilder<RegistryOptions>;

impl ClientBuilder<RegistryOptions> {
    /// Credentials (default anonymous).
    #[must_use]
    pub fn auth(mut self, auth: RegistryAuth) -> Self {
        self.options.auth = auth;
        self
    }

    /// Blobs up to this size are uploaded in one request; larger ones in chunks of this size
    /// (default 8 MiB).
    #[must_use]
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.options.chunk_size = bytes.max(1);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<RegistryClient, QuayError> {
        let (http, options) = self.into_http(Api::Registry)?;
        Ok(RegistryClient {
            http,
            auth: Arc::new(options.auth),
            state: Arc::new(Mutex::new(AuthState::default())),
            chunk_size: options.chunk_size,
        })
    }
}

#[derive(Default)]
struct AuthState {
    tokens: TokenCache,
    /// Set once the registry asked for Basic; later requests send it up front.
    basic: bool,
}

/// Answer of the unauthenticated `GET /v2/` probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ping {
    /// 200: the registry speaks API v2 and allows anonymous access.
    Ok,
    /// 401: the registry speaks API v2 and wants credentials.
    AuthenticationRequired,
}

/// What a `HEAD` on a manifest tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    /// `Docker-Content-Digest`.
    pub digest: String,
    /// `Content-Type`.
    pub media_type: Option<String>,
    /// `Content-Length`.
    pub size: Option<u64>,
}

/// Client for one OCI / Docker registry.
///
/// Handles anonymous, Basic and bearer-token authentication: on a `401` it reads the
/// `WWW-Authenticate` challenge, fetches a token for the needed scopes (with the Basic
/// credentials when configured), caches it per scope set until shortly before expiry and retries
/// once. Cheap to clone; clones share the connection pool and the token cache.
#[derive(Clone)]
pub struct RegistryClient {
    http: Http,
    auth: Arc<RegistryAuth>,
    state: Arc<Mutex<AuthState>>,
    chunk_size: usize,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base_url", &self.http.base.as_str())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Checks a repository name against the distribution grammar (which also keeps it from
/// escaping the URL path).
fn validate_repo(name: &str) -> Result<(), QuayError> {
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric()
        {
            return false;
        }
        let mut prev_sep: Option<u8> = None;
        let mut run = 0;
        for &ch in b {
            if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
                prev_sep = None;
                run = 0;
            } else if matches!(ch, b'.' | b'_' | b'-') {
                run += 1;
                let ok = match (prev_sep, ch) {
                    (None, _) | (Some(b'-'), b'-') => true,
                    (Some(b'_'), b'_') => run == 2,
                    _ => false,
                };
                if !ok {
                    return false;
                }
                prev_sep = Some(ch);
            } else {
                return false;
            }
        }
        true
    };
    if name.len() <= 255 && name.split('/').all(component_ok) {
        Ok(())
    } else {
        Err(QuayError::InvalidArgument(format!(
            "invalid repository name {name:?}"
        )))
    }
}

/// Checks a manifest reference: a tag or a sha256 digest.
fn validate_reference(reference: &str) -> Result<(), QuayError> {
    if is_digest_ref(reference) {
        return validate_digest(reference);
    }
    let b = reference.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(QuayError::InvalidArgument(format!(
            "invalid tag {reference:?}"
        )))
    }
}

fn header_str(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Finds the `rel="next"` target of a `Link` header.
fn next_link(resp: &Response) -> Option<String> {
    for value in resp.headers().get_all("link") {
        let Ok(value) = value.to_str() else { continue };
        for part in value.split(',') {
            let Some((target, params)) = part.split_once(';') else {
                continue;
            };
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            if is_next {
                let t = target.trim();
                return Some(
                    t.strip_prefix('<')
                        .and_then(|t| t.strip_suffix('>'))
                        .unwrap_or(t)
                        .to_owned(),
                );
            }
        }
    }
    None
}

impl RegistryClient {
    /// Starts a builder for the registry at `base_url` (e.g. `https://quay.example.com` or
    /// `http://127.0.0.1:5000`; `/v2/` is added by the client).
    pub fn builder(base_url: impl Into<String>) -> RegistryClientBuilder {
        ClientBuilder::new(base_url.into(), RegistryOptions::default())
    }

    /// The configured base URL.
    pub fn base_url(&self) -> &Url {
        &self.http.base
    }

    /// Whether two clients talk to the same registry (same origin and path), so blobs can be
    /// mounted between their repositories.
    pub fn same_registry(&self, other: &RegistryClient) -> bool {
        self.http.base.origin() == other.http.base.origin()
            && self.http.base.path().trim_end_matches('/')
                == other.http.base.path().trim_end_matches('/')
    }

    fn v2_url(&self, repo: &str, tail: &[&str]) -> Url {
        let mut segs: Vec<&str> = vec!["v2"];
        segs.extend(repo.split('/'));
        segs.extend_from_slice(tail);
        self.http.url(&segs)
    }

    /// Authorization for a request with `scopes`, from the static bearer, the token cache or
    /// remembered Basic mode.
    fn auth_header_for(&self, scopes: &Scopes) -> Option<HeaderValue> {
        match &*self.auth {
            RegistryAuth::Bearer(t) => auth::sensitive(&format!(
                "Bearer {}",
                secrecy::ExposeSecret::expose_secret(t)
            )),
            other => {
                let state = self.state.lock().expect("auth state lock poisoned");
                if let Some(h) = state.tokens.get(&scopes.key()) {
                    Some(h)
                } else if state.basic {
                    other.basic_header()
                } else {
                    None
                }
            }
        }
    }

    /// Adds `auth` unless `url` leaves the registry's origin (credentials never follow to
    /// another host).
    fn authorize(
        &self,
        rb: RequestBuilder,
        url: &Url,
        auth: Option<&HeaderValue>,
    ) -> RequestBuilder {
        match auth {
            Some(h) if url.origin() == self.http.base.origin() => {
                rb.header(AUTHORIZATION, h.clone())
            }
            _ => rb,
        }
    }

    fn api_request(&self, method: Method, url: &Url) -> RequestBuilder {
        self.http
            .client
            .request(method, url.clone())
            .timeout(self.http.settings.timeout)
    }

    /// Sends a request built by `make` with authentication; on a 401 challenge, obtains
    /// credentials for `scopes` and sends once more. Returns the response whatever its status.
    async fn send(
        &self,
        context: &str,
        scopes: &Scopes,
        idempotent: bool,
        url: &Url,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, QuayError> {
        let header = self.auth_header_for(scopes);
        let resp = self
            .http
            .send(context, idempotent, || {
                self.authorize(make(), url, header.as_ref())
            })
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED
            || matches!(&*self.auth, RegistryAuth::Bearer(_))
        {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(parse_challenge);
        let new_header = match challenge {
            None => return Ok(resp),
            Some(Challenge::Basic) => {
                let Some(b) = self.auth.basic_header() else {
                    return Ok(resp);
                };
                if header.as_ref() == Some(&b) {
                    // The credentials themselves were refused.
                    return Ok(resp);
                }
                self.state.lock().expect("auth state lock poisoned").basic = true;
                b
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let mut wanted = scopes.clone();
                if let Some(s) = scope {
                    wanted = wanted.with(&Scopes(
                        s.split(' ')
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    ));
                }
                self.fetch_token(&realm, service.as_deref(), scopes, &wanted)
                    .await?
            }
        };
        self.http
            .send(context, idempotent, || {
                self.authorize(make(), url, Some(&new_header))
            })
            .await
    }

    /// Runs the token flow and caches the token under `key_scopes`.
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        key_scopes: &Scopes,
        wanted: &Scopes,
    ) -> Result<HeaderValue, QuayError> {
        let mut url = Url::parse(realm).map_err(|e| {
            QuayError::InvalidResponse(format!("registry token realm is not a URL: {e}"))
        })?;
        match (url.scheme(), self.http.base.scheme()) {
            ("https", _) | ("http", "http") => {}
            _ => {
                // Never send credentials over a weaker channel than the registry's own.
                return Err(QuayError::InvalidResponse(format!(
                    "refusing token realm with scheme {}",
                    url.scheme()
                )));
            }
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for s in &wanted.0 {
                q.append_pair("scope", s);
            }
        }
        let basic = self.auth.basic_header();
        let resp = if let RegistryAuth::IdentityToken(refresh) = &*self.auth {
            // An identity token is an OAuth2 refresh token: POST it to the realm (docker's
            // "oauth" token flow); the scopes travel in the form, not the query.
            let body = {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token");
                form.append_pair(
                    "refresh_token",
                    secrecy::ExposeSecret::expose_secret(refresh),
                );
                form.append_pair("client_id", "omps");
                if let Some(s) = service {
                    form.append_pair("service", s);
                }
                let scope = wanted.0.iter().cloned().collect::<Vec<_>>().join(" ");
                if !scope.is_empty() {
                    form.append_pair("scope", &scope);
                }
                form.finish()
            };
            let mut post_url = url.clone();
            post_url.set_query(None);
            self.http
                .send("registry token request", false, || {
                    self.api_request(Method::POST, &post_url)
                        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(body.clone())
                })
                .await?
        } else {
            self.http
                .send("registry token request", true, || {
                    let rb = self.api_request(Method::GET, &url);
                    match &basic {
                        Some(b) => rb.header(AUTHORIZATION, b.clone()),
                        None => rb,
                    }
                })
                .await?
        };
        let resp = self.http.check(resp).await?;
        let body = read_limited("registry token request", resp, MAX_TOKEN_BYTES).await?;
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            QuayError::InvalidResponse(format!("registry token answer is not valid JSON: {e}"))
        })?;
        let cached = answer.into_cached().ok_or_else(|| {
            QuayError::InvalidResponse("registry token answer has no usable token".into())
        })?;
        let header = cached.header.clone();
        self.state
            .lock()
            .expect("auth state lock poisoned")
            .tokens
            .put(key_scopes.key(), cached);
        Ok(header)
    }

    /// Unauthenticated `GET /v2/`: is this a v2 registry, and does it want credentials?
    pub async fn ping(&self) -> Result<Ping, QuayError> {
        let url = self.http.url(&["v2", ""]);
        let resp = self
            .http
            .send("registry ping", true, || {
                self.api_request(Method::GET, &url)
            })
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(Ping::Ok),
            StatusCode::UNAUTHORIZED => Ok(Ping::AuthenticationRequired),
            _ => Err(self.http.error_from(resp).await),
        }
    }

    /// With TLS verification off (`danger_accept_invalid_certs`), a registry that answers an
    /// HTTPS `GET /v2/` in plain HTTP is used over HTTP from then on: what skopeo and podman do
    /// with `--tls-verify=false`. Returns the client to use: this one when verification is on,
    /// the base URL is not HTTPS, HTTPS works, or HTTP does not work either (the first real call
    /// then reports the HTTPS failure, with its hint).
    pub async fn with_plain_http_fallback(self) -> Self {
        if !self.http.settings.danger_accept_invalid_certs || self.http.base.scheme() != "https" {
            return self;
        }
        let speaks_http = match self.ping().await {
            Err(QuayError::Transport { source }) => matches!(
                source.kind(),
                omps_http::TransportKind::Tls | omps_http::TransportKind::Protocol
            ),
            _ => false,
        };
        if !speaks_http {
            return self;
        }
        let mut plain = self.clone();
        let mut base = self.http.base.clone();
        if base.set_scheme("http").is_err() {
            return self;
        }
        plain.http.base = base;
        // A fresh client: no token or Basic mode learnt over the other scheme carries over.
        plain.state = Arc::new(Mutex::new(AuthState::default()));
        if plain.ping().await.is_ok() {
            tracing::warn!(
                registry = %plain.http.base,
                "TLS verification is off and the registry answers in plain HTTP: using HTTP"
            );
            plain
        } else {
            self
        }
    }

    /// Authenticated `GET /v2/`: succeeds when the configured credentials are accepted.
    pub async fn check_credentials(&self) -> Result<(), QuayError> {
        let url = self.http.url(&["v2", ""]);
        let resp = self
            .send("registry login", &Scopes::none(), true, &url, || {
                self.api_request(Method::GET, &url)
            })
            .await?;
        self.http.check(resp).await.map(drop)
    }

    /// `HEAD` a manifest; `None` when it does not exist.
    pub async fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<ManifestInfo>, QuayError> {
        validate_repo(repo)?;
        validate_reference(reference)?;
        let url = self.v2_url(repo, &["manifests", reference]);
        let resp = self
            .send("manifest HEAD", &Scopes::pull(repo), true, &url, || {
                self.api_request(Method::HEAD, &url)
                    .header(ACCEPT, media_types::MANIFEST_ACCEPT)
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self.http.check(resp).await?;
        let digest = header_str(&resp, "docker-content-digest")
            .or_else(|| is_digest_ref(reference).then(|| reference.to_owned()))
            .ok_or_else(|| {
                QuayError::InvalidResponse("manifest HEAD without Docker-Content-Digest".into())
            })?;
        Ok(Some(ManifestInfo {
            digest,
            media_type: header_str(&resp, "content-type"),
            size: header_str(&resp, "content-length").and_then(|v| v.parse().ok()),
        }))
    }

    /// `GET` a manifest with the full `Accept` list; the digest is verified against the bytes
    /// (against the reference when it is a digest, and against `Docker-Content-Digest`).
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<Manifest, QuayError> {
        validate_repo(repo)?;
        validate_reference(reference)?;
        let url = self.v2_url(repo, &["manifests", reference]);
        let resp = self
            .send("manifest GET", &Scopes::pull(repo), true, &url, || {
                self.api_request(Method::GET, &url)
                    .header(ACCEPT, media_types::MANIFEST_ACCEPT)
            })
            .await?;
        let resp = self.http.check(resp).await?;
        let header_digest = header_str(&resp, "docker-content-digest");
        let content_type = header_str(&resp, "content-type")
            .map(|c| c.split(';').next().unwrap_or("").trim().to_owned());
        let bytes = read_limited("manifest GET", resp, MAX_MANIFEST_BYTES).await?;
        let digest = sha256_digest(&bytes);
        let expected = if is_digest_ref(reference) {
            Some(reference.to_owned())
        } else {
            header_digest.filter(|d| d.starts_with("sha256:"))
        };
        if let Some(expected) = expected {
            if expected != digest {
                return Err(QuayError::DigestMismatch {
                    expected,
                    actual: digest,
                });
            }
        }
        let media_type = match content_type {
            Some(ct) if media_types::is_index(&ct) || media_types::is_image_manifest(&ct) => ct,
            other => embedded_media_type(&bytes).or(other).unwrap_or_default(),
        };
        Ok(Manifest {
            media_type,
            digest,
            bytes,
        })
    }

    /// `PUT` a manifest by tag or digest, bytes unchanged, `Content-Type` = its media type.
    /// Checks that the registry's `Docker-Content-Digest` matches; returns the digest.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        manifest: &Manifest,
    ) -> Result<String, QuayError> {
        validate_repo(repo)?;
        validate_reference(reference)?;
        let digest = sha256_digest(&manifest.bytes);
        if is_digest_ref(reference) && reference != digest {
            return Err(QuayError::InvalidArgument(format!(
                "manifest bytes have digest {digest}, not {reference}"
            )));
        }
        let url = self.v2_url(repo, &["manifests", reference]);
        let ct = HeaderValue::from_str(&manifest.media_type).map_err(|_| {
            QuayError::InvalidArgument(format!("bad media type {:?}", manifest.media_type))
        })?;
        // Putting the same bytes twice is idempotent, so this may be retried.
        let resp = self
            .send("manifest PUT", &Scopes::push(repo), true, &url, || {
                self.api_request(Method::PUT, &url)
                    .header(CONTENT_TYPE, ct.clone())
                    .body(manifest.bytes.clone())
            })
            .await?;
        let resp = self.http.check(resp).await?;
        if let Some(returned) = header_str(&resp, "docker-content-digest") {
            if returned.starts_with("sha256:") && returned != digest {
                return Err(QuayError::DigestMismatch {
                    expected: digest,
                    actual: returned,
                });
            }
        }
        Ok(digest)
    }

    /// Deletes a manifest by digest (every tag pointing at it disappears).
    pub async fn delete_manifest(&self, repo: &str, digest: &str) -> Result<(), QuayError> {
        validate_repo(repo)?;
        validate_digest(digest)?;
        let url = self.v2_url(repo, &["manifests", digest]);
        let resp = self
            .send("manifest DELETE", &Scopes::push(repo), false, &url, || {
                self.api_request(Method::DELETE, &url)
            })
            .await?;
        self.http.check(resp).await.map(drop)
    }

    /// Lists all tags of a repository, following `Link: <...>; rel="next"`. A repository
    /// without tags (`"tags": null`) gives an empty list. `page_size` sets `n`.
    pub async fn list_tags(
        &self,
        repo: &str,
        page_size: Option<u32>,
    ) -> Result<Vec<String>, QuayError> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        validate_repo(repo)?;
        let mut url = self.v2_url(repo, &["tags", "list"]);
        if let Some(n) = page_size {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        let pages = self
            .paged("tag list", &Scopes::pull(repo), url, |b| {
                let t: TagList = serde_json::from_slice(b).map_err(|e| {
                    QuayError::InvalidResponse(format!("tag list is not valid JSON: {e}"))
                })?;
                Ok(t.tags.unwrap_or_default())
            })
            .await?;
        Ok(pages)
    }

    /// Lists repositories (`/v2/_catalog`), following `Link` paging.
    pub async fn catalog(&self, page_size: Option<u32>) -> Result<Vec<String>, QuayError> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        let mut url = self.http.url(&["v2", "_catalog"]);
        if let Some(n) = page_size {
            url.query_pairs_mut().append_pair("n", &n.to_string());
        }
        self.paged("catalog", &Scopes::catalog(), url, |b| {
            let c: Catalog = serde_json::from_slice(b).map_err(|e| {
                QuayError::InvalidResponse(format!("catalog is not valid JSON: {e}"))
            })?;
            Ok(c.repositories.unwrap_or_default())
        })
        .await
    }

    async fn paged(
        &self,
        context: &str,
        scopes: &Scopes,
        first: Url,
        parse: impl Fn(&[u8]) -> Result<Vec<String>, QuayError>,
    ) -> Result<Vec<String>, QuayError> {
        let mut out = Vec::new();
        let mut url = first;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let resp = self
                .send(context, scopes, true, &url, || {
                    self.api_request(Method::GET, &url)
                })
                .await?;
            let resp = self.http.check(resp).await?;
            let next = next_link(&resp);
            let body = self.http.body(context, resp).await?;
            out.extend(parse(&body)?);
            let Some(next) = next else { return Ok(out) };
            let next_url = url
                .join(&next)
                .map_err(|e| QuayError::InvalidResponse(format!("bad Link header target: {e}")))?;
            if next_url.origin() != self.http.base.origin() {
                return Err(QuayError::InvalidResponse(
                    "Link header points to another host".into(),
                ));
            }
            if !seen.insert(next_url.to_string()) {
                return Err(QuayError::InvalidResponse(format!(
                    "{context}: Link header repeats a page"
                )));
            }
            url = next_url;
        }
        Err(QuayError::InvalidResponse(format!(
            "{context} did not end after {MAX_PAGES} pages"
        )))
    }

    /// Resolves an upload `Location` (often relative) against the base URL.
    fn resolve_location(&self, resp: &Response) -> Result<Url, QuayError> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| QuayError::InvalidResponse("upload answer without Location".into()))?;
        self.http
            .base
            .join(loc)
            .map_err(|e| QuayError::InvalidResponse(format!("bad upload Location: {e}")))
    }

    pub(crate) fn chunk_size(&self) -> usize {
        self.chunk_size
    }
}

/// Result of starting an upload.
pub(crate) enum UploadStart {
    /// Cross-repository mount succeeded: nothing to upload.
    Mounted,
    /// Upload session at this URL.
    Session(Url),
}

/// Reads and drops a (bounded) body so the connection can be reused.
pub(crate) async fn drain(resp: Response) {
    let _ = read_limited("drain", resp, 64 * 1024).await;
}

impl RegistryClient {
    pub(crate) fn blob_request(&self, method: Method, url: &Url) -> RequestBuilder {
        // Blob transfers may take long; they rely on the client's read timeout instead of a
        // total timeout.
        self.http.client.request(method, url.clone())
    }

    pub(crate) fn bytes_body(rb: RequestBuilder, body: Bytes) -> RequestBuilder {
        rb.header(CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, body.len())
            .body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        for ok in [
            "a",
            "ns/repo",
            "a-b/c.d_e",
            "a__b",
            "a--b/x9",
            "library/ubuntu",
        ] {
            validate_repo(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "", "A", "a/", "/a", "a..b", "a___b", "-a", "a/../b", "a b", "a?x", "a._b",
        ] {
            assert!(validate_repo(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references() {
        validate_reference("v1.0.0").unwrap();
        validate_reference("_x").unwrap();
        validate_reference(&sha256_digest(b"")).unwrap();
        for bad in ["", ".x", "-x", "a/b", "sha256:short", &"x".repeat(129)] {
            assert!(validate_reference(bad).is_err(), "{bad}");
        }
    }
}
