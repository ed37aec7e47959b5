//! `omps quay apply` against a stateful fake Quay: the first run converges, the second run
//! reports no change and sends no mutating request; `--dry-run` changes nothing.

mod quay_support;

use quay_support::{TOKEN, fake_quay, quay, quay_env, server};

const DESIRED: &str = "\
organizations:
  team-a: {present: true, email: team-a@example.com}
  old-team: {present: false}
robots:
  builder: {type: org, org_name: team-a, description: CI builds}
  me_ci: {type: personal}
proxycache:
  cache:
    org_name: existing
    upstream_registry: registry.example.com
    upstream_registry_username: reader
    upstream_registry_password_env: OMPS_TEST_UPSTREAM
    expiration_s: 3600
";

fn write(dir: &tempfile::TempDir, text: &str) -> String {
    let p = dir.path().join("quay.yaml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_is_idempotent_and_dry_run_changes_nothing() {
    let s = server().await;
    let fake = fake_quay();
    {
        let mut st = fake.state();
        st.orgs
            .extend(["old-team".to_owned(), "existing".to_owned()]);
    }
    fake.mount(&s).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, DESIRED);
    let env = [("OMPS_TEST_UPSTREAM", "upstream-pa55")];

    let r = quay_env(
        &s,
        Some(TOKEN),
        &["--output", "json", "apply", "-f", &file, "--dry-run"],
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["changes"].as_array().unwrap().len(), 5, "{v:#}");
    assert!(
        v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "planned")
    );
    assert!(fake.state().mutations.is_empty(), "dry run mutated");

    let r = quay_env(&s, Some(TOKEN), &["apply", "-f", &file], &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("done: create organization team-a"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("done: delete organization old-team"),
        "{}",
        r.stdout
    );
    r.assert_no_secret("upstream-pa55");
    let first = fake.state().mutations.clone();
    assert_eq!(first.len(), 5, "{first:?}");

    let r = quay_env(&s, Some(TOKEN), &["apply", "-f", &file], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("no changes"), "{}", r.stdout);
    assert_eq!(
        fake.state().mutations,
        first,
        "second run sent a mutating request"
    );
    let r = quay_env(
        &s,
        Some(TOKEN),
        &["--output", "json", "apply", "-f", &file],
        &env,
    );
    let v = r.json();
    assert_eq!(v["no_changes"], true);
    assert_eq!(v["result"], "success");
    assert_eq!(v["unchanged"].as_array().unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_file_is_rejected_before_any_call() {
    let s = server().await;
    let fake = fake_quay();
    fake.mount(&s).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "organisations:\n  a: {}\nrobots:\n  x: {type: org}\n");
    let r = quay(&s, Some(TOKEN), &["apply", "-f", &file]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("unknown key `organisations`; did you mean `organizations`?"),
        "{}",
        r.stderr
    );
    let file = write(&dir, "organizations:\n  a: {}\nrobots:\n  x: {type: org}\n");
    let r = quay(&s, Some(TOKEN), &["apply", "-f", &file]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("needs org_name"), "{}", r.stderr);
    assert!(s.received_requests().await.unwrap().is_empty());
    let file = write(&dir, "a: [unclosed\n");
    assert_eq!(quay(&s, Some(TOKEN), &["apply", "-f", &file]).code, 2);
}
