//! `omps mirror` without real registries: preflight failures, configuration errors, and
//! auto-discovery through the Quay API with destination organizations and repositories created
//! (wiremock serves both `/api/v1` and `/v2`). Also `omps completions`.

use std::process::Command;

use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SRC_TOKEN: &str = "source-api-token-1";
const DST_TOKEN: &str = "destination-api-token-2";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

async fn server() -> MockServer {
    test_support::mock::server().await
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

fn omps(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("omps"));
    for (k, _) in std::env::vars() {
        if k.starts_with("OMPS_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).envs(env.iter().copied());
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn registry_root(s: &MockServer, status: u16) {
    Mock::given(method("GET"))
        .and(path("/v2/"))
        .respond_with(
            ResponseTemplate::new(status).insert_header("www-authenticate", "Basic realm=\"test\""),
        )
        .mount(s)
        .await;
}

async fn manifest_head(s: &MockServer, repo_tag: &str, d: &str) {
    let (repo, tag) = repo_tag.split_once(':').unwrap();
    Mock::given(method("HEAD"))
        .and(path(format!("/v2/{repo}/manifests/{tag}")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("docker-content-digest", d)
                .insert_header("content-type", "application/vnd.oci.image.manifest.v1+json"),
        )
        .mount(s)
        .await;
}

/// Source: one public repository with two active tags, found through the Quay API.
async fn source() -> MockServer {
    let s = server().await;
    registry_root(&s, 200).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository"))
        .and(query_param("public", "true"))
        .and(header(
            "authorization",
            format!("Bearer {SRC_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "repositories": [{"namespace": "team", "name": "app", "is_public": true}]})))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository/team/app/tag/"))
        .and(query_param("onlyActiveTags", "true"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "tags": [{"name": "1.0"}, {"name": "2.0"}, {"name": "nightly"}],
            "page": 1, "has_additional": false})))
        .expect(1)
        .mount(&s)
        .await;
    manifest_head(&s, "team/app:1.0", &digest('a')).await;
    manifest_head(&s, "team/app:2.0", &digest('b')).await;
    s
}

/// Destination without the organization; the images are already there (so no copy happens).
async fn destination(expect_creates: u64) -> MockServer {
    let d = server().await;
    registry_root(&d, 401).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/team"))
        .and(header(
            "authorization",
            format!("Bearer {DST_TOKEN}").as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error_message": "Not Found"})),
        )
        .expect(1)
        .mount(&d)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/organization/"))
        .and(body_json(json!({"name": "team"})))
        .respond_with(ResponseTemplate::new(201).set_body_json("Created"))
        .expect(expect_creates)
        .mount(&d)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/repository"))
        .and(body_json(json!({"namespace": "team", "repository": "app",
                              "visibility": "public", "description": ""})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"name": "app"})))
        .expect(expect_creates)
        .mount(&d)
        .await;
    manifest_head(&d, "team/app:1.0", &digest('a')).await;
    manifest_head(&d, "team/app:2.0", &digest('b')).await;
    d
}

fn env<'a>() -> [(&'a str, &'a str); 2] {
    [
        ("OMPS_MIRROR_SOURCE_TOKEN", SRC_TOKEN),
        ("OMPS_MIRROR_DESTINATION_TOKEN", DST_TOKEN),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_discovery_creates_missing_orgs_and_repos() {
    let (s, d) = (source().await, destination(1).await);
    let r = omps(
        &[
            "mirror",
            "--source",
            &s.uri(),
            "--destination",
            &d.uri(),
            "--auto-discovery",
            "--tags",
            "?.0",
            "--output",
            "json",
        ],
        &env(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(
        v["organizations"],
        json!([{"name": "team", "status": "created"}])
    );
    assert_eq!(
        v["repositories"],
        json!([{"name": "team/app", "status": "created"}])
    );
    let items: Vec<(&str, &str)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["image"].as_str().unwrap(), i["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        items,
        [("team/app:1.0", "unchanged"), ("team/app:2.0", "unchanged")]
    );
    assert_eq!(v["summary"]["unchanged"], 2);
    for t in [SRC_TOKEN, DST_TOKEN] {
        assert!(!r.stdout.contains(t) && !r.stderr.contains(t));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_plans_namespaces_without_creating() {
    let (s, d) = (source().await, destination(0).await);
    let r = omps(
        &[
            "mirror",
            "--source",
            &s.uri(),
            "--destination",
            &d.uri(),
            "--auto-discovery",
            "--tags",
            "1.*",
            "--dry-run",
        ],
        &env(),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("planned       team\n"), "{}", r.stdout);
    assert!(
        r.stdout.contains("unchanged     team/app:1.0"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("mirror (dry run): 0 copied, 1 unchanged"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("preflight: source"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_failures_are_clear_and_exit_4() {
    let s = server().await;
    registry_root(&s, 200).await;
    let port = closed_port();
    let dst = format!("http://127.0.0.1:{port}");
    let r = omps(
        &[
            "mirror",
            "--source",
            &s.uri(),
            "--destination",
            &dst,
            "-r",
            "a/b:c",
        ],
        &[],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "preflight failed for the destination registry 127.0.0.1:{port}"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("TCP connection"), "{}", r.stderr);
    let r = omps(
        &[
            "mirror",
            "--source",
            &s.uri(),
            "--destination",
            "no-such-host.invalid",
            "-r",
            "a/b:c",
            "--output",
            "json",
            "--preflight-timeout",
            "3",
        ],
        &[],
    );
    assert_eq!(r.code, 4, "{}", r.stdout);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("no-such-host.invalid"), "{msg}");
    // A registry that answers /v2/ with neither 200 nor 401 fails the preflight too.
    let odd = server().await;
    let r = omps(
        &[
            "mirror",
            "--source",
            &odd.uri(),
            "--destination",
            &s.uri(),
            "-r",
            "a/b:c",
        ],
        &[],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("418"), "{}", r.stderr);
}

#[test]
fn configuration_errors_are_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sync.yaml");
    // Every problem of the values at once (a missing server, a URL as a reference), no secret.
    std::fs::write(
        &cfg,
        "source_server: quay-a.example.com\nsource_token: s3cret-literal\nrepositories:\n- team/app:1\n- https://quay-a.example.com/team/app:1\n",
    )
    .unwrap();
    let r = omps(&["mirror", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    for want in ["destination_server (string)", "without a scheme or host"] {
        assert!(r.stderr.contains(want), "missing {want:?}:\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("s3cret-literal"), "{}", r.stderr);
    // A key the formats do not have: refused with its position and the closest known key.
    std::fs::write(
        &cfg,
        "source_server: quay-a.example.com\nsource_tokn: s3cret-literal\nbogus_key: 1\n",
    )
    .unwrap();
    let r = omps(&["mirror", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("line 2, column 1: unknown key `source_tokn`; did you mean `source_token`?"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("s3cret-literal"), "{}", r.stderr);
    let r = omps(&["mirror", "--source", "a.example.com"], &[]);
    assert_eq!(r.code, 2);
    let r = omps(
        &[
            "mirror",
            "--source",
            "a.example.com",
            "--destination",
            "b.example.com",
        ],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nothing to mirror"), "{}", r.stderr);
}

#[test]
fn help_has_examples_and_completions_are_generated() {
    let r = omps(&["mirror", "--help"], &[]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("Examples:") && r.stdout.contains("--skip-broken-images"),
        "{}",
        r.stdout
    );
    let r = omps(&["quay", "--help"], &[]);
    assert!(
        r.stdout.contains("omps quay apply -f quay.yaml"),
        "{}",
        r.stdout
    );
    for shell in ["bash", "zsh", "fish"] {
        let r = omps(&["completions", shell], &[]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(
            r.stdout.contains("mirror") && r.stdout.contains("proxy-cache"),
            "{shell}"
        );
    }
    assert_eq!(omps(&["completions", "klingon"], &[]).code, 2);
}

#[test]
fn hostile_configuration_files_hit_limits_not_memory() {
    let dir = tempfile::tempdir().unwrap();
    // Alias expansion ("billion laughs") under a key the sync ignores: refused by the bounded
    // YAML parser's budget.
    let bomb = test_support::hostile_yaml::alias_bomb(Some("robot_config"));
    let cfg = dir.path().join("bomb.yaml");
    std::fs::write(&cfg, bomb).unwrap();
    let start = std::time::Instant::now();
    let r = omps(&["mirror", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("budget breached"), "{}", r.stderr);
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    // Over the size limit (1 MiB).
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(2 * 1024 * 1024))).unwrap();
    let r = omps(&["mirror", "-c", big.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("larger than"), "{}", r.stderr);
    // A "secret file" that is not one.
    let r = omps(
        &[
            "mirror",
            "--source",
            "a.example.com",
            "--destination",
            "b.example.com",
            "-r",
            "a/b:c",
            "--source-token-file",
            big.to_str().unwrap(),
            "--no-preflight",
        ],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a secret file"), "{}", r.stderr);
}
