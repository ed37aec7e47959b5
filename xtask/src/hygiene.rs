//! Dependency hygiene for `cargo xtask ci`: no unused dependency, a build at the declared
//! `rust-version`, and the RustSec advisory check.
//!
//! Each check is a subcommand of this binary (`cargo xtask unused-deps`, `msrv`, `advisories`)
//! so that CI runs it as one more step with its own title and time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::step::{Step, cargo};

/// One dependency edge of a workspace member, as `cargo metadata` resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The member's package name.
    pub member: String,
    /// The name the code uses (`md5` for the package `md-5`).
    pub extern_name: String,
    /// `normal`, `dev` or `build`.
    pub kinds: BTreeSet<String>,
}

/// Workspace members (name, manifest directory) and their dependencies, from `cargo metadata`,
/// without those a member declares as used without being named in the code
/// (`[package.metadata.unused-deps] ignored = ["k8s-openapi"]`, kept for its features).
fn workspace_dependencies(root: &Path) -> Result<(BTreeMap<String, PathBuf>, Vec<Dependency>)> {
    let out = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: Value = serde_json::from_slice(&out.stdout).context("cargo metadata output")?;
    parse_metadata(&meta)
}

fn parse_metadata(meta: &Value) -> Result<(BTreeMap<String, PathBuf>, Vec<Dependency>)> {
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .context("no workspace_members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut dirs = BTreeMap::new();
    let mut names = BTreeMap::new();
    let mut ignored: BTreeSet<(String, String)> = BTreeSet::new();
    for p in meta["packages"].as_array().context("no packages")? {
        let id = p["id"].as_str().unwrap_or_default();
        if members.contains(id) {
            for dep in p["metadata"]["unused-deps"]["ignored"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                ignored.insert((
                    p["name"].as_str().unwrap_or_default().to_owned(),
                    dep.replace('-', "_"),
                ));
            }
            let name = p["name"].as_str().unwrap_or_default().to_owned();
            let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap_or_default());
            dirs.insert(
                name.clone(),
                manifest.parent().map(Path::to_path_buf).unwrap_or_default(),
            );
            names.insert(id.to_owned(), name);
        }
    }
    let mut deps = Vec::new();
    for node in meta["resolve"]["nodes"].as_array().context("no resolve")? {
        let Some(member) = node["id"].as_str().and_then(|id| names.get(id)) else {
            continue;
        };
        for d in node["deps"].as_array().into_iter().flatten() {
            let kinds = d["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|k| k["kind"].as_str().unwrap_or("normal").to_owned())
                .collect();
            let extern_name = d["name"].as_str().unwrap_or_default().to_owned();
            if ignored.contains(&(member.clone(), extern_name.clone())) {
                continue;
            }
            deps.push(Dependency {
                member: member.clone(),
                extern_name,
                kinds,
            });
        }
    }
    Ok((dirs, deps))
}

/// Every `.rs` file below `dir` (skipping `target`).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in listing.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `text` uses the crate `name`: a path `name::`, `use name`, `extern crate name`, or a
/// macro `name!`, with `name` not part of a longer identifier.
pub fn uses_crate(text: &str, name: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(name) {
        let start = from + pos;
        let end = start + name.len();
        from = end;
        let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        if start > 0 && (ident(bytes[start - 1]) || bytes[start - 1] == b':') {
            continue;
        }
        if bytes.get(end).copied().is_some_and(ident) {
            continue;
        }
        let after = &text[end..];
        let before = text[..start].trim_end();
        if after.starts_with("::")
            || after.starts_with('!')
            || before.ends_with("use")
            || before.ends_with("extern crate")
        {
            return true;
        }
    }
    false
}

/// The dependencies no source file of their member uses: normal dependencies are looked for in
/// `src/`, `build.rs`, `benches/` and `examples/`; dev-dependencies anywhere in the package.
pub fn unused_dependencies(root: &Path) -> Result<Vec<String>> {
    let (dirs, deps) = workspace_dependencies(root)?;
    let mut texts: BTreeMap<&str, (String, String)> = BTreeMap::new();
    for (name, dir) in &dirs {
        let mut main = Vec::new();
        for sub in ["src", "benches", "examples"] {
            rust_files(&dir.join(sub), &mut main);
        }
        let build = dir.join("build.rs");
        if build.is_file() {
            main.push(build);
        }
        let mut all = main.clone();
        rust_files(&dir.join("tests"), &mut all);
        let read = |files: &[PathBuf]| {
            files
                .iter()
                .filter_map(|f| std::fs::read_to_string(f).ok())
                .collect::<Vec<_>>()
                .join("\n")
        };
        texts.insert(name, (read(&main), read(&all)));
    }
    let mut unused = Vec::new();
    for d in &deps {
        let Some((main, all)) = texts.get(d.member.as_str()) else {
            continue;
        };
        let used_normally = uses_crate(main, &d.extern_name);
        let used_at_all = used_normally || uses_crate(all, &d.extern_name);
        if d.kinds.contains("normal") && !used_normally {
            let hint = if used_at_all {
                " (only tests use it: make it a dev-dependency)"
            } else {
                ""
            };
            unused.push(format!(
                "{}: dependency `{}` is not used{hint}",
                d.member, d.extern_name
            ));
        } else if !d.kinds.contains("normal") && !used_at_all {
            unused.push(format!(
                "{}: dev/build dependency `{}` is not used",
                d.member, d.extern_name
            ));
        }
    }
    Ok(unused)
}

/// `cargo xtask unused-deps`.
pub fn check_unused(root: &Path) -> Result<()> {
    let unused = unused_dependencies(root)?;
    if unused.is_empty() {
        println!("no unused dependencies");
        return Ok(());
    }
    for u in &unused {
        eprintln!("{u}");
    }
    bail!("{} unused dependencies", unused.len())
}

/// The workspace's declared `rust-version`.
pub fn declared_rust_version(root: &Path) -> Result<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).context("root Cargo.toml")?;
    text.lines()
        .find_map(|l| {
            let l = l.trim();
            let v = l.strip_prefix("rust-version")?.trim().strip_prefix('=')?;
            Some(v.trim().trim_matches('"').to_owned())
        })
        .context("the root Cargo.toml declares no rust-version")
}

/// `1.85` and `1.85.0` are the same version.
fn version_tuple(v: &str) -> [u64; 3] {
    let mut parts = v.split('.').map(|p| p.parse().unwrap_or(0));
    [
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    ]
}

/// Dependencies whose own `rust-version` is newer than ours.
pub fn newer_than(meta: &Value, ours: &str) -> Vec<String> {
    let ours_t = version_tuple(ours);
    meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let rv = p["rust_version"].as_str()?;
            (version_tuple(rv) > ours_t).then(|| {
                format!(
                    "{} {} needs Rust {rv}",
                    p["name"].as_str().unwrap_or_default(),
                    p["version"].as_str().unwrap_or_default()
                )
            })
        })
        .collect()
}

/// `cargo xtask msrv`: every dependency's own `rust-version` is at most ours, then the whole
/// workspace is checked with that toolchain (installed with rustup when missing; where it cannot
/// be installed, the build is skipped with a loud banner).
pub fn msrv(root: &Path) -> Result<()> {
    let version = declared_rust_version(root)?;
    let out = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    let meta: Value = serde_json::from_slice(&out.stdout).context("cargo metadata output")?;
    let newer = newer_than(&meta, &version);
    if !newer.is_empty() {
        bail!(
            "the workspace declares rust-version {version}, but:\n  {}",
            newer.join("\n  ")
        );
    }
    println!("every dependency builds with Rust {version}; checking the workspace with it");
    let toolchain_ok = Command::new("rustup")
        .args(["run", &version, "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !toolchain_ok {
        let installed = Step::new(
            &format!("rustup toolchain install {version}"),
            "rustup",
            root,
        )
        .args(["toolchain", "install", &version, "--profile", "minimal"])
        .run(1, 1);
        // Some build machines reach only the package registries, not the toolchain server:
        // the dependency check above still ran, and the skip is said loudly, never silent.
        if let Err(e) = installed {
            eprintln!(
                "\n!!! MSRV BUILD SKIPPED !!!\n!!! the Rust {version} toolchain cannot be installed \
                 here: {e:#}.\n!!! Every dependency's rust-version was checked against {version}, \
                 but the workspace was NOT compiled with it; run `cargo xtask msrv` where \
                 rustup can download toolchains.\n"
            );
            return Ok(());
        }
    }
    msrv_step(root, &version).run(1, 1).map(drop)
}

fn msrv_step(root: &Path, version: &str) -> Step {
    Step::new(&format!("cargo check with Rust {version}"), "rustup", root)
        .args([
            "run",
            version,
            "cargo",
            "check",
            "--workspace",
            "--all-targets",
            "--locked",
        ])
        // Its own target directory: artifacts of two compilers do not mix.
        .env("CARGO_TARGET_DIR", root.join("target").join("msrv"))
}

/// Where the advisory database snapshot is kept (per checkout, ignored by git).
fn advisory_db(root: &Path) -> PathBuf {
    root.join("target").join("advisory-db")
}

/// The upstream RustSec advisory database.
const ADVISORY_DB_URL: &str = "https://github.com/rustsec/advisory-db";

/// `cargo xtask advisories`: checks `Cargo.lock` against a snapshot of the RustSec advisory
/// database with `cargo audit`. When no snapshot can be had (no network, no `cargo-audit`), it
/// says so loudly and does not fail: the check was not made, and the log must show it.
pub fn advisories(root: &Path, install: bool) -> Result<()> {
    let db = advisory_db(root);
    let fetched = if db.join(".git").is_dir() {
        Command::new("git")
            .args([
                "-c",
                "http.lowSpeedLimit=1000",
                "-c",
                "http.lowSpeedTime=30",
                "-C",
            ])
            .arg(&db)
            .args(["pull", "--ff-only", "--quiet"])
            .status()
            .is_ok_and(|s| s.success())
    } else {
        // A stalled network must not hang CI: git gives up below 1 kB/s for 30 s.
        Command::new("git")
            .args([
                "-c",
                "http.lowSpeedLimit=1000",
                "-c",
                "http.lowSpeedTime=30",
            ])
            .args(["clone", "--depth", "1", "--quiet", ADVISORY_DB_URL])
            .arg(&db)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !db.join(".git").is_dir() {
        skipped(&format!(
            "no snapshot of the RustSec advisory database: {ADVISORY_DB_URL} is not reachable \
             from this machine"
        ));
        return Ok(());
    }
    if !fetched {
        println!(
            "advisory database: could not refresh {}; using the snapshot there",
            db.display()
        );
    }
    let has_audit = Command::new(cargo())
        .args(["audit", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_audit {
        if !install {
            skipped("cargo-audit is not installed (and --no-install was given)");
            return Ok(());
        }
        let installed = Step::new("cargo install cargo-audit", cargo(), root)
            .args(["install", "cargo-audit", "--locked"])
            .run(1, 1);
        if let Err(e) = installed {
            skipped(&format!("cargo-audit could not be installed: {e:#}"));
            return Ok(());
        }
    }
    audit_step(root, &db).run(1, 1).map(drop)
}

fn audit_step(root: &Path, db: &Path) -> Step {
    Step::new("cargo audit (RustSec advisories)", cargo(), root)
        .args(["audit", "--no-fetch", "--deny", "warnings", "--db"])
        .args([db.as_os_str()])
        .args(["--file"])
        .args([root.join("Cargo.lock").as_os_str()])
}

fn skipped(why: &str) {
    eprintln!(
        "\n!!! ADVISORY CHECK SKIPPED !!!\n!!! {why}.\n!!! Cargo.lock was NOT checked against \
         the RustSec advisories; run `cargo xtask advisories` where the database is reachable.\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_uses_are_found_and_lookalikes_are_not() {
        assert!(uses_crate("use serde::Deserialize;", "serde"));
        assert!(uses_crate("#[tokio::test]\nasync fn x() {}", "tokio"));
        assert!(uses_crate("let v = serde_json::json!({});", "serde_json"));
        assert!(uses_crate("extern crate md5;", "md5"));
        assert!(uses_crate(
            "let x = format_args!(\"{}\", 1); url::Url::parse(\"\")",
            "url"
        ));
        // Longer identifiers, paths through other crates and mere words do not count.
        assert!(!uses_crate("use serde_json::Value;", "serde"));
        assert!(!uses_crate("use my_serde::X;", "serde"));
        assert!(!uses_crate("let v = reqwest::Url::parse(x);", "url"));
        assert!(!uses_crate(
            "// the url of the registry\nlet url = 1;",
            "url"
        ));
        assert!(!uses_crate("anyhow is not used here", "anyhow"));
    }

    #[test]
    fn metadata_gives_extern_names_and_kinds() {
        let meta = serde_json::json!({
            "workspace_members": ["a 0.1.0 (path+file:///r/a)"],
            "packages": [
                {"id": "a 0.1.0 (path+file:///r/a)", "name": "a", "manifest_path": "/r/a/Cargo.toml",
                 "metadata": {"unused-deps": {"ignored": ["k8s-openapi"]}}},
                {"id": "md-5 0.10.6", "name": "md-5", "manifest_path": "/x/Cargo.toml", "rust_version": "1.57"},
                {"id": "zip 9.4.1", "name": "zip", "version": "9.4.1", "manifest_path": "/y/Cargo.toml", "rust_version": "1.88"},
            ],
            "resolve": {"nodes": [
                {"id": "a 0.1.0 (path+file:///r/a)", "deps": [
                    {"name": "md5", "pkg": "md-5 0.10.6", "dep_kinds": [{"kind": null}]},
                    {"name": "zip", "pkg": "zip 9.4.1", "dep_kinds": [{"kind": "dev"}]},
                    {"name": "k8s_openapi", "pkg": "k8s-openapi 0.26", "dep_kinds": [{"kind": null}]},
                ]},
            ]},
        });
        let (dirs, deps) = parse_metadata(&meta).unwrap();
        assert_eq!(dirs["a"], PathBuf::from("/r/a"));
        assert_eq!(deps[0].extern_name, "md5");
        assert!(deps[0].kinds.contains("normal"));
        assert!(deps[1].kinds.contains("dev"));
        assert_eq!(
            deps.len(),
            2,
            "the declared feature-only dependency is left out"
        );
        assert_eq!(newer_than(&meta, "1.85"), ["zip 9.4.1 needs Rust 1.88"]);
        assert!(newer_than(&meta, "1.88").is_empty());
        assert!(newer_than(&meta, "1.88.0").is_empty());
        assert_eq!(version_tuple("1.85"), version_tuple("1.85.0"));
    }

    #[test]
    fn the_declared_version_is_read_from_the_root_manifest() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let v = declared_rust_version(root).unwrap();
        assert!(v.starts_with("1."), "{v}");
        let step = msrv_step(Path::new("/r"), "1.89");
        assert_eq!(
            step.command_line(),
            "CARGO_TARGET_DIR=/r/target/msrv rustup run 1.89 cargo check --workspace \
             --all-targets --locked"
        );
    }
}
