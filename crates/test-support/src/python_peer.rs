//! Python peer processes: locating the interpreter `cargo xtask ci` installed, starting a peer
//! program that announces itself with one JSON line, and running helper programs that answer
//! JSON lines.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// How long a peer may take to announce itself; Greenwave and WaiverDB import a lot, and the
/// build machines are shared.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The directory holding the peer programs (`crates/test-support/peers`).
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// The shared operator fixtures (`../shared/fixtures/operators` from the repository root).
pub fn operator_fixtures() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/operators");
    assert!(
        dir.is_dir(),
        "operator fixtures not found at {} (the shared directory must sit beside the repository)",
        dir.display()
    );
    dir
}

/// The Python interpreter of a peer's virtualenv, from the environment variable `cargo xtask
/// ci` sets. Panics when it is unset or wrong: a peer test never skips silently.
pub fn python(env: &str) -> PathBuf {
    let Some(path) = std::env::var_os(env) else {
        panic!(
            "{env} is not set: this test needs a Python peer installed by `cargo xtask ci` \
             (or run `cargo xtask ci` once and export {env}=<repo>/target/<peer>-venv/bin/python)"
        );
    };
    let path = PathBuf::from(path);
    assert!(path.is_file(), "{env}={} does not exist", path.display());
    path
}

/// A running peer program. Killed when dropped; it also exits by itself when the test process
/// dies, because its standard input (kept open here) closes.
pub struct PeerProcess {
    name: String,
    child: Child,
    stderr_log: PathBuf,
    /// The JSON object the program printed when it was ready.
    pub ready: Value,
}

impl PeerProcess {
    /// Starts `cmd` and waits for its first stdout line, a JSON object. Its stderr goes to
    /// `stderr_log` and is quoted when the start fails.
    pub fn start(name: &str, mut cmd: Command, stderr_log: &Path) -> Self {
        let log = std::fs::File::create(stderr_log).expect("create the peer's stderr log");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {name} peer ({cmd:?}): {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(read.map(|_| line));
        });
        let mut peer = Self {
            name: name.to_owned(),
            child,
            stderr_log: stderr_log.to_owned(),
            ready: Value::Null,
        };
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            Ok(Ok(_)) => peer.fail("exited before it was ready"),
            Ok(Err(e)) => peer.fail(&format!("unreadable stdout: {e}")),
            Err(_) => peer.fail(&format!("not ready after {START_TIMEOUT:?}")),
        };
        peer.ready = serde_json::from_str(&line)
            .unwrap_or_else(|e| peer.fail(&format!("ready line {line:?} is not JSON: {e}")));
        peer
    }

    fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let tail: String = log
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "the {} peer {what}; its stderr ends with:\n{tail}",
            self.name
        );
    }

    /// A string field of the ready line.
    pub fn field(&self, key: &str) -> String {
        self.ready[key]
            .as_str()
            .unwrap_or_else(|| panic!("{} ready line lacks {key}: {}", self.name, self.ready))
            .to_owned()
    }

    /// Everything the program wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a helper program that reads JSON lines on stdin and writes one JSON line per input
/// line (or, with no input, a stream of lines), and returns its output lines. Panics with
/// its stderr when it fails.
pub fn json_lines(python: &Path, script: &Path, args: &[&str], input: &[Value]) -> Vec<Value> {
    let mut child = Command::new(python)
        .arg(script)
        .args(args)
        .current_dir(script.parent().expect("script directory"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut body = String::new();
    for v in input {
        body.push_str(&v.to_string());
        body.push('\n');
    }
    // A writer thread: the helper answers while it reads, so both pipes must move at once.
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
    let out = child.wait_with_output().expect("helper output");
    writer
        .join()
        .expect("writer thread")
        .expect("write helper input");
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}): {}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

/// A `http://127.0.0.1:<port>` URL where nothing listens (the port was just released).
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
