//! Helpers of this crate's tests: an in-memory artifact store, a wrapper that injects a failure
//! at a chosen operation, and clients wired to the IMS fake.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use ims_client::{
    ArtifactStore, HttpSettings, ImsClient, ImsError, LocalFile, Metadata, ObjectHead, md5_hex,
};
use secrecy::SecretString;
use test_support::ims_fake::{CLIENT_ID, ImsFake, ObjectReader};

/// The client secret every test uses; it must never show up anywhere but the token request.
pub const CANARY_SECRET: &str = "canary-client-secret-7f3e9b";

pub const BUCKET: &str = "boot-images";

/// Fast retries so failure tests stay short.
pub fn fast_settings() -> HttpSettings {
    ims_client::default_http_settings()
        .retry_base_delay(Duration::from_millis(10))
        .timeout(Duration::from_secs(30))
}

/// The fake IMS with 2-second tokens, seeing `objects` as its S3.
pub async fn fake(objects: ObjectReader) -> ImsFake {
    ImsFake::start(objects, CANARY_SECRET, Duration::from_secs(2)).await
}

/// An IMS client authenticated through the workspace's OAuth2 client-credentials client.
pub fn ims_client(fake: &ImsFake) -> ImsClient {
    let tokens = omps_http::oauth::ClientCredentials::builder(fake.token_url())
        .client_id(CLIENT_ID)
        .client_secret(SecretString::from(CANARY_SECRET))
        .http_settings(fast_settings())
        .build()
        .unwrap();
    ImsClient::builder(fake.ims_url())
        .http_settings(fast_settings())
        .token_source(Arc::new(tokens))
        .build()
        .unwrap()
}

#[derive(Debug, Clone)]
pub struct StoredObject {
    pub body: Bytes,
    pub content_type: String,
    pub metadata: BTreeMap<String, String>,
}

/// An in-memory S3: single-PUT ETags (hex MD5) for everything.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    pub objects: Arc<Mutex<BTreeMap<String, StoredObject>>>,
}

impl MemStore {
    pub fn reader(&self) -> ObjectReader {
        let objects = self.objects.clone();
        Arc::new(move |bucket: &str, key: &str| {
            (bucket == BUCKET)
                .then(|| objects.lock().unwrap().get(key).map(|o| o.body.to_vec()))
                .flatten()
        })
    }

    pub fn keys(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }

    pub fn get_object(&self, key: &str) -> Option<StoredObject> {
        self.objects.lock().unwrap().get(key).cloned()
    }

    fn store(&self, key: &str, body: Bytes, content_type: &str, metadata: &Metadata) -> String {
        let etag = md5_hex(&body);
        self.objects.lock().unwrap().insert(
            key.to_owned(),
            StoredObject {
                body,
                content_type: content_type.to_owned(),
                metadata: metadata.iter().cloned().collect(),
            },
        );
        etag
    }
}

#[async_trait]
impl ArtifactStore for MemStore {
    fn bucket(&self) -> &str {
        BUCKET
    }

    async fn upload_file(
        &self,
        key: &str,
        file: &LocalFile,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError> {
        let body = tokio::fs::read(&file.path).await.unwrap();
        Ok(self.store(key, Bytes::from(body), content_type, metadata))
    }

    async fn put_bytes(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError> {
        Ok(self.store(key, body, content_type, metadata))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, ImsError> {
        Ok(self.get_object(key).map(|o| ObjectHead {
            etag: md5_hex(&o.body),
            size: o.body.len() as u64,
            metadata: o.metadata,
        }))
    }

    async fn get(&self, key: &str, _limit: u64) -> Result<Option<Bytes>, ImsError> {
        Ok(self.get_object(key).map(|o| o.body))
    }

    async fn delete(&self, key: &str) -> Result<(), ImsError> {
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }

    async fn abort_open_uploads(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Which operation of [`Faulty`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Upload,
    Put,
    Head,
    Delete,
    /// The HEAD after the upload reports another ETag.
    WrongEtag,
    /// The upload never finishes (for interruption tests); `stalled` is notified.
    Stall,
}

/// Wraps a store; the first operation `op` on a key ending with `key_suffix` fails.
pub struct Faulty<S> {
    pub inner: S,
    pub op: Op,
    pub key_suffix: String,
    pub stalled: Arc<tokio::sync::Notify>,
    pub deletes: Mutex<Vec<String>>,
}

impl<S> Faulty<S> {
    pub fn new(inner: S, op: Op, key_suffix: &str) -> Self {
        Self {
            inner,
            op,
            key_suffix: key_suffix.to_owned(),
            stalled: Arc::new(tokio::sync::Notify::new()),
            deletes: Mutex::new(Vec::new()),
        }
    }

    fn hit(&self, op: Op, key: &str) -> bool {
        self.op == op && key.ends_with(&self.key_suffix)
    }
}

fn injected(key: &str) -> ImsError {
    ImsError::InvalidResponse(format!("injected failure on {key}"))
}

#[async_trait]
impl<S: ArtifactStore> ArtifactStore for Faulty<S> {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }

    async fn upload_file(
        &self,
        key: &str,
        file: &LocalFile,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError> {
        if self.hit(Op::Upload, key) {
            return Err(injected(key));
        }
        if self.hit(Op::Stall, key) {
            self.stalled.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner
            .upload_file(key, file, content_type, metadata)
            .await
    }

    async fn put_bytes(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        metadata: &Metadata,
    ) -> Result<String, ImsError> {
        if self.hit(Op::Put, key) {
            return Err(injected(key));
        }
        self.inner
            .put_bytes(key, body, content_type, metadata)
            .await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, ImsError> {
        if self.hit(Op::Head, key) {
            return Err(injected(key));
        }
        let head = self.inner.head(key).await?;
        if self.hit(Op::WrongEtag, key) {
            return Ok(head.map(|h| ObjectHead {
                etag: "00000000000000000000000000000000".into(),
                ..h
            }));
        }
        Ok(head)
    }

    async fn get(&self, key: &str, limit: u64) -> Result<Option<Bytes>, ImsError> {
        self.inner.get(key, limit).await
    }

    async fn delete(&self, key: &str) -> Result<(), ImsError> {
        self.deletes.lock().unwrap().push(key.to_owned());
        if self.hit(Op::Delete, key) {
            return Err(injected(key));
        }
        self.inner.delete(key).await
    }

    async fn abort_open_uploads(&self) -> Vec<String> {
        self.inner.abort_open_uploads().await
    }
}

/// A file of patterned bytes (fixed MD5s for a given size and seed).
#[allow(unused_imports)] // each test binary uses a different subset
pub use test_support::fixtures::patterned_file as write_file;
