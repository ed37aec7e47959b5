//! `cargo xtask ci` and `cargo xtask e2e`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::peers::{self, Peers};
use crate::step::{Step, cargo};

/// Which tests `cargo nextest run` should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tests {
    /// Everything, including the `#[ignore]`d peer tests.
    All,
    /// Only the hermetic tests (a dev machine without the peers).
    Hermetic,
    /// Only the peer tests.
    PeersOnly,
}

/// Fails early, with the fix, when cargo-nextest is missing (else only step 3 would fail).
fn require_nextest() -> Result<()> {
    let ok = std::process::Command::new(cargo())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        bail!(
            "cargo-nextest is not installed; install it with `cargo install cargo-nextest --locked`"
        );
    }
    Ok(())
}

pub fn ci(root: &Path, install: bool) -> Result<()> {
    let start = Instant::now();
    require_nextest()?;
    let peers = peers::ensure(root, install)?;
    let missing = peers.missing();
    let tests = if missing.is_empty() {
        Tests::All
    } else {
        Tests::Hermetic
    };
    let tmpfs = tmpfs_mountable();
    let result = run_all(&ci_steps(root, &peers, tests, install, tmpfs));
    if !tmpfs {
        eprintln!(
            "\nWARNING: this machine cannot mount a tmpfs, so omps-server's \
             `the_binary_on_a_full_tmpfs_degrades_and_recovers` only checked that it cannot \
             (the write-point fault injector in the same file still ran)."
        );
    }
    if tests == Tests::Hermetic {
        eprintln!(
            "\nWARNING: the tests that need {} were NOT run (--no-install and not found). \
             `cargo xtask ci` without --no-install runs them.",
            missing.join(", ")
        );
    }
    println!(
        "==> cargo xtask ci took {:.0}s",
        start.elapsed().as_secs_f64()
    );
    result
}

pub fn e2e(root: &Path, install: bool) -> Result<()> {
    require_nextest()?;
    let peers = peers::ensure(root, install)?;
    let missing = peers.missing();
    if !missing.is_empty() {
        bail!(
            "e2e needs {}; run without --no-install to install them",
            missing.join(", ")
        );
    }
    run_all(&[nextest(root, &peers, Tests::PeersOnly), fuzz_replay(root)])
}

/// A short bounded fuzz run on stable: the regression inputs of every target in `fuzz/`, then
/// random mutations for a few seconds per target (`cargo +nightly fuzz run` is the long form,
/// see docs/security.md).
fn fuzz_replay(root: &Path) -> Step {
    Step::new(
        "fuzz targets: regressions + 10 s of random inputs each",
        cargo(),
        root,
    )
    .args([
        "test",
        "--release",
        "--locked",
        "--manifest-path",
        "fuzz/Cargo.toml",
    ])
    .env("OMPS_FUZZ_SECONDS", "10")
}

/// This binary, to run its own checks as steps.
fn xtask(root: &Path, title: &str, command: &str) -> Step {
    let exe = std::env::current_exe().unwrap_or_else(|_| "xtask".into());
    Step::new(title, exe, root).args([command])
}

/// Whether `mount -t tmpfs` works here (root with the capability). When it does, the disk-full
/// test on a real tmpfs is required to run instead of being allowed to skip.
fn tmpfs_mountable() -> bool {
    let Ok(dir) = tempfile_dir() else {
        return false;
    };
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if mounted {
        let _ = std::process::Command::new("umount").arg(&dir).status();
    }
    let _ = std::fs::remove_dir(&dir);
    mounted
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("xtask-tmpfs-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn ci_steps(root: &Path, peers: &Peers, tests: Tests, install: bool, tmpfs: bool) -> Vec<Step> {
    let mut advisories = xtask(root, "RustSec advisories", "advisories");
    if !install {
        advisories = advisories.args(["--no-install"]);
    }
    vec![
        Step::new("format check", cargo(), root).args(["fmt", "--all", "--", "--check"]),
        Step::new("clippy", cargo(), root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
        xtask(root, "no unused dependencies", "unused-deps"),
        // The fuzz crate has its own lock file, which drifts silently when workspace crates
        // change their dependencies; `--locked` refuses a stale one.
        Step::new("fuzz lock file is current", cargo(), root).args([
            "fetch",
            "--locked",
            "--manifest-path",
            "fuzz/Cargo.toml",
        ]),
        Step::new("docs (warnings denied)", cargo(), root)
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
        {
            let step = nextest(root, peers, tests);
            if tmpfs {
                step.env("OMPS_REQUIRE_TMPFS", "1")
            } else {
                step
            }
        },
        Step::new("doctests", cargo(), root).args(["test", "--workspace", "--doc", "--locked"]),
        xtask(root, "build at the declared rust-version", "msrv"),
        advisories,
    ]
}

fn nextest(root: &Path, peers: &Peers, tests: Tests) -> Step {
    let (title, ignored) = match tests {
        Tests::All => ("tests (all, including peer tests)", "all"),
        Tests::Hermetic => ("tests (hermetic only; peers missing)", "default"),
        Tests::PeersOnly => ("peer tests (ignored tests only)", "only"),
    };
    // Our profile adds a kill timeout for hung tests and disables fail-fast.
    let mut tool_config = std::ffi::OsString::from("xtask:");
    tool_config.push(root.join("xtask/nextest.toml"));
    let mut step = Step::new(title, cargo(), root)
        .args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--tool-config-file",
        ])
        .args([tool_config.as_os_str()])
        .args(["--profile", "xtask-ci", "--run-ignored", ignored])
        // The memory benchmarks are `cargo xtask bench`'s (release build, minutes each).
        .args([
            "-E",
            "not (binary_id(omps-server::memory) and test(/^bench_/))",
        ]);
    for (k, v) in peers.env() {
        step = step.env(k, v);
    }
    step
}

/// Runs every step even after a failure (a format slip should not hide a failing test), then
/// fails if any step failed.
fn run_all(steps: &[Step]) -> Result<()> {
    let mut results: Vec<(&str, Result<Duration>)> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let r = step.run(i + 1, steps.len());
        if let Err(e) = &r {
            eprintln!("==> {e:#}");
        }
        results.push((&step.title, r));
    }
    println!("\n==> summary");
    let mut failed = Vec::new();
    for (title, r) in &results {
        if let Ok(d) = r {
            println!("    ok      {title} ({:.1}s)", d.as_secs_f64());
        } else {
            println!("    FAILED  {title}");
            failed.push(*title);
        }
    }
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_peers() -> Peers {
        Peers {
            courier: Some("/r/target/courier-venv/bin/operator-courier".into()),
            docker_registry: Some("/usr/bin/docker-registry".into()),
            skopeo: Some("/usr/bin/skopeo".into()),
            python: Vec::new(),
        }
    }

    fn without_cargo_path(s: &Step) -> String {
        let line = s.command_line();
        let cargo = cargo();
        let cargo = cargo.to_string_lossy();
        line.replace(&*cargo, "cargo")
    }

    #[test]
    fn ci_runs_every_check_in_order_and_every_cargo_call_is_locked() {
        let steps = ci_steps(Path::new("/r"), &all_peers(), Tests::All, true, false);
        let lines: Vec<String> = steps.iter().map(without_cargo_path).collect();
        let exe = std::env::current_exe().unwrap();
        let exe = exe.to_string_lossy();
        assert_eq!(
            lines,
            [
                "cargo fmt --all -- --check".to_owned(),
                "cargo clippy --workspace --all-targets --locked -- -D warnings".to_owned(),
                format!("{exe} unused-deps"),
                "cargo fetch --locked --manifest-path fuzz/Cargo.toml".to_owned(),
                "RUSTDOCFLAGS='-D warnings' cargo doc --workspace --no-deps --locked".to_owned(),
                "OMPS_COURIER=/r/target/courier-venv/bin/operator-courier \
                 OMPS_DOCKER_REGISTRY=/usr/bin/docker-registry OMPS_SKOPEO=/usr/bin/skopeo \
                 cargo nextest run --workspace --locked --tool-config-file \
                 xtask:/r/xtask/nextest.toml --profile xtask-ci --run-ignored all \
                 -E 'not (binary_id(omps-server::memory) and test(/^bench_/))'"
                    .to_owned(),
                "cargo test --workspace --doc --locked".to_owned(),
                format!("{exe} msrv"),
                format!("{exe} advisories"),
            ]
        );
        assert!(steps.iter().all(|s| s.cwd == Path::new("/r")));
        // `cargo fmt` has no --locked (it resolves nothing); every other cargo call has it.
        for line in lines
            .iter()
            .filter(|l| l.contains("cargo ") && !l.contains(" fmt "))
        {
            assert!(line.contains("--locked"), "{line}");
        }
        assert!(
            fuzz_replay(Path::new("/r"))
                .command_line()
                .contains("--locked")
        );
        let offline = ci_steps(Path::new("/r"), &all_peers(), Tests::All, false, false);
        assert!(
            offline
                .last()
                .unwrap()
                .command_line()
                .ends_with("advisories --no-install")
        );
    }

    #[test]
    fn a_mountable_tmpfs_makes_the_tmpfs_test_required() {
        let with = ci_steps(Path::new("/r"), &all_peers(), Tests::All, true, true);
        let without = ci_steps(Path::new("/r"), &all_peers(), Tests::All, true, false);
        let tests = |steps: &[Step]| {
            steps
                .iter()
                .find(|s| s.command_line().contains("nextest run"))
                .unwrap()
                .env_value("OMPS_REQUIRE_TMPFS")
                .map(std::ffi::OsStr::to_owned)
        };
        assert_eq!(tests(&with), Some("1".into()));
        assert_eq!(tests(&without), None);
    }

    #[test]
    fn missing_peers_mean_hermetic_tests_only() {
        let step = nextest(Path::new("/r"), &Peers::default(), Tests::Hermetic);
        assert!(step.command_line().contains("--run-ignored default -E"));
        assert!(step.envs.is_empty());
    }

    #[test]
    fn e2e_runs_only_ignored_tests_with_peer_env() {
        let step = nextest(Path::new("/r"), &all_peers(), Tests::PeersOnly);
        assert!(step.command_line().contains("--run-ignored only -E"));
        assert_eq!(
            step.env_value("OMPS_SKOPEO").unwrap(),
            std::ffi::OsStr::new("/usr/bin/skopeo")
        );
    }

    #[test]
    fn run_all_runs_every_step_and_reports_failures() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let steps = [
            Step::new("first fails", "sh", dir.path()).args(["-c", "exit 1"]),
            Step::new("second runs", "sh", dir.path())
                .args(["-c", "touch \"$M\""])
                .env("M", &marker),
        ];
        let e = run_all(&steps).unwrap_err().to_string();
        assert_eq!(e, "failed: first fails");
        assert!(marker.exists(), "later steps must still run");
        run_all(&steps[1..]).unwrap();
    }
}
