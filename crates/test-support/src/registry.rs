//! A real Debian `docker-registry` (distribution 2.8) on a free loopback port, started from a
//! private temporary directory and killed (by its own process id) when dropped.
//!
//! Optional TLS with the [`certs`] server certificate, and optional htpasswd
//! Basic authentication with the fixed test user [`USER`] / [`PASSWORD`].

use std::fmt::Write as _;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{certs, peers};

/// User name of the htpasswd entry.
pub const USER: &str = "testuser";
/// Password of [`USER`].
pub const PASSWORD: &str = "testpass";
/// bcrypt of [`PASSWORD`] (cost 5): a fixed test credential, so no `htpasswd` tool is needed.
const HTPASSWD: &str = "testuser:$2b$05$HVLy87T7.1KCIFySfuGxneU0ZczPERjVjbtA.7v.4OC4kxuuEIZaS\n";

/// How long a registry may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// What to start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct RegistryOptions {
    /// Serve HTTPS with the test server certificate.
    pub tls: bool,
    /// Require Basic authentication as [`USER`] / [`PASSWORD`].
    pub htpasswd: bool,
}

impl RegistryOptions {
    /// Sets [`RegistryOptions::tls`].
    #[must_use]
    pub fn tls(mut self, yes: bool) -> Self {
        self.tls = yes;
        self
    }

    /// Sets [`RegistryOptions::htpasswd`].
    #[must_use]
    pub fn htpasswd(mut self, yes: bool) -> Self {
        self.htpasswd = yes;
        self
    }
}

/// A running `docker-registry`.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    options: RegistryOptions,
}

impl Registry {
    /// A plain-HTTP registry without authentication, deletes enabled.
    ///
    /// # Panics
    ///
    /// When `OMPS_DOCKER_REGISTRY` is unset, or the registry does not answer within 20 s (the
    /// message carries its log).
    pub fn start() -> Self {
        Self::start_with(RegistryOptions::default())
    }

    /// A registry with `options`.
    ///
    /// # Panics
    ///
    /// As [`Registry::start`].
    pub fn start_with(options: RegistryOptions) -> Self {
        Self::start_inner(options, None)
    }

    /// A plain-HTTP registry in token mode: its challenge names `realm` (a token server such as
    /// `registry_token::TokenServer`), and it accepts the JWTs signed with the test server key
    /// ([`certs`]) for the given `service` and `issuer`.
    ///
    /// # Panics
    ///
    /// As [`Registry::start`].
    pub fn start_with_token_auth(realm: &str, service: &str, issuer: &str) -> Self {
        let auth = format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    \
             rootcertbundle: {}\n",
            certs::ca_path().display()
        );
        Self::start_inner(RegistryOptions::default(), Some(auth))
    }

    fn start_inner(options: RegistryOptions, auth: Option<String>) -> Self {
        let bin = peers::require(peers::DOCKER_REGISTRY);
        let dir = tempfile::tempdir().expect("a temporary directory");
        // Binding port 0 and releasing it picks a free port; the tiny race is acceptable in tests.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
             delete:\n    enabled: true\n  cache:\n    blobdescriptor: inmemory\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if options.tls {
            let _ = write!(
                config,
                "  tls:\n    certificate: {}\n    key: {}\n",
                certs::server_cert_path().display(),
                certs::server_key_path().display()
            );
        }
        if options.htpasswd {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, HTPASSWD).expect("write htpasswd");
            let _ = write!(
                config,
                "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                htpasswd.display()
            );
        }
        if let Some(auth) = auth {
            config.push_str(&auth);
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write the registry configuration");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("create the log");
        let child = Command::new(&bin)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("clone the log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        // Built at once so a failed start still kills the process (Drop).
        let registry = Self {
            child,
            port,
            dir,
            options,
        };
        registry.wait_ready();
        registry
    }

    /// Waits until the registry answers `GET /v2/` (plain HTTP) or accepts TCP (TLS).
    fn wait_ready(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            let ready = if self.options.tls {
                std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            } else {
                crate::http::get(&self.host(), "/v2/")
                    .is_ok_and(|(status, _)| status == 200 || status == 401)
            };
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not answer on {} within {} s; log:\n{}",
            self.url(),
            START_TIMEOUT.as_secs(),
            self.log()
        );
    }

    /// `http://127.0.0.1:<port>` or `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>`, as image references name the registry.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the registry was started with.
    pub fn options(&self) -> RegistryOptions {
        self.options
    }

    /// `user:password` when the registry requires authentication.
    pub fn credentials(&self) -> Option<String> {
        self.options.htpasswd.then(|| format!("{USER}:{PASSWORD}"))
    }

    /// Where the registry keeps repositories (`<root>/docker/registry/v2/repositories`): tests
    /// put a plain file at a repository's path there to make it unwritable (which works
    /// as root too, unlike permissions).
    pub fn repositories_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data/docker/registry/v2/repositories")
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
