//! `omps mirror` between two real `docker-registry` processes (the destination with htpasswd
//! basic auth), digests checked with `skopeo inspect`.
//!
//! Ignored by default; `cargo xtask ci` runs them with `--run-ignored all`. They need
//! `OMPS_DOCKER_REGISTRY` and `OMPS_SKOPEO` (paths of the binaries) and fail loudly without.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use assert_cmd::cargo::CommandCargoExt as _;
use quay_client::oci::{Manifest, media_types, sha256_digest};
use quay_client::{RegistryAuth, RegistryClient, SecretString};
use serde_json::{Value, json};
use test_support::oci_image::{self, Flavor, noise};
use test_support::registry::{PASSWORD, Registry, RegistryOptions, USER};
use test_support::skopeo;

/// A `docker-registry`, with htpasswd Basic auth (`auth`) and HTTPS (`tls`) as asked.
fn registry(auth: bool, tls: bool) -> Registry {
    Registry::start_with(RegistryOptions {
        tls,
        htpasswd: auth,
    })
}

/// A client of `reg` that trusts the test CA and logs in when the registry needs it.
fn client(reg: &Registry) -> RegistryClient {
    let mut b = RegistryClient::builder(reg.url());
    if reg.options().tls {
        b = b.ca_bundle_pem(test_support::certs::CA_PEM);
    }
    if reg.options().htpasswd {
        b = b.auth(RegistryAuth::basic(USER, SecretString::from(PASSWORD)));
    }
    b.build().unwrap()
}

/// Pushes an image (config + layers) and returns its manifest. Pretty-printed JSON, so any
/// re-serialisation on the way would change the digest.
async fn push_image(
    c: &RegistryClient,
    repo: &str,
    tag: &str,
    seed: &str,
    layers: &[Vec<u8>],
) -> Manifest {
    let img = oci_image::TestImage::with_layers(seed, "amd64", layers.to_vec(), Flavor::Oci);
    c.push_blob(repo, img.config.into()).await.unwrap();
    for l in img.layers {
        c.push_blob(repo, l.into()).await.unwrap();
    }
    let m = Manifest::new(img.manifest.media_type, img.manifest.bytes);
    c.put_manifest(repo, tag, &m).await.unwrap();
    m
}

/// Source content: two tags sharing a layer, an index with two children, and a broken image
/// (its layer was deleted after the manifest was pushed).
struct Seeded {
    app1: Manifest,
    app2: Manifest,
    index: Manifest,
}

async fn seed(src: &RegistryClient) -> Seeded {
    let shared = noise("shared", 40_000);
    let app1 = push_image(
        src,
        "team/app",
        "1.0",
        "app1",
        &[shared.clone(), noise("a1", 3000)],
    )
    .await;
    let app2 = push_image(src, "team/app", "2.0", "app2", &[shared, noise("a2", 5000)]).await;
    let amd = push_image(src, "team/multi", "amd-tmp", "amd", &[noise("amd", 2000)]).await;
    let arm = push_image(src, "team/multi", "arm-tmp", "arm", &[noise("arm", 2500)]).await;
    let index_bytes = serde_json::to_vec_pretty(&json!({
    "schemaVersion": 2, "mediaType": media_types::OCI_INDEX,
    "manifests": [
        {"mediaType": media_types::OCI_MANIFEST, "digest": amd.digest, "size": amd.bytes.len(),
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": media_types::OCI_MANIFEST, "digest": arm.digest, "size": arm.bytes.len(),
         "platform": {"architecture": "arm64", "os": "linux"}},
    ]}))
    .unwrap();
    let index = Manifest::new(media_types::OCI_INDEX, index_bytes);
    src.put_manifest("team/multi", "all", &index).await.unwrap();
    let broken_layer = noise("broken", 1500);
    push_image(
        src,
        "team/broken",
        "1",
        "broken",
        std::slice::from_ref(&broken_layer),
    )
    .await;
    src.delete_blob("team/broken", &sha256_digest(&broken_layer))
        .await
        .unwrap();
    Seeded { app1, app2, index }
}

fn omps(args: &[&str], envs: &[(&str, &str)]) -> (i32, Value, String) {
    let mut cmd = Command::cargo_bin("omps").unwrap();
    cmd.arg("mirror").args(args).args(["--output", "json"]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    (out.status.code().unwrap_or(-1), json, stderr)
}

fn status_of<'a>(report: &'a Value, image: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["image"] == image)
        .unwrap_or_else(|| panic!("{image} not in report: {report:#}"))
}

/// The original tool's config keys (first generation), servers as URLs.
fn original_config(dir: &Path, src: &Registry, dst: &Registry, repos: &[&str]) -> PathBuf {
    let mut text = format!(
        "source_server: {}\nsource_token: \"\"\ndestination_server: {}\n\
         destination_quay_user: {USER}\ndestination_quay_password_env: OMPS_TEST_DST_PASSWORD\n\
         failover: false\nrepositories:\n",
        src.url(),
        dst.url()
    );
    for r in repos {
        writeln!(text, "- {r}").unwrap();
    }
    let p = dir.join("sample_config.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn mirror_preserves_digests_skips_broken_and_is_idempotent() {
    let src = registry(false, false);
    let dst = registry(true, false);
    let seeded = seed(&client(&src)).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = original_config(
        dir.path(),
        &src,
        &dst,
        &[
            "team/app:1.0",
            "team/app:2.0",
            "team/broken:1",
            "team/multi:all",
        ],
    );
    let cfg = cfg.to_str().unwrap();
    let env = [("OMPS_TEST_DST_PASSWORD", PASSWORD)];

    let (code, report, stderr) = omps(&["-c", cfg, "--skip-broken-images", "-j", "2"], &env);
    assert_eq!(
        code, 1,
        "a broken image makes the run fail: {report:#}\n{stderr}"
    );
    assert_eq!(report["result"], "failure");
    assert_eq!(report["summary"]["copied"], 3, "{report:#}");
    assert_eq!(report["summary"]["failed"], 1, "{report:#}");
    let broken = status_of(&report, "team/broken:1");
    assert_eq!(broken["status"], "failed");
    assert_eq!(broken["error_kind"], "not_found", "{broken:#}");
    assert!(
        report["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("team/broken:1: ")
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");

    // Digests identical on both sides, as skopeo sees them, and equal to what was pushed.
    for (reference, m) in [
        ("team/app:1.0", &seeded.app1),
        ("team/app:2.0", &seeded.app2),
        ("team/multi:all", &seeded.index),
    ] {
        let raw_src = skopeo::raw_manifest(&src, reference);
        let raw_dst = skopeo::raw_manifest(&dst, reference);
        assert_eq!(raw_src, raw_dst, "{reference}: manifest bytes differ");
        assert_eq!(sha256_digest(&raw_dst), m.digest, "{reference}");
        assert_eq!(status_of(&report, reference)["digest"], m.digest.as_str());
    }
    assert_eq!(
        skopeo::digest(&src, "team/app:1.0"),
        skopeo::digest(&dst, "team/app:1.0")
    );
    assert_eq!(skopeo::digest(&dst, "team/app:2.0"), seeded.app2.digest);

    // Second run: everything already identical, nothing sent.
    let (code, report, _) = omps(&["-c", cfg, "-r", "team/app:1.0", "-j", "1"], &env);
    // The broken image still fails (not skipped this time: later items are not attempted).
    assert_eq!(code, 1);
    assert_eq!(status_of(&report, "team/app:1.0")["status"], "unchanged");
    assert_eq!(status_of(&report, "team/app:2.0")["status"], "unchanged");
    assert_eq!(status_of(&report, "team/broken:1")["status"], "failed");
    assert_eq!(
        status_of(&report, "team/multi:all")["status"],
        "not_attempted"
    );
    assert_eq!(report["summary"]["not_attempted"], 1);

    // A new tag sharing a layer with 1.0: the shared layer is not sent again.
    let shared = noise("shared", 40_000);
    let app3 = push_image(
        &client(&src),
        "team/app",
        "3.0",
        "app3",
        &[shared, noise("a3", 700)],
    )
    .await;
    let (code, report, _) = omps(
        &[
            "-c",
            cfg,
            "--skip-broken-images",
            "-j",
            "1",
            "--tags",
            "3.*",
            "-r",
            "team/app",
        ],
        &env,
    );
    assert_eq!(code, 1, "{report:#}");
    let item = status_of(&report, "team/app:3.0");
    assert_eq!(item["status"], "copied", "{item:#}");
    assert_eq!(item["digest"], app3.digest.as_str());
    assert_eq!(item["blobs_skipped"], 1, "shared layer re-sent: {item:#}");
    assert_eq!(item["blobs_copied"], 2, "{item:#}");
    // The tag filter applies to repositories given without a tag only.
    assert_eq!(status_of(&report, "team/app:2.0")["status"], "unchanged");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn without_skip_broken_the_first_failure_stops_and_credentials_are_needed() {
    let src = registry(false, false);
    let dst = registry(true, false);
    seed(&client(&src)).await;
    let (s, d) = (src.url(), dst.url());
    let base = ["--source", &s, "--destination", &d, "-j", "1"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|x| (*x).to_owned()).collect()
    };
    let args = with(&[
        "-r",
        "team/broken:1",
        "-r",
        "team/multi:all",
        "--username",
        USER,
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, report, _) = omps(&args, &[("OMPS_MIRROR_PASSWORD", PASSWORD)]);
    assert_eq!(code, 1);
    assert_eq!(status_of(&report, "team/broken:1")["status"], "failed");
    assert_eq!(
        status_of(&report, "team/multi:all")["status"],
        "not_attempted"
    );

    // No credentials for the basic-auth destination: refused, reported as unauthorized.
    let args = with(&["-r", "team/app:1.0"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, report, _) = omps(&args, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        status_of(&report, "team/app:1.0")["error_kind"],
        "unauthorized",
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn auto_discovery_from_catalog_and_dry_run_change_nothing() {
    let src = registry(false, false);
    let dst = registry(true, false);
    seeded_simple(&client(&src)).await;
    let (s, d) = (src.url(), dst.url());
    let env = [("OMPS_MIRROR_PASSWORD", PASSWORD)];
    let (code, report, _) = omps(
        &[
            "--source",
            &s,
            "--destination",
            &d,
            "--username",
            USER,
            "--auto-discovery",
            "--tags",
            "v1*",
            "--dry-run",
        ],
        &env,
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["dry_run"], true);
    let images: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap())
        .collect();
    assert_eq!(images, ["one/a:v1", "one/a:v1.1", "two/b:v1"]);
    assert!(
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "planned")
    );
    // Nothing was written.
    let dst_client = client(&dst);
    assert_eq!(dst_client.head_manifest("one/a", "v1").await.unwrap(), None);

    let (code, report, _) = omps(
        &[
            "--source",
            &s,
            "--destination",
            &d,
            "--username",
            USER,
            "--auto-discovery",
            "--org",
            "two",
        ],
        &env,
    );
    assert_eq!(code, 0, "{report:#}");
    let images: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap())
        .collect();
    assert_eq!(images, ["two/b:v1", "two/b:v2"]);
    assert!(
        dst_client
            .head_manifest("two/b", "v2")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(dst_client.head_manifest("one/a", "v1").await.unwrap(), None);
}

async fn seeded_simple(src: &RegistryClient) {
    push_image(src, "one/a", "v1", "a-v1", &[noise("a-v1", 900)]).await;
    push_image(src, "one/a", "v1.1", "a-v11", &[noise("a-v11", 900)]).await;
    push_image(src, "one/a", "v2", "a-v2", &[noise("a-v2", 900)]).await;
    push_image(src, "two/b", "v1", "b-v1", &[noise("b-v1", 900)]).await;
    push_image(src, "two/b", "v2", "b-v2", &[noise("b-v2", 900)]).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn tls_policy_applies_to_preflight_and_copies() {
    let src = registry(false, true);
    let dst = registry(false, false);
    seeded_simple(&client(&src)).await;
    let (s, d) = (src.url(), dst.url());
    // Untrusted certificate: the preflight's GET /v2/ fails before any work, exit 4.
    let (code, report, _) = omps(
        &["--source", &s, "--destination", &d, "-r", "one/a:v1"],
        &[],
    );
    assert_eq!(code, 4, "{report:#}");
    let msg = report["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!(
            "preflight failed for the source registry {}",
            src.host()
        )),
        "{msg}"
    );
    // With the CA bundle, and with verification off, the same copy works.
    let ca = test_support::certs::ca_path();
    let (code, report, _) = omps(
        &[
            "--source",
            &s,
            "--destination",
            &d,
            "-r",
            "one/a:v1",
            "--ca-bundle",
            ca.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(status_of(&report, "one/a:v1")["status"], "copied");
    let (code, report, _) = omps(
        &[
            "--source",
            &s,
            "--destination",
            &d,
            "-r",
            "one/a:v2",
            "--skip-tls-verify",
        ],
        &[],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(status_of(&report, "one/a:v2")["status"], "copied");
}

fn env_usize(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Measurement for the benchmark: `omps mirror` against a shell-style loop of
/// `skopeo copy --all --preserve-digests`, same data, fresh destinations. Small by default (CI
/// runs it with the peer tests); `OMPS_MIRROR_BENCH_REPOS`, `_TAGS`, `_LAYER_KIB` scale it and
/// `OMPS_MIRROR_BENCH_OUT` receives the timings as JSON. Asserts identical digests only; the
/// timings are reported, not asserted.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn bench_mirror_against_skopeo_loop() {
    let repos = env_usize("OMPS_MIRROR_BENCH_REPOS", 3);
    let tags = env_usize("OMPS_MIRROR_BENCH_TAGS", 3);
    let layer = env_usize("OMPS_MIRROR_BENCH_LAYER_KIB", 256) * 1024;
    let src = registry(false, false);
    let dst_omps = registry(false, false);
    let dst_skopeo = registry(false, false);
    let c = client(&src);
    let mut refs = Vec::new();
    for r in 0..repos {
        let shared = noise(&format!("base-{r}"), layer);
        for t in 0..tags {
            let repo = format!("bench/repo{r}");
            let tag = format!("v{t}");
            let own = noise(&format!("own-{r}-{t}"), layer / 4);
            push_image(&c, &repo, &tag, &format!("{r}-{t}"), &[shared.clone(), own]).await;
            refs.push(format!("{repo}:{tag}"));
        }
    }

    let start = Instant::now();
    let (s, d) = (src.url(), dst_omps.url());
    let (code, report, stderr) = omps(
        &[
            "--source",
            &s,
            "--destination",
            &d,
            "--auto-discovery",
            "--discovery",
            "registry",
            "-j",
            "4",
        ],
        &[],
    );
    let omps_time = start.elapsed();
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["summary"]["copied"], refs.len());

    let start = Instant::now();
    for r in &refs {
        skopeo::run(&[
            "copy",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &format!("docker://{}/{r}", src.host()),
            &format!("docker://{}/{r}", dst_skopeo.host()),
        ]);
    }
    let skopeo_time = start.elapsed();

    for r in &refs {
        let want = sha256_digest(&skopeo::raw_manifest(&src, r));
        assert_eq!(
            sha256_digest(&skopeo::raw_manifest(&dst_omps, r)),
            want,
            "{r} (omps)"
        );
        assert_eq!(
            sha256_digest(&skopeo::raw_manifest(&dst_skopeo, r)),
            want,
            "{r} (skopeo)"
        );
    }
    let result = json!({
        "images": refs.len(), "repositories": repos, "tags_per_repository": tags,
        "layer_bytes": layer, "omps_mirror_s": omps_time.as_secs_f64(),
        "skopeo_loop_s": skopeo_time.as_secs_f64(), "digests_identical": true,
    });
    eprintln!("mirror benchmark: {result}");
    if let Some(out) = std::env::var_os("OMPS_MIRROR_BENCH_OUT") {
        std::fs::write(out, serde_json::to_vec_pretty(&result).unwrap()).unwrap();
    }
}
