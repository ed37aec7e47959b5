//! `moto` in server mode as a real S3-compatible peer on 127.0.0.1.
//!
//! `cargo xtask ci` installs moto into a virtualenv under `target/` and sets
//! [`MOTO_ENV`] to its `moto_server`; a test panics through [`crate::peers::require`] when it is
//! unset. Moto accepts any credentials and keeps everything in
//! memory, so each [`MotoServer`] starts empty and is killed when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable holding the path of `moto_server`.
pub const MOTO_ENV: &str = "OMPS_MOTO_SERVER";

/// How long moto may take to start on a loaded two-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `moto_server`, killed on drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
    tls: bool,
}

impl MotoServer {
    /// Starts moto on a free port and waits until it answers.
    ///
    /// # Panics
    ///
    /// When [`MOTO_ENV`] is unset (run the tests through `cargo xtask ci`, which installs the
    /// peer) or moto does not come up within a minute.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts moto speaking HTTPS with the test server certificate of [`crate::certs`]. The
    /// plain-HTTP helpers of this type (`create_bucket`, `list_keys`, …) do not work on it.
    ///
    /// # Panics
    ///
    /// As [`MotoServer::start`].
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        let bin = crate::peers::require(MOTO_ENV);
        let port = free_port();
        let mut cmd = Command::new(&bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        if tls {
            cmd.arg("-c")
                .arg(crate::certs::server_cert_path())
                .arg("-k")
                .arg(crate::certs::server_key_path());
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut server = Self { child, port, tls };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // Over TLS an accepted connection is the best plain-socket readiness signal.
            let ready = if tls {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            } else {
                raw_request(port, "GET", "/", b"").is_some_and(|(status, _)| status == 200)
            };
            if ready {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto_server exited during start-up: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:<port>`, or `https://…` for [`MotoServer::start_tls`].
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto needs no signature).
    ///
    /// # Panics
    ///
    /// When moto refuses.
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) =
            raw_request(self.port, "PUT", &format!("/{bucket}"), b"").expect("moto did not answer");
        assert_eq!(
            status,
            200,
            "create bucket {bucket}: {}",
            String::from_utf8_lossy(&body)
        );
    }

    /// An object's bytes, or `None` when it does not exist (an unsigned GET; moto allows it).
    pub fn get_object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        get_object(self.port, bucket, key)
    }

    /// A closure giving object bytes by bucket and key, for fakes that must see the store.
    pub fn object_reader(&self) -> impl Fn(&str, &str) -> Option<Vec<u8>> + Send + Sync + 'static {
        let port = self.port;
        move |bucket: &str, key: &str| get_object(port, bucket, key)
    }

    /// The `<Key>`s of a bucket under `prefix` (ListObjectsV2, up to 1000).
    ///
    /// # Panics
    ///
    /// When moto does not answer 200.
    pub fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (status, body) = raw_request(
            self.port,
            "GET",
            &format!("/{bucket}?list-type=2&prefix={prefix}"),
            b"",
        )
        .expect("moto did not answer");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        xml_values(&String::from_utf8_lossy(&body), "Key")
    }

    /// The upload ids of multipart uploads still open in a bucket (`GET ?uploads`).
    ///
    /// # Panics
    ///
    /// When moto does not answer 200.
    pub fn open_multipart_uploads(&self, bucket: &str) -> Vec<String> {
        let (status, body) = raw_request(self.port, "GET", &format!("/{bucket}?uploads"), b"")
            .expect("moto did not answer");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        xml_values(&String::from_utf8_lossy(&body), "UploadId")
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

fn get_object(port: u16, bucket: &str, key: &str) -> Option<Vec<u8>> {
    match raw_request(port, "GET", &format!("/{bucket}/{key}"), b"")? {
        (200, body) => Some(body),
        _ => None,
    }
}

/// Every text of `<tag>…</tag>` in a flat XML document.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|s| s.split_once(&close).map(|(v, _)| v.to_owned()))
        .collect()
}

/// One HTTP/1.0 exchange (the server closes the connection, so the body ends at EOF).
fn raw_request(port: u16, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    // Moto checks no signature but refuses anonymous object reads, so any SigV4-shaped
    // Authorization header does.
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, \
         SignedHeaders=host, Signature=0\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status_line = std::str::from_utf8(&raw[..split])
        .ok()?
        .lines()
        .next()?
        .to_owned();
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, raw[split + 4..].to_vec()))
}
