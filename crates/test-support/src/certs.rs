//! The test certificate authority and a server certificate it signed, for `127.0.0.1` and
//! `localhost`, valid until 2126. The key is published on purpose: it protects nothing.
//!
//! Used by the TLS variants of the peers (`docker-registry`, `openssl s_server`) and by the
//! builder tests that check a PEM CA bundle is accepted.

use std::path::PathBuf;

/// The CA certificate (PEM).
pub const CA_PEM: &[u8] = include_bytes!("../certs/test-ca.pem");

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("certs")
        .join(name)
}

/// Path of the CA certificate, for command lines (`--ca-bundle`).
pub fn ca_path() -> PathBuf {
    path("test-ca.pem")
}

/// Path of the server certificate (PEM), signed by the CA, for `127.0.0.1` and `localhost`.
pub fn server_cert_path() -> PathBuf {
    path("test-server.pem")
}

/// Path of the server's private key (PEM).
pub fn server_key_path() -> PathBuf {
    path("test-server.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_pem() {
        assert!(CA_PEM.starts_with(b"-----BEGIN CERTIFICATE-----"));
        assert_eq!(std::fs::read(ca_path()).unwrap(), CA_PEM);
        let cert = std::fs::read_to_string(server_cert_path()).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        let key = std::fs::read_to_string(server_key_path()).unwrap();
        assert!(key.contains("PRIVATE KEY-----"));
    }
}
