//! `skopeo` against a [`Registry`]: the independent reader that checks what our clients wrote.

use std::process::Command;

use crate::peers;
use crate::registry::Registry;

/// Runs `skopeo <args>`; its stdout, or its stderr as the error.
///
/// # Panics
///
/// When `OMPS_SKOPEO` is unset or the binary cannot be started.
pub fn try_run(args: &[&str]) -> Result<Vec<u8>, String> {
    let bin = peers::require(peers::SKOPEO);
    let out = Command::new(&bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "skopeo {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Runs `skopeo <args>` and returns its stdout.
///
/// # Panics
///
/// When skopeo fails (the message carries its stderr).
pub fn run(args: &[&str]) -> Vec<u8> {
    try_run(args).unwrap_or_else(|e| panic!("{e}"))
}

/// `docker://<host>/<reference>` of an image on `registry`.
pub fn image(registry: &Registry, reference: &str) -> String {
    format!("docker://{}/{reference}", registry.host())
}

/// `skopeo inspect <extra> <image>` with the registry's credentials and `--tls-verify=false`.
fn inspect_args(registry: &Registry, reference: &str, extra: &[&str]) -> Result<Vec<u8>, String> {
    let image = image(registry, reference);
    let creds = registry.credentials();
    let mut args = vec!["inspect", "--tls-verify=false"];
    if let Some(c) = &creds {
        args.extend(["--creds", c.as_str()]);
    }
    args.extend(extra);
    args.push(&image);
    try_run(&args)
}

/// `skopeo inspect --raw`: the manifest bytes exactly as the registry serves them.
///
/// # Panics
///
/// When skopeo fails.
pub fn raw_manifest(registry: &Registry, reference: &str) -> Vec<u8> {
    inspect_args(registry, reference, &["--raw"]).unwrap_or_else(|e| panic!("{e}"))
}

/// `skopeo inspect` as JSON (`Digest`, `Labels`, ...), or skopeo's error.
pub fn try_inspect(registry: &Registry, reference: &str) -> Result<serde_json::Value, String> {
    let out = inspect_args(registry, reference, &[])?;
    serde_json::from_slice(&out).map_err(|e| format!("skopeo inspect printed no JSON: {e}"))
}

/// `skopeo inspect` as JSON.
///
/// # Panics
///
/// When skopeo fails.
pub fn inspect(registry: &Registry, reference: &str) -> serde_json::Value {
    try_inspect(registry, reference).unwrap_or_else(|e| panic!("{e}"))
}

/// The digest skopeo computes for `reference` (of the top manifest or index).
///
/// # Panics
///
/// When skopeo fails.
pub fn digest(registry: &Registry, reference: &str) -> String {
    let out = inspect_args(registry, reference, &["--format", "{{.Digest}}"])
        .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8_lossy(&out).trim().to_owned()
}
