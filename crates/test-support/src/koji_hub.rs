//! The Koji peer: a hub answering through the `koji` package's own marshaller, with a file
//! root serving the builds' archives (`peers/koji/hub.py`, builds in `peers/koji/builds.py`),
//! and the codec and client-library helpers around it.
//!
//! Needs `OMPS_KOJI_PYTHON` (set by `cargo xtask ci`).

use std::process::Command;

use serde_json::Value;

use crate::python_peer::{self, PeerProcess};

/// The environment variable naming the Koji peer's Python.
pub const ENV: &str = "OMPS_KOJI_PYTHON";

/// How the test hub should misbehave.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    /// Seconds the hub waits before each XML-RPC answer.
    pub delay_secs: f64,
    /// Every call answers fault 1014 `ServerOffline` (hub maintenance).
    pub offline: bool,
    /// The hub's admin never created the `operator-manifests` build type, so
    /// `listArchives(type="operator-manifests")` is a fault.
    pub no_operator_manifests_btype: bool,
}

/// A running test hub and its file root; both stop when dropped.
pub struct KojiHub {
    /// The XML-RPC endpoint, `http://127.0.0.1:<port>/kojihub`.
    pub hub_url: String,
    /// The file root (`topurl`), `http://127.0.0.1:<port>/kojifiles`.
    pub topurl: String,
    /// The version of the `koji` package answering.
    pub koji_version: String,
    process: PeerProcess,
    _dir: tempfile::TempDir,
}

impl KojiHub {
    /// Starts a well-behaved hub.
    pub fn start() -> Self {
        Self::start_with(&HubOptions::default())
    }

    /// Starts a hub with `options`.
    pub fn start_with(options: &HubOptions) -> Self {
        let python = python_peer::python(ENV);
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut cmd = Command::new(python);
        cmd.arg(python_peer::peers_dir().join("koji/hub.py"))
            .arg("--fixtures")
            .arg(python_peer::operator_fixtures())
            .arg("--topdir")
            .arg(dir.path())
            .current_dir(python_peer::peers_dir().join("koji"));
        if options.delay_secs > 0.0 {
            cmd.args(["--delay", &options.delay_secs.to_string()]);
        }
        if options.offline {
            cmd.arg("--offline");
        }
        if options.no_operator_manifests_btype {
            cmd.arg("--no-operator-manifests-btype");
        }
        let process = PeerProcess::start("Koji hub", cmd, &dir.path().join("hub.stderr"));
        Self {
            hub_url: process.field("hub"),
            topurl: process.field("topurl"),
            koji_version: process.field("koji_version"),
            process,
            _dir: dir,
        }
    }

    /// What the hub wrote to stderr (tracebacks of unexpected errors).
    pub fn stderr(&self) -> String {
        self.process.stderr()
    }
}

/// One generated XML-RPC document and what Koji's own client reads from it.
#[derive(Debug, Clone)]
pub struct EncodedByKoji {
    /// A `methodResponse` written by `koji.xmlrpcplus.dumps`.
    pub xml: String,
    /// The tagged value (see `peers/koji/codec.py`) Python's parser reads back from `xml`.
    pub expected: Value,
}

/// `count` random values encoded by Koji's marshaller, from a fixed `seed`.
pub fn encode_with_koji(seed: u64, count: usize) -> Vec<EncodedByKoji> {
    let python = python_peer::python(ENV);
    let script = python_peer::peers_dir().join("koji/codec.py");
    python_peer::json_lines(
        &python,
        &script,
        &["generate", &seed.to_string(), &count.to_string()],
        &[],
    )
    .into_iter()
    .map(|line| EncodedByKoji {
        xml: line["xml"].as_str().expect("xml").to_owned(),
        expected: line["expected"].clone(),
    })
    .collect()
}

/// Decodes `methodCall` documents with the parser the hub uses; per document
/// `{"method", "params": [tagged]}` or `{"error"}`.
pub fn decode_with_python(calls: &[String]) -> Vec<Value> {
    let python = python_peer::python(ENV);
    let script = python_peer::peers_dir().join("koji/codec.py");
    let input: Vec<Value> = calls
        .iter()
        .map(|xml| serde_json::json!({"xml": xml}))
        .collect();
    python_peer::json_lines(&python, &script, &["decode"], &input)
}

/// Makes calls with the official client library (`koji.ClientSession`); each call is
/// `{"method", "args": [tagged], "kwargs": {name: tagged}}`, each answer `{"result": tagged}`
/// or `{"fault": {"code", "string"}}`.
pub fn call_with_koji_library(hub_url: &str, calls: &[Value]) -> Vec<Value> {
    let python = python_peer::python(ENV);
    let script = python_peer::peers_dir().join("koji/read.py");
    python_peer::json_lines(&python, &script, &[hub_url], calls)
}
