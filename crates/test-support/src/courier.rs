//! operator-courier 2.1.11 and its PyYAML as an oracle: one long-lived Python process (the
//! venv's interpreter next to `OMPS_COURIER`) that answers many questions over a pipe, so a
//! differential test can ask thousands of them in seconds.
//!
//! The venv is made by `cargo xtask ci` (`target/courier-venv`). Without `OMPS_COURIER` the
//! oracle panics, so a peer test never skips silently.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

const SCRIPT: &str = include_str!("courier_oracle.py");

/// The operator-courier executable named by `OMPS_COURIER` (panics when unset or missing).
pub fn courier_path() -> PathBuf {
    crate::peers::require(crate::peers::COURIER)
}

/// What `yaml.safe_load` (or libyaml's `CSafeLoader`) did with a text.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Loaded: the typed encoding of the value and its `str()` (`None` when the value holds a
    /// set, whose order Python randomises).
    Value {
        /// The typed encoding (`{"t": type, "v": value}`).
        value: Value,
        /// `str(value)`.
        shown: Option<String>,
    },
    /// A `MarkedYAMLError` (courier: "Courier requires valid input YAML files").
    Marked(String),
    /// Any other Python exception (courier stops with it).
    Raised(String),
}

/// What `operatorcourier.api.build_and_verify` did with a directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Verify {
    /// `valid`, `courier` (an `OpCourierError`: invalid bundle or structural failure) or
    /// `raised` (any other Python exception).
    pub outcome: String,
    /// The exception text (empty when valid).
    pub message: String,
    /// `validation_info` as written with `--validation-output`, if it was written.
    pub report: Option<Value>,
}

impl Verify {
    /// Whether courier's verdict is "invalid" (a report with errors, or no report at all).
    pub fn invalid(&self) -> bool {
        self.outcome != "valid"
    }
}

/// The running oracle process; it ends when dropped.
pub struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    /// Starts the oracle with the Python of the courier venv.
    pub fn start() -> Self {
        Self::start_with(&courier_path().with_file_name("python"))
    }

    /// Starts the oracle with a given Python interpreter.
    pub fn start_with(python: &Path) -> Self {
        let mut child = Command::new(python)
            .args(["-c", SCRIPT])
            // Courier reads files with the locale's encoding; UTF-8 as on any current system.
            .env("PYTHONUTF8", "1")
            .env("PYTHONHASHSEED", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Oracle {
            child,
            stdin,
            stdout,
        }
    }

    fn ask(&mut self, request: &Value) -> Value {
        let mut line = serde_json::to_string(request).expect("a JSON request");
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.flush())
            .expect("the oracle died (stdin closed)");
        let mut answer = String::new();
        let n = self
            .stdout
            .read_line(&mut answer)
            .expect("cannot read from the oracle");
        assert!(n > 0, "the oracle died on {request}");
        serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("bad oracle answer {answer:?}: {e}"))
    }

    fn load_with(&mut self, op: &str, text: &str) -> Load {
        let a = self.ask(&json!({"op": op, "text": text}));
        let error = || a["error"].as_str().unwrap_or_default().to_owned();
        if a["ok"].as_bool() == Some(true) {
            Load::Value {
                value: a["value"].clone(),
                shown: a["str"].as_str().map(str::to_owned),
            }
        } else if a["marked"].as_bool() == Some(true) {
            Load::Marked(error())
        } else {
            Load::Raised(error())
        }
    }

    /// `yaml.safe_load(text)`.
    pub fn load(&mut self, text: &str) -> Load {
        self.load_with("load", text)
    }

    /// `yaml.load(text, Loader=yaml.CSafeLoader)`: libyaml 0.2.5's scanner and parser.
    pub fn load_libyaml(&mut self, text: &str) -> Load {
        self.load_with("load_c", text)
    }

    /// `api.build_and_verify(source_dir=dir, repository=repository)`.
    pub fn verify(&mut self, dir: &Path, repository: Option<&str>) -> Verify {
        let a = self.ask(&json!({
            "op": "verify",
            "dir": dir.to_str().expect("a UTF-8 temporary path"),
            "repository": repository,
        }));
        Verify {
            outcome: a["outcome"].as_str().unwrap_or_default().to_owned(),
            message: a["message"].as_str().unwrap_or_default().to_owned(),
            report: (!a["report"].is_null()).then(|| a["report"].clone()),
        }
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small seeded generator (SplitMix64), so generated cases reproduce from their seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).expect("fits")
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}
