//! The local store's durability against the real binary on 127.0.0.1: eight replicas sharing one
//! data directory, and `kill -9` in the middle of concurrent pushes over several rounds.
//!
//! Every push carries a marker of its own in its CSV, so a release's content can be traced back
//! to the push that created it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{AUTH, BOUNDARY, CSV, PACKAGE, multipart, zip_of};
use test_support::server::{Log, OmpsServer, files_under};

const BINARY: &str = env!("CARGO_BIN_EXE_omps-server");
/// The package every push goes to (`packageName` of [`PACKAGE`]).
const REPO: &str = "marketplace";
const ORG: &str = "durable";

/// A package zip whose CSV carries `marker`.
fn marked_zip(marker: &str) -> Vec<u8> {
    let csv = CSV.replacen(
        "  description: d\n  icon",
        &format!("  description: {marker}\n  icon"),
        1,
    );
    assert_ne!(csv, CSV, "the marker must land in the CSV");
    zip_of(&[
        ("packages.yaml", PACKAGE.as_bytes()),
        ("csv.yaml", csv.as_bytes()),
    ])
}

/// Every text file of a release blob (`tar.gz`), concatenated.
fn blob_text(blob: &[u8]) -> Result<String, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    let mut text = String::new();
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        entry
            .read_to_string(&mut text)
            .map_err(|e| format!("a truncated or corrupt release: {e}"))?;
    }
    Ok(text)
}

fn marker_in(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|w| w.starts_with("push-"))
        .map(str::to_owned)
}

/// One automatic push of `marker` to [`ORG`]: `Some(version)` when acknowledged with 200.
async fn push(client: &reqwest::Client, base: &str, marker: &str) -> Result<String, String> {
    let response = client
        .post(format!("{base}/v2/{ORG}/zipfile"))
        .header("authorization", AUTH)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart("m.zip", &marked_zip(marker)))
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = response.status().as_u16();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| format!("{status}: body: {e}"))?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    body["version"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no version in {body}"))
}

/// The store as the API shows it: every listed release with the marker its content carries.
async fn releases(client: &reqwest::Client, base: &str) -> BTreeMap<String, String> {
    let listed = client
        .get(format!("{base}/v2/{ORG}/{REPO}"))
        .send()
        .await
        .unwrap();
    if listed.status() == 404 {
        return BTreeMap::new();
    }
    assert_eq!(listed.status(), 200);
    let body: serde_json::Value = listed.json().await.unwrap();
    let mut out = BTreeMap::new();
    for version in body["releases"].as_array().unwrap() {
        let version = version.as_str().unwrap().to_owned();
        let blob = client
            .get(format!("{base}/v2/{ORG}/{REPO}/{version}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            blob.status(),
            200,
            "listed release {version} not downloadable"
        );
        let bytes = blob.bytes().await.unwrap();
        let text = blob_text(&bytes).unwrap_or_else(|e| panic!("release {version}: {e}"));
        let marker =
            marker_in(&text).unwrap_or_else(|| panic!("release {version} carries no push marker"));
        out.insert(version, marker);
    }
    out
}

/// Files under the data directory that are neither a complete release nor a live lock.
fn stray_files(data: &Path) -> Vec<String> {
    let files = files_under(data);
    let set: BTreeSet<&str> = files.iter().map(String::as_str).collect();
    files
        .iter()
        .filter(|f| {
            let parts: Vec<&str> = f.split('/').collect();
            match parts.as_slice() {
                ["packages", _, _, _, "release.tar.gz"] => {
                    !set.contains(f.replace("release.tar.gz", "release.json").as_str())
                }
                ["packages", _, _, _, "release.json"] => {
                    !set.contains(f.replace("release.json", "release.tar.gz").as_str())
                }
                ["staging", instance, "lock"] => !instance.starts_with("instance-"),
                _ => true,
            }
        })
        .cloned()
        .collect()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// A pseudo-random number below `n` (no seed to manage: a fresh `RandomState` each call).
fn random_below(n: u64) -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    h.finish() % n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_replicas_on_one_data_directory_give_distinct_versions() {
    const REPLICAS: usize = 8;
    const PER_REPLICA: usize = 25;
    let data = tempfile::tempdir().unwrap();
    let servers: Vec<OmpsServer> = (0..REPLICAS)
        .map(|_| {
            OmpsServer::builder(BINARY)
                .data_dir(data.path())
                .env("OMPS_LOG", "warn,omps_server::service::store=info")
                .start()
        })
        .collect();
    let client = client();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (r, server) in servers.iter().enumerate() {
        for i in 0..PER_REPLICA {
            let (client, base) = (client.clone(), server.base().to_owned());
            let marker = format!("push-{r}-{i}");
            tasks.push(tokio::spawn(async move {
                (marker.clone(), push(&client, &base, &marker).await)
            }));
        }
    }
    let mut acknowledged = BTreeMap::new();
    let mut failures = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (marker, Ok(version)) => {
                if let Some(other) = acknowledged.insert(version.clone(), marker.clone()) {
                    failures.push(format!("{version} answered to {other} and {marker}"));
                }
            }
            (marker, Err(e)) => failures.push(format!("{marker}: {e}")),
        }
    }
    eprintln!(
        "{} pushes through {REPLICAS} replicas in {:.1} s",
        REPLICAS * PER_REPLICA,
        started.elapsed().as_secs_f64()
    );
    let logs: String = servers.iter().map(OmpsServer::logs).collect();
    let retries: Vec<u32> = logs
        .lines()
        .filter(|l| l.contains("release exists; choosing the next version"))
        .filter_map(|l| {
            l.split("attempt=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    eprintln!(
        "{} lost races, at most {} for one push",
        retries.len(),
        retries.iter().max().copied().unwrap_or(0)
    );
    assert!(failures.is_empty(), "{failures:#?}\nlogs:\n{logs}");
    assert_eq!(acknowledged.len(), REPLICAS * PER_REPLICA);
    // Every replica sees the same 200 releases, each with the content of the push it answered.
    let stored = releases(&client, servers[REPLICAS - 1].base()).await;
    assert_eq!(stored, acknowledged);
    drop(servers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_pushes_survive_kill_9_and_leftovers_are_removed() {
    const ROUNDS: usize = 6;
    const CLIENTS: usize = 12;
    let data = tempfile::tempdir().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let start = || {
        OmpsServer::builder(BINARY)
            .data_dir(data.path())
            // One spool for every incarnation, so an incarnation's leftovers meet the next.
            .env("OMPS_SPOOL_DIR", spool.path())
            .env("OMPS_LOG", "warn")
            .log(Log::File)
            .start()
    };
    let client = client();
    let acknowledged: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let mut sent = BTreeSet::new();
    let mut killed_mid_push = 0;
    for round in 0..=ROUNDS {
        let server = start();
        // Start-up removed what the killed incarnation left: only this one's locks remain.
        let stray = stray_files(data.path());
        assert!(
            stray.is_empty(),
            "round {round}: leftovers in the data directory: {stray:?}"
        );
        let spooled: Vec<String> = files_under(spool.path())
            .into_iter()
            .filter(|f| !(f.starts_with("omps-spool/instance-") && f.ends_with("/lock")))
            .collect();
        assert!(
            spooled.is_empty(),
            "round {round}: spool leftovers: {spooled:?}"
        );
        let locks =
            files_under(spool.path()).len() + files_under(&data.path().join("staging")).len();
        assert!(
            locks <= 2,
            "round {round}: dead instances kept: {locks} locks"
        );
        // Every acknowledged push is there with its content; nothing else is but sent pushes.
        let stored = releases(&client, server.base()).await;
        for (version, marker) in acknowledged.lock().unwrap().iter() {
            assert_eq!(
                stored.get(version),
                Some(marker),
                "round {round}: acknowledged release {version} ({marker}) lost or changed"
            );
        }
        for marker in stored.values() {
            assert!(
                sent.contains(marker),
                "round {round}: unknown content {marker}"
            );
        }
        if round == ROUNDS {
            break;
        }

        // Concurrent automatic pushes until the kill.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (client, base) = (client.clone(), server.base().to_owned());
            let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
            let markers: Vec<String> = (0..1000).map(|i| format!("push-{round}-{c}-{i}")).collect();
            sent.extend(markers.iter().cloned());
            tasks.push(tokio::spawn(async move {
                let mut failed = 0;
                for marker in markers {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    match push(&client, &base, &marker).await {
                        Ok(version) => {
                            let previous =
                                acknowledged.lock().unwrap().insert(version.clone(), marker);
                            assert!(previous.is_none(), "version {version} acknowledged twice");
                        }
                        Err(_) => failed += 1,
                    }
                }
                failed
            }));
        }
        tokio::time::sleep(Duration::from_millis(300 + random_below(1200))).await;
        drop(server); // SIGKILL
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for t in tasks {
            killed_mid_push += t.await.unwrap();
        }
    }
    let total = acknowledged.lock().unwrap().len();
    eprintln!(
        "{ROUNDS} kill -9 rounds: {total} acknowledged pushes kept, {killed_mid_push} cut off"
    );
    assert!(total >= ROUNDS, "too few pushes to mean anything: {total}");
    assert!(killed_mid_push > 0, "no push was ever cut off by a kill");
}
