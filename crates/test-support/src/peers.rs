//! Locating the peers (`docker-registry`, `skopeo`, operator-courier, openssl) that `cargo xtask
//! ci` installs and names in environment variables.
//!
//! A peer test panics with the variable's name and the fix when its peer is missing, so it can
//! never pass by skipping.

use std::path::PathBuf;

/// Path of Debian's `docker-registry` (distribution 2.8).
pub const DOCKER_REGISTRY: &str = "OMPS_DOCKER_REGISTRY";
/// Path of `skopeo`.
pub const SKOPEO: &str = "OMPS_SKOPEO";
/// Path of the operator-courier 2.1.11 executable.
pub const COURIER: &str = "OMPS_COURIER";
/// Path of `openssl`; `/usr/bin/openssl` when unset.
pub const OPENSSL: &str = "OMPS_OPENSSL";

/// The executable named by `var`, which must be set and name a file.
///
/// # Panics
///
/// When the variable is unset or does not name a file: the message says what to install and
/// how `cargo xtask ci` runs the test.
pub fn require(var: &str) -> PathBuf {
    let value = std::env::var_os(var).unwrap_or_else(|| {
        panic!(
            "{var} is not set: this peer test needs the path of its peer binary. `cargo xtask ci` \
             installs the peers (Debian packages docker-registry, skopeo, openssl; operator-courier \
             in a virtualenv) and sets the variables; by hand e.g. \
             {DOCKER_REGISTRY}=/usr/bin/docker-registry {SKOPEO}=/usr/bin/skopeo \
             cargo nextest run -p <crate> --run-ignored all"
        )
    });
    let path = PathBuf::from(value);
    assert!(path.is_file(), "{var}={} is not a file", path.display());
    path
}

/// `openssl`: from [`OPENSSL`], else `/usr/bin/openssl`.
///
/// # Panics
///
/// When neither names a file.
pub fn openssl() -> PathBuf {
    let path =
        std::env::var_os(OPENSSL).map_or_else(|| PathBuf::from("/usr/bin/openssl"), PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found: install Debian's openssl or set {OPENSSL} to its path",
        path.display()
    );
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "OMPS_TEST_SUPPORT_NEVER_SET is not set")]
    fn a_missing_peer_panics_with_the_variable_name() {
        require("OMPS_TEST_SUPPORT_NEVER_SET");
    }
}
