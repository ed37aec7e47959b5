//! Load and soak: 10,000 pushes at concurrency 64 against the real binary with the local store,
//! on loopback. No errors, no file-descriptor or memory growth after warm-up. Bounded in count
//! and time. Run by `cargo xtask ci` (ignored in plain runs because it takes about a minute);
//! `OMPS_LOAD_REPORT=<file>` writes the measurements for docs/benchmarks.md.

mod common;

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{AUTH, BOUNDARY, flat_zip, multipart};

const PUSHES: usize = 10_000;
const CONCURRENCY: usize = 64;
const WARM_UP: usize = 1_000;

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
    latencies: &Arc<std::sync::Mutex<Vec<Duration>>>,
) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let body = multipart("m.zip", &flat_zip());
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
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
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_omps-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("TMPDIR", &tmp)
        .env("OMPS_LOG", "warn")
        .env_remove("OMPS_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let pid = child.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));

    let deadline = Instant::now() + Duration::from_secs(600);
    assert_eq!(
        run_pushes(&base, &client, WARM_UP, &latencies).await,
        0,
        "warm-up errors"
    );
    let (rss_warm, fds_warm) = (proc_status(pid, "VmRSS:"), open_fds(pid));
    latencies.lock().unwrap().clear();
    let started = Instant::now();
    let errors = run_pushes(&base, &client, PUSHES - WARM_UP, &latencies).await;
    let elapsed = started.elapsed();
    assert!(Instant::now() < deadline, "the load test must stay bounded");
    // Let idle keep-alive connections settle before counting descriptors.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_end, fds_end, hwm) = (
        proc_status(pid, "VmRSS:"),
        open_fds(pid),
        proc_status(pid, "VmHWM:"),
    );
    let _ = child.kill();
    let _ = child.wait();

    let mut sorted = latencies.lock().unwrap().clone();
    sorted.sort();
    #[allow(clippy::cast_precision_loss)]
    let throughput = (PUSHES - WARM_UP) as f64 / elapsed.as_secs_f64();
    let report = format!(
        "| {} | {CONCURRENCY} | {errors} | {throughput:.0} | {:.1} | {:.1} | {:.1} | {} → {} | {} → {} | {} |\n",
        PUSHES - WARM_UP,
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
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "temporary files left behind"
    );
}
