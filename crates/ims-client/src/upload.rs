//! `image upload_artifacts` (spec §7): preflight, choose or reuse a record, upload, write the
//! manifest, link, record the job's result; clean-up of exactly what this run created.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

use bytes::Bytes;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};

use crate::error::{ImsError, UploadStep};
use crate::ims::{Arch, ArtifactLink, ImsClient, Record, check_uuid};
use crate::manifest::{ArtifactKind, MAX_MANIFEST_BYTES, Manifest, ManifestArtifact};
use crate::s3::{ArtifactStore, LocalFile, Metadata, md5_hex};

/// Characters percent-encoded in the image-name metadata: controls, `%` itself and (implicitly)
/// every non-ASCII byte.
const NAME_ENCODE: &AsciiSet = &CONTROLS.add(b'%');

/// What to upload.
#[derive(Debug, Clone, Default)]
pub struct UploadRequest {
    /// Image name (`IMAGE_NAME`).
    pub name: String,
    /// Job whose result the image becomes (`IMS_JOB_ID`); a whole UUID.
    pub job_id: Option<String>,
    /// The files, by kind; at most one each.
    pub files: BTreeMap<ArtifactKind, PathBuf>,
    /// Architecture of a new record.
    pub arch: Arch,
    /// Reuse an identical uploaded image, or an empty record of the same name (`--skip-existing`).
    pub skip_existing: bool,
    /// Allow uploads without a rootfs; the record is then left unlinked (`--allow-no-rootfs`).
    pub allow_no_rootfs: bool,
    /// Skip the ETag comparison (stores whose ETags are not MD5-based); `md5sum` is still compared.
    pub no_etag_check: bool,
}

/// One uploaded object, as listed in the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedArtifact {
    /// Its kind; `None` for the manifest itself.
    pub kind: Option<ArtifactKind>,
    /// Base name of the uploaded file (`manifest.json` for the manifest).
    pub name: String,
    /// The image record's id.
    pub image_id: String,
    /// The manifest entry.
    pub entry: ManifestArtifact,
}

/// The result of a successful `upload_artifacts`.
#[derive(Debug, Clone)]
pub struct UploadOutcome {
    /// The image record (linked, unless `linked` is false).
    pub image_record: Record,
    /// Uploaded artifacts in order, then the manifest; empty when an identical image was reused.
    pub artifacts: Vec<UploadedArtifact>,
    /// The job record after setting its result, when a job id was given.
    pub job_record: Option<Record>,
    /// Whether an identical existing image was returned without uploading.
    pub reused: bool,
    /// False only with `allow_no_rootfs` and no rootfs: the record is left unlinked.
    pub linked: bool,
}

impl UploadOutcome {
    /// The output document of spec §11 (serialize it with [`crate::python_json`]).
    pub fn to_json(&self) -> Value {
        let artifacts: Vec<Value> = self
            .artifacts
            .iter()
            .map(|a| {
                json!({
                    "artifact_type": a.kind.map_or("manifest", ArtifactKind::key_name),
                    "ims_image_id": a.image_id,
                    "link": a.entry.link,
                    "md5": a.entry.md5,
                    "name": a.name,
                    "type": a.entry.media_type,
                })
            })
            .collect();
        let mut out = json!({
            "ims_image_artifacts": artifacts,
            "ims_image_record": self.image_record.raw(),
            "result": "success",
        });
        if let Some(job) = &self.job_record {
            out["ims_job_record"] = job.raw().clone();
        }
        out
    }
}

/// The failure document of spec §11: `error`, `result`, and when known `cleanup_errors` and
/// `ims_image_record`.
pub fn failure_json(error: &ImsError) -> Value {
    let mut out = json!({"error": error.to_string(), "result": "failure"});
    if let ImsError::Upload {
        cleanup_errors,
        image_record,
        ..
    } = error
    {
        out["cleanup_errors"] = json!(cleanup_errors);
        if let Some(r) = image_record {
            out["ims_image_record"] = (**r).clone();
        }
    }
    out
}

/// Spec §7 step 1, before any network call: job id, rootfs rule, every file regular and
/// readable, MD5s computed once.
pub async fn preflight(req: &UploadRequest) -> Result<Vec<(ArtifactKind, LocalFile)>, ImsError> {
    if let Some(job) = &req.job_id {
        check_uuid("IMS job id", job)?;
    }
    if req.name.trim().is_empty() {
        return Err(ImsError::InvalidInput("the image name is empty".into()));
    }
    if !req.files.is_empty()
        && !req.files.contains_key(&ArtifactKind::Rootfs)
        && !req.allow_no_rootfs
    {
        return Err(ImsError::InvalidInput(
            "no rootfs given: IMS refuses to link an image without exactly one rootfs \
             (pass --allow-no-rootfs to upload anyway and leave the record unlinked)"
                .into(),
        ));
    }
    let mut files = Vec::with_capacity(req.files.len());
    for (kind, path) in &req.files {
        files.push((*kind, LocalFile::inspect(path.clone()).await?));
    }
    Ok(files)
}

/// Runs `upload_artifacts` to completion (no interruption).
pub async fn upload_artifacts(
    ims: &ImsClient,
    store: &dyn ArtifactStore,
    req: &UploadRequest,
) -> Result<UploadOutcome, ImsError> {
    upload_artifacts_until(ims, store, req, std::future::pending()).await
}

/// Runs `upload_artifacts`; when `interrupt` completes during the uploads (steps 3–4), stops,
/// cleans up as for a failure and returns [`ImsError::Interrupted`] inside [`ImsError::Upload`].
pub async fn upload_artifacts_until(
    ims: &ImsClient,
    store: &dyn ArtifactStore,
    req: &UploadRequest,
    interrupt: impl Future<Output = ()> + Send,
) -> Result<UploadOutcome, ImsError> {
    let files = preflight(req).await?;
    upload_preflighted(ims, store, req, files, interrupt).await
}

/// [`upload_artifacts_until`] after its step 1, for a caller that ran [`preflight`] itself (to
/// report local problems before it builds any client) and must not hash every file twice.
/// `files` must be what `preflight(req)` returned.
pub async fn upload_preflighted(
    ims: &ImsClient,
    store: &dyn ArtifactStore,
    req: &UploadRequest,
    files: Vec<(ArtifactKind, LocalFile)>,
    interrupt: impl Future<Output = ()> + Send,
) -> Result<UploadOutcome, ImsError> {
    let fail = |step, source, cleanup_errors, record: Option<&Record>| ImsError::Upload {
        step,
        source: Box::new(source),
        cleanup_errors,
        image_record: record.map(|r| Box::new(r.raw().clone())),
    };

    // Step 2.
    let (record, created) = match choose_record(ims, store, req, &files).await {
        Ok(Chosen::Reused(record)) => {
            tracing::info!(
                id = record.id(),
                "an identical image exists; nothing uploaded"
            );
            let job_record = match &req.job_id {
                Some(job) => Some(
                    ims.set_job_result(job, record.id())
                        .await
                        .map_err(|e| fail(UploadStep::Job, e, vec![], Some(&record)))?,
                ),
                None => None,
            };
            return Ok(UploadOutcome {
                image_record: record,
                artifacts: vec![],
                job_record,
                reused: true,
                linked: true,
            });
        }
        Ok(Chosen::Empty(record)) => (record, false),
        Ok(Chosen::Created(record)) => (record, true),
        Err(e) => return Err(fail(UploadStep::ChooseRecord, e, vec![], None)),
    };
    let id = record.id().to_owned();
    // The id becomes an S3 key prefix: a server answer that is not a UUID must not shape keys.
    if let Err(e) = server_uuid("image", &id) {
        return Err(fail(UploadStep::ChooseRecord, e, vec![], Some(&record)));
    }
    if files.is_empty() {
        // Upstream's behaviour: the record alone, no manifest.
        return Ok(UploadOutcome {
            image_record: record,
            artifacts: vec![],
            job_record: None,
            reused: false,
            linked: false,
        });
    }

    // Steps 3 and 4: every key this run writes is remembered before it is written.
    let mut written: Vec<String> = Vec::new();
    let uploads = upload_all(store, req, &id, &files, &mut written);
    let uploaded = tokio::select! {
        r = uploads => r,
        () = interrupt => Err((UploadStep::Artifacts, ImsError::Interrupted)),
    };
    let (artifacts, manifest_link) = match uploaded {
        Ok(v) => v,
        Err((step, e)) => {
            let cleanup = clean_up(ims, store, &written, &id, created).await;
            return Err(fail(step, e, cleanup, Some(&record)));
        }
    };
    if !files.iter().any(|(k, _)| *k == ArtifactKind::Rootfs) {
        tracing::warn!(id, "no rootfs: the image record is left unlinked");
        return Ok(UploadOutcome {
            image_record: record,
            artifacts,
            job_record: None,
            reused: false,
            linked: false,
        });
    }

    // Step 5.
    let linked = match ims.set_image_link(&id, &manifest_link).await {
        Ok(r) => r,
        Err(e) => match ims.get_image(&id).await {
            // Our link is set (a lost answer, or a 409 from a re-run): success.
            Ok(current) if current.link() == Some(&manifest_link) => current,
            _ => {
                let cleanup = clean_up(ims, store, &written, &id, created).await;
                return Err(fail(UploadStep::Link, e, cleanup, Some(&record)));
            }
        },
    };

    // Step 6: nothing is rolled back, the image is complete.
    let job_record = match &req.job_id {
        Some(job) => Some(
            ims.set_job_result(job, &id)
                .await
                .map_err(|e| fail(UploadStep::Job, e, vec![], Some(&linked)))?,
        ),
        None => None,
    };
    Ok(UploadOutcome {
        image_record: linked,
        artifacts,
        job_record,
        reused: false,
        linked: true,
    })
}

/// Checks an id the server gave; a bad one is the server's fault, not the caller's.
pub(crate) fn server_uuid(what: &str, id: &str) -> Result<(), ImsError> {
    check_uuid(what, id).map_err(|_| {
        ImsError::InvalidResponse(format!(
            "IMS gave the {what} record an id that is not a UUID: {id:?}"
        ))
    })
}

enum Chosen {
    Reused(Record),
    Empty(Record),
    Created(Record),
}

async fn choose_record(
    ims: &ImsClient,
    store: &dyn ArtifactStore,
    req: &UploadRequest,
    files: &[(ArtifactKind, LocalFile)],
) -> Result<Chosen, ImsError> {
    if !req.skip_existing {
        return ims
            .create_image(&req.name, req.arch)
            .await
            .map(Chosen::Created);
    }
    // Upstream created a duplicate when this failed; we stop instead.
    let images = ims.list_images().await?;
    let wanted: BTreeMap<ArtifactKind, String> =
        files.iter().map(|(k, f)| (*k, f.md5_hex())).collect();
    let mut empty = None;
    for image in images.into_iter().filter(|i| i.name() == req.name) {
        let Some(link) = image.link() else {
            // Upstream takes the last empty record in list order.
            empty = Some(image);
            continue;
        };
        match manifest_kinds(store, link).await {
            Ok(kinds) if kinds == wanted => return Ok(Chosen::Reused(image)),
            Ok(_) => {}
            Err(why) => tracing::warn!(id = image.id(), "{why}; not a match"),
        }
    }
    match empty {
        Some(record) => {
            tracing::info!(
                id = record.id(),
                "uploading into an empty record of this name"
            );
            Ok(Chosen::Empty(record))
        }
        None => ims
            .create_image(&req.name, req.arch)
            .await
            .map(Chosen::Created),
    }
}

/// `{kind: md5}` of the manifest a link points at, or why it cannot be read.
async fn manifest_kinds(
    store: &dyn ArtifactStore,
    link: &ArtifactLink,
) -> Result<BTreeMap<ArtifactKind, String>, String> {
    let (bucket, key) = link
        .bucket_and_key()
        .ok_or_else(|| format!("link {} is not an s3:// path", link.path))?;
    if bucket != store.bucket() {
        return Err(format!("manifest {} is in another bucket", link.path));
    }
    let bytes = store
        .get(key, MAX_MANIFEST_BYTES)
        .await
        .map_err(|e| format!("cannot read manifest {}: {e}", link.path))?
        .ok_or_else(|| format!("manifest {} does not exist", link.path))?;
    let manifest =
        Manifest::parse(&bytes).map_err(|e| format!("manifest {} is invalid: {e}", link.path))?;
    manifest
        .md5_by_kind()
        .ok_or_else(|| format!("manifest {} lists a kind twice", link.path))
}

type StepError = (UploadStep, ImsError);

async fn upload_all(
    store: &dyn ArtifactStore,
    req: &UploadRequest,
    id: &str,
    files: &[(ArtifactKind, LocalFile)],
    written: &mut Vec<String>,
) -> Result<(Vec<UploadedArtifact>, ArtifactLink), StepError> {
    let mut metadata: Metadata = vec![
        (
            "x-shasta-ims-image-name".into(),
            image_name_metadata(&req.name),
        ),
        ("x-shasta-ims-image-id".into(), id.to_owned()),
    ];
    if let Some(job) = &req.job_id {
        metadata.push(("x-shasta-ims-job-id".into(), job.clone()));
    }
    let mut artifacts = Vec::with_capacity(files.len() + 1);
    for (kind, file) in files {
        let key = format!("{id}/{}", kind.key_name());
        written.push(key.clone());
        let mut meta = vec![("md5sum".to_owned(), file.md5_hex())];
        meta.extend(metadata.iter().cloned());
        let step = |e| (UploadStep::Artifacts, e);
        tracing::info!(key, size = file.size, "uploading {}", file.path.display());
        let expected = store
            .upload_file(&key, file, "application/octet-stream", &meta)
            .await
            .map_err(step)?;
        let etag = verify(store, &key, &expected, &file.md5_hex(), req.no_etag_check)
            .await
            .map_err(step)?;
        artifacts.push(UploadedArtifact {
            kind: Some(*kind),
            name: file
                .path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            image_id: id.to_owned(),
            entry: ManifestArtifact {
                link: ArtifactLink::s3(store.bucket(), &key, &etag),
                md5: file.md5_hex(),
                media_type: kind.media_type().to_owned(),
            },
        });
    }

    let manifest = Manifest::new(artifacts.iter().map(|a| a.entry.clone()).collect());
    let bytes = Bytes::from(manifest.to_bytes());
    let md5 = md5_hex(&bytes);
    let key = format!("{id}/manifest.json");
    written.push(key.clone());
    let step = |e| (UploadStep::Manifest, e);
    let expected = store
        .put_bytes(
            &key,
            bytes,
            "application/json",
            &vec![("md5sum".to_owned(), md5.clone())],
        )
        .await
        .map_err(step)?;
    let etag = verify(store, &key, &expected, &md5, req.no_etag_check)
        .await
        .map_err(step)?;
    let link = ArtifactLink::s3(store.bucket(), &key, &etag);
    artifacts.push(UploadedArtifact {
        kind: None,
        name: "manifest.json".into(),
        image_id: id.to_owned(),
        entry: ManifestArtifact {
            link: link.clone(),
            md5,
            media_type: "application/json".into(),
        },
    });
    Ok((artifacts, link))
}

/// `HEAD` after an upload: the ETag (unless disabled) and the `md5sum` metadata must match what
/// was computed locally. Returns the store's ETag.
pub(crate) async fn verify(
    store: &dyn ArtifactStore,
    key: &str,
    expected_etag: &str,
    md5: &str,
    no_etag_check: bool,
) -> Result<String, ImsError> {
    let head = store.head(key).await?.ok_or_else(|| {
        ImsError::InvalidResponse(format!(
            "s3://{}/{key} is missing right after its upload",
            store.bucket()
        ))
    })?;
    let mismatch = |what, expected: &str, actual: &str| ImsError::Mismatch {
        what,
        bucket: store.bucket().to_owned(),
        key: key.to_owned(),
        expected: expected.to_owned(),
        actual: actual.to_owned(),
    };
    if !no_etag_check && head.etag != expected_etag {
        return Err(mismatch("ETag", expected_etag, &head.etag));
    }
    let stored_md5 = head.metadata.get("md5sum").map_or("", String::as_str);
    if stored_md5 != md5 {
        return Err(mismatch("md5sum", md5, stored_md5));
    }
    Ok(head.etag)
}

/// The `x-shasta-ims-image-name` value: metadata must be ASCII, so other names are
/// percent-encoded (UTF-8), with a warning.
pub fn image_name_metadata(name: &str) -> String {
    let encoded = utf8_percent_encode(name, NAME_ENCODE).to_string();
    if encoded != name {
        tracing::warn!(
            name,
            encoded,
            "image name is not plain ASCII; percent-encoded in the S3 metadata"
        );
    }
    encoded
}

/// Deletes what this run wrote (never a prefix) and the record only when this run created it.
async fn clean_up(
    ims: &ImsClient,
    store: &dyn ArtifactStore,
    written: &[String],
    image_id: &str,
    created_by_this_run: bool,
) -> Vec<String> {
    let mut errors = store.abort_open_uploads().await;
    for key in written.iter().rev() {
        if let Err(e) = store.delete(key).await {
            errors.push(format!("delete s3://{}/{key}: {e}", store.bucket()));
        }
    }
    if created_by_this_run {
        // cascade=false: the keys are already handled above, one by one.
        if let Err(e) = ims.delete_image(image_id, false).await {
            errors.push(format!("delete image record {image_id}: {e}"));
        }
    }
    for e in &errors {
        tracing::warn!("clean-up: {e}");
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_are_ascii_in_metadata() {
        assert_eq!(image_name_metadata("e2e image"), "e2e image");
        assert_eq!(image_name_metadata("bild-ä"), "bild-%C3%A4");
        assert_eq!(image_name_metadata("50%\n"), "50%25%0A");
    }

    #[tokio::test]
    async fn preflight_refuses_before_any_network_call() {
        let dir = std::env::temp_dir();
        let mut req = UploadRequest {
            name: "img".into(),
            ..UploadRequest::default()
        };
        req.files
            .insert(ArtifactKind::Kernel, dir.join("does-not-matter"));
        let e = preflight(&req).await.unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("no rootfs"), "{e}");

        req.files
            .insert(ArtifactKind::Rootfs, dir.join("ims-client-no-such-file"));
        let e = preflight(&req).await.unwrap_err();
        assert!(
            e.is_usage() && e.to_string().contains("ims-client-no-such-file"),
            "{e}"
        );

        req.files.clear();
        req.job_id = Some("e3a46cf3-1150-4bbf-b7c9-504993917f7d-extra".into());
        assert!(preflight(&req).await.unwrap_err().is_usage());

        req.job_id = None;
        req.files.insert(ArtifactKind::Rootfs, dir.clone());
        let e = preflight(&req).await.unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
