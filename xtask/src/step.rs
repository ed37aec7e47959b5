//! External commands as data, so the exact command lines can be unit-tested and printed.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One external command with a human title.
#[derive(Debug, Clone)]
pub struct Step {
    pub title: String,
    pub program: OsString,
    pub args: Vec<OsString>,
    pub envs: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
}

impl Step {
    pub fn new(title: &str, program: impl AsRef<OsStr>, cwd: &Path) -> Self {
        Self {
            title: title.to_owned(),
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            cwd: cwd.to_owned(),
        }
    }

    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// The value this step sets for `key`, if any.
    #[cfg(test)]
    pub fn env_value(&self, key: &str) -> Option<&OsStr> {
        self.envs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_os_str())
    }

    /// Shell-like rendering for logs (never contains secrets: steps carry none).
    pub fn command_line(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.envs {
            let _ = write!(out, "{}={} ", k.to_string_lossy(), quote(v));
        }
        out.push_str(&quote(&self.program));
        for a in &self.args {
            out.push(' ');
            out.push_str(&quote(a));
        }
        out
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).current_dir(&self.cwd);
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c
    }

    /// Runs the step with inherited stdio, printing a header first.
    pub fn run(&self, index: usize, total: usize) -> Result<Duration> {
        println!("\n==> [{index}/{total}] {}", self.title);
        println!("    $ {}", self.command_line());
        let start = Instant::now();
        let status = self
            .command()
            .status()
            .with_context(|| format!("cannot start `{}`", self.program.to_string_lossy()))?;
        let took = start.elapsed();
        if !status.success() {
            bail!(
                "step `{}` failed ({status}) after {:.1}s",
                self.title,
                took.as_secs_f64()
            );
        }
        println!(
            "==> [{index}/{total}] {} ok ({:.1}s)",
            self.title,
            took.as_secs_f64()
        );
        Ok(took)
    }
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The `cargo` that runs us (so `cargo +nightly xtask` stays on nightly), else `cargo`.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Looks `name` up in a `PATH`-style list, like `which`.
pub fn find_in_path(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

pub fn which(name: &str) -> Option<PathBuf> {
    find_in_path(name, std::env::var_os("PATH").as_deref())
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_quotes_only_what_needs_it() {
        let s = Step::new("t", "cargo", Path::new("/"))
            .args(["nextest", "run", "--run-ignored", "all"])
            .env("OMPS_COURIER", "/x y/operator-courier")
            .args(["it's"]);
        assert_eq!(
            s.command_line(),
            "OMPS_COURIER='/x y/operator-courier' cargo nextest run --run-ignored all 'it'\\''s'"
        );
        assert_eq!(
            s.env_value("OMPS_COURIER"),
            Some(OsStr::new("/x y/operator-courier"))
        );
        assert_eq!(s.env_value("OMPS_SKOPEO"), None);
    }

    #[test]
    fn failing_step_is_an_error_and_passing_step_is_not() {
        let dir = std::env::temp_dir();
        Step::new("true", "sh", &dir)
            .args(["-c", "exit 0"])
            .run(1, 2)
            .unwrap();
        let e = Step::new("false", "sh", &dir)
            .args(["-c", "exit 3"])
            .run(2, 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("step `false` failed"), "{e}");
        assert!(e.contains('3'), "{e}");
    }

    #[test]
    fn step_environment_reaches_the_child() {
        let out = Step::new("env", "sh", &std::env::temp_dir())
            .args(["-c", "printf %s \"$XTASK_PROBE\""])
            .env("XTASK_PROBE", "value 1")
            .command()
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "value 1");
    }

    #[test]
    fn find_in_path_finds_executables_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        let plain = dir.path().join("plain");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::write(&plain, "").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([Path::new("/nonexistent"), dir.path()]).unwrap();
        assert_eq!(find_in_path("tool", Some(&path)), Some(exe));
        assert_eq!(find_in_path("plain", Some(&path)), None);
        assert_eq!(find_in_path("tool", None), None);
    }
}
