//! `omps push --koji <nvr>` against the Python peers of `test-support`: the Koji hub on the
//! `koji` package's marshaller with its file root, and the released Greenwave with WaiverDB
//! and a ResultsDB stand-in. In-process (`--direct`, the server configuration file) and through
//! `omps serve`.
//!
//! Ignored by default: they need `OMPS_KOJI_PYTHON` and `OMPS_GREENWAVE_PYTHON`, set by
//! `cargo xtask ci`, and panic without them.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use test_support::greenwave_stack::{self, GreenwaveStack, Seed};
use test_support::koji_hub::KojiHub;
use test_support::server::OmpsServer;

const TYPEINFO: &str = "foo-operator-bundle-container-1.0-3";
const LEGACY_DOT: &str = "etcd-operator-metadata-container-0.9.4-7";
const UNGATED: &str = "ungated-operator-container-1.0-1";

fn write_config(dir: &Path, hub: &KojiHub, greenwave: &GreenwaveStack) -> std::path::PathBuf {
    let file = dir.join("omps.toml");
    std::fs::write(
        &file,
        format!(
            "kojihub_url = {:?}\nkojiroot_url = {:?}\n\n[greenwave]\nurl = {:?}\n\
             context = {:?}\nproduct_version = {:?}\n",
            hub.hub_url,
            hub.topurl,
            greenwave.greenwave_url,
            greenwave_stack::CONTEXT,
            greenwave_stack::PRODUCT_VERSION
        ),
    )
    .unwrap();
    file
}

fn omps() -> Command {
    let mut c = Command::cargo_bin("omps").unwrap();
    c.env("OMPS_AUTH", "basic c2VjcmV0LXRva2Vu")
        .env_remove("OMPS_CONFIG")
        .env_remove("OMPS_URL");
    c
}

#[test]
#[ignore = "needs the Koji and Greenwave peers (OMPS_KOJI_PYTHON, OMPS_GREENWAVE_PYTHON)"]
fn push_koji_direct_against_the_peers() {
    let hub = KojiHub::start();
    let gw = GreenwaveStack::start(
        &Seed::default()
            .result(TYPEINFO, "PASSED")
            .result(LEGACY_DOT, "PASSED"),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &hub, &gw);
    let data = dir.path().join("data");
    let direct = |args: &[&str]| {
        let mut c = omps();
        c.args(["push", "--direct", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(args);
        c
    };

    direct(&["--koji", TYPEINFO, "--org", "cli"])
        .assert()
        .success()
        .stdout("pushed cli/etcd 1.0.0\n");
    // The legacy archive directly in the build's logs directory, v1 route, explicit version.
    let out = direct(&[
        "--koji",
        LEGACY_DOT,
        "--org",
        "cli",
        "--repo",
        "etcd",
        "--version",
        "5.0.0",
        "--output",
        "json",
    ])
    .assert()
    .success()
    .get_output()
    .stdout
    .clone();
    let body: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(body["nvr"], LEGACY_DOT);
    assert_eq!(body["version"], "5.0.0");
    assert_eq!(body["extracted_files"].as_array().unwrap().len(), 24);

    // Refusals: exit 1 for 4xx, 3 for 5xx, the error id and message on stderr.
    direct(&["--koji", UNGATED, "--org", "cli"])
        .assert()
        .code(1)
        .stderr(format!(
            "error: GreenwaveUnsatisfiedError: Policies for nvr {UNGATED} were not satisfied\n"
        ));
    direct(&["--koji", "failed-operator-container-1.0-1", "--org", "cli"])
        .assert()
        .code(1)
        .stderr(
            "error: KojiBuildNotComplete: Build failed-operator-container-1.0-1 is not complete \
             (state FAILED)\n",
        );
    direct(&["--koji", "no-such-build-1.0-1", "--org", "cli"])
        .assert()
        .code(1)
        .stderr("error: KojiNVRBuildNotFound: NVR not found: no-such-build-1.0-1\n");
    direct(&["--koji", "badsum-operator-container-1.0-1", "--org", "cli"])
        .assert()
        .code(3)
        .stderr("error: KojiError: Checksum mismatch for operator_manifests.zip\n");
    // The unsatisfied decision, echoed whole in JSON output.
    let out = direct(&["--koji", UNGATED, "--org", "cli", "--output", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let body: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(body["greenwave_response"]["policies_satisfied"], false);
    assert_eq!(
        body["greenwave_response"]["unsatisfied_requirements"][0]["type"],
        "test-result-missing"
    );
}

#[test]
#[ignore = "needs the Koji and Greenwave peers (OMPS_KOJI_PYTHON, OMPS_GREENWAVE_PYTHON)"]
fn push_koji_through_omps_serve_with_a_waiver() {
    let hub = KojiHub::start();
    // No result for this build, but WaiverDB waives the required test: Greenwave lets it pass.
    let gw = GreenwaveStack::start(&Seed::default().waiver(UNGATED));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &hub, &gw);
    let server = OmpsServer::builder(assert_cmd::cargo::cargo_bin("omps"))
        .subcommand("serve")
        .config(&config)
        .data_dir(dir.path().join("data"))
        .start();

    omps()
        .env("OMPS_URL", server.base())
        .args([
            "push",
            "--koji",
            UNGATED,
            "--org",
            "served",
            "--version",
            "1.2.3",
        ])
        .assert()
        .success()
        .stdout("pushed served/etcd 1.2.3\n");
    omps()
        .env("OMPS_URL", server.base())
        .args(["push", "--koji", "plain-container-1.0-1", "--org", "served"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "KojiNotAnOperatorImage: Not an operator image: plain-container-1.0-1",
        ));
}
