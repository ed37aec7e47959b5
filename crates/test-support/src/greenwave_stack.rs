//! The Greenwave peer: the released `greenwave` and `waiverdb` applications with a ResultsDB
//! stand-in (`peers/greenwave/stack.py`), gating on the policy in
//! `peers/greenwave/policies/omps.yaml` (context `omps_push`, product version `cvp`, one
//! required test case, [`TESTCASE`]).
//!
//! Needs `OMPS_GREENWAVE_PYTHON` (set by `cargo xtask ci`).

use std::process::Command;

use serde_json::json;

use crate::python_peer::{self, PeerProcess};

/// The environment variable naming the Greenwave peer's Python.
pub const ENV: &str = "OMPS_GREENWAVE_PYTHON";
/// The decision context of the test policy.
pub const CONTEXT: &str = "omps_push";
/// The product version of the test policy.
pub const PRODUCT_VERSION: &str = "cvp";
/// The test case the policy requires.
pub const TESTCASE: &str = "cvp.operator.manifests";

/// Results and waivers the stack starts with.
#[derive(Debug, Clone, Default)]
pub struct Seed {
    /// `(nvr, testcase, outcome)`, e.g. `PASSED`, `FAILED`.
    pub results: Vec<(String, String, String)>,
    /// `(nvr, testcase)` waived for [`PRODUCT_VERSION`] through WaiverDB's API.
    pub waivers: Vec<(String, String)>,
}

impl Seed {
    /// Adds a result for the policy's test case.
    #[must_use]
    pub fn result(mut self, nvr: &str, outcome: &str) -> Self {
        self.results
            .push((nvr.to_owned(), TESTCASE.to_owned(), outcome.to_owned()));
        self
    }

    /// Waives the policy's test case for `nvr`.
    #[must_use]
    pub fn waiver(mut self, nvr: &str) -> Self {
        self.waivers.push((nvr.to_owned(), TESTCASE.to_owned()));
        self
    }
}

/// A running Greenwave, WaiverDB and ResultsDB stand-in; all stop when dropped.
pub struct GreenwaveStack {
    /// Greenwave's base URL (`/api/v1.0/...` below it).
    pub greenwave_url: String,
    /// WaiverDB's base URL.
    pub waiverdb_url: String,
    /// The ResultsDB stand-in's base URL.
    pub resultsdb_url: String,
    /// The Greenwave release running.
    pub greenwave_version: String,
    process: PeerProcess,
    _dir: tempfile::TempDir,
}

impl GreenwaveStack {
    /// Starts the stack with `seed`.
    pub fn start(seed: &Seed) -> Self {
        let python = python_peer::python(ENV);
        let dir = tempfile::tempdir().expect("temporary directory");
        let seed_file = dir.path().join("seed.json");
        let doc = json!({
            "results": seed.results.iter().map(|(nvr, testcase, outcome)| {
                json!({"nvr": nvr, "testcase": testcase, "outcome": outcome})
            }).collect::<Vec<_>>(),
            "waivers": seed.waivers.iter().map(|(nvr, testcase)| {
                json!({"nvr": nvr, "testcase": testcase, "product_version": PRODUCT_VERSION})
            }).collect::<Vec<_>>(),
        });
        std::fs::write(&seed_file, doc.to_string()).expect("write the seed");
        let peers = python_peer::peers_dir().join("greenwave");
        let mut cmd = Command::new(python);
        cmd.arg(peers.join("stack.py"))
            .arg("--workdir")
            .arg(dir.path())
            .arg("--policies")
            .arg(peers.join("policies"))
            .arg("--seed")
            .arg(&seed_file)
            .current_dir(dir.path());
        let process = PeerProcess::start("Greenwave", cmd, &dir.path().join("stack.stderr"));
        Self {
            greenwave_url: process.field("greenwave"),
            waiverdb_url: process.field("waiverdb"),
            resultsdb_url: process.field("resultsdb"),
            greenwave_version: process.field("greenwave_version"),
            process,
            _dir: dir,
        }
    }

    /// What the stack logged so far.
    pub fn stderr(&self) -> String {
        self.process.stderr()
    }
}
