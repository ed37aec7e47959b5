//! The S3 side (spec §5): single and multipart uploads with `Content-MD5` and user metadata,
//! `HEAD`, small `GET`s, one-key `DELETE`s, abort of open multipart uploads.
//!
//! Requests are signed with [`rusty_s3`] (SigV4, query-string form, `UNSIGNED-PAYLOAD` with the
//! `Content-MD5` and metadata headers inside the signature) and sent through this crate's
//! reqwest client, so timeouts, CA, retries and limits are ours. No aws-chunked payloads and no
//! flexible-checksum headers are ever sent.

use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use md5::{Digest, Md5};
use reqwest::Method;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::error::{ImsError, Service};
use omps_http::HttpSettings;

use crate::http::{self, Idempotency};

/// boto3's multipart threshold and part size, which the spec keeps.
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// S3's smallest part (every part but the last).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's largest part count.
pub const MAX_PARTS: u64 = 10_000;
/// How long a signed URL stays valid; it is used at once, so this only covers clock skew.
const SIGNATURE_VALIDITY: Duration = Duration::from_secs(15 * 60);

/// A local file to upload, with its size and whole-file MD5 computed once (spec §7 step 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Where it is.
    pub path: PathBuf,
    /// Size in bytes at preflight.
    pub size: u64,
    /// Binary MD5 of the whole file at preflight.
    pub md5: [u8; 16],
}

impl LocalFile {
    /// Checks that `path` is a regular readable file and computes its MD5, off the async runtime.
    pub async fn inspect(path: impl Into<PathBuf>) -> Result<Self, ImsError> {
        let path = path.into();
        tokio::task::spawn_blocking(move || Self::inspect_blocking(path))
            .await
            .map_err(|e| ImsError::InvalidInput(format!("file check did not finish: {e}")))?
    }

    fn inspect_blocking(path: PathBuf) -> Result<Self, ImsError> {
        let meta = std::fs::metadata(&path)
            .map_err(|e| ImsError::InvalidInput(format!("{}: {e}", path.display())))?;
        if !meta.is_file() {
            return Err(ImsError::InvalidInput(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        let mut file = std::fs::File::open(&path)
            .map_err(|e| ImsError::InvalidInput(format!("{}: {e}", path.display())))?;
        let mut hasher = Md5::new();
        let size = std::io::copy(&mut file, &mut HashWriter(&mut hasher)).map_err(|source| {
            ImsError::Io {
                path: path.clone(),
                source,
            }
        })?;
        Ok(Self {
            path,
            size,
            md5: hasher.finalize().into(),
        })
    }

    /// Lower-case hex of the whole-file MD5 (the `md5sum` metadata value).
    pub fn md5_hex(&self) -> String {
        hex(&self.md5)
    }
}

struct HashWriter<'a>(&'a mut Md5);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Hex MD5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

/// The ETag S3 gives a multipart object: MD5 of the concatenated binary part MD5s, `-<parts>`.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut h = Md5::new();
    for p in part_md5s {
        h.update(p);
    }
    format!("{}-{}", hex(&h.finalize()), part_md5s.len())
}

/// What `HEAD` says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    /// ETag without quotes.
    pub etag: String,
    /// `Content-Length`.
    pub size: u64,
    /// User metadata: `x-amz-meta-<name>` headers by `<name>` (lower case).
    pub metadata: BTreeMap<String, String>,
}

/// How far one file upload has got: reported before the first byte (`sent` 0), after each
/// multipart part, and when the object is complete (`sent == total`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadProgress {
    /// The object key.
    pub key: String,
    /// Bytes the store has acknowledged.
    pub sent: u64,
    /// The file's size.
    pub total: u64,
}

/// Receives [`UploadProgress`] (a progress bar in a binary). Called on the uploading task: it
/// must return quickly.
pub type ProgressFn = std::sync::Arc<dyn Fn(&UploadProgress) + Send + Sync>;

/// User metadata to store with an object, as `(name, value)` without the `x-amz-meta-` prefix.
/// Values must be ASCII (percent-encode first, see [`crate::image_name_metadata`]).
pub type Metadata = Vec<(String, String)>;

/// The object store `upload_artifacts` and `upload_recipe` write to. [`S3Client`] is the real
/// one; tests wrap it to inject failures at each step.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// The bucket every key refers to.
    fn bucket(&self) -> &str;

    /// Uploads `file` to `key` (single PUT below the multipart threshold, multipart above) and
    /// returns the ETag the store should report, computed locally. A failed multipart upload is
    /// aborted before this returns.
    async fn upload_file(
        &self,
        key: &str,
        file: &LocalFile,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError>;

    /// Uploads a small in-memory object with one PUT; returns its expected ETag.
    async fn put_bytes(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError>;

    /// `HEAD`; `None` when the object does not exist.
    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, ImsError>;

    /// `GET` of an object of at most `limit` bytes; `None` when it does not exist.
    async fn get(&self, key: &str, limit: u64) -> Result<Option<Bytes>, ImsError>;

    /// `DELETE` of one key (succeeds when it is already gone).
    async fn delete(&self, key: &str) -> Result<(), ImsError>;

    /// Aborts the multipart uploads still open (after an interrupted upload); returns failures.
    async fn abort_open_uploads(&self) -> Vec<String>;
}

/// Builder for [`S3Client`].
pub struct S3ClientBuilder {
    endpoint: String,
    bucket: Option<String>,
    region: String,
    access_key: Option<String>,
    secret_key: Option<SecretString>,
    virtual_hosted: bool,
    settings: HttpSettings,
    part_size: u64,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for S3ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3ClientBuilder")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("virtual_hosted", &self.virtual_hosted)
            .field("part_size", &self.part_size)
            .field("progress", &self.progress.is_some())
            .finish_non_exhaustive()
    }
}

impl S3ClientBuilder {
    /// Reports the progress of file uploads (not of the small manifest).
    #[must_use]
    pub fn progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The bucket (required).
    #[must_use]
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// SigV4 region (default `us-east-1`).
    #[must_use]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Access key id and secret key (required).
    #[must_use]
    pub fn credentials(mut self, access_key: impl Into<String>, secret_key: SecretString) -> Self {
        self.access_key = Some(access_key.into());
        self.secret_key = Some(secret_key);
        self
    }

    /// Virtual-hosted addressing (`<bucket>.<endpoint host>`) instead of path-style (default).
    #[must_use]
    pub fn virtual_hosted(mut self, on: bool) -> Self {
        self.virtual_hosted = on;
        self
    }

    /// Connection settings. The per-request timeout bounds each PUT, part, HEAD, GET, DELETE.
    #[must_use]
    pub fn http_settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Multipart threshold and part size (default 8 MiB, at least 5 MiB: S3's minimum part).
    /// Raised as needed so that no upload uses more than 10,000 parts.
    #[must_use]
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<S3Client, ImsError> {
        let endpoint = http::parse_url("S3 endpoint", &self.endpoint)?;
        let bucket_name = self
            .bucket
            .filter(|b| !b.is_empty())
            .ok_or_else(|| ImsError::Config("S3 bucket is missing".into()))?;
        let access_key = self
            .access_key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| ImsError::Config("S3 access key is missing".into()))?;
        let secret_key = self
            .secret_key
            .ok_or_else(|| ImsError::Config("S3 secret key is missing".into()))?;
        if self.part_size < MIN_PART_SIZE {
            return Err(ImsError::Config(format!(
                "S3 part size {} is below the 5 MiB minimum",
                self.part_size
            )));
        }
        let style = if self.virtual_hosted {
            UrlStyle::VirtualHost
        } else {
            UrlStyle::Path
        };
        let bucket = Bucket::new(endpoint, style, bucket_name.clone(), self.region)
            .map_err(|e| ImsError::Config(format!("S3 endpoint/bucket: {e}")))?;
        Ok(S3Client {
            http: http::build_client(&self.settings, "S3")?,
            settings: self.settings,
            bucket,
            bucket_name,
            credentials: Credentials::new(access_key, secret_key.expose_secret().to_owned()),
            part_size: self.part_size,
            open_uploads: Mutex::new(Vec::new()),
            progress: self.progress,
        })
    }
}

/// An S3 client bound to one bucket.
pub struct S3Client {
    http: reqwest::Client,
    settings: HttpSettings,
    bucket: Bucket,
    bucket_name: String,
    credentials: Credentials,
    part_size: u64,
    /// `(key, upload id)` of multipart uploads created and neither completed nor aborted.
    open_uploads: Mutex<Vec<(String, String)>>,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Client")
            .field("bucket_url", &self.bucket.base_url().as_str())
            .field("access_key", &self.credentials.key())
            .field("secret_key", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// A signed request, ready to send (and to resend on retry).
struct Signed {
    method: Method,
    url: url::Url,
    headers: Vec<(String, String)>,
    body: Option<Bytes>,
}

impl S3Client {
    /// Starts a builder for the S3 endpoint (e.g. `http://rgw-vip.nmn`).
    pub fn builder(endpoint: impl Into<String>) -> S3ClientBuilder {
        S3ClientBuilder {
            endpoint: endpoint.into(),
            bucket: None,
            region: "us-east-1".to_owned(),
            access_key: None,
            secret_key: None,
            virtual_hosted: false,
            settings: http::default_http_settings(),
            part_size: DEFAULT_PART_SIZE,
            progress: None,
        }
    }

    /// Part size used for a file of `size` bytes: the configured size, raised (to whole MiB) so
    /// that at most 10,000 parts are needed.
    pub fn part_size_for(&self, size: u64) -> u64 {
        let needed = size.div_ceil(MAX_PARTS).next_multiple_of(1024 * 1024);
        self.part_size.max(needed)
    }

    fn sign<'a>(
        mut action: impl S3Action<'a>,
        headers: Vec<(String, String)>,
        body: Option<Bytes>,
    ) -> Signed {
        for (k, v) in &headers {
            action.headers_mut().insert(k.clone(), v.clone());
        }
        let method = match <_ as S3ActionMethod>::method(&action) {
            rusty_s3::Method::Head => Method::HEAD,
            rusty_s3::Method::Get => Method::GET,
            rusty_s3::Method::Post => Method::POST,
            rusty_s3::Method::Put => Method::PUT,
            rusty_s3::Method::Delete => Method::DELETE,
        };
        Signed {
            method,
            url: action.sign(SIGNATURE_VALIDITY),
            headers,
            body,
        }
    }

    async fn send(
        &self,
        context: &str,
        idempotency: Idempotency,
        req: &Signed,
    ) -> Result<reqwest::Response, ImsError> {
        let resp = http::send_with_retry(&self.settings, context, idempotency, || {
            let mut b = self.http.request(req.method.clone(), req.url.clone());
            for (k, v) in &req.headers {
                b = b.header(k, v);
            }
            match &req.body {
                Some(body) => b = b.body(body.clone()),
                // An explicit empty body sends `Content-Length: 0`, which S3 servers require on
                // PUT and POST (moto answers 411 without it over TLS).
                None if matches!(req.method, Method::PUT | Method::POST) => {
                    b = b
                        .header(reqwest::header::CONTENT_LENGTH, "0")
                        .body(Bytes::new());
                }
                None => {}
            }
            b
        })
        .await?;
        http::check(Service::S3, resp).await
    }

    fn object_headers(
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<Vec<(String, String)>, ImsError> {
        let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
        for (name, value) in metadata {
            if !value.is_ascii() || value.chars().any(char::is_control) {
                return Err(ImsError::InvalidInput(format!(
                    "S3 metadata {name} must be printable ASCII"
                )));
            }
            headers.push((
                format!("x-amz-meta-{}", name.to_ascii_lowercase()),
                value.clone(),
            ));
        }
        Ok(headers)
    }

    /// Creates the bucket (`PUT /<bucket>`); an existing bucket of ours is fine.
    pub async fn create_bucket(&self) -> Result<(), ImsError> {
        let req = Self::sign(self.bucket.create_bucket(&self.credentials), vec![], None);
        match self
            .send("create bucket", Idempotency::Idempotent, &req)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.remote().and_then(|r| r.code()) == Some("BucketAlreadyOwnedByYou") => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Keys under `prefix` (ListObjectsV2, all pages).
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, ImsError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
            action.with_prefix(prefix.to_owned());
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let req = Self::sign(action, vec![], None);
            let resp = self
                .send("list objects", Idempotency::Idempotent, &req)
                .await?;
            let body =
                http::read_limited("list objects", resp, self.settings.max_response_bytes).await?;
            let text = String::from_utf8_lossy(&body);
            let parsed = rusty_s3::actions::ListObjectsV2::parse_response(&text)
                .map_err(|e| ImsError::InvalidResponse(format!("list objects: {e}")))?;
            keys.extend(parsed.contents.into_iter().map(|c| c.key));
            match parsed.next_continuation_token {
                Some(t) => token = Some(t),
                None => return Ok(keys),
            }
        }
    }

    async fn put_single(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError> {
        let md5 = Md5::digest(&body);
        let mut headers = Self::object_headers(content_type, metadata)?;
        headers.push((
            "content-md5".to_owned(),
            base64::engine::general_purpose::STANDARD.encode(md5),
        ));
        let req = Self::sign(
            self.bucket.put_object(Some(&self.credentials), key),
            headers,
            Some(body),
        );
        self.send(&format!("PUT {key}"), Idempotency::Idempotent, &req)
            .await?;
        Ok(hex(&md5))
    }

    async fn put_multipart(
        &self,
        key: &str,
        file: &LocalFile,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError> {
        let headers = Self::object_headers(content_type, metadata)?;
        let req = Self::sign(
            self.bucket
                .create_multipart_upload(Some(&self.credentials), key),
            headers,
            None,
        );
        let context = format!("create multipart upload {key}");
        let resp = self
            .send(&context, Idempotency::CreatesRecord, &req)
            .await?;
        let body = http::read_limited(&context, resp, 64 * 1024).await?;
        let upload_id = rusty_s3::actions::CreateMultipartUpload::parse_response(
            &String::from_utf8_lossy(&body),
        )
        .map_err(|e| ImsError::InvalidResponse(format!("{context}: {e}")))?
        .upload_id()
        .to_owned();
        self.lock_open().push((key.to_owned(), upload_id.clone()));
        let result = self.upload_parts(key, &upload_id, file).await;
        if result.is_err() {
            if let Err(e) = self.abort(key, &upload_id).await {
                tracing::warn!(key, error = %e, "could not abort the multipart upload");
                return result.map_err(|orig| ImsError::Upload {
                    step: crate::UploadStep::Artifacts,
                    source: Box::new(orig),
                    cleanup_errors: vec![format!("abort multipart upload of {key}: {e}")],
                    image_record: None,
                });
            }
        }
        self.lock_open().retain(|(_, id)| *id != upload_id);
        result
    }

    /// Single PUT below the part size, multipart above.
    async fn upload_whole(
        &self,
        key: &str,
        file: &LocalFile,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError> {
        if file.size < self.part_size {
            let body = tokio::fs::read(&file.path)
                .await
                .map_err(|source| ImsError::Io {
                    path: file.path.clone(),
                    source,
                })?;
            if Md5::digest(&body).as_slice() != file.md5 {
                return Err(ImsError::InvalidInput(format!(
                    "{} changed while it was being uploaded",
                    file.path.display()
                )));
            }
            self.put_single(key, Bytes::from(body), content_type, metadata)
                .await
        } else {
            self.put_multipart(key, file, content_type, metadata).await
        }
    }

    fn report(&self, key: &str, sent: u64, total: u64) {
        if let Some(progress) = &self.progress {
            progress(&UploadProgress {
                key: key.to_owned(),
                sent,
                total,
            });
        }
    }

    fn lock_open(&self) -> std::sync::MutexGuard<'_, Vec<(String, String)>> {
        // A panic while holding this lock leaves a plain Vec behind, which is still consistent.
        self.open_uploads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        file: &LocalFile,
    ) -> Result<String, ImsError> {
        let part_size = self.part_size_for(file.size);
        let io = |source| ImsError::Io {
            path: file.path.clone(),
            source,
        };
        let mut f = tokio::fs::File::open(&file.path).await.map_err(io)?;
        let mut whole = Md5::new();
        let mut part_md5s: Vec<[u8; 16]> = Vec::new();
        let mut etags: Vec<String> = Vec::new();
        let mut offset = 0u64;
        let mut part_number: u16 = 1;
        while offset < file.size {
            let len = part_size.min(file.size - offset);
            let mut buf = vec![
                0u8;
                usize::try_from(len).map_err(|_| {
                    ImsError::InvalidInput(format!("part size {len} does not fit in memory"))
                })?
            ];
            f.seek(SeekFrom::Start(offset)).await.map_err(io)?;
            f.read_exact(&mut buf).await.map_err(io)?;
            whole.update(&buf);
            let md5: [u8; 16] = Md5::digest(&buf).into();
            let req = Self::sign(
                self.bucket
                    .upload_part(Some(&self.credentials), key, part_number, upload_id),
                vec![(
                    "content-md5".to_owned(),
                    base64::engine::general_purpose::STANDARD.encode(md5),
                )],
                Some(Bytes::from(buf)),
            );
            let context = format!("upload part {part_number} of {key}");
            let resp = self.send(&context, Idempotency::Idempotent, &req).await?;
            let etag = resp
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(unquote)
                .ok_or_else(|| ImsError::InvalidResponse(format!("{context}: no ETag")))?;
            if etag != hex(&md5) {
                return Err(ImsError::Mismatch {
                    what: "part ETag",
                    bucket: self.bucket_name.clone(),
                    key: format!("{key} part {part_number}"),
                    expected: hex(&md5),
                    actual: etag,
                });
            }
            etags.push(format!("\"{etag}\""));
            part_md5s.push(md5);
            offset += len;
            part_number += 1;
            if offset < file.size {
                self.report(key, offset, file.size);
            }
        }
        let whole: [u8; 16] = whole.finalize().into();
        if whole != file.md5 {
            return Err(ImsError::InvalidInput(format!(
                "{} changed while it was being uploaded",
                file.path.display()
            )));
        }
        let action = self.bucket.complete_multipart_upload(
            Some(&self.credentials),
            key,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let body = Bytes::from(action.clone().body());
        let req = Self::sign(action, vec![], Some(body));
        let context = format!("complete multipart upload {key}");
        let resp = self.send(&context, Idempotency::Idempotent, &req).await?;
        // S3 may answer 200 and still report an error in the body.
        let body = http::read_limited(&context, resp, 64 * 1024).await?;
        if body.windows(7).any(|w| w == b"<Error>") {
            return Err(ImsError::from_status(Service::S3, 500, &body));
        }
        Ok(multipart_etag(&part_md5s))
    }

    async fn abort(&self, key: &str, upload_id: &str) -> Result<(), ImsError> {
        let req = Self::sign(
            self.bucket
                .abort_multipart_upload(Some(&self.credentials), key, upload_id),
            vec![],
            None,
        );
        match self
            .send(
                &format!("abort multipart upload {key}"),
                Idempotency::Idempotent,
                &req,
            )
            .await
        {
            Ok(_) | Err(ImsError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// rusty-s3 exposes the method as an associated const; this reads it from a value.
trait S3ActionMethod {
    fn method(&self) -> rusty_s3::Method;
}

impl<'a, T: S3Action<'a>> S3ActionMethod for T {
    fn method(&self) -> rusty_s3::Method {
        T::METHOD
    }
}

fn unquote(etag: &str) -> String {
    etag.trim().trim_matches('"').to_owned()
}

#[async_trait]
impl ArtifactStore for S3Client {
    fn bucket(&self) -> &str {
        &self.bucket_name
    }

    async fn upload_file(
        &self,
        key: &str,
        file: &LocalFile,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError> {
        self.report(key, 0, file.size);
        let etag = self.upload_whole(key, file, content_type, metadata).await?;
        self.report(key, file.size, file.size);
        Ok(etag)
    }

    async fn put_bytes(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError> {
        self.put_single(key, body, content_type, metadata).await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, ImsError> {
        let req = Self::sign(
            self.bucket.head_object(Some(&self.credentials), key),
            vec![],
            None,
        );
        let resp = match self
            .send(&format!("HEAD {key}"), Idempotency::Idempotent, &req)
            .await
        {
            Ok(r) => r,
            Err(ImsError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let headers = resp.headers();
        let etag = headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(unquote)
            .unwrap_or_default();
        // reqwest reports the (empty) body length for HEAD, so read the header itself.
        let size = headers
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        let metadata = headers
            .iter()
            .filter_map(|(k, v)| {
                let name = k.as_str().strip_prefix("x-amz-meta-")?;
                Some((name.to_owned(), v.to_str().ok()?.to_owned()))
            })
            .collect();
        Ok(Some(ObjectHead {
            etag,
            size,
            metadata,
        }))
    }

    async fn get(&self, key: &str, limit: u64) -> Result<Option<Bytes>, ImsError> {
        let req = Self::sign(
            self.bucket.get_object(Some(&self.credentials), key),
            vec![],
            None,
        );
        let context = format!("GET {key}");
        match self.send(&context, Idempotency::Idempotent, &req).await {
            Ok(resp) => http::read_limited(&context, resp, limit).await.map(Some),
            Err(ImsError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), ImsError> {
        let req = Self::sign(
            self.bucket.delete_object(Some(&self.credentials), key),
            vec![],
            None,
        );
        match self
            .send(&format!("DELETE {key}"), Idempotency::Idempotent, &req)
            .await
        {
            Ok(_) | Err(ImsError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn abort_open_uploads(&self) -> Vec<String> {
        let open = std::mem::take(&mut *self.lock_open());
        let mut errors = Vec::new();
        for (key, id) in open {
            if let Err(e) = self.abort(&key, &id).await {
                errors.push(format!("abort multipart upload of {key}: {e}"));
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_forms() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        // Two parts "a" and "b": MD5(MD5("a") ‖ MD5("b")), then "-2".
        let a: [u8; 16] = Md5::digest(b"a").into();
        let b: [u8; 16] = Md5::digest(b"b").into();
        let mut cat = a.to_vec();
        cat.extend_from_slice(&b);
        assert_eq!(multipart_etag(&[a, b]), format!("{}-2", md5_hex(&cat)));
    }

    #[test]
    fn part_size_grows_to_stay_within_10000_parts() {
        let c = S3Client::builder("http://127.0.0.1:1")
            .bucket("b")
            .credentials("k", SecretString::from("s"))
            .build()
            .unwrap();
        assert_eq!(c.part_size_for(17 * 1024 * 1024), DEFAULT_PART_SIZE);
        let huge = 200 * 1024 * 1024 * 1024u64;
        let p = c.part_size_for(huge);
        assert!(huge.div_ceil(p) <= MAX_PARTS);
        assert_eq!(p % (1024 * 1024), 0);
    }

    #[test]
    fn debug_never_shows_the_secret_key() {
        let c = S3Client::builder("http://127.0.0.1:1")
            .bucket("b")
            .credentials("AKID", SecretString::from("canary-s3-secret"))
            .build()
            .unwrap();
        let d = format!("{c:?}");
        assert!(d.contains("AKID") && !d.contains("canary-s3-secret"), "{d}");
    }
}
