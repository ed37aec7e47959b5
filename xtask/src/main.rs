//! Project automation, in the `cargo xtask` style: plain Rust instead of shell scripts, so the
//! same steps run on every machine and CI (`.ci/run`) cannot drift from what developers run.
//!
//! ```text
//! cargo xtask ci [--no-install]     peers, fmt check, clippy -D warnings, unused dependencies,
//!                                   docs -D warnings, all tests, doctests, MSRV build,
//!                                   RustSec advisories (every cargo call --locked)
//! cargo xtask e2e [--no-install]    peers, then only the tests that need them, and a bounded fuzz run
//! cargo xtask bench [options]       omps vs operator-courier timings, catalog, service and memory benchmarks -> docs/benchmarks.md
//! cargo xtask openapi               regenerate docs/openapi.json
//! ```

mod bench;
mod bench_catalog;
mod bench_memory;
mod bench_services;
mod ci;
mod hygiene;
mod openapi;
mod peers;
mod report;
mod step;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  ci      install the test peers if missing, then: cargo fmt --check, cargo clippy -D warnings,
          no unused dependency, cargo doc with warnings denied, cargo nextest run (including
          the ignored tests that need the peers), doctests, a check at the declared
          rust-version, and the RustSec advisory check (skipped loudly when the database
          cannot be reached); every cargo call with --locked
  unused-deps   list dependencies no source file of their crate uses (fails if any)
  msrv          check the workspace with the toolchain of the declared rust-version
  advisories    check Cargo.lock against a RustSec advisory database snapshot
  e2e     install the test peers if missing, then run only the tests that need them and a
          bounded fuzz run (fuzz/ regressions plus 10 s of random inputs per target)
  bench   time `omps validate` against `operator-courier verify` on every fixture and on
          synthetic packages of growing size, a catalog of 300 packages loaded and validated,
          then the service benchmarks (push load at
          concurrency 1/16/64, large uploads, mirror vs skopeo) and the memory benchmarks
          (64 concurrent ~20 MiB-inflating pushes; 128 in a 512 MiB memory cgroup); writes
          docs/benchmarks.md
  openapi regenerate docs/openapi.json from the server's route table
  help    print this text

options:
  --no-install        (ci, e2e, bench) never run apt-get or pip; use peers already present.
                      ci then runs the peer tests only if every peer is found and says loudly
                      when it skipped them
  --runs N            (bench) timed runs of omps per input, median reported (default 51)
  --courier-runs N    (bench) timed runs of operator-courier per input (default 5)
  --fixtures DIR      (bench) fixture directory (default ../shared/fixtures/operators)
  --out FILE          (bench) report path (default docs/benchmarks.md)
  --only memory       (bench) run only the memory benchmarks and replace their section
";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cmd {
    Ci { install: bool },
    UnusedDeps,
    Msrv,
    Advisories { install: bool },
    E2e { install: bool },
    Bench(bench::Options),
    Openapi,
    Help,
}

fn parse_args(args: &[OsString]) -> Result<Cmd> {
    let mut it = args.iter().map(|a| {
        a.to_str()
            .with_context(|| format!("argument `{}` is not UTF-8", a.display()))
    });
    let Some(sub) = it.next().transpose()? else {
        return Ok(Cmd::Help);
    };
    let mut install = true;
    let mut bench = bench::Options::default();
    while let Some(arg) = it.next().transpose()? {
        let mut value = |name: &str| -> Result<String> {
            it.next()
                .transpose()?
                .map(str::to_owned)
                .with_context(|| format!("{name} needs a value"))
        };
        match (sub, arg) {
            ("ci" | "e2e" | "bench" | "advisories", "--no-install") => install = false,
            ("bench", "--runs") => bench.runs = parse_count("--runs", &value("--runs")?)?,
            ("bench", "--courier-runs") => {
                bench.courier_runs = parse_count("--courier-runs", &value("--courier-runs")?)?;
            }
            ("bench", "--fixtures") => bench.fixtures = Some(PathBuf::from(value("--fixtures")?)),
            ("bench", "--out") => bench.out = Some(PathBuf::from(value("--out")?)),
            ("bench", "--only") => match value("--only")?.as_str() {
                "memory" => bench.only_memory = true,
                other => bail!("--only takes `memory`, got `{other}`"),
            },
            _ => bail!("unknown argument `{arg}` for `{sub}`\n\n{USAGE}"),
        }
    }
    bench.install = install;
    Ok(match sub {
        "ci" => Cmd::Ci { install },
        "unused-deps" => Cmd::UnusedDeps,
        "msrv" => Cmd::Msrv,
        "advisories" => Cmd::Advisories { install },
        "e2e" => Cmd::E2e { install },
        "bench" => Cmd::Bench(bench),
        "openapi" => Cmd::Openapi,
        "help" | "-h" | "--help" => Cmd::Help,
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    })
}

fn parse_count(name: &str, value: &str) -> Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{name} must be a positive integer, got `{value}`"),
    }
}

/// The workspace root: xtask lives one level below it.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let result = parse_args(&args).and_then(|cmd| {
        let root = repo_root();
        match cmd {
            Cmd::Ci { install } => ci::ci(&root, install),
            Cmd::UnusedDeps => hygiene::check_unused(&root),
            Cmd::Msrv => hygiene::msrv(&root),
            Cmd::Advisories { install } => hygiene::advisories(&root, install),
            Cmd::E2e { install } => ci::e2e(&root, install),
            Cmd::Bench(opts) => {
                let out = opts
                    .out
                    .clone()
                    .unwrap_or_else(|| root.join("docs/benchmarks.md"));
                if opts.only_memory {
                    bench_memory::run(&root, &out, &opts.command_line())
                } else {
                    bench::bench(&root, &opts).and_then(|()| {
                        let peers = peers::ensure(&root, opts.install)?;
                        bench_catalog::run(&root, &out)?;
                        bench_services::run(&root, &peers, &out)?;
                        bench_memory::run(&root, &out, &opts.command_line())
                    })
                }
            }
            Cmd::Openapi => openapi::openapi(&root),
            Cmd::Help => {
                print!("{USAGE}");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cmd> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse_args(&args)
    }

    #[test]
    fn no_arguments_prints_help() {
        assert_eq!(parse(&[]).unwrap(), Cmd::Help);
        assert_eq!(parse(&["--help"]).unwrap(), Cmd::Help);
    }

    #[test]
    fn ci_installs_by_default_and_not_with_no_install() {
        assert_eq!(parse(&["ci"]).unwrap(), Cmd::Ci { install: true });
        assert_eq!(
            parse(&["ci", "--no-install"]).unwrap(),
            Cmd::Ci { install: false }
        );
        assert_eq!(
            parse(&["e2e", "--no-install"]).unwrap(),
            Cmd::E2e { install: false }
        );
    }

    #[test]
    fn bench_options_are_parsed() {
        let Cmd::Bench(o) = parse(&[
            "bench",
            "--runs",
            "7",
            "--courier-runs",
            "2",
            "--fixtures",
            "/f",
            "--out",
            "x.md",
            "--no-install",
            "--only",
            "memory",
        ])
        .unwrap() else {
            panic!("not a bench command");
        };
        assert_eq!(o.runs, 7);
        assert_eq!(o.courier_runs, 2);
        assert_eq!(o.fixtures, Some(PathBuf::from("/f")));
        assert_eq!(o.out, Some(PathBuf::from("x.md")));
        assert!(!o.install);
        assert!(o.only_memory);
        assert!(
            o.command_line().ends_with("--only memory"),
            "{}",
            o.command_line()
        );
        let e = parse(&["bench", "--only", "cpu"]).unwrap_err().to_string();
        assert!(e.contains("--only takes `memory`"), "{e}");
    }

    #[test]
    fn bad_arguments_are_rejected_with_a_reason() {
        let e = parse(&["ci", "--runs", "3"]).unwrap_err().to_string();
        assert!(e.contains("unknown argument `--runs` for `ci`"), "{e}");
        let e = parse(&["bench", "--runs", "0"]).unwrap_err().to_string();
        assert!(e.contains("--runs must be a positive integer"), "{e}");
        let e = parse(&["bench", "--runs"]).unwrap_err().to_string();
        assert!(e.contains("--runs needs a value"), "{e}");
        assert_eq!(parse(&["openapi"]).unwrap(), Cmd::Openapi);
        let e = parse(&["frobnicate"]).unwrap_err().to_string();
        assert!(e.contains("unknown command `frobnicate`"), "{e}");
    }
}
