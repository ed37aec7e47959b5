//! Peer harness for these tests: a Debian `docker-registry` on a free loopback port and
//! `skopeo`, both found through the variables `cargo xtask ci` sets.
//!
//! TEMPORARY: the shared registry/skopeo harness is being moved into `crates/test-support`
//! (issue 17). When it lands, replace `Registry::start` and `skopeo` with it; the tests call
//! nothing else from here.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quay_client::RegistryClient;

fn env_path(var: &str) -> PathBuf {
    let value = std::env::var_os(var).unwrap_or_else(|| {
        panic!(
            "{var} is not set: these peer tests need it (path of the binary). Install the Debian \
             packages docker-registry and skopeo and run e.g. OMPS_DOCKER_REGISTRY=/usr/bin/docker-registry \
             OMPS_SKOPEO=/usr/bin/skopeo cargo nextest run -p catalog-image --run-ignored all"
        )
    });
    let path = PathBuf::from(value);
    assert!(path.is_file(), "{var}={} is not a file", path.display());
    path
}

/// A `docker-registry` process, killed on drop.
pub struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    pub async fn start() -> Self {
        let bin = env_path("OMPS_DOCKER_REGISTRY");
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(&bin)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let reg = Registry { child, port, dir };
        let client = reg.client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.ping().await.is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(reg.dir.path().join("registry.log"))
                    .unwrap_or_default();
                panic!("docker-registry did not answer within 30 s; log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        reg
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> RegistryClient {
        RegistryClient::builder(format!("http://{}", self.host()))
            .chunk_size(64 * 1024)
            .build()
            .unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs skopeo; panics with its error output on failure.
pub fn skopeo(args: &[&str]) -> Vec<u8> {
    let bin = env_path("OMPS_SKOPEO");
    let out = Command::new(&bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
