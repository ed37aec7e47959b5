//! A full disk: the local store's fault injector fails each write point in turn with ENOSPC
//! behind the real router (the answer is 507 and nothing is visible, or 200 and the release is
//! complete: never an error after the release became visible), and the real binary on a small
//! tmpfs (health degraded while full, 507 without paths, recovery once space is freed).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::{
    AUTH, BOUNDARY, CSV, PACKAGE, assert_error, multipart, request, send, upload, zip_of,
};
use omps_server::backends::ManifestStore;
use omps_server::config::StoreKind;
use omps_server::local_store::{LocalStore, WritePoint};
use test_support::server::{OmpsServer, files_under};

const ENOSPC: i32 = 28;

fn zip() -> Vec<u8> {
    zip_of(&[
        ("packages.yaml", PACKAGE.as_bytes()),
        ("csv.yaml", CSV.as_bytes()),
    ])
}

/// A router over a local store whose write points fail while they are in `failing`.
fn router(data: &Path, spool: &Path, failing: Arc<Mutex<Vec<WritePoint>>>) -> axum::Router {
    let store = LocalStore::new(data).with_fault_injector(Arc::new(move |point| {
        if failing.lock().unwrap().contains(&point) {
            Err(std::io::Error::from_raw_os_error(ENOSPC))
        } else {
            Ok(())
        }
    }));
    let mut stores: HashMap<StoreKind, Arc<dyn ManifestStore>> = HashMap::new();
    stores.insert(StoreKind::Local, Arc::new(store));
    let config = common::config_from(&format!("spool_dir = {:?}\n", spool.display().to_string()));
    let state = omps_server::AppState::new(
        config,
        omps_server::Backends {
            stores,
            build_system: None,
            gate: None,
        },
    )
    .unwrap();
    omps_server::app(state)
}

/// Files under `data` other than releases and this process's staging lock.
fn stray(data: &Path) -> Vec<String> {
    files_under(data)
        .into_iter()
        .filter(|f| {
            !(f.starts_with("packages/")
                && (f.ends_with("/release.tar.gz") || f.ends_with("/release.json"))
                || f.starts_with("staging/instance-") && f.ends_with("/lock"))
        })
        .collect()
}

#[tokio::test]
async fn a_full_disk_at_each_write_point_is_507_and_never_an_error_after_commit() {
    for &point in WritePoint::ALL {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let failing = Arc::new(Mutex::new(vec![point]));
        if point == WritePoint::Uncommit {
            // Only reached when the final fsync failed.
            failing.lock().unwrap().push(WritePoint::CommitSync);
        }
        let app = router(&data, &dir.path().join("spool"), failing.clone());
        let answer = send(
            &app,
            upload(
                "/v2/team/zipfile/1.0.0",
                Some(AUTH),
                multipart("m.zip", &zip()),
            ),
        )
        .await;
        let listed = send(&app, request("GET", "/v2/team/marketplace", Some(AUTH))).await;
        let text = String::from_utf8_lossy(&answer.bytes).into_owned();
        assert!(
            !text.contains(&*dir.path().to_string_lossy()),
            "{point:?}: a server path in {text}"
        );
        if point == WritePoint::Uncommit {
            // Visible and could not be taken back: stored, so 200 (a retry would duplicate it).
            assert_eq!(answer.status, 200, "{point:?}: {text}");
            assert_eq!(listed.json["releases"], serde_json::json!(["1.0.0"]));
        } else {
            assert_error(&answer, 507, "OMPSInsufficientStorage");
            assert!(answer.headers.contains_key("retry-after"), "{point:?}");
            let releases = listed.json["releases"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                releases.is_empty(),
                "{point:?}: visible after 507: {}",
                listed.json
            );
            assert_eq!(stray(&data), Vec::<String>::new(), "{point:?}: leftovers");
            // Space is back: the same push goes through, once.
            failing.lock().unwrap().clear();
            let again = send(
                &app,
                upload(
                    "/v2/team/zipfile/1.0.0",
                    Some(AUTH),
                    multipart("m.zip", &zip()),
                ),
            )
            .await;
            assert_eq!(again.status, 200, "{point:?}: {}", again.json);
        }
        let download = send(
            &app,
            request("GET", "/v2/team/marketplace/1.0.0", Some(AUTH)),
        )
        .await;
        assert_eq!(download.status, 200, "{point:?}");
        assert_eq!(
            &download.bytes[..2],
            &[0x1f, 0x8b],
            "{point:?}: a whole gzip"
        );
    }
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(bytes: u64) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(Self { dir })
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the filesystem of `dir` up to the last byte; the filler file is returned.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5a; 64 * 1024];
    let mut size = chunk.len();
    loop {
        match file.write(&chunk[..size]) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(ENOSPC) => {
                if size == 1 {
                    break;
                }
                size /= 2;
            }
            Err(e) => panic!("filling: {e}"),
        }
    }
    let _ = file.sync_all();
    path
}

async fn push(client: &reqwest::Client, base: &str) -> (u16, String) {
    let response = client
        .post(format!("{base}/v2/team/zipfile"))
        .header("authorization", AUTH)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart("m.zip", &zip()))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn health(client: &reqwest::Client, base: &str) -> (u16, String) {
    let response = client
        .get(format!("{base}/v2/health/ping"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "mounts a tmpfs (needs root); run by cargo xtask ci"]
async fn the_binary_on_a_full_tmpfs_degrades_and_recovers() {
    let tmpfs = match Tmpfs::mount(16 * 1024 * 1024) {
        Ok(t) => t,
        Err(e) if std::env::var_os("OMPS_REQUIRE_TMPFS").is_none() => {
            eprintln!(
                "skipped: cannot mount a tmpfs here ({e}); set OMPS_REQUIRE_TMPFS=1 to fail instead"
            );
            return;
        }
        Err(e) => panic!("cannot mount a tmpfs: {e}"),
    };
    let data = tmpfs.path().join("data");
    let spool = tmpfs.path().join("spool");
    for phase in ["store", "spool"] {
        let mut builder = OmpsServer::builder(env!("CARGO_BIN_EXE_omps-server"))
            .data_dir(&data)
            .env("OMPS_MIN_FREE_BYTES", "1048576");
        if phase == "spool" {
            // Uploads themselves land on the full disk.
            builder = builder.env("OMPS_SPOOL_DIR", &spool);
        }
        let server = builder.start();
        let client = reqwest::Client::new();
        let base = server.base().to_owned();
        let (status, body) = push(&client, &base).await;
        assert_eq!(status, 200, "{phase}: {body}");
        assert_eq!(health(&client, &base).await.0, 200, "{phase}");

        let filler = fill(&tmpfs.path());
        let (status, body) = health(&client, &base).await;
        assert_eq!(status, 503, "{phase}: health while full: {body}");
        assert!(
            body.contains("degraded") && body.contains("full"),
            "{phase}: {body}"
        );
        for _ in 0..3 {
            let (status, body) = push(&client, &base).await;
            assert_eq!(status, 507, "{phase}: {body}");
            assert!(body.contains("OMPSInsufficientStorage"), "{phase}: {body}");
            assert!(
                !body.contains(&*tmpfs.path().to_string_lossy()),
                "{phase}: {body}"
            );
        }
        // Nothing half-written stays behind, and the failed pushes are not listed.
        let listed = client
            .get(format!("{base}/v2/team/marketplace"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let stray = stray(&data);
        assert_eq!(stray, Vec::<String>::new(), "{phase}: {listed}");

        // Space freed: healthy again and pushes continue, without a restart.
        std::fs::remove_file(filler).unwrap();
        let (status, body) = health(&client, &base).await;
        assert_eq!(status, 200, "{phase}: {body}");
        let (status, body) = push(&client, &base).await;
        assert_eq!(status, 200, "{phase}: {body}");
        let (_, logs) = server.stop();
        assert!(
            logs.contains("disk full"),
            "{phase}: the full disk is logged:\n{logs}"
        );
    }
}
