//! `upload_artifacts` step by step against the stateful IMS fake and an in-memory store, with a
//! failure injected at each step.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Faulty, MemStore, Op, fake, ims_client, write_file};
use ims_client::{
    ArtifactKind, ArtifactStore as _, ImsError, Manifest, UploadRequest, UploadStep, failure_json,
    upload_artifacts, upload_artifacts_until,
};
use serde_json::json;

const JOB: &str = "e3a46cf3-1150-4bbf-b7c9-504993917f7d";

fn request(dir: &Path, kinds: &[ArtifactKind]) -> UploadRequest {
    let mut req = UploadRequest {
        name: "my new image".into(),
        ..UploadRequest::default()
    };
    for (i, kind) in kinds.iter().enumerate() {
        let name = match kind {
            ArtifactKind::Rootfs => "rootfs.sqsh",
            ArtifactKind::Kernel => "vmlinuz",
            ArtifactKind::Initrd => "initramfs",
            ArtifactKind::DebugKernel => "vmlinux.debug",
            _ => "params",
        };
        let seed = u8::try_from(i).unwrap();
        req.files.insert(
            *kind,
            write_file(dir, name, 1000 + 100 * usize::from(seed), seed),
        );
    }
    req
}

const FULL: [ArtifactKind; 3] = [
    ArtifactKind::Rootfs,
    ArtifactKind::Kernel,
    ArtifactKind::Initrd,
];

fn step_of(e: &ImsError) -> UploadStep {
    match e {
        ImsError::Upload { step, .. } => *step,
        other => panic!("not an upload error: {other:?}"),
    }
}

fn cleanup_errors(e: &ImsError) -> Vec<String> {
    match e {
        ImsError::Upload { cleanup_errors, .. } => cleanup_errors.clone(),
        other => panic!("not an upload error: {other:?}"),
    }
}

fn requests(fake: &test_support::ims_fake::ImsFake, method: &str, prefix: &str) -> usize {
    fake.log()
        .iter()
        .filter(|l| l.method == method && l.path.starts_with(prefix))
        .count()
}

#[tokio::test]
async fn full_upload_links_the_manifest_and_sets_the_job_result() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemStore::default();
    let fake = fake(store.reader()).await;
    fake.add_job(JOB);
    let ims = ims_client(&fake);
    let mut req = request(dir.path(), &FULL);
    req.job_id = Some(JOB.into());

    let out = upload_artifacts(&ims, &store, &req).await.unwrap();
    let id = out.image_record.id().to_owned();
    assert!(!out.reused && out.linked);
    assert_eq!(
        store.keys(),
        ["initrd", "kernel", "manifest.json", "rootfs"].map(|k| format!("{id}/{k}"))
    );
    // Metadata of spec §5 on every artifact; only md5sum on the manifest.
    let rootfs = store.get_object(&format!("{id}/rootfs")).unwrap();
    assert_eq!(rootfs.metadata["md5sum"], ims_client::md5_hex(&rootfs.body));
    assert_eq!(rootfs.metadata["x-shasta-ims-image-name"], "my new image");
    assert_eq!(rootfs.metadata["x-shasta-ims-image-id"], id);
    assert_eq!(rootfs.metadata["x-shasta-ims-job-id"], JOB);
    assert_eq!(rootfs.content_type, "application/octet-stream");
    let manifest_obj = store.get_object(&format!("{id}/manifest.json")).unwrap();
    assert_eq!(manifest_obj.content_type, "application/json");
    assert_eq!(manifest_obj.metadata.keys().collect::<Vec<_>>(), ["md5sum"]);

    let manifest = Manifest::parse(&manifest_obj.body).unwrap();
    let types: Vec<&str> = manifest
        .artifacts
        .iter()
        .map(|a| a.media_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "application/vnd.cray.image.rootfs.squashfs",
            "application/vnd.cray.image.kernel",
            "application/vnd.cray.image.initrd"
        ]
    );
    let record = &fake.images()[0];
    assert_eq!(
        record["link"]["path"],
        format!("s3://boot-images/{id}/manifest.json")
    );
    assert_eq!(
        record["link"]["etag"],
        ims_client::md5_hex(&manifest_obj.body)
    );
    assert_eq!(fake.jobs()[0]["resultant_image_id"], id);

    let doc = out.to_json();
    assert_eq!(doc["result"], "success");
    assert_eq!(doc["ims_image_record"], *record);
    assert_eq!(doc["ims_job_record"]["resultant_image_id"], id);
    let kinds: Vec<&str> = doc["ims_image_artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["artifact_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["rootfs", "kernel", "initrd", "manifest"]);
    assert_eq!(doc["ims_image_artifacts"][0]["name"], "rootfs.sqsh");
    assert_eq!(doc["ims_image_artifacts"][3]["name"], "manifest.json");
    assert_eq!(doc["ims_image_artifacts"][3]["type"], "application/json");
    for l in fake
        .log()
        .iter()
        .filter(|l| l.path.starts_with("/apis/ims"))
    {
        assert!(
            l.headers.contains("user-agent: ims-helper/"),
            "{}",
            l.headers
        );
        assert!(
            l.headers.contains("accept: application/json"),
            "{}",
            l.headers
        );
        if !l.body.is_empty() {
            assert!(
                l.headers.contains("content-type: application/json"),
                "{}",
                l.headers
            );
        }
    }
}

#[tokio::test]
async fn a_record_id_that_is_not_a_uuid_never_becomes_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemStore::default();
    let fake = fake(store.reader()).await;
    fake.add_image(json!({"id": "../../other-bucket?x", "name": "my new image", "link": null}));
    let ims = ims_client(&fake);
    let mut req = request(dir.path(), &FULL);
    req.skip_existing = true;
    let e = upload_artifacts(&ims, &store, &req).await.unwrap_err();
    assert_eq!(step_of(&e), UploadStep::ChooseRecord);
    assert!(e.to_string().contains("not a UUID"), "{e}");
    assert!(store.keys().is_empty());
}

#[tokio::test]
async fn an_identical_uploaded_image_is_reused_and_the_job_still_gets_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemStore::default();
    let fake = fake(store.reader()).await;
    fake.add_job(JOB);
    let ims = ims_client(&fake);
    let mut req = request(dir.path(), &FULL);
    let first = upload_artifacts(&ims, &store, &req).await.unwrap();
    let puts_before = store.keys().len();

    req.skip_existing = true;
    req.job_id = Some(JOB.into());
    let again = upload_artifacts(&ims, &store, &req).await.unwrap();
    assert!(again.reused);
    assert_eq!(again.image_record.id(), first.image_record.id());
    assert!(again.artifacts.is_empty());
    assert_eq!(store.keys().len(), puts_before);
    assert_eq!(fake.images().len(), 1);
    // Deviation from upstream: the job is pointed at the reused image.
    assert_eq!(
        again
            .job_record
            .as_ref()
            .unwrap()
            .get("resultant_image_id")
            .unwrap(),
        first.image_record.id()
    );
    assert_eq!(again.to_json()["ims_image_artifacts"], json!([]));

    // A different kernel is not a match: a new record is made.
    req.files.insert(
        ArtifactKind::Kernel,
        write_file(dir.path(), "vmlinuz2", 999, 42),
    );
    let other = upload_artifacts(&ims, &store, &req).await.unwrap();
    assert!(!other.reused);
    assert_ne!(other.image_record.id(), first.image_record.id());
    // An extra kind on one side is not a match either.
    req.files.remove(&ArtifactKind::Initrd);
    req.files
        .insert(ArtifactKind::Kernel, first_kernel(dir.path()));
    let fewer = upload_artifacts(&ims, &store, &req).await.unwrap();
    assert!(!fewer.reused);
}

fn first_kernel(dir: &Path) -> std::path::PathBuf {
    dir.join("vmlinuz")
}

#[tokio::test]
async fn an_empty_record_of_the_same_name_is_filled_and_survives_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    let empty_id = "0c1a7c95-2a60-492c-bc81-cc225b4ee46a";
    fake.add_image(json!({"id": empty_id, "name": "my new image", "link": null,
                          "arch": "x86_64", "created": "2026-12-01T00:00:00", "metadata": {}}));
    // Someone else's object under the same prefix must survive our clean-up.
    mem.objects.lock().unwrap().insert(
        format!("{empty_id}/other-run"),
        common::StoredObject {
            body: "x".into(),
            content_type: String::new(),
            metadata: std::collections::BTreeMap::default(),
        },
    );
    let ims = ims_client(&fake);
    let mut req = request(dir.path(), &FULL);
    req.skip_existing = true;

    let store = Faulty::new(mem.clone(), Op::Upload, "/initrd");
    let e = upload_artifacts(&ims, &store, &req).await.unwrap_err();
    assert_eq!(step_of(&e), UploadStep::Artifacts);
    assert!(cleanup_errors(&e).is_empty());
    assert_eq!(mem.keys(), [format!("{empty_id}/other-run")]);
    assert_eq!(
        fake.images().len(),
        1,
        "the reused record was not ours to delete"
    );
    assert_eq!(requests(&fake, "DELETE", "/apis/ims/images"), 0);

    let out = upload_artifacts(&ims, &mem, &req).await.unwrap();
    assert_eq!(out.image_record.id(), empty_id);
    assert_eq!(requests(&fake, "POST", "/apis/ims/images"), 0);
}

#[tokio::test]
async fn failure_while_creating_the_record_cleans_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemStore::default();
    let fake = fake(store.reader()).await;
    let ims = ims_client(&fake);
    fake.fail_next("POST", "images", 503, 1);
    let e = upload_artifacts(&ims, &store, &request(dir.path(), &FULL))
        .await
        .unwrap_err();
    assert_eq!(step_of(&e), UploadStep::ChooseRecord);
    assert_eq!(e.status(), Some(503));
    // A POST is never repeated after an answer: no duplicate records.
    assert_eq!(requests(&fake, "POST", "/apis/ims/images"), 1);
    assert!(store.keys().is_empty() && fake.images().is_empty());
}

#[tokio::test]
async fn failing_to_list_images_fails_instead_of_creating_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemStore::default();
    let fake = fake(store.reader()).await;
    let ims = ims_client(&fake);
    fake.fail_next("GET", "images", 500, 10);
    let mut req = request(dir.path(), &FULL);
    req.skip_existing = true;
    let e = upload_artifacts(&ims, &store, &req).await.unwrap_err();
    assert_eq!(step_of(&e), UploadStep::ChooseRecord);
    // Bounded: 5 attempts of the idempotent GET, then the error.
    assert_eq!(requests(&fake, "GET", "/apis/ims/images"), 5);
    assert_eq!(requests(&fake, "POST", "/apis/ims/images"), 0);
}

/// A failure at each S3 operation of steps 3 and 4 removes exactly this run's keys and the
/// record this run created.
#[tokio::test]
async fn failures_in_steps_3_and_4_remove_this_runs_keys_and_record() {
    let cases = [
        (Op::Upload, "/rootfs", UploadStep::Artifacts),
        (Op::Upload, "/initrd", UploadStep::Artifacts),
        (Op::Head, "/kernel", UploadStep::Artifacts),
        (Op::WrongEtag, "/kernel", UploadStep::Artifacts),
        (Op::Put, "/manifest.json", UploadStep::Manifest),
        (Op::Head, "/manifest.json", UploadStep::Manifest),
        (Op::WrongEtag, "/manifest.json", UploadStep::Manifest),
    ];
    for (op, suffix, step) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mem = MemStore::default();
        let fake = fake(mem.reader()).await;
        let ims = ims_client(&fake);
        let store = Faulty::new(mem.clone(), op, suffix);
        let e = upload_artifacts(&ims, &store, &request(dir.path(), &FULL))
            .await
            .unwrap_err();
        assert_eq!(step_of(&e), step, "{op:?} {suffix}");
        assert!(mem.keys().is_empty(), "{op:?} {suffix}: {:?}", mem.keys());
        assert!(fake.images().is_empty(), "{op:?} {suffix}");
        let deletes = requests(&fake, "DELETE", "/apis/ims/images/");
        assert_eq!(deletes, 1, "{op:?} {suffix}");
        let delete = fake
            .log()
            .into_iter()
            .find(|l| l.method == "DELETE")
            .unwrap();
        assert!(delete.path.ends_with("?cascade=false"), "{}", delete.path);
        // Only keys this run wrote are deleted, one by one, never more.
        let deleted_keys = store.deletes.lock().unwrap().clone();
        assert!(
            deleted_keys.iter().all(|k| !k.ends_with('/')),
            "{deleted_keys:?}"
        );
        if op == Op::WrongEtag {
            let msg = e.to_string();
            assert!(msg.contains("ETag mismatch"), "{msg}");
        }
        let doc = failure_json(&e);
        assert_eq!(doc["result"], "failure");
        assert_eq!(doc["cleanup_errors"], json!([]));
        assert!(doc["ims_image_record"]["id"].is_string());
    }
}

#[tokio::test]
async fn cleanup_errors_are_reported_without_masking_the_original_error() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    let ims = ims_client(&fake);
    // The manifest upload fails; deleting the kernel then fails too.
    let store = Faulty::new(
        Faulty::new(mem.clone(), Op::Delete, "/kernel"),
        Op::Put,
        "manifest.json",
    );
    let e = upload_artifacts(&ims, &store, &request(dir.path(), &FULL))
        .await
        .unwrap_err();
    assert_eq!(step_of(&e), UploadStep::Manifest);
    assert!(e.to_string().contains("injected failure on"), "{e}");
    let errors = cleanup_errors(&e);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("/kernel"), "{errors:?}");
    assert_eq!(failure_json(&e)["cleanup_errors"], json!(errors));
}

#[tokio::test]
async fn a_refused_link_cleans_up_but_a_lost_link_answer_is_success() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    let ims = ims_client(&fake);

    fake.fail_next("PATCH", "images/", 400, 1);
    let e = upload_artifacts(&ims, &mem, &request(dir.path(), &FULL))
        .await
        .unwrap_err();
    assert_eq!(step_of(&e), UploadStep::Link);
    assert!(mem.keys().is_empty() && fake.images().is_empty());

    // The PATCH takes effect but its answer is lost: the re-read shows our link.
    fake.fail_next_after_applying("PATCH", "images/", 502, 10);
    let out = upload_artifacts(&ims, &mem, &request(dir.path(), &FULL))
        .await
        .unwrap();
    assert!(out.image_record.link().is_some());
    assert_eq!(mem.keys().len(), 4);
}

#[tokio::test]
async fn a_failed_job_update_keeps_the_complete_image() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    fake.add_job(JOB);
    let ims = ims_client(&fake);
    fake.fail_next("PATCH", "jobs/", 500, 10);
    let mut req = request(dir.path(), &FULL);
    req.job_id = Some(JOB.into());
    let e = upload_artifacts(&ims, &mem, &req).await.unwrap_err();
    assert_eq!(step_of(&e), UploadStep::Job);
    assert!(
        e.to_string()
            .contains("recording the image as the job's result")
    );
    assert_eq!(mem.keys().len(), 4);
    assert!(fake.images()[0]["link"].is_object());
    let doc = failure_json(&e);
    assert_eq!(doc["ims_image_record"], fake.images()[0]);
    assert_eq!(requests(&fake, "PATCH", "/apis/ims/jobs/"), 5);
}

#[tokio::test]
async fn interruption_during_uploads_runs_the_same_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    let ims = ims_client(&fake);
    let store = Faulty::new(mem.clone(), Op::Stall, "/initrd");
    let stalled = Arc::clone(&store.stalled);
    let e = upload_artifacts_until(&ims, &store, &request(dir.path(), &FULL), async move {
        stalled.notified().await;
    })
    .await
    .unwrap_err();
    match &e {
        ImsError::Upload { source, .. } => assert!(matches!(**source, ImsError::Interrupted)),
        other => panic!("{other:?}"),
    }
    assert!(mem.keys().is_empty(), "{:?}", mem.keys());
    assert!(fake.images().is_empty());
}

#[tokio::test]
async fn no_rootfs_is_refused_before_any_request_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    let ims = ims_client(&fake);
    let mut req = request(dir.path(), &[ArtifactKind::Kernel]);
    let e = upload_artifacts(&ims, &mem, &req).await.unwrap_err();
    assert!(e.is_usage(), "{e:?}");
    assert!(fake.log().is_empty());

    req.allow_no_rootfs = true;
    let out = upload_artifacts(&ims, &mem, &req).await.unwrap();
    assert!(!out.linked);
    assert!(fake.images()[0]["link"].is_null());
    assert_eq!(
        mem.keys().len(),
        2,
        "kernel and manifest stay for inspection"
    );
}

#[tokio::test]
async fn nothing_to_upload_creates_the_record_only() {
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    let ims = ims_client(&fake);
    let req = UploadRequest {
        name: "empty".into(),
        ..UploadRequest::default()
    };
    let out = upload_artifacts(&ims, &mem, &req).await.unwrap();
    assert_eq!(out.to_json()["ims_image_artifacts"], json!([]));
    assert_eq!(fake.images().len(), 1);
    assert!(mem.keys().is_empty());
}

#[tokio::test]
async fn a_second_kernel_only_manifest_would_be_refused_by_the_server() {
    // The fake enforces exactly one rootfs, as the real server does: linking a manifest
    // without one is a 400, which is why uploads without rootfs are refused up front.
    let mem = MemStore::default();
    let fake = fake(mem.reader()).await;
    let ims = ims_client(&fake);
    let record = ims
        .create_image("x", ims_client::Arch::X86_64)
        .await
        .unwrap();
    let manifest = Manifest::with_created(vec![], "2026-12-01 00:00:00.000000".into());
    mem.put_bytes(
        "m.json",
        manifest.to_bytes().into(),
        "application/json",
        &vec![],
    )
    .await
    .unwrap();
    let link = ims_client::ArtifactLink::s3(common::BUCKET, "m.json", "");
    let e = ims.set_image_link(record.id(), &link).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("exactly one rootfs"), "{e}");
}
