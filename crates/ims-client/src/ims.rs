//! The IMS REST subset of spec §4: images, jobs, recipes.

use std::sync::Arc;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ImsError, Service};
use omps_http::HttpSettings;

use crate::http::{self, Idempotency};
use crate::token::TokenSource;

/// Where an image or recipe's content lives: `{"path": "s3://bucket/key", "etag", "type": "s3"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactLink {
    /// `s3://<bucket>/<key>`.
    pub path: String,
    /// The object's ETag without quotes, or empty.
    #[serde(default)]
    pub etag: String,
    /// Always `s3`.
    #[serde(rename = "type")]
    pub link_type: String,
}

impl ArtifactLink {
    /// An S3 link.
    pub fn s3(bucket: &str, key: &str, etag: &str) -> Self {
        Self {
            path: format!("s3://{bucket}/{key}"),
            etag: etag.to_owned(),
            link_type: "s3".to_owned(),
        }
    }

    /// `(bucket, key)` of an `s3://` path.
    pub fn bucket_and_key(&self) -> Option<(&str, &str)> {
        self.path
            .strip_prefix("s3://")?
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
    }
}

/// Fields this crate reads from a record; the record itself is kept verbatim.
#[derive(Deserialize)]
struct RecordView {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    link: Option<ArtifactLink>,
}

/// A record as IMS returned it (image, job or recipe), with the fields the algorithms need.
///
/// The server's JSON is kept verbatim ([`Record::raw`]) because the command line prints it
/// unchanged; timestamps are not parsed, so both of IMS's `created` forms pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    id: String,
    name: String,
    link: Option<ArtifactLink>,
    raw: Value,
}

impl Record {
    /// Reads the fields of interest from a server record.
    pub fn from_json(raw: Value) -> Result<Self, ImsError> {
        let view: RecordView = serde_json::from_value(raw.clone())
            .map_err(|e| ImsError::InvalidResponse(format!("IMS record: {e}")))?;
        Ok(Self {
            id: view.id,
            name: view.name,
            link: view.link,
            raw,
        })
    }

    /// `id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `name` (empty for jobs).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `link`, when set.
    pub fn link(&self) -> Option<&ArtifactLink> {
        self.link.as_ref()
    }

    /// A top-level field of the record.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.raw.get(key)
    }

    /// The record exactly as the server sent it.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The record exactly as the server sent it.
    pub fn into_raw(self) -> Value {
        self.raw
    }
}

/// Image architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Arch {
    /// `x86_64` (IMS's default).
    #[default]
    X86_64,
    /// `aarch64`.
    Aarch64,
}

impl Arch {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

impl std::str::FromStr for Arch {
    type Err = ImsError;
    fn from_str(s: &str) -> Result<Self, ImsError> {
        match s {
            "x86_64" => Ok(Arch::X86_64),
            "aarch64" => Ok(Arch::Aarch64),
            _ => Err(ImsError::InvalidInput(format!(
                "arch {s:?} is not one of x86_64, aarch64"
            ))),
        }
    }
}

/// IMS job status values (spec §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobStatus {
    /// `creating`
    Creating,
    /// `fetching_image`
    FetchingImage,
    /// `fetching_recipe`
    FetchingRecipe,
    /// `waiting_for_repos`
    WaitingForRepos,
    /// `building_image`
    BuildingImage,
    /// `packaging_artifacts`
    PackagingArtifacts,
    /// `waiting_on_user`
    WaitingOnUser,
    /// `error`
    Error,
    /// `success`
    Success,
}

impl JobStatus {
    /// Every status, in the server's order.
    pub const ALL: [JobStatus; 9] = [
        JobStatus::Creating,
        JobStatus::FetchingImage,
        JobStatus::FetchingRecipe,
        JobStatus::WaitingForRepos,
        JobStatus::BuildingImage,
        JobStatus::PackagingArtifacts,
        JobStatus::WaitingOnUser,
        JobStatus::Error,
        JobStatus::Success,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Creating => "creating",
            JobStatus::FetchingImage => "fetching_image",
            JobStatus::FetchingRecipe => "fetching_recipe",
            JobStatus::WaitingForRepos => "waiting_for_repos",
            JobStatus::BuildingImage => "building_image",
            JobStatus::PackagingArtifacts => "packaging_artifacts",
            JobStatus::WaitingOnUser => "waiting_on_user",
            JobStatus::Error => "error",
            JobStatus::Success => "success",
        }
    }
}

impl std::str::FromStr for JobStatus {
    type Err = ImsError;
    fn from_str(s: &str) -> Result<Self, ImsError> {
        JobStatus::ALL
            .into_iter()
            .find(|j| j.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = JobStatus::ALL.iter().map(|j| j.as_str()).collect();
                ImsError::InvalidInput(format!("job status {s:?} is not one of {}", all.join(", ")))
            })
    }
}

/// Checks that `id` is a whole UUID (8-4-4-4-12 hex digits); upstream only checked a prefix.
pub fn check_uuid(what: &str, id: &str) -> Result<(), ImsError> {
    let groups: Vec<&str> = id.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(ImsError::InvalidInput(format!(
            "{what} {id:?} is not a UUID"
        )))
    }
}

/// Builder for [`ImsClient`].
#[derive(Debug)]
pub struct ImsClientBuilder {
    base_url: String,
    settings: HttpSettings,
    tokens: Option<Arc<dyn TokenSource>>,
}

impl ImsClientBuilder {
    /// Connection settings (timeouts, CA, retries).
    #[must_use]
    pub fn http_settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Where bearer tokens come from. Without one, requests carry no `Authorization`.
    #[must_use]
    pub fn token_source(mut self, tokens: Arc<dyn TokenSource>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<ImsClient, ImsError> {
        let mut base = http::parse_url("IMS URL", &self.base_url)?;
        if base.cannot_be_a_base() {
            return Err(ImsError::Config("IMS URL cannot be a base".into()));
        }
        // Paths are appended to it: `<ims-url>/images`.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(ImsClient {
            http: http::build_client(&self.settings, "IMS")?,
            settings: self.settings,
            base,
            tokens: self.tokens,
        })
    }
}

/// Client of the IMS REST API (unversioned routes, spec §4).
#[derive(Debug, Clone)]
pub struct ImsClient {
    http: reqwest::Client,
    settings: HttpSettings,
    base: url::Url,
    tokens: Option<Arc<dyn TokenSource>>,
}

impl ImsClient {
    /// Starts a builder for `base_url` (e.g. `https://api-gw-service-nmn.local/apis/ims`).
    pub fn builder(base_url: impl Into<String>) -> ImsClientBuilder {
        ImsClientBuilder {
            base_url: base_url.into(),
            settings: http::default_http_settings(),
            tokens: None,
        }
    }

    /// `GET /images`.
    pub async fn list_images(&self) -> Result<Vec<Record>, ImsError> {
        self.list("images").await
    }

    /// `GET /images/{id}`.
    pub async fn get_image(&self, id: &str) -> Result<Record, ImsError> {
        self.record(Method::GET, &["images", id], None).await
    }

    /// `POST /images {"name", "arch"}` (201).
    pub async fn create_image(&self, name: &str, arch: Arch) -> Result<Record, ImsError> {
        let body = json!({"name": name, "arch": arch.as_str()});
        self.record(Method::POST, &["images"], Some(body)).await
    }

    /// `PATCH /images/{id} {"link"}`.
    pub async fn set_image_link(&self, id: &str, link: &ArtifactLink) -> Result<Record, ImsError> {
        let body = json!({ "link": link });
        self.record(Method::PATCH, &["images", id], Some(body))
            .await
    }

    /// `DELETE /images/{id}?cascade=…`. With `cascade`, IMS also deletes the manifest and every
    /// artifact it lists from S3.
    pub async fn delete_image(&self, id: &str, cascade: bool) -> Result<(), ImsError> {
        let query = if cascade {
            "cascade=true"
        } else {
            "cascade=false"
        };
        self.call(Method::DELETE, &["images", id], Some(query), None)
            .await
            .map(drop)
    }

    /// `GET /jobs/{id}`.
    pub async fn get_job(&self, id: &str) -> Result<Record, ImsError> {
        check_uuid("job id", id)?;
        self.record(Method::GET, &["jobs", id], None).await
    }

    /// `PATCH /jobs/{id} {"status"}`.
    pub async fn set_job_status(&self, id: &str, status: JobStatus) -> Result<Record, ImsError> {
        check_uuid("job id", id)?;
        let body = json!({"status": status.as_str()});
        self.record(Method::PATCH, &["jobs", id], Some(body)).await
    }

    /// `PATCH /jobs/{id} {"resultant_image_id"}`.
    pub async fn set_job_result(&self, id: &str, image_id: &str) -> Result<Record, ImsError> {
        check_uuid("job id", id)?;
        let body = json!({"resultant_image_id": image_id});
        self.record(Method::PATCH, &["jobs", id], Some(body)).await
    }

    /// `GET /recipes`.
    pub async fn list_recipes(&self) -> Result<Vec<Record>, ImsError> {
        self.list("recipes").await
    }

    /// `POST /recipes` with the given body (201).
    pub async fn create_recipe(&self, body: Value) -> Result<Record, ImsError> {
        self.record(Method::POST, &["recipes"], Some(body)).await
    }

    /// `PATCH /recipes/{id}` with the given body.
    pub async fn patch_recipe(&self, id: &str, body: Value) -> Result<Record, ImsError> {
        self.record(Method::PATCH, &["recipes", id], Some(body))
            .await
    }

    /// `DELETE /recipes/{id}` (IMS also deletes the linked S3 object).
    pub async fn delete_recipe(&self, id: &str) -> Result<(), ImsError> {
        self.call(Method::DELETE, &["recipes", id], None, None)
            .await
            .map(drop)
    }

    async fn list(&self, what: &str) -> Result<Vec<Record>, ImsError> {
        let value = self.call(Method::GET, &[what], None, None).await?;
        let Value::Array(items) = value else {
            return Err(ImsError::InvalidResponse(format!(
                "GET /{what} did not answer a JSON array"
            )));
        };
        items.into_iter().map(Record::from_json).collect()
    }

    async fn record(
        &self,
        method: Method,
        path: &[&str],
        body: Option<Value>,
    ) -> Result<Record, ImsError> {
        Record::from_json(self.call(method, path, None, body).await?)
    }

    /// One IMS call: bearer token, retries (§10), one token refresh after a 401 (§3).
    async fn call(
        &self,
        method: Method,
        path: &[&str],
        query: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, ImsError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ImsError::Config("IMS URL cannot be a base".into()))?
            .pop_if_empty()
            .extend(path);
        url.set_query(query);
        let context = format!("{method} {}", url.path());
        let idempotency = if method == Method::POST {
            Idempotency::CreatesRecord
        } else {
            Idempotency::Idempotent
        };
        let body_bytes = body
            .map(|b| serde_json::to_vec(&b))
            .transpose()
            .map_err(|e| {
                ImsError::InvalidInput(format!("{context}: cannot encode the body: {e}"))
            })?;
        let mut refreshed = false;
        loop {
            let bearer = match &self.tokens {
                Some(t) => Some(
                    HeaderValue::from_str(&format!("Bearer {}", t.token().await?.expose_secret()))
                        .map_err(|_| {
                            ImsError::InvalidResponse("token is not a valid header value".into())
                        })?,
                ),
                None => None,
            };
            let resp = http::send_with_retry(&self.settings, &context, idempotency, || {
                let mut req = self
                    .http
                    .request(method.clone(), url.clone())
                    .header(ACCEPT, "application/json");
                if let Some(b) = &bearer {
                    let mut b = b.clone();
                    b.set_sensitive(true);
                    req = req.header(AUTHORIZATION, b);
                }
                if let Some(bytes) = &body_bytes {
                    req = req
                        .header(CONTENT_TYPE, "application/json")
                        .body(bytes.clone());
                }
                req
            })
            .await?;
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED && !refreshed {
                if let Some(t) = &self.tokens {
                    tracing::info!(context, "IMS answered 401; fetching a new token once");
                    t.invalidate().await;
                    refreshed = true;
                    continue;
                }
            }
            let resp = http::check(Service::Ims, resp).await?;
            if resp.status() == reqwest::StatusCode::NO_CONTENT {
                return Ok(Value::Null);
            }
            let bytes =
                http::read_limited(&context, resp, self.settings.max_response_bytes).await?;
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            tracing::debug!(context, bytes = bytes.len(), "IMS answered");
            return serde_json::from_slice(&bytes)
                .map_err(|e| ImsError::InvalidResponse(format!("{context}: invalid JSON: {e}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_must_be_whole() {
        assert!(check_uuid("job id", "e3a46cf3-1150-4bbf-b7c9-504993917f7d").is_ok());
        for bad in [
            "e3a46cf3-1150-4bbf-b7c9-504993917f7dXYZ",
            "e3a46cf3-1150-4bbf-b7c9",
            "g3a46cf3-1150-4bbf-b7c9-504993917f7d",
            "",
        ] {
            assert!(check_uuid("job id", bad).unwrap_err().is_usage(), "{bad}");
        }
    }

    #[test]
    fn job_status_round_trips_and_refuses_unknown() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), s);
        }
        let e = "done".parse::<JobStatus>().unwrap_err();
        assert!(e.to_string().contains("waiting_on_user"));
    }

    #[test]
    fn link_paths_split() {
        let l = ArtifactLink::s3("boot-images", "abc/manifest.json", "e");
        assert_eq!(
            l.bucket_and_key(),
            Some(("boot-images", "abc/manifest.json"))
        );
        let bad = ArtifactLink {
            path: "http://x/y".into(),
            ..l
        };
        assert_eq!(bad.bucket_and_key(), None);
    }
}
