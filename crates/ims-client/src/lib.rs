#![doc = include_str!("../README.md")]

#[cfg(feature = "cli")]
pub mod cli;
mod error;
mod http;
mod ims;
mod manifest;
mod recipe;
mod s3;
mod token;
mod upload;

pub use error::{ImsError, RemoteError, Service, UploadStep};
pub use http::default_http_settings;
pub use ims::{Arch, ArtifactLink, ImsClient, ImsClientBuilder, JobStatus, Record, check_uuid};
pub use manifest::{
    ArtifactKind, MAX_MANIFEST_BYTES, Manifest, ManifestArtifact, now_python_naive, python_json,
    python_naive,
};
pub use omps_http::HttpSettings;
pub use recipe::{
    Distro, RecipeRequest, job_status_json, recipe_json, recipe_key, set_job_status, upload_recipe,
    upload_recipe_until,
};
pub use s3::{
    ArtifactStore, DEFAULT_PART_SIZE, LocalFile, MAX_PARTS, MIN_PART_SIZE, Metadata, ObjectHead,
    ProgressFn, S3Client, S3ClientBuilder, UploadProgress, md5_hex, multipart_etag,
};
pub use token::TokenSource;
pub use upload::{
    UploadOutcome, UploadRequest, UploadedArtifact, failure_json, image_name_metadata, preflight,
    upload_artifacts, upload_artifacts_until, upload_preflighted,
};
