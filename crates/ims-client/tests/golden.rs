//! Golden bytes: manifest.json as upstream writes it (spec §6 example, produced with Python's
//! `json.dumps(sort_keys=True, indent=4)`), and the stdout document (spec §11) in the same layout.

use ims_client::{
    ArtifactKind, ArtifactLink, Manifest, ManifestArtifact, Record, UploadOutcome,
    UploadedArtifact, python_json,
};

const ID: &str = "6cc42c60-dba6-4408-b008-b8da6809b682";
const MANIFEST_MD5: &str = "c664d7e3b1a2f0e9d8c7b6a5f4e3d2c1";

fn entry(kind: ArtifactKind, etag: &str, md5: &str) -> ManifestArtifact {
    ManifestArtifact {
        link: ArtifactLink::s3("boot-images", &format!("{ID}/{}", kind.key_name()), etag),
        md5: md5.into(),
        media_type: kind.media_type().into(),
    }
}

fn entries() -> Vec<ManifestArtifact> {
    vec![
        entry(
            ArtifactKind::Rootfs,
            "d39fbbeb128147ae24067b228f7d17e6-3",
            "9fe9d33f3d3e7e076db6957994eefe9f",
        ),
        entry(
            ArtifactKind::Kernel,
            "68dddab50532cca889c83e450a25a3f3",
            "68dddab50532cca889c83e450a25a3f3",
        ),
        entry(
            ArtifactKind::Initrd,
            "a43cc233bc5dff987c50418f89b44cbb",
            "a43cc233bc5dff987c50418f89b44cbb",
        ),
    ]
}

#[test]
fn manifest_bytes_match_upstream() {
    let manifest = Manifest::with_created(entries(), "2026-12-01 21:33:37.528658".into());
    let golden = include_str!("golden/manifest.json");
    assert_eq!(String::from_utf8(manifest.to_bytes()).unwrap(), golden);
    assert_eq!(Manifest::parse(golden.as_bytes()).unwrap(), manifest);
}

#[test]
fn created_is_formatted_like_a_python_naive_datetime() {
    let created = ims_client::now_python_naive();
    let ok = created.len() == 26
        && created.chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == ' ',
            13 | 16 => c == ':',
            19 => c == '.',
            _ => c.is_ascii_digit(),
        });
    assert!(ok, "{created}");
}

#[test]
fn stdout_document_matches_the_python_layout() {
    let input: serde_json::Value =
        serde_json::from_str(include_str!("golden/upload_output.input.json")).unwrap();
    let names = ["rootfs.sqsh", "vmlinuz", "initramfs"];
    let mut artifacts: Vec<UploadedArtifact> = entries()
        .into_iter()
        .zip(ArtifactKind::ALL)
        .zip(names)
        .map(|((entry, kind), name)| UploadedArtifact {
            kind: Some(kind),
            name: name.into(),
            image_id: ID.into(),
            entry,
        })
        .collect();
    artifacts.push(UploadedArtifact {
        kind: None,
        name: "manifest.json".into(),
        image_id: ID.into(),
        entry: ManifestArtifact {
            link: ArtifactLink::s3("boot-images", &format!("{ID}/manifest.json"), MANIFEST_MD5),
            md5: MANIFEST_MD5.into(),
            media_type: "application/json".into(),
        },
    });
    let outcome = UploadOutcome {
        image_record: Record::from_json(input["ims_image_record"].clone()).unwrap(),
        artifacts,
        job_record: Some(Record::from_json(input["ims_job_record"].clone()).unwrap()),
        reused: false,
        linked: true,
    };
    let stdout = python_json(&outcome.to_json()) + "\n";
    assert_eq!(stdout, include_str!("golden/upload_output.json"));
}

#[test]
fn failure_document_layout() {
    let e = ims_client::ImsError::InvalidInput("no rootfs given".into());
    assert_eq!(
        python_json(&ims_client::failure_json(&e)),
        "{\n    \"error\": \"invalid input: no rootfs given\",\n    \"result\": \"failure\"\n}"
    );
}
