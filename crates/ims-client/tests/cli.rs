//! The helper's command line (spec §2): options in both places, environment fall-backs, mounted
//! files, credential precedence, usage errors, and whole runs against the fakes.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::Parser;
use common::{CANARY_SECRET, MemStore, fake};
use ims_client::cli::{
    Cli, Common, Group, ImageCommand, S3Verify, oauth_settings, redacted_args, run, s3_verify,
};
use secrecy::ExposeSecret;

const JOB: &str = "e3a46cf3-1150-4bbf-b7c9-504993917f7d";

fn args(list: &[&str]) -> Vec<OsString> {
    std::iter::once("ims-helper")
        .chain(list.iter().copied())
        .map(OsString::from)
        .collect()
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn common_of(list: &[&str]) -> Common {
    Cli::try_parse_from(args(list)).unwrap().common
}

#[test]
fn common_options_are_honoured_before_and_after_the_subcommand_words() {
    let before = common_of(&[
        "-t",
        "30",
        "--ims-url",
        "http://x/apis/ims",
        "image",
        "set_job_status",
        JOB,
        "success",
    ]);
    let after = common_of(&[
        "image",
        "set_job_status",
        JOB,
        "success",
        "-t",
        "30",
        "--ims-url",
        "http://x/apis/ims",
    ]);
    for c in [before, after] {
        assert_eq!(c.timeout, 30);
        assert_eq!(c.ims_url, "http://x/apis/ims");
    }
    let defaults = common_of(&["image", "set_job_status", JOB, "success"]);
    assert_eq!(defaults.timeout, 720);
    assert_eq!(
        defaults.ims_url,
        "https://api-gw-service-nmn.local/apis/ims"
    );
    let cli = Cli::try_parse_from(args(&[
        "image",
        "upload_artifacts",
        "img",
        "-r",
        "a",
        "-k",
        "b",
        "--arch",
        "aarch64",
    ]))
    .unwrap();
    match cli.command {
        Group::Image {
            command: ImageCommand::UploadArtifacts(u),
        } => {
            assert_eq!(u.rootfs.unwrap(), std::path::Path::new("a"));
            assert_eq!(u.job_id, None);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn usage_errors_exit_2_with_a_failure_document() {
    let e = env(&[]);
    for list in [
        &["image", "upload_artifacts", "img", "-r", "a", "-r", "b"][..],
        &[
            "image",
            "upload_artifacts",
            "img",
            "-r",
            "a",
            "--arch",
            "ppc64",
        ][..],
        &["recipe", "upload", "r", "f.tgz", "--distro", "sle15"][..],
        &["image", "set_job_status", JOB, "done"][..],
        &["image", "set_job_status", &format!("{JOB}-1"), "success"][..],
        &[
            "image",
            "upload_artifacts",
            "img",
            &format!("{JOB}x"),
            "-r",
            "/dev/null",
        ][..],
        &[
            "image",
            "upload_artifacts",
            "img",
            "-k",
            "/nonexistent-kernel",
        ][..],
    ] {
        let out = run(args(list), &e, std::future::pending()).await;
        assert_eq!(out.exit_code, 2, "{list:?}: {out:?}");
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(doc["result"], "failure", "{list:?}");
        assert!(out.stderr.is_some());
    }
    let help = run(args(&["--help"]), &e, std::future::pending()).await;
    assert_eq!(help.exit_code, 0);
    assert!(help.stdout.contains("image") && help.stdout.contains("recipe"));
}

#[test]
fn credentials_come_from_flag_then_environment_then_mounted_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client-id"), "file-id\n").unwrap();
    std::fs::write(dir.path().join("client-secret"), "  file-secret \n").unwrap();
    std::fs::write(dir.path().join("endpoint"), "https://kc/token\n").unwrap();
    let d = dir.path().to_str().unwrap();

    let files = oauth_settings(
        &common_of(&["image", "set_job_status", JOB, "success"]),
        &env(&[("OAUTH_CONFIG_DIR", d)]),
    )
    .unwrap();
    assert_eq!(files.client_id, "file-id");
    assert_eq!(files.client_secret.expose_secret(), "file-secret");
    assert_eq!(files.token_url, "https://kc/token");

    let vars = env(&[
        ("OAUTH_CONFIG_DIR", d),
        ("OAUTH_CLIENT_ID", "env-id"),
        ("OAUTH_CLIENT_SECRET", "env-secret"),
    ]);
    let from_env = oauth_settings(
        &common_of(&["image", "set_job_status", JOB, "success"]),
        &vars,
    )
    .unwrap();
    assert_eq!(from_env.client_id, "env-id");
    assert_eq!(from_env.client_secret.expose_secret(), "env-secret");
    assert_eq!(from_env.token_url, "https://kc/token");

    let secret_file = dir.path().join("s");
    std::fs::write(&secret_file, "flag-file-secret\n").unwrap();
    let flags = common_of(&[
        "--oauth-client-id",
        "flag-id",
        "--oauth-client-secret-file",
        secret_file.to_str().unwrap(),
        "image",
        "set_job_status",
        JOB,
        "success",
    ]);
    let from_flags = oauth_settings(&flags, &vars).unwrap();
    assert_eq!(from_flags.client_id, "flag-id");
    assert_eq!(from_flags.client_secret.expose_secret(), "flag-file-secret");
    assert!(!format!("{from_flags:?}").contains("flag-file-secret"));

    // A present directory with a missing file names the file.
    std::fs::remove_file(dir.path().join("endpoint")).unwrap();
    let e = oauth_settings(
        &common_of(&["image", "set_job_status", JOB, "success"]),
        &env(&[("OAUTH_CONFIG_DIR", d)]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("endpoint"), "{e}");
    assert!(e.is_usage());
}

#[test]
fn s3_ssl_verify_values() {
    for off in ["False", "off", "NO", "f", "0"] {
        assert_eq!(s3_verify(off), S3Verify::Off, "{off}");
    }
    for on in ["True", "on", "yes", "t", "1"] {
        assert_eq!(s3_verify(on), S3Verify::SystemRoots, "{on}");
    }
    assert_eq!(
        s3_verify("/etc/ca.pem"),
        S3Verify::CaFile("/etc/ca.pem".into())
    );
}

#[test]
fn secret_options_are_redacted_for_logging() {
    let a = args(&[
        "--oauth-client-secret",
        CANARY_SECRET,
        "--s3-secret-key=abc",
        "image",
    ]);
    let shown = redacted_args(&a).join(" ");
    assert!(
        !shown.contains(CANARY_SECRET) && !shown.contains("abc"),
        "{shown}"
    );
    assert!(shown.contains("--s3-secret-key=[REDACTED]"));
    // The parsed command line holds them as secrets: its Debug form does not show them.
    let cli = Cli::try_parse_from(args(&[
        "--oauth-client-secret",
        CANARY_SECRET,
        "--s3-secret-key",
        "abc-s3-secret",
        "image",
        "set_job_status",
        JOB,
        "success",
    ]))
    .unwrap();
    let shown = format!("{cli:?}");
    assert!(
        !shown.contains(CANARY_SECRET) && !shown.contains("abc-s3-secret"),
        "{shown}"
    );
}

#[tokio::test]
async fn set_job_status_runs_end_to_end_with_environment_credentials() {
    let fake = fake(MemStore::default().reader()).await;
    fake.add_job(JOB);
    let vars = env(&[
        ("OAUTH_CLIENT_ID", test_support::ims_fake::CLIENT_ID),
        ("OAUTH_CLIENT_SECRET", CANARY_SECRET),
        ("OAUTH_CLIENT_ENDPOINT", &fake.token_url()),
        ("IMS_JOB_ID", JOB),
        ("OAUTH_CONFIG_DIR", "/nonexistent-dir"),
    ]);
    let ims_url = fake.ims_url();
    let out = run(
        args(&[
            "image",
            "set_job_status",
            "building_image",
            "--ims-url",
            &ims_url,
        ]),
        &vars,
        std::future::pending(),
    )
    .await;
    // set_job_status needs both positionals.
    assert_eq!(out.exit_code, 2, "{out:?}");

    let out = run(
        args(&[
            "image",
            "set_job_status",
            JOB,
            "building_image",
            "--ims-url",
            &ims_url,
        ]),
        &vars,
        std::future::pending(),
    )
    .await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["ims_job_record"]["status"], "building_image");
    assert_eq!(doc["result"], "success");
    assert!(!out.stdout.contains(CANARY_SECRET));

    // A job IMS does not know: exit 1 with the problem detail.
    let other = "0c1a7c95-2a60-492c-bc81-cc225b4ee46a";
    let out = run(
        args(&[
            "image",
            "set_job_status",
            other,
            "error",
            "--ims-url",
            &ims_url,
        ]),
        &vars,
        std::future::pending(),
    )
    .await;
    assert_eq!(out.exit_code, 1, "{out:?}");
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("Requested record does not exist"),
        "{doc}"
    );
}

#[tokio::test]
async fn token_auth_is_basic_by_default_and_form_fields_on_request() {
    let fake = fake(MemStore::default().reader()).await;
    fake.add_job(JOB);
    let vars = env(&[
        ("OAUTH_CLIENT_ID", test_support::ims_fake::CLIENT_ID),
        ("OAUTH_CLIENT_SECRET", CANARY_SECRET),
        ("OAUTH_CLIENT_ENDPOINT", &fake.token_url()),
        ("OAUTH_CONFIG_DIR", "/nonexistent-dir"),
    ]);
    let ims_url = fake.ims_url();
    let token_requests = |fake: &test_support::ims_fake::ImsFake| {
        fake.log()
            .into_iter()
            .filter(|l| l.method == "POST" && l.path == "/token")
            .collect::<Vec<_>>()
    };
    for (extra, basic) in [(None, true), (Some("basic"), true), (Some("body"), false)] {
        let before = token_requests(&fake).len();
        let mut list = vec![
            "image",
            "set_job_status",
            JOB,
            "creating",
            "--ims-url",
            &ims_url,
        ];
        if let Some(mode) = extra {
            list.extend(["--token-auth", mode]);
        }
        let out = run(args(&list), &vars, std::future::pending()).await;
        assert_eq!(out.exit_code, 0, "{extra:?}: {out:?}");
        let sent = token_requests(&fake);
        assert_eq!(sent.len(), before + 1, "one token request per run");
        let token = sent.last().unwrap();
        let has_basic = token
            .headers
            .to_ascii_lowercase()
            .contains("authorization: basic ");
        assert_eq!(has_basic, basic, "{extra:?}: {}", token.headers);
        assert_eq!(
            token.body.contains("client_secret="),
            !basic,
            "{extra:?}: the secret is in the form only when asked"
        );
        assert!(token.body.contains("grant_type=client_credentials"));
    }
    let out = run(
        args(&[
            "image",
            "set_job_status",
            JOB,
            "creating",
            "--token-auth",
            "header",
        ]),
        &vars,
        std::future::pending(),
    )
    .await;
    assert_eq!(out.exit_code, 2, "{out:?}");
}

#[tokio::test]
async fn the_signal_decides_the_exit_status_of_an_interrupted_run() {
    use ims_client::cli::{Hooks, Signal, run_with};
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    // Large enough that hashing is still under way when the signal arrives (already delivered).
    std::fs::write(&rootfs, vec![7u8; 4 << 20]).unwrap();
    let e = env(&[("OAUTH_CONFIG_DIR", "/nonexistent-dir")]);
    for (signal, code) in [(Signal::Interrupt, 130), (Signal::Terminate, 143)] {
        let out = run_with(
            args(&[
                "image",
                "upload_artifacts",
                "img",
                "-r",
                rootfs.to_str().unwrap(),
            ]),
            &e,
            std::future::ready(signal),
            Hooks::default(),
        )
        .await;
        assert_eq!(out.exit_code, code, "{signal:?}: {out:?}");
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(doc["result"], "failure");
        assert!(
            doc["error"].as_str().unwrap().contains("interrupted"),
            "{doc}"
        );
    }
}
