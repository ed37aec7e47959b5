//! Recipe upload (spec §9) and job status (spec §8).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::error::{ImsError, UploadStep};
use crate::ims::{Arch, ArtifactLink, ImsClient, JobStatus, Record};
use crate::s3::{ArtifactStore, LocalFile};
use crate::upload::verify;

/// Linux distributions IMS accepts for kiwi-ng recipes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Distro {
    /// `sles12`
    Sles12,
    /// `sles15` (upstream's docstring says `sle15`, which the server refuses)
    Sles15,
    /// `centos7`
    Centos7,
}

impl Distro {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Distro::Sles12 => "sles12",
            Distro::Sles15 => "sles15",
            Distro::Centos7 => "centos7",
        }
    }
}

impl std::str::FromStr for Distro {
    type Err = ImsError;
    fn from_str(s: &str) -> Result<Self, ImsError> {
        match s {
            "sles12" => Ok(Distro::Sles12),
            "sles15" => Ok(Distro::Sles15),
            "centos7" => Ok(Distro::Centos7),
            _ => Err(ImsError::InvalidInput(format!(
                "distro {s:?} is not one of sles12, sles15, centos7"
            ))),
        }
    }
}

/// What to register.
#[derive(Debug, Clone)]
pub struct RecipeRequest {
    /// Recipe name.
    pub name: String,
    /// A gzipped tar archive.
    pub path: PathBuf,
    /// Distribution.
    pub distro: Distro,
    /// Template variables; empty means none (equal to a record's `[]`).
    pub template: BTreeMap<String, String>,
    /// Architecture, when given.
    pub arch: Option<Arch>,
    /// `require_dkms`, when given (`false` is sent, unlike upstream).
    pub require_dkms: Option<bool>,
}

fn template_list(t: &BTreeMap<String, String>) -> Value {
    Value::Array(
        t.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

/// A record's `template_dictionary` as a map (`null`, absent and `[]` are all empty).
fn record_template(r: &Record) -> Option<BTreeMap<String, String>> {
    match r.get("template_dictionary") {
        None | Some(Value::Null) => Some(BTreeMap::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                Some((
                    i.get("key")?.as_str()?.to_owned(),
                    i.get("value")?.as_str()?.to_owned(),
                ))
            })
            .collect(),
        Some(_) => None,
    }
}

/// Where a recipe's archive lives.
pub fn recipe_key(id: &str) -> String {
    format!("recipes/{id}/recipe.tar.gz")
}

/// Registers a recipe (spec §9): returns an identical existing one, fills an empty one, or
/// creates one; on upload failure deletes only a record this run created.
pub async fn upload_recipe(
    ims: &ImsClient,
    store: &dyn ArtifactStore,
    req: &RecipeRequest,
) -> Result<Record, ImsError> {
    upload_recipe_until(ims, store, req, std::future::pending()).await
}

/// [`upload_recipe`] that stops when `interrupt` completes during the upload or the link: the
/// clean-up of a failure runs and the error is [`ImsError::Interrupted`] inside
/// [`ImsError::Upload`].
pub async fn upload_recipe_until(
    ims: &ImsClient,
    store: &dyn ArtifactStore,
    req: &RecipeRequest,
    interrupt: impl Future<Output = ()> + Send,
) -> Result<Record, ImsError> {
    let mut interrupt = std::pin::pin!(interrupt);
    let file = LocalFile::inspect(req.path.clone()).await?;
    check_gzip(&req.path).await?;
    let md5 = file.md5_hex();

    let mut empty = None;
    for recipe in ims
        .list_recipes()
        .await?
        .into_iter()
        .filter(|r| r.name() == req.name)
    {
        if recipe.link().is_none() {
            empty = Some(recipe);
            continue;
        }
        let head = store.head(&recipe_key(recipe.id())).await?;
        let same_file = head.is_some_and(|h| h.metadata.get("md5sum") == Some(&md5));
        if same_file && record_template(&recipe).as_ref() == Some(&req.template) {
            tracing::info!(
                id = recipe.id(),
                "an identical recipe exists; nothing uploaded"
            );
            return Ok(recipe);
        }
    }

    let fail = |source, cleanup_errors, record: &Record| ImsError::Upload {
        step: UploadStep::Artifacts,
        source: Box::new(source),
        cleanup_errors,
        image_record: Some(Box::new(record.raw().clone())),
    };
    if let Some(record) = empty {
        let put = tokio::select! {
            r = put_recipe(store, record.id(), &file) => r,
            () = &mut interrupt => Err(ImsError::Interrupted),
        };
        let link = match put {
            Ok(link) => link,
            // The empty record is not ours: it stays, without what this run wrote.
            Err(e) => return Err(fail(e, remove_upload(store, record.id()).await, &record)),
        };
        let mut patch = json!({ "link": link });
        if !req.template.is_empty() {
            patch["template_dictionary"] = template_list(&req.template);
        }
        return ims.patch_recipe(record.id(), patch).await;
    }

    let mut body = json!({
        "name": req.name,
        "recipe_type": "kiwi-ng",
        "linux_distribution": req.distro.as_str(),
    });
    if !req.template.is_empty() {
        body["template_dictionary"] = template_list(&req.template);
    }
    if let Some(arch) = req.arch {
        body["arch"] = json!(arch.as_str());
    }
    if let Some(dkms) = req.require_dkms {
        body["require_dkms"] = json!(dkms);
    }
    let record = ims.create_recipe(body).await?;
    let upload_and_link = async {
        let link = put_recipe(store, record.id(), &file).await?;
        ims.patch_recipe(record.id(), json!({ "link": link })).await
    };
    let result = tokio::select! {
        r = upload_and_link => r,
        () = &mut interrupt => Err(ImsError::Interrupted),
    };
    match result {
        Ok(r) => Ok(r),
        Err(e) => {
            let mut cleanup = Vec::new();
            if let Err(d) = ims.delete_recipe(record.id()).await {
                cleanup.push(format!("delete recipe record {}: {d}", record.id()));
            }
            cleanup.extend(remove_upload(store, record.id()).await);
            Err(fail(e, cleanup, &record))
        }
    }
}

/// Aborts an unfinished multipart upload and deletes the recipe key this run wrote; returns
/// what could not be cleaned up.
async fn remove_upload(store: &dyn ArtifactStore, id: &str) -> Vec<String> {
    let mut errors = store.abort_open_uploads().await;
    let key = recipe_key(id);
    if let Err(d) = store.delete(&key).await {
        errors.push(format!("delete s3://{}/{key}: {d}", store.bucket()));
    }
    errors
}

async fn put_recipe(
    store: &dyn ArtifactStore,
    id: &str,
    file: &LocalFile,
) -> Result<ArtifactLink, ImsError> {
    crate::upload::server_uuid("recipe", id)?;
    let key = recipe_key(id);
    let md5 = file.md5_hex();
    let expected = store
        .upload_file(
            &key,
            file,
            "application/x-compressed-tar",
            &vec![("md5sum".to_owned(), md5.clone())],
        )
        .await?;
    let etag = verify(store, &key, &expected, &md5, false).await?;
    Ok(ArtifactLink::s3(store.bucket(), &key, &etag))
}

async fn check_gzip(path: &std::path::Path) -> Result<(), ImsError> {
    use tokio::io::AsyncReadExt;
    let mut magic = [0u8; 2];
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|source| ImsError::Io {
            path: path.to_owned(),
            source,
        })?;
    let n = f.read(&mut magic).await.map_err(|source| ImsError::Io {
        path: path.to_owned(),
        source,
    })?;
    if n < 2 || magic != [0x1f, 0x8b] {
        return Err(ImsError::InvalidInput(format!(
            "{} is not a gzipped tar archive",
            path.display()
        )));
    }
    Ok(())
}

/// `image set_job_status` (spec §8); the status is checked locally before anything is sent.
pub async fn set_job_status(
    ims: &ImsClient,
    job_id: &str,
    status: &str,
) -> Result<Record, ImsError> {
    let status: JobStatus = status.parse()?;
    ims.set_job_status(job_id, status).await
}

/// The output document of `set_job_status`.
pub fn job_status_json(job: &Record) -> Value {
    json!({"ims_job_record": job.raw(), "result": "success"})
}

/// The output document of recipe upload.
pub fn recipe_json(recipe: &Record) -> Value {
    json!({"ims_recipe_record": recipe.raw(), "result": "success"})
}
