//! The S3 side against a real S3-compatible server (moto), and the whole upload with the IMS
//! fake validating links against it. Ignored by default: `cargo xtask ci` installs moto and sets
//! `OMPS_MOTO_SERVER`.

mod common;

use std::collections::BTreeMap;

use common::{BUCKET, fake, ims_client, write_file};
use ims_client::{
    ArtifactKind, ArtifactStore, Distro, ImsError, LocalFile, Manifest, RecipeRequest, S3Client,
    UploadRequest, UploadStep, md5_hex, recipe_key, upload_artifacts, upload_recipe,
};
use secrecy::SecretString;
use test_support::moto::MotoServer;

const MIB: usize = 1024 * 1024;

fn s3(moto: &MotoServer) -> S3Client {
    S3Client::builder(moto.endpoint())
        .bucket(BUCKET)
        .credentials("testing", SecretString::from("testing-secret"))
        .http_settings(common::fast_settings())
        .build()
        .unwrap()
}

fn start() -> MotoServer {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    moto
}

#[tokio::test]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn single_put_stores_metadata_and_the_md5_etag() {
    let moto = start();
    let s3 = s3(&moto);
    let dir = tempfile::tempdir().unwrap();
    let file = LocalFile::inspect(write_file(dir.path(), "kernel", 300_000, 3))
        .await
        .unwrap();
    let meta = vec![
        ("md5sum".to_owned(), file.md5_hex()),
        (
            "x-shasta-ims-image-name".to_owned(),
            "bild-%C3%A4".to_owned(),
        ),
    ];
    let etag = s3
        .upload_file("img/kernel", &file, "application/octet-stream", &meta)
        .await
        .unwrap();
    assert_eq!(etag, file.md5_hex(), "single PUT: ETag is the MD5");
    let head = s3.head("img/kernel").await.unwrap().unwrap();
    assert_eq!(head.etag, etag);
    assert_eq!(head.size, 300_000);
    assert_eq!(head.metadata["md5sum"], file.md5_hex());
    assert_eq!(head.metadata["x-shasta-ims-image-name"], "bild-%C3%A4");
    let body = s3.get("img/kernel", 1 << 20).await.unwrap().unwrap();
    assert_eq!(md5_hex(&body), file.md5_hex());
    assert!(matches!(
        s3.get("img/kernel", 1000).await.unwrap_err(),
        ImsError::ResponseTooLarge { .. }
    ));
    assert!(s3.head("img/missing").await.unwrap().is_none());
    s3.delete("img/kernel").await.unwrap();
    s3.delete("img/kernel").await.unwrap();
    assert!(moto.list_keys(BUCKET, "").is_empty());
}

#[tokio::test]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn multipart_upload_has_the_multipart_etag_and_metadata() {
    let moto = start();
    let s3 = s3(&moto);
    let dir = tempfile::tempdir().unwrap();
    // 17 MiB: three parts of 8, 8 and 1 MiB.
    let path = write_file(dir.path(), "rootfs", 17 * MIB, 5);
    let file = LocalFile::inspect(&path).await.unwrap();
    let meta = vec![("md5sum".to_owned(), file.md5_hex())];
    let etag = s3
        .upload_file("img/rootfs", &file, "application/octet-stream", &meta)
        .await
        .unwrap();
    let data = std::fs::read(&path).unwrap();
    let parts: Vec<[u8; 16]> = data.chunks(8 * MIB).map(md5_bytes).collect();
    assert_eq!(etag, ims_client::multipart_etag(&parts));
    assert!(etag.ends_with("-3"), "{etag}");
    let head = s3.head("img/rootfs").await.unwrap().unwrap();
    assert_eq!(head.etag, etag, "moto computes the same multipart ETag");
    assert_eq!(head.size, 17 * MIB as u64);
    assert_eq!(head.metadata["md5sum"], file.md5_hex());
    assert_ne!(head.etag, file.md5_hex());
    assert!(moto.open_multipart_uploads(BUCKET).is_empty());
    assert_eq!(moto.get_object(BUCKET, "img/rootfs").unwrap(), data);
}

#[tokio::test]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn upload_progress_is_reported_per_part_and_per_file() {
    use std::sync::{Arc, Mutex};
    let moto = start();
    let seen: Arc<Mutex<Vec<(String, u64, u64)>>> = Arc::default();
    let sink = seen.clone();
    let s3 = S3Client::builder(moto.endpoint())
        .bucket(BUCKET)
        .credentials("testing", SecretString::from("testing-secret"))
        .http_settings(common::fast_settings())
        .progress(Arc::new(move |p: &ims_client::UploadProgress| {
            sink.lock().unwrap().push((p.key.clone(), p.sent, p.total));
        }))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let big = LocalFile::inspect(write_file(dir.path(), "rootfs", 17 * MIB, 8))
        .await
        .unwrap();
    let small = LocalFile::inspect(write_file(dir.path(), "kernel", 1000, 9))
        .await
        .unwrap();
    s3.upload_file("p/rootfs", &big, "application/octet-stream", &vec![])
        .await
        .unwrap();
    s3.upload_file("p/kernel", &small, "application/octet-stream", &vec![])
        .await
        .unwrap();
    s3.put_bytes(
        "p/manifest.json",
        bytes::Bytes::from_static(b"{}"),
        "application/json",
        &vec![],
    )
    .await
    .unwrap();
    let total = 17 * MIB as u64;
    let mib = MIB as u64;
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("p/rootfs".to_owned(), 0, total),
            ("p/rootfs".to_owned(), 8 * mib, total),
            ("p/rootfs".to_owned(), 16 * mib, total),
            ("p/rootfs".to_owned(), total, total),
            ("p/kernel".to_owned(), 0, 1000),
            ("p/kernel".to_owned(), 1000, 1000),
        ],
        "the manifest (put_bytes) reports nothing"
    );
}

fn md5_bytes(data: &[u8]) -> [u8; 16] {
    let hex = md5_hex(data);
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[tokio::test]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn a_failed_multipart_upload_is_aborted_and_leaves_nothing() {
    let moto = start();
    let s3 = s3(&moto);
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "rootfs", 17 * MIB, 6);
    let mut file = LocalFile::inspect(&path).await.unwrap();
    // The file "changes" after preflight: detected after the parts, before completion.
    file.md5[0] ^= 0xff;
    let e = s3
        .upload_file("img/rootfs", &file, "application/octet-stream", &vec![])
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("changed while it was being uploaded"),
        "{e}"
    );
    assert!(moto.open_multipart_uploads(BUCKET).is_empty(), "aborted");
    assert!(moto.list_keys(BUCKET, "").is_empty());

    // A file shorter than at preflight fails mid-way and is aborted as well.
    let mut short = LocalFile::inspect(&path).await.unwrap();
    short.size += 8 * MIB as u64;
    assert!(
        s3.upload_file("img/rootfs", &short, "application/octet-stream", &vec![])
            .await
            .is_err()
    );
    assert!(moto.open_multipart_uploads(BUCKET).is_empty());
    assert!(moto.list_keys(BUCKET, "").is_empty());
}

#[tokio::test]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn upload_artifacts_end_to_end_with_reuse() {
    let moto = start();
    let s3 = s3(&moto);
    let fake = fake(std::sync::Arc::new(moto.object_reader())).await;
    let job = fake.add_job("e3a46cf3-1150-4bbf-b7c9-504993917f7d");
    let ims = ims_client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let mut req = UploadRequest {
        name: "e2e image".into(),
        job_id: Some(job.clone()),
        ..UploadRequest::default()
    };
    req.files.insert(
        ArtifactKind::Rootfs,
        write_file(dir.path(), "rootfs.sqsh", 17 * MIB, 7),
    );
    req.files.insert(
        ArtifactKind::Kernel,
        write_file(dir.path(), "vmlinuz", 70_000, 8),
    );
    req.files.insert(
        ArtifactKind::Initrd,
        write_file(dir.path(), "initramfs", 90_000, 9),
    );

    let out = upload_artifacts(&ims, &s3, &req).await.unwrap();
    let id = out.image_record.id().to_owned();
    let mut keys = moto.list_keys(BUCKET, "");
    keys.sort();
    assert_eq!(
        keys,
        ["initrd", "kernel", "manifest.json", "rootfs"].map(|k| format!("{id}/{k}"))
    );
    let manifest_bytes = moto
        .get_object(BUCKET, &format!("{id}/manifest.json"))
        .unwrap();
    assert!(!manifest_bytes.ends_with(b"\n"));
    let manifest = Manifest::parse(&manifest_bytes).unwrap();
    assert!(manifest.artifacts[0].link.etag.ends_with("-3"));
    assert_eq!(manifest.artifacts[1].link.etag, manifest.artifacts[1].md5);
    let link = out.image_record.link().unwrap();
    assert_eq!(link.etag, md5_hex(&manifest_bytes));
    assert_eq!(fake.jobs()[0]["resultant_image_id"], id);

    let mut again = req.clone();
    again.skip_existing = true;
    let reused = upload_artifacts(&ims, &s3, &again).await.unwrap();
    assert!(reused.reused);
    assert_eq!(reused.image_record.id(), id);
    assert_eq!(moto.list_keys(BUCKET, "").len(), 4);
}

#[tokio::test]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn a_failed_link_leaves_no_keys_in_s3() {
    let moto = start();
    let s3 = s3(&moto);
    let fake = fake(std::sync::Arc::new(moto.object_reader())).await;
    let ims = ims_client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let mut req = UploadRequest {
        name: "doomed".into(),
        ..UploadRequest::default()
    };
    req.files.insert(
        ArtifactKind::Rootfs,
        write_file(dir.path(), "rootfs.sqsh", 9 * MIB, 1),
    );
    req.files.insert(
        ArtifactKind::Kernel,
        write_file(dir.path(), "vmlinuz", 1000, 2),
    );
    fake.fail_next("PATCH", "images/", 422, 1);
    let e = upload_artifacts(&ims, &s3, &req).await.unwrap_err();
    assert!(
        matches!(
            e,
            ImsError::Upload {
                step: UploadStep::Link,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(moto.list_keys(BUCKET, "").is_empty());
    assert!(moto.open_multipart_uploads(BUCKET).is_empty());
    assert!(fake.images().is_empty());
}

#[tokio::test]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn recipes_are_created_reused_and_filled() {
    let moto = start();
    let s3 = s3(&moto);
    let fake = fake(std::sync::Arc::new(moto.object_reader())).await;
    let ims = ims_client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("recipe.tar.gz");
    let mut data = vec![0x1f, 0x8b];
    data.extend((0..5000u32).map(|i| (i % 251) as u8));
    std::fs::write(&archive, &data).unwrap();
    let mut req = RecipeRequest {
        name: "sles15 barebones".into(),
        path: archive.clone(),
        distro: Distro::Sles15,
        template: BTreeMap::new(),
        arch: None,
        require_dkms: Some(false),
    };
    let first = upload_recipe(&ims, &s3, &req).await.unwrap();
    assert_eq!(first.get("require_dkms").unwrap(), false, "false is sent");
    assert!(moto.get_object(BUCKET, &recipe_key(first.id())).is_some());

    // No template on either side compares equal: reused, not duplicated (upstream defect a).
    let again = upload_recipe(&ims, &s3, &req).await.unwrap();
    assert_eq!(again.id(), first.id());
    assert_eq!(fake.recipes().len(), 1);

    // A template makes it different: a new record with the template as a list (defect b).
    req.template
        .insert("CSM_RELEASE_VERSION".into(), "1.6".into());
    let templated = upload_recipe(&ims, &s3, &req).await.unwrap();
    assert_ne!(templated.id(), first.id());
    assert_eq!(
        templated.get("template_dictionary").unwrap(),
        &serde_json::json!([{"key": "CSM_RELEASE_VERSION", "value": "1.6"}])
    );

    // Not a gzip archive: refused before anything is sent.
    let plain = write_file(dir.path(), "recipe.tar", 100, 1);
    let before = fake.log().len();
    let e = upload_recipe(
        &ims,
        &s3,
        &RecipeRequest {
            path: plain,
            ..req.clone()
        },
    )
    .await
    .unwrap_err();
    assert!(e.is_usage());
    assert_eq!(fake.log().len(), before);
}

#[tokio::test]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn the_command_line_uploads_with_mounted_credentials_and_prints_one_document() {
    let moto = start();
    let fake = fake(std::sync::Arc::new(moto.object_reader())).await;
    let job = fake.add_job("e3a46cf3-1150-4bbf-b7c9-504993917f7d");
    let dir = tempfile::tempdir().unwrap();
    // The pod's mounted secret: one file per value, with trailing newlines.
    let auth = dir.path().join("admin-client-auth");
    std::fs::create_dir(&auth).unwrap();
    std::fs::write(
        auth.join("client-id"),
        format!("{}\n", test_support::ims_fake::CLIENT_ID),
    )
    .unwrap();
    std::fs::write(
        auth.join("client-secret"),
        format!("{}\n", common::CANARY_SECRET),
    )
    .unwrap();
    std::fs::write(auth.join("endpoint"), format!("{}\n", fake.token_url())).unwrap();
    let rootfs = write_file(dir.path(), "rootfs.sqsh", 2 * MIB, 1);
    let kernel = write_file(dir.path(), "vmlinuz", 5000, 2);
    let env: BTreeMap<String, String> = [
        ("OAUTH_CONFIG_DIR", auth.to_str().unwrap()),
        ("S3_ENDPOINT", &moto.endpoint()),
        ("S3_ACCESS_KEY", "testing"),
        ("S3_SECRET_KEY", "canary-s3-secret-5d1c"),
        ("S3_BUCKET", BUCKET),
        ("IMS_JOB_ID", &job),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let args: Vec<std::ffi::OsString> = [
        "ims-helper",
        "image",
        "upload_artifacts",
        "cli image",
        "-r",
        rootfs.to_str().unwrap(),
        "-k",
        kernel.to_str().unwrap(),
        "--ims-url",
        &fake.ims_url(),
    ]
    .into_iter()
    .map(Into::into)
    .collect();
    let out = ims_client::cli::run(args, &env, std::future::pending()).await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert!(out.stdout.ends_with("}\n") && out.stdout.starts_with("{\n    \""));
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let id = doc["ims_image_record"]["id"].as_str().unwrap();
    assert_eq!(doc["ims_job_record"]["resultant_image_id"], id);
    assert_eq!(doc["ims_image_artifacts"].as_array().unwrap().len(), 3);
    assert_eq!(moto.list_keys(BUCKET, id).len(), 3);
    assert!(!out.stdout.contains(common::CANARY_SECRET));
    assert!(!out.stdout.contains("canary-s3-secret-5d1c"));
}

#[tokio::test]
#[ignore = "needs moto (OMPS_MOTO_SERVER)"]
async fn s3_tls_is_verified_unless_explicitly_turned_off() {
    let moto = MotoServer::start_tls();
    let client = |settings: ims_client::HttpSettings| {
        S3Client::builder(moto.endpoint())
            .bucket(BUCKET)
            .credentials("testing", SecretString::from("testing-secret"))
            .http_settings(settings)
            .build()
            .unwrap()
    };
    // System roots only: the test CA is unknown, so the handshake fails, at once.
    let untrusted = client(common::fast_settings());
    let e = untrusted.create_bucket().await.unwrap_err();
    assert!(matches!(e, ImsError::Transport(_)), "{e:?}");
    assert!(!e.is_retryable(), "a TLS failure is not retried: {e}");

    // The site CA added to the roots: verified and working.
    let trusted =
        client(common::fast_settings().ca_bundle_pem(test_support::certs::CA_PEM.to_vec()));
    trusted.create_bucket().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = LocalFile::inspect(write_file(dir.path(), "k", 1000, 1))
        .await
        .unwrap();
    let etag = trusted
        .upload_file("k", &file, "application/octet-stream", &vec![])
        .await
        .unwrap();
    assert_eq!(trusted.head("k").await.unwrap().unwrap().etag, etag);

    // Verification off only when asked (`--s3-ssl-verify false`).
    let unverified = client(common::fast_settings().danger_accept_invalid_certs(true));
    assert!(unverified.head("k").await.unwrap().is_some());
}
