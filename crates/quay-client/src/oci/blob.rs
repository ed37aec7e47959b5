//! Blob existence, upload (monolithic, chunked, streamed, mounted), download and delete.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use url::Url;

use super::auth::Scopes;
use super::types::{hex, sha256_digest, validate_digest};
use super::{RegistryClient, UploadStart, drain, header_str, validate_repo};
use crate::error::QuayError;

/// A blob download that verifies its digest as bytes pass.
///
/// Yields the blob's chunks; if the bytes do not hash to the expected digest, the last item is
/// [`QuayError::DigestMismatch`]. Consumers must read to the end to get that check.
pub struct BlobStream {
    inner: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    hasher: Sha256,
    expected: String,
    /// Size the content must have, when known; the digest is checked as soon as it is reached,
    /// because a consumer sending a fixed-length body may never poll for the end.
    expected_len: Option<u64>,
    len: u64,
    finalized: bool,
    done: bool,
    /// Digest of what was read, once the stream ended (shared with the copy code).
    outcome: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("expected", &self.expected)
            .field("read", &self.len)
            .finish_non_exhaustive()
    }
}

impl BlobStream {
    /// The digest the content must have.
    pub fn expected_digest(&self) -> &str {
        &self.expected
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.len
    }

    pub(crate) fn outcome(&self) -> Arc<Mutex<Option<String>>> {
        Arc::clone(&self.outcome)
    }
}

impl BlobStream {
    /// Computes the digest of what was read, records it and compares.
    fn finalize(&mut self) -> Result<(), QuayError> {
        self.finalized = true;
        let actual = format!("sha256:{}", hex(&self.hasher.clone().finalize()));
        *self.outcome.lock().expect("outcome lock poisoned") = Some(actual.clone());
        if actual != self.expected {
            return Err(QuayError::DigestMismatch {
                expected: self.expected.clone(),
                actual,
            });
        }
        if let Some(want) = self.expected_len {
            if want != self.len {
                return Err(QuayError::InvalidResponse(format!(
                    "blob {} has {} bytes, expected {want}",
                    self.expected, self.len
                )));
            }
        }
        Ok(())
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes, QuayError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                this.hasher.update(&chunk);
                this.len += chunk.len() as u64;
                if let Some(want) = this.expected_len {
                    if this.len > want || (this.len == want && !this.finalized) {
                        if let Err(e) = this.finalize() {
                            this.done = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                Poll::Ready(Some(Err(crate::http::transport("blob download", &e))))
            }
            Poll::Ready(None) => {
                this.done = true;
                if this.finalized {
                    return Poll::Ready(None);
                }
                match this.finalize() {
                    Ok(()) => Poll::Ready(None),
                    Err(e) => Poll::Ready(Some(Err(e))),
                }
            }
        }
    }
}

impl RegistryClient {
    /// `HEAD` a blob: its size when present, `None` when absent.
    pub async fn blob_exists(&self, repo: &str, digest: &str) -> Result<Option<u64>, QuayError> {
        validate_repo(repo)?;
        validate_digest(digest)?;
        let url = self.v2_url(repo, &["blobs", digest]);
        let resp = self
            .send("blob HEAD", &Scopes::pull(repo), true, &url, || {
                self.api_request(Method::HEAD, &url)
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self.http.check(resp).await?;
        // reqwest's content_length() is the body size hint, which is 0 for HEAD: read the header.
        Ok(Some(
            header_str(&resp, "content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ))
    }

    async fn blob_get(&self, repo: &str, digest: &str) -> Result<reqwest::Response, QuayError> {
        validate_repo(repo)?;
        validate_digest(digest)?;
        let url = self.v2_url(repo, &["blobs", digest]);
        // Redirects (to storage) are followed by reqwest, which drops `Authorization` when the
        // target is another host.
        let resp = self
            .send("blob GET", &Scopes::pull(repo), true, &url, || {
                self.blob_request(Method::GET, &url)
            })
            .await?;
        self.http.check(resp).await
    }

    /// Downloads a whole blob into memory (bounded by `max_response_bytes`) and verifies it.
    pub async fn get_blob(&self, repo: &str, digest: &str) -> Result<Bytes, QuayError> {
        let resp = self.blob_get(repo, digest).await?;
        let bytes = self.http.body("blob GET", resp).await?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(QuayError::DigestMismatch {
                expected: digest.to_owned(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Starts a streamed, verifying download of a blob.
    pub async fn blob_stream(&self, repo: &str, digest: &str) -> Result<BlobStream, QuayError> {
        self.blob_stream_sized(repo, digest, None).await
    }

    /// Like [`Self::blob_stream`], also checking the size (from a descriptor).
    pub(crate) async fn blob_stream_sized(
        &self,
        repo: &str,
        digest: &str,
        size: Option<u64>,
    ) -> Result<BlobStream, QuayError> {
        let resp = self.blob_get(repo, digest).await?;
        Ok(BlobStream {
            expected_len: size.or_else(|| resp.content_length()),
            inner: Box::pin(resp.bytes_stream()),
            hasher: Sha256::new(),
            expected: digest.to_owned(),
            len: 0,
            finalized: false,
            done: false,
            outcome: Arc::new(Mutex::new(None)),
        })
    }

    /// Streams a blob into `sink`, verifying its digest; returns the number of bytes. On a
    /// mismatch the sink has received the bad bytes: discard them.
    pub async fn download_blob<W: AsyncWrite + Unpin>(
        &self,
        repo: &str,
        digest: &str,
        sink: &mut W,
    ) -> Result<u64, QuayError> {
        use futures_util::StreamExt as _;
        let mut stream = self.blob_stream(repo, digest).await?;
        while let Some(chunk) = stream.next().await {
            sink.write_all(&chunk?).await?;
        }
        sink.flush().await?;
        Ok(stream.bytes_read())
    }

    /// Starts an upload session, or mounts `digest` from `from_repo` when given.
    pub(crate) async fn start_upload(
        &self,
        repo: &str,
        mount: Option<(&str, &str)>,
        scopes: &Scopes,
    ) -> Result<UploadStart, QuayError> {
        let mut url = self.v2_url(repo, &["blobs", "uploads", ""]);
        if let Some((digest, from)) = mount {
            validate_repo(from)?;
            url.query_pairs_mut()
                .append_pair("mount", digest)
                .append_pair("from", from);
        }
        // Starting a session has no effect beyond an idle session, so it may be retried.
        let resp = self
            .send("blob upload start", scopes, true, &url, || {
                self.api_request(Method::POST, &url)
                    .header(reqwest::header::CONTENT_LENGTH, 0)
            })
            .await?;
        let resp = self.http.check(resp).await?;
        match resp.status() {
            StatusCode::CREATED if mount.is_some() => {
                drain(resp).await;
                Ok(UploadStart::Mounted)
            }
            StatusCode::ACCEPTED => {
                let loc = self.resolve_location(&resp)?;
                drain(resp).await;
                Ok(UploadStart::Session(loc))
            }
            s => Err(QuayError::InvalidResponse(format!(
                "unexpected status {s} when starting a blob upload"
            ))),
        }
    }

    /// Sends one `PATCH` with a body; returns the next `Location`.
    async fn patch_bytes(
        &self,
        location: &Url,
        scopes: &Scopes,
        start: u64,
        chunk: Bytes,
    ) -> Result<Url, QuayError> {
        let end = start + chunk.len() as u64 - 1;
        let header = self.auth_header_for(scopes);
        // A PATCH is not idempotent: no retry.
        let rb = self.authorize(
            Self::bytes_body(self.blob_request(Method::PATCH, location), chunk)
                .header(reqwest::header::CONTENT_RANGE, format!("{start}-{end}")),
            location,
            header.as_ref(),
        );
        let resp = rb
            .send()
            .await
            .map_err(|e| crate::http::transport("blob chunk upload", &e))?;
        let resp = self.http.check(resp).await?;
        let next = self.resolve_location(&resp)?;
        drain(resp).await;
        Ok(next)
    }

    /// Streams `body` in one `PATCH` (no `Content-Range`, as skopeo does); returns the next
    /// `Location`.
    pub(crate) async fn patch_stream(
        &self,
        location: &Url,
        scopes: &Scopes,
        body: BlobStream,
    ) -> Result<Url, QuayError> {
        let header = self.auth_header_for(scopes);
        let rb = self.authorize(
            self.blob_request(Method::PATCH, location)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(reqwest::Body::wrap_stream(body)),
            location,
            header.as_ref(),
        );
        let resp = rb
            .send()
            .await
            .map_err(|e| crate::http::transport("blob stream upload", &e))?;
        let resp = self.http.check(resp).await?;
        let next = self.resolve_location(&resp)?;
        drain(resp).await;
        Ok(next)
    }

    /// Closes an upload with `PUT <location>?digest=` and the last bytes (possibly none).
    pub(crate) async fn finish_upload(
        &self,
        location: &Url,
        scopes: &Scopes,
        digest: &str,
        last: Bytes,
    ) -> Result<(), QuayError> {
        let len = last.len() as u64;
        self.finish_upload_body(location, scopes, digest, last.into(), len)
            .await
    }

    /// Closes an upload with `PUT <location>?digest=` and a body of exactly `len` bytes (which
    /// may be a stream, so a blob goes from source to destination without being buffered).
    pub(crate) async fn finish_upload_body(
        &self,
        location: &Url,
        scopes: &Scopes,
        digest: &str,
        body: reqwest::Body,
        len: u64,
    ) -> Result<(), QuayError> {
        let mut url = location.clone();
        url.query_pairs_mut().append_pair("digest", digest);
        let header = self.auth_header_for(scopes);
        let rb = self.authorize(
            self.blob_request(Method::PUT, &url)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_LENGTH, len)
                .body(body),
            &url,
            header.as_ref(),
        );
        let resp = rb
            .send()
            .await
            .map_err(|e| crate::http::transport("blob upload finish", &e))?;
        let resp = self.http.check(resp).await?;
        if let Some(returned) = header_str(&resp, "docker-content-digest") {
            if returned != digest {
                return Err(QuayError::DigestMismatch {
                    expected: digest.to_owned(),
                    actual: returned,
                });
            }
        }
        drain(resp).await;
        Ok(())
    }

    /// Best-effort cancel of an upload session after a failure.
    pub(crate) async fn cancel_upload(&self, location: &Url, scopes: &Scopes) {
        let header = self.auth_header_for(scopes);
        let rb = self.authorize(
            self.api_request(Method::DELETE, location),
            location,
            header.as_ref(),
        );
        if let Ok(resp) = rb.send().await {
            drain(resp).await;
        }
    }

    /// Uploads a blob held in memory unless the registry already has it: in one `PUT` up to
    /// the chunk size, in chunks above. Returns its digest.
    pub async fn push_blob(&self, repo: &str, data: Bytes) -> Result<String, QuayError> {
        let digest = sha256_digest(&data);
        if self.blob_exists(repo, &digest).await?.is_some() {
            return Ok(digest);
        }
        if data.len() <= self.chunk_size() {
            self.push_blob_monolithic(repo, &digest, data).await?;
        } else {
            self.push_blob_chunked(repo, data, self.chunk_size())
                .await?;
        }
        Ok(digest)
    }

    /// Uploads a blob with `POST` + one `PUT ?digest=`, without checking existence first.
    pub async fn push_blob_monolithic(
        &self,
        repo: &str,
        digest: &str,
        data: Bytes,
    ) -> Result<(), QuayError> {
        validate_repo(repo)?;
        validate_digest(digest)?;
        let actual = sha256_digest(&data);
        if actual != digest {
            return Err(QuayError::InvalidArgument(format!(
                "data has digest {actual}, not {digest}"
            )));
        }
        let scopes = Scopes::push(repo);
        let UploadStart::Session(loc) = self.start_upload(repo, None, &scopes).await? else {
            unreachable!("no mount requested");
        };
        let r = self.finish_upload(&loc, &scopes, digest, data).await;
        if r.is_err() {
            self.cancel_upload(&loc, &scopes).await;
        }
        r
    }

    /// Uploads a blob in `PATCH` chunks of `chunk_size` with `Content-Range`, always following
    /// the latest `Location`, then `PUT ?digest=`. Returns its digest.
    pub async fn push_blob_chunked(
        &self,
        repo: &str,
        data: Bytes,
        chunk_size: usize,
    ) -> Result<String, QuayError> {
        validate_repo(repo)?;
        let digest = sha256_digest(&data);
        let scopes = Scopes::push(repo);
        let UploadStart::Session(mut loc) = self.start_upload(repo, None, &scopes).await? else {
            unreachable!("no mount requested");
        };
        let chunk_size = chunk_size.max(1);
        let mut offset = 0usize;
        while offset < data.len() {
            let end = (offset + chunk_size).min(data.len());
            match self
                .patch_bytes(&loc, &scopes, offset as u64, data.slice(offset..end))
                .await
            {
                Ok(next) => loc = next,
                Err(e) => {
                    self.cancel_upload(&loc, &scopes).await;
                    return Err(e);
                }
            }
            offset = end;
        }
        if let Err(e) = self
            .finish_upload(&loc, &scopes, &digest, Bytes::new())
            .await
        {
            self.cancel_upload(&loc, &scopes).await;
            return Err(e);
        }
        Ok(digest)
    }

    /// Mounts a blob from another repository of the same registry. `true` when mounted;
    /// `false` when the registry does not have it there (the session it opened is cancelled).
    pub async fn mount_blob(
        &self,
        repo: &str,
        digest: &str,
        from_repo: &str,
    ) -> Result<bool, QuayError> {
        validate_repo(repo)?;
        validate_digest(digest)?;
        let scopes = Scopes::push(repo).with(&Scopes::pull(from_repo));
        match self
            .start_upload(repo, Some((digest, from_repo)), &scopes)
            .await?
        {
            UploadStart::Mounted => Ok(true),
            UploadStart::Session(loc) => {
                self.cancel_upload(&loc, &scopes).await;
                Ok(false)
            }
        }
    }

    /// Deletes a blob from one repository.
    pub async fn delete_blob(&self, repo: &str, digest: &str) -> Result<(), QuayError> {
        validate_repo(repo)?;
        validate_digest(digest)?;
        let url = self.v2_url(repo, &["blobs", digest]);
        let resp = self
            .send("blob DELETE", &Scopes::push(repo), false, &url, || {
                self.api_request(Method::DELETE, &url)
            })
            .await?;
        self.http.check(resp).await.map(drop)
    }
}
