//! Load and soak: 10,000 pushes at concurrency 64 against the real binary with the local store,
//! on loopback. No errors, no file-descriptor or memory growth after warm-up. Bounded in count
//! and time. Run by `cargo xtask ci` (ignored in plain runs because it takes about a minute);
//! `OMPS_LOAD_REPORT=<file>` writes the measurements for docs/benchmarks.md.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{AUTH, BOUNDARY, flat_zip, multipart};
use test_support::server::{Log, OmpsServer};

const PUSHES: usize = 10_000;
const CONCURRENCY: usize = 64;
const WARM_UP: usize = 1_000;

/// `OMPS_LOAD_PUSHES` / `OMPS_LOAD_CONCURRENCY` let `cargo xtask bench` vary the load.
fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

async fn run_pushes(
    base: &str,
    client: &reqwest::Client,
    count: usize,
    concurrency: usize,
    latencies: &Arc<std::sync::Mutex<Vec<Duration>>>,
) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let body = multipart("m.zip", &flat_zip());
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (next, errors, latencies) = (next.clone(), errors.clone(), latencies.clone());
        let (client, base, body) = (client.clone(), base.to_owned(), body.clone());
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < count {
                // Spread pushes over 32 packages so per-package serialisation is exercised too.
                let org = format!("load{}", next.load(Ordering::Relaxed) % 32);
                let started = Instant::now();
                let response = client
                    .post(format!("{base}/v2/{org}/zipfile"))
                    .header("authorization", AUTH)
                    .header(
                        "content-type",
                        format!("multipart/form-data; boundary={BOUNDARY}"),
                    )
                    .body(body.clone())
                    .send()
                    .await;
                latencies.lock().unwrap().push(started.elapsed());
                if !response.is_ok_and(|r| r.status() == 200) {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    errors.load(Ordering::Relaxed)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test (about a minute); run by cargo xtask ci"]
async fn ten_thousand_pushes_without_growth() {
    let server = OmpsServer::builder(env!("CARGO_BIN_EXE_omps-server"))
        .env("OMPS_LOG", "warn")
        .log(Log::Null)
        .start();
    let base = server.base().to_owned();
    let pid = server.pid();
    let (pushes, concurrency) = (
        env_or("OMPS_LOAD_PUSHES", PUSHES).max(2 * WARM_UP),
        env_or("OMPS_LOAD_CONCURRENCY", CONCURRENCY),
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));

    let deadline = Instant::now() + Duration::from_secs(600);
    assert_eq!(
        run_pushes(&base, &client, WARM_UP, concurrency, &latencies).await,
        0,
        "warm-up errors"
    );
    let (rss_warm, fds_warm) = (proc_status(pid, "VmRSS:"), open_fds(pid));
    latencies.lock().unwrap().clear();
    let started = Instant::now();
    let errors = run_pushes(&base, &client, pushes - WARM_UP, concurrency, &latencies).await;
    let elapsed = started.elapsed();
    assert!(Instant::now() < deadline, "the load test must stay bounded");
    // Let idle keep-alive connections settle before counting descriptors.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_end, fds_end, hwm) = (
        proc_status(pid, "VmRSS:"),
        open_fds(pid),
        proc_status(pid, "VmHWM:"),
    );
    let leftover = server.leftover_files().len();
    drop(server);

    let mut sorted = latencies.lock().unwrap().clone();
    sorted.sort();
    #[allow(clippy::cast_precision_loss)]
    let throughput = (pushes - WARM_UP) as f64 / elapsed.as_secs_f64();
    let report = format!(
        "| {} | {concurrency} | {errors} | {throughput:.0} | {:.1} | {:.1} | {:.1} | {} → {} | {} → {} | {} |\n",
        pushes - WARM_UP,
        percentile(&sorted, 0.5).as_secs_f64() * 1000.0,
        percentile(&sorted, 0.99).as_secs_f64() * 1000.0,
        sorted.last().unwrap().as_secs_f64() * 1000.0,
        rss_warm / 1024,
        rss_end / 1024,
        fds_warm,
        fds_end,
        hwm / 1024,
    );
    eprintln!(
        "pushes | concurrency | errors | pushes/s | p50 ms | p99 ms | max ms | RSS MiB warm → end | fds warm → end | peak RSS MiB\n{report}"
    );
    if let Ok(path) = std::env::var("OMPS_LOAD_REPORT") {
        std::fs::write(path, &report).unwrap();
    }
    assert_eq!(errors, 0, "every push succeeds");
    assert!(
        fds_end <= fds_warm + 16,
        "file descriptors grew: {fds_warm} → {fds_end}"
    );
    assert!(
        rss_end <= rss_warm + 32 * 1024,
        "memory grew: {rss_warm} → {rss_end} KiB"
    );
    assert!(hwm < 256 * 1024, "peak RSS {hwm} KiB");
    assert_eq!(leftover, 0, "temporary files left behind");
}

/// 64 clients upload 20 MiB zips at once: once archives the server must refuse by declared size
/// (the upload alone: streamed to disk, not buffered), once valid packages carrying a 19 MiB file
/// (the whole pipeline; intake holds at most `max_concurrent_pushes` archives in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test; run by cargo xtask ci and cargo xtask bench"]
#[allow(clippy::too_many_lines)] // one scenario, two variants, read top to bottom
async fn large_uploads_are_streamed() {
    use std::io::Write as _;
    const CLIENTS: usize = 64;
    let random = |len: usize| -> Vec<u8> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    };
    let stored = |files: &[(&str, &[u8])]| -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in files {
            writer
                .start_file(
                    *name,
                    zip::write::SimpleFileOptions::default()
                        .compression_method(zip::CompressionMethod::Stored),
                )
                .unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    };
    let over_limit = stored(&[("blob.bin", &random(20 * 1024 * 1024 + 4096))]);
    let valid = stored(&[
        ("packages.yaml", common::PACKAGE.as_bytes()),
        ("csv.yaml", common::CSV.as_bytes()),
        ("blob.bin", &random(19 * 1024 * 1024)),
    ]);
    let mut report = String::from(
        "| upload | clients | zip MiB | answers | seconds | peak RSS MiB |\n|---|---:|---:|---|---:|---:|\n",
    );
    for (name, zip, expected) in [
        ("refused by declared size", over_limit, 400u16),
        ("valid package + 19 MiB file", valid, 200),
    ] {
        let server = OmpsServer::builder(env!("CARGO_BIN_EXE_omps-server"))
            .env("OMPS_LOG", "warn")
            .env("OMPS_MAX_CONTENT_LENGTH", (24 * 1024 * 1024).to_string())
            .log(Log::Null)
            .start();
        let base = server.base().to_owned();
        let body = multipart("m.zip", &zip);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..CLIENTS {
            let (client, base, body) = (client.clone(), base.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                client
                    .post(format!("{base}/v2/big{i}/zipfile"))
                    .header("authorization", AUTH)
                    .header(
                        "content-type",
                        format!("multipart/form-data; boundary={BOUNDARY}"),
                    )
                    .body(body)
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        let seconds = started.elapsed().as_secs_f64();
        let peak = server.peak_rss_kib();
        let leftover = server.leftover_files().len();
        drop(server);
        assert!(
            statuses.iter().all(|s| *s == expected),
            "{name}: {statuses:?}"
        );
        assert_eq!(leftover, 0, "{name}: temporary files left");
        #[allow(clippy::cast_precision_loss)]
        let mib = zip.len() as f64 / 1024.0 / 1024.0;
        let _ = writeln!(
            report,
            "| {name} | {CLIENTS} | {mib:.1} | all {expected} | {seconds:.1} | {} |",
            peak / 1024
        );
        // Streaming: the refused uploads never hold an archive in memory (buffered, 64 of them
        // would need 1.3 GiB). The target is 100 MB: the release build measures about
        // 47 MiB (docs/benchmarks.md); debug builds in CI measure up to ~105 MiB.
        if expected == 400 {
            assert!(peak < 256 * 1024, "{name}: peak RSS {peak} KiB");
        } else {
            // Accepted pushes hold each extracted archive in memory (at most
            // `max_concurrent_pushes` = 8 at a time, 19 MiB each); glibc keeps freed large
            // blocks in per-thread arenas, so the peak is measured at 330-700 MiB. The bound
            // checks that memory does not scale with the 64 clients (64 x 19 MiB = 1.2 GiB).
            assert!(peak < 1024 * 1024, "{name}: peak RSS {peak} KiB");
        }
    }
    eprintln!("{report}");
    if let Ok(path) = std::env::var("OMPS_UPLOAD_REPORT") {
        std::fs::write(path, report).unwrap();
    }
}
