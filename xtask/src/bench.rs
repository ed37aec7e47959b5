//! `cargo xtask bench`: wall-clock timings of `omps validate` against `operator-courier verify`.
//!
//! Both tools run as processes on the same inputs, so the numbers include process start-up;
//! that is what a user of either command line pays.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::peers;
use crate::report::{FixtureRow, Machine, Report, SizeRow, Timing};
use crate::step::{Step, cargo};

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub runs: usize,
    pub courier_runs: usize,
    pub fixtures: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub install: bool,
    /// Only the memory benchmarks (`--only memory`).
    pub only_memory: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            runs: 51,
            courier_runs: 5,
            fixtures: None,
            out: None,
            install: true,
            only_memory: false,
        }
    }
}

impl Options {
    /// The command line that reproduces this run, for the report.
    pub fn command_line(&self) -> String {
        let mut s = format!(
            "cargo xtask bench --runs {} --courier-runs {}",
            self.runs, self.courier_runs
        );
        if let Some(f) = &self.fixtures {
            let _ = write!(s, " --fixtures {}", f.display());
        }
        if let Some(o) = &self.out {
            let _ = write!(s, " --out {}", o.display());
        }
        if self.only_memory {
            s.push_str(" --only memory");
        }
        s
    }
}

/// Replication factors of the linearity series.
const SIZE_FACTORS: [usize; 6] = [1, 2, 4, 8, 16, 32];
/// The fixture the linearity series replicates.
const SIZE_BASE: &str = "etcd";

/// `cargo build` of the release `omps` the benchmark times.
const BUILD_OMPS: [&str; 7] = [
    "build",
    "--release",
    "--locked",
    "-p",
    "omps-cli",
    "--bin",
    "omps",
];

pub fn bench(root: &Path, opts: &Options) -> Result<()> {
    let courier = peers::ensure_courier(root, opts.install)?;
    // Before any work of ours, so the load average shows what else the machine was doing.
    let machine = Machine::detect(&courier);
    let fixtures = opts
        .fixtures
        .clone()
        .unwrap_or_else(|| root.join("../shared/fixtures/operators"));
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| root.join("docs/benchmarks.md"));

    Step::new("build omps (release)", cargo(), root)
        .args(BUILD_OMPS)
        .run(1, 4)?;
    let omps = target_dir(root).join("release/omps");
    ensure!(omps.is_file(), "{} was not built", omps.display());

    let fixture_dirs = fixture_dirs(&fixtures)?;
    let scratch = tempfile::tempdir().context("cannot create a temp dir")?;
    let base = fixtures.join(SIZE_BASE);
    let mut size_dirs = Vec::new();
    for factor in SIZE_FACTORS {
        let dir = scratch.path().join(format!("{SIZE_BASE}-x{factor}"));
        let versions = replicate_nested(&base, &dir, factor)?;
        size_dirs.push((factor, versions, dir));
    }

    let in_process = in_process_bench(
        root,
        fixture_dirs
            .iter()
            .chain(size_dirs.iter().map(|(_, _, d)| d)),
    )?;

    // The floor every process pays on this machine, to put small-input numbers in context.
    let spawn_floor = time_runs(&Command::new("true"), opts.runs)?.median;
    println!("\n==> spawning `true`: {:.2} ms", ms(spawn_floor));

    println!("\n==> [3/4] fixtures in {}", fixtures.display());
    let mut rows = Vec::new();
    for dir in fixture_dirs {
        let name = file_name(&dir);
        let omps_t = time_runs(&omps_cmd(&omps, &dir), opts.runs)?;
        let courier_t = time_runs(&courier_cmd(&courier, &dir), opts.courier_runs)?;
        let row = FixtureRow {
            in_process: in_process.get(&name).copied(),
            name,
            bytes: tree_bytes(&dir)?,
            bundle_format: is_bundle_format(&dir)?,
            omps: omps_t,
            courier: courier_t,
        };
        println!(
            "    {:<34} omps {:>8.2} ms ({:.2} ms CPU)  courier {:>9.1} ms ({:.0} ms CPU)  {:>6.0}x CPU",
            row.name,
            ms(row.omps.median),
            ms(row.omps.cpu),
            ms(row.courier.median),
            ms(row.courier.cpu),
            row.speedup()
        );
        rows.push(row);
    }

    println!("\n==> [4/4] linearity: {SIZE_BASE} replicated");
    let mut sizes = Vec::new();
    for (factor, versions, dir) in size_dirs {
        let row = SizeRow {
            factor,
            versions,
            in_process: in_process.get(&file_name(&dir)).copied(),
            bytes: tree_bytes(&dir)?,
            omps: time_runs(&omps_cmd(&omps, &dir), opts.runs)?,
            courier: time_runs(&courier_cmd(&courier, &dir), opts.courier_runs.min(3))?,
        };
        println!(
            "    x{:<3} {:>4} versions {:>9} bytes  omps {:>8.2} ms  courier {:>9.1} ms",
            row.factor,
            row.versions,
            row.bytes,
            ms(row.omps.median),
            ms(row.courier.median)
        );
        sizes.push(row);
    }

    let report = Report {
        date: crate::report::utc_now(),
        command: opts.command_line(),
        machine,
        spawn_floor,
        runs: opts.runs,
        courier_runs: opts.courier_runs,
        size_base: SIZE_BASE.to_owned(),
        fixtures: rows,
        sizes,
    };
    std::fs::write(&out, report.render())
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("\n==> wrote {}", out.display());
    Ok(())
}

/// Runs the `harness = false` bench of manifest-bundle on `dirs` and returns the median time
/// of intake plus validation per directory name.
fn in_process_bench<'a>(
    root: &Path,
    dirs: impl Iterator<Item = &'a PathBuf>,
) -> Result<BTreeMap<String, Duration>> {
    let step = Step::new("in-process bench (manifest-bundle)", cargo(), root)
        .args([
            "bench",
            "-q",
            "--locked",
            "-p",
            "manifest-bundle",
            "--bench",
            "validate",
            "--",
        ])
        .args(dirs);
    println!("\n==> [2/4] {}", step.title);
    println!("    $ {}", step.command_line());
    let out = step
        .command()
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo bench")?;
    ensure!(out.status.success(), "cargo bench failed ({})", out.status);
    let stdout = String::from_utf8(out.stdout).context("bench output is not UTF-8")?;
    let parsed = parse_in_process(&stdout)?;
    for (name, d) in &parsed {
        println!("    {name:<34} {:>8.3} ms", ms(*d));
    }
    Ok(parsed)
}

/// Parses `name  bytes  median_ns  min_ns  iterations` lines.
fn parse_in_process(stdout: &str) -> Result<BTreeMap<String, Duration>> {
    let mut out = BTreeMap::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, _bytes, median_ns, _min_ns, _iterations] = fields[..] else {
            bail!("unexpected bench line {line:?}");
        };
        let ns: u64 = median_ns
            .parse()
            .with_context(|| format!("bad median in {line:?}"))?;
        out.insert(name.to_owned(), Duration::from_nanos(ns));
    }
    ensure!(!out.is_empty(), "the in-process bench printed nothing");
    Ok(out)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn omps_cmd(omps: &Path, dir: &Path) -> Command {
    let mut c = Command::new(omps);
    c.arg("validate").arg(dir).args(["--output", "json"]);
    c
}

fn courier_cmd(courier: &Path, dir: &Path) -> Command {
    let mut c = Command::new(courier);
    c.arg("verify").arg(dir);
    c
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// The fixture directories (every subdirectory), sorted by name.
fn fixture_dirs(fixtures: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for e in std::fs::read_dir(fixtures)
        .with_context(|| format!("cannot read fixtures {}", fixtures.display()))?
    {
        let e = e?;
        if e.file_type()?.is_dir() {
            dirs.push(e.path());
        }
    }
    dirs.sort();
    ensure!(!dirs.is_empty(), "no fixtures in {}", fixtures.display());
    Ok(dirs)
}

/// CPU time (user + system) used so far by the waited-for children of this process.
fn children_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(Duration::ZERO, |u| {
        let tv = |t: nix::sys::time::TimeVal| {
            Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
                + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
        };
        tv(u.user_time()) + tv(u.system_time())
    })
}

/// Runs `cmd` once to warm caches, then `runs` timed times; output is discarded for both tools.
/// Each run's CPU time is the growth of the children's CPU time across it.
fn time_runs(cmd: &Command, runs: usize) -> Result<Timing> {
    let run = || -> Result<(Duration, Duration, i32)> {
        let mut c = Command::new(cmd.get_program());
        c.args(cmd.get_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let cpu_before = children_cpu();
        let start = Instant::now();
        let status = c
            .status()
            .with_context(|| format!("cannot run {}", cmd.get_program().to_string_lossy()))?;
        let wall = start.elapsed();
        Ok((
            wall,
            children_cpu().saturating_sub(cpu_before),
            status.code().unwrap_or(-1),
        ))
    };
    let (_, _, exit) = run()?;
    let mut samples = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (d, c, code) = run()?;
        if code != exit {
            bail!(
                "{} exited {code} after {exit} on the same input",
                cmd.get_program().to_string_lossy()
            );
        }
        samples.push(d);
        cpu.push(c);
    }
    Ok(Timing::from_samples(&samples, exit).with_cpu(&cpu))
}

/// Whether `dir` (or one of its version directories) holds `metadata/annotations.yaml`.
fn is_bundle_format(dir: &Path) -> Result<bool> {
    let has = |d: &Path| d.join("metadata/annotations.yaml").is_file();
    if has(dir) {
        return Ok(true);
    }
    for e in std::fs::read_dir(dir)? {
        if has(&e?.path()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Total size of the regular files under `dir`.
fn tree_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            total += tree_bytes(&e.path())?;
        } else if t.is_file() {
            total += e.metadata()?.len();
        }
    }
    Ok(total)
}

/// Builds one nested package holding `factor` copies of every version directory of `base`
/// (copy `i` of `0.9.2` is `0.9.2-r{i}`), plus `base`'s root files. Returns the version count.
pub fn replicate_nested(base: &Path, dest: &Path, factor: usize) -> Result<usize> {
    std::fs::create_dir_all(dest)?;
    let mut versions = 0;
    for e in std::fs::read_dir(base).with_context(|| format!("cannot read {}", base.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type()?.is_dir() {
            for i in 0..factor {
                copy_dir(&e.path(), &dest.join(format!("{name}-r{i}")))?;
                versions += 1;
            }
        } else {
            std::fs::copy(e.path(), dest.join(&name))?;
        }
    }
    Ok(versions)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicate_copies_every_version_factor_times() {
        let base = tempfile::tempdir().unwrap();
        std::fs::write(base.path().join("p.package.yaml"), "packageName: p\n").unwrap();
        for v in ["1.0", "2.0"] {
            std::fs::create_dir(base.path().join(v)).unwrap();
            std::fs::write(base.path().join(v).join("csv.yaml"), v).unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("x3");
        assert_eq!(replicate_nested(base.path(), &dest, 3).unwrap(), 6);
        let mut names: Vec<String> = std::fs::read_dir(&dest)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "1.0-r0",
                "1.0-r1",
                "1.0-r2",
                "2.0-r0",
                "2.0-r1",
                "2.0-r2",
                "p.package.yaml"
            ]
        );
        assert_eq!(
            std::fs::read_to_string(dest.join("2.0-r2/csv.yaml")).unwrap(),
            "2.0"
        );
        // 15 root bytes + 6 copies of a 3-byte CSV.
        assert_eq!(tree_bytes(&dest).unwrap(), 15 + 6 * 3);
    }

    #[test]
    fn time_runs_records_exit_code_and_rejects_flaky_exits() {
        let mut c = Command::new("sh");
        c.args(["-c", "exit 1"]);
        let t = time_runs(&c, 3).unwrap();
        assert_eq!(t.exit, 1);
        assert_eq!(t.runs, 3);
        assert!(t.min <= t.median && t.median <= t.max);

        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("f");
        let mut c = Command::new("sh");
        // Exits 0 the first time, 1 afterwards.
        c.args(["-c", "test -e \"$0\" && exit 1; touch \"$0\""])
            .arg(&flag);
        let e = time_runs(&c, 2).unwrap_err().to_string();
        assert!(e.contains("exited 1 after 0"), "{e}");
    }

    #[test]
    fn time_runs_measures_the_child_cpu_time() {
        let mut busy = Command::new("sh");
        busy.args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]);
        let t = time_runs(&busy, 1).unwrap();
        assert!(t.cpu >= Duration::from_millis(20), "{t:?}");
        // A sleeping child costs almost no CPU, however long it takes.
        let t = time_runs(Command::new("sleep").arg("0.3"), 1).unwrap();
        assert!(t.median >= Duration::from_millis(300), "{t:?}");
        assert!(t.cpu < Duration::from_millis(100), "{t:?}");
    }

    #[test]
    fn bundle_format_is_detected_at_the_root_or_per_version() {
        let d = tempfile::tempdir().unwrap();
        assert!(!is_bundle_format(d.path()).unwrap());
        std::fs::create_dir_all(d.path().join("1.0/metadata")).unwrap();
        assert!(!is_bundle_format(d.path()).unwrap());
        std::fs::write(d.path().join("1.0/metadata/annotations.yaml"), "").unwrap();
        assert!(is_bundle_format(d.path()).unwrap());
        assert!(is_bundle_format(&d.path().join("1.0")).unwrap());
    }

    #[test]
    fn fixture_dirs_are_sorted_directories_only() {
        let d = tempfile::tempdir().unwrap();
        for n in ["b", "a"] {
            std::fs::create_dir(d.path().join(n)).unwrap();
        }
        std::fs::write(d.path().join("a.courier.json"), "{}").unwrap();
        let names: Vec<String> = fixture_dirs(d.path())
            .unwrap()
            .iter()
            .map(|p| file_name(p))
            .collect();
        assert_eq!(names, ["a", "b"]);
        let empty = tempfile::tempdir().unwrap();
        assert!(fixture_dirs(empty.path()).is_err());
    }

    #[test]
    fn in_process_lines_are_parsed_and_garbage_rejected() {
        let m = parse_in_process("etcd\t138069\t1500000\t1400000\t200\nx-x2\t1\t2001\t1\t10\n")
            .unwrap();
        assert_eq!(m["etcd"], Duration::from_micros(1500));
        assert_eq!(m["x-x2"], Duration::from_nanos(2_001));
        assert!(parse_in_process("etcd 1 2 3 4\n").is_err());
        assert!(parse_in_process("etcd\t1\tfast\t3\t4\n").is_err());
        assert!(parse_in_process("\n").is_err());
    }

    #[test]
    fn command_line_reproduces_the_options() {
        let o = Options {
            runs: 9,
            courier_runs: 2,
            fixtures: Some("/fx".into()),
            out: None,
            install: true,
            only_memory: false,
        };
        assert_eq!(
            o.command_line(),
            "cargo xtask bench --runs 9 --courier-runs 2 --fixtures /fx"
        );
    }
}
