//! The real `omps-server` binary on a free 127.0.0.1 port: started in its own temporary
//! directory (data directory, `TMPDIR`, log file), waited for until its health route answers,
//! stopped with SIGTERM on request and killed (by its own PID) when dropped.
//!
//! The binary's path is a parameter: `env!("CARGO_BIN_EXE_omps-server")` exists only in the
//! server crate's own tests.
//!
//! ```no_run
//! // In the server's tests: `OmpsServer::builder(env!("CARGO_BIN_EXE_omps-server"))`.
//! let server = test_support::server::OmpsServer::builder("target/debug/omps-server")
//!     .env("OMPS_MAX_CONTENT_LENGTH", "16777216")
//!     .start();
//! println!("{}", server.base());
//! let (status, logs) = server.stop();
//! assert!(status.success(), "{logs}");
//! ```

use std::ffi::OsString;
use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long [`ServerBuilder::start`] waits for the first line and for the health route.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`OmpsServer::stop`] waits for the process to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the server's log (stderr) goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// A file in the server's directory, read by [`OmpsServer::logs`]. A file, not a pipe: a
    /// chatty server must never block on a full pipe buffer.
    File,
    /// Discarded.
    Null,
}

/// Options of one server process; see [`OmpsServer::builder`].
#[derive(Debug)]
pub struct ServerBuilder {
    binary: PathBuf,
    subcommand: Vec<OsString>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    data_dir: Option<PathBuf>,
    log: Log,
}

impl ServerBuilder {
    /// Words put before every other argument: `serve` runs the server as `omps serve`.
    #[must_use]
    pub fn subcommand(mut self, word: impl Into<OsString>) -> Self {
        self.subcommand.push(word.into());
        self
    }

    /// An extra command-line argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// `--config <path>`.
    #[must_use]
    pub fn config(self, path: impl AsRef<Path>) -> Self {
        self.arg("--config").arg(path.as_ref())
    }

    /// An environment variable of the server process.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Several environment variables.
    #[must_use]
    pub fn envs<K: Into<OsString>, V: Into<OsString>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in vars {
            self.env.push((k.into(), v.into()));
        }
        self
    }

    /// The local store's directory (default: `data` in the server's temporary directory).
    #[must_use]
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Where the log goes (default [`Log::File`]).
    #[must_use]
    pub fn log(mut self, log: Log) -> Self {
        self.log = log;
        self
    }

    fn command(&self, dir: &Path, listen: bool) -> Command {
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).expect("create the server's TMPDIR");
        let mut cmd = Command::new(&self.binary);
        cmd.args(&self.subcommand);
        if listen {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.arg("--data-dir")
            .arg(self.data_dir.clone().unwrap_or_else(|| dir.join("data")))
            .args(&self.args)
            .env("TMPDIR", &tmp)
            // The caller's own configuration must not leak into a test server.
            .env_remove("OMPS_CONFIG")
            .env_remove("OMPS_CONF_FILE")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the binary to completion without `--listen` (for `--check-config` and refused
    /// configurations); bounded by [`START_TIMEOUT`].
    pub fn output(self) -> Output {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let mut child = self
            .command(dir.path(), false)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        let deadline = Instant::now() + START_TIMEOUT;
        while child.try_wait().expect("wait for the server").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not exit within {START_TIMEOUT:?}",
                    self.binary.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().expect("read the server's output")
    }

    /// Starts the server and waits until it listens and its health route answers (any status:
    /// a test may configure unhealthy upstreams on purpose). Panics with the log on failure.
    pub fn start(self) -> OmpsServer {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let log_path = dir.path().join("server.log");
        let stderr = match self.log {
            Log::File => Stdio::from(std::fs::File::create(&log_path).expect("create the log")),
            Log::Null => Stdio::null(),
        };
        let mut child = self
            .command(dir.path(), true)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        // The first line names the real port; read it on a thread so a silent server cannot
        // hang the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = OmpsServer {
            child,
            base: String::new(),
            addr: String::new(),
            data_dir: self.data_dir.unwrap_or_else(|| dir.path().join("data")),
            log: (self.log == Log::File).then_some(log_path),
            dir,
        };
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            panic!(
                "the server did not start (first line {line:?}); log:\n{}",
                server.logs()
            );
        };
        base.clone_into(&mut server.base);
        base.trim_start_matches("http://")
            .clone_into(&mut server.addr);
        let deadline = Instant::now() + START_TIMEOUT;
        while health_status(&server.addr).is_none() {
            assert!(
                Instant::now() < deadline && server.alive(),
                "the server's health route did not answer; log:\n{}",
                server.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

/// The status of `GET /v1/health/ping` at `addr`, or `None` when nothing answers.
pub fn health_status(addr: &str) -> Option<u16> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    stream
        .write_all(
            format!("GET /v1/health/ping HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Every file under `dir` (recursively), relative to it, sorted; empty when `dir` is missing.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(listing) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in listing.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Whether `rel` (relative to a spool root's parent) is the lock file that marks a server's own
/// spool directory (`omps-spool/instance-*/lock`) as in use: not a leftover.
pub fn is_spool_lock(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    matches!(parts.as_slice(), ["omps-spool", instance, "lock"] if instance.starts_with("instance-"))
}

/// A running `omps-server`; killed when dropped.
#[derive(Debug)]
pub struct OmpsServer {
    child: Child,
    base: String,
    addr: String,
    data_dir: PathBuf,
    log: Option<PathBuf>,
    dir: tempfile::TempDir,
}

impl OmpsServer {
    /// Options for the binary at `binary` (pass `env!("CARGO_BIN_EXE_omps-server")`).
    pub fn builder(binary: impl Into<PathBuf>) -> ServerBuilder {
        ServerBuilder {
            binary: binary.into(),
            subcommand: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            data_dir: None,
            log: Log::File,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The local store's directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's `TMPDIR` (uploads are spooled there).
    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// Files the server left in its `TMPDIR` (spooled uploads, extracted files), not counting
    /// the lock file of its own spool directory.
    pub fn leftover_files(&self) -> Vec<String> {
        files_under(&self.tmp_dir())
            .into_iter()
            .filter(|f| !is_spool_lock(f))
            .collect()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    /// Everything logged so far (empty with [`Log::Null`]).
    pub fn logs(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// Peak resident set size of the process in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status")
    }

    /// SIGTERM, then the exit status and the whole log; panics when the process does not exit
    /// within [`STOP_TIMEOUT`].
    pub fn stop(mut self) -> (ExitStatus, String) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                return (status, self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM; log:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OmpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
