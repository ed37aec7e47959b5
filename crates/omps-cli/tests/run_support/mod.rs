//! Runs the real binaries (`omps`, `ims-helper`) from async tests whose fakes live on the test's
//! runtime: a clean environment, a time bound, and the output as text.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

/// No run of the binary in these tests takes this long, even on a loaded machine.
pub const RUN_LIMIT: Duration = Duration::from_secs(180);

// One `Run` type for every test of the binary: the Quay tests' own.
#[path = "../quay_support/mod.rs"]
mod quay_support;
pub use quay_support::Run;

/// A command for `bin` with an environment free of the variables these tests set.
pub fn command(bin: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin);
    for (k, _) in std::env::vars() {
        let ours = k.starts_with("OMPS_")
            || k.starts_with("S3_")
            || k.starts_with("OAUTH_")
            || [
                "KUBECONFIG",
                "IMS_JOB_ID",
                "LOG_LEVEL",
                "CA_CERT",
                "RUST_LOG",
                "AWS_REGION",
            ]
            .contains(&k.as_str());
        if ours {
            cmd.env_remove(k);
        }
    }
    // No kubeconfig of the machine's user may be picked up.
    cmd.env("HOME", std::env::temp_dir().join("omps-cli-tests-no-home"));
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    cmd
}

/// Runs `bin args` with `env` to completion.
pub async fn run(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = command(bin);
    cmd.args(args).envs(env.iter().copied());
    let out = tokio::time::timeout(RUN_LIMIT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{bin} {args:?} did not finish within {RUN_LIMIT:?}"))
        .expect("run the binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Starts `cmd`, waits until a stderr line contains `marker`, sends `signal` (`INT`, `TERM`)
/// and returns the finished run.
pub async fn run_and_signal(mut cmd: tokio::process::Command, marker: &str, signal: &str) -> Run {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start the binary");
    let mut stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let reading = tokio::spawn(async move {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).await.unwrap();
        out
    });
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let found = tokio::time::timeout(RUN_LIMIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(marker) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "{marker:?} never appeared on stderr:\n{seen}"
    );
    let pid = child.id().expect("running").to_string();
    let kill = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let rest = tokio::time::timeout(RUN_LIMIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
        }
    })
    .await;
    assert!(rest.is_ok(), "no exit after SIG{signal}:\n{seen}");
    let status = tokio::time::timeout(RUN_LIMIT, child.wait())
        .await
        .expect("exit after the signal")
        .unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&reading.await.unwrap()).into_owned(),
        stderr: seen,
    }
}

/// A path as `&str` (the tests' temporary paths are UTF-8).
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `bin args` with stdout and stderr on a pseudo-terminal (through util-linux `script`),
/// as a person at a terminal would; returns everything the terminal received.
pub async fn run_on_terminal(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let quoted: Vec<String> = std::iter::once(bin)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    // A fixed size, so progress lines are drawn the same on every machine.
    let line = format!("stty cols 160 rows 40; exec {}", quoted.join(" "));
    let mut cmd = command("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .envs(env.iter().copied());
    let out = tokio::time::timeout(RUN_LIMIT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{bin} {args:?} did not finish within {RUN_LIMIT:?}"))
        .expect("run script(1)");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
