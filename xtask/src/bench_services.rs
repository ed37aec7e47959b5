//! The service benchmarks of `cargo xtask bench`, appended to `docs/benchmarks.md` after the
//! validation tables: push throughput and latency of the real server on the local store at
//! concurrency 1/16/64 (with fd and memory growth), peak memory while 64 clients upload large
//! zips, and `omps mirror` against a loop of `skopeo copy`. Each measurement is an ignored test
//! that writes its numbers to a file named by an environment variable.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::peers::Peers;
use crate::step::{Step, cargo};

fn nextest(root: &Path, peers: &Peers, filter: &str, env: &[(&str, String)]) -> Step {
    let mut step = Step::new(&format!("bench: {filter}"), cargo(), root).args([
        "nextest",
        "run",
        "--release",
        "--locked",
        "--workspace",
        "--run-ignored",
        "only",
        "--no-fail-fast",
        "-E",
        filter,
    ]);
    for (k, v) in peers.env() {
        step = step.env(k, v);
    }
    for (k, v) in env {
        step = step.env(k, v);
    }
    step
}

pub fn run(root: &Path, peers: &Peers, out: &Path) -> Result<()> {
    let scratch = tempfile::tempdir().context("cannot create a temp dir")?;
    let mut section = String::from(
        "\n## Service: pushes on the local store\n\nThe real `omps-server` binary (release) on 127.0.0.1, local store, a valid flat package \
         zip pushed through `POST /v2/{org}/zipfile` over 32 packages, after a warm-up; latency is per request as the client sees it. \
         Command: the ignored test `omps-server::load` (`cargo xtask bench` runs it at each concurrency).\n\n\
         | pushes | concurrency | errors | pushes/s | p50 ms | p99 ms | max ms | RSS MiB warm → end | fds warm → end | peak RSS MiB |\n\
         |---:|---:|---:|---:|---:|---:|---:|---|---|---:|\n",
    );
    for (concurrency, pushes) in [(1, 1_500), (16, 6_000), (64, 10_000)] {
        let report = scratch.path().join(format!("load-{concurrency}.md"));
        nextest(
            root,
            peers,
            "binary(load) & test(ten_thousand_pushes_without_growth)",
            &[
                ("OMPS_LOAD_REPORT", report.display().to_string()),
                ("OMPS_LOAD_CONCURRENCY", concurrency.to_string()),
                ("OMPS_LOAD_PUSHES", pushes.to_string()),
            ],
        )
        .run(1, 1)?;
        section.push_str(
            &std::fs::read_to_string(&report)
                .with_context(|| format!("{} was not written", report.display()))?,
        );
    }

    let upload = scratch.path().join("upload.md");
    nextest(
        root,
        peers,
        "binary(load) & test(large_uploads_are_streamed)",
        &[("OMPS_UPLOAD_REPORT", upload.display().to_string())],
    )
    .run(1, 1)?;
    section.push_str("\n## Service: 64 concurrent large uploads\n\n");
    section.push_str(
        &std::fs::read_to_string(&upload)
            .with_context(|| format!("{} was not written", upload.display()))?,
    );

    let mirror = scratch.path().join("mirror.json");
    nextest(
        root,
        peers,
        "binary(mirror_peer) & test(bench_mirror_against_skopeo_loop)",
        &[
            ("OMPS_MIRROR_BENCH_OUT", mirror.display().to_string()),
            ("OMPS_MIRROR_BENCH_REPOS", "5".into()),
            ("OMPS_MIRROR_BENCH_TAGS", "4".into()),
            ("OMPS_MIRROR_BENCH_LAYER_KIB", "1024".into()),
        ],
    )
    .run(1, 1)?;
    let text = std::fs::read_to_string(&mirror)
        .with_context(|| format!("{} was not written", mirror.display()))?;
    let number = |key: &str| -> String {
        text.split(&format!("\"{key}\":"))
            .nth(1)
            .and_then(|rest| rest.split([',', '\n', '}']).next())
            .map_or_else(|| "?".into(), |v| v.trim().to_owned())
    };
    let _ = write!(
        section,
        "\n## Mirror and copy: `omps mirror` vs a `skopeo copy` loop\n\n\
         Two local `docker-registry` instances; {} images ({} repositories × {} tags, two layers each, a {} B layer shared per repository). \
         `omps mirror` (quay-client's digest-preserving `copy_image`, parallel) against `skopeo copy --all --preserve-digests` image by image; \
         digests asserted identical. Command: the ignored test `omps-cli::mirror_peer bench_mirror_against_skopeo_loop`.\n\n\
         | images | omps mirror (s) | skopeo loop (s) | digests identical |\n|---:|---:|---:|:---:|\n| {} | {} | {} | {} |\n",
        number("images"),
        number("repositories"),
        number("tags_per_repository"),
        number("layer_bytes"),
        number("images"),
        number("omps_mirror_s"),
        number("skopeo_loop_s"),
        number("digests_identical"),
    );
    let mut doc =
        std::fs::read_to_string(out).with_context(|| format!("cannot read {}", out.display()))?;
    doc.push_str(&section);
    std::fs::write(out, doc).with_context(|| format!("cannot write {}", out.display()))?;
    println!("appended the service benchmarks to {}", out.display());
    Ok(())
}
