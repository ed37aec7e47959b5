//! The benchmark report: data, statistics and the Markdown rendering of `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::peers::COURIER_VERSION;

/// Summary of repeated wall-clock measurements of one command on one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
    pub runs: usize,
    /// Exit code (the same on every run; checked while measuring).
    pub exit: i32,
    /// Median CPU time (user + system) of the process: unlike wall time, other work on the
    /// machine does not inflate it.
    pub cpu: Duration,
}

impl Timing {
    pub fn from_samples(samples: &[Duration], exit: i32) -> Self {
        let mut s = samples.to_vec();
        s.sort_unstable();
        Self {
            median: median(&s),
            min: s.first().copied().unwrap_or_default(),
            max: s.last().copied().unwrap_or_default(),
            runs: s.len(),
            exit,
            cpu: Duration::ZERO,
        }
    }

    /// The same timing with the CPU time of each run.
    pub fn with_cpu(mut self, cpu_samples: &[Duration]) -> Self {
        let mut c = cpu_samples.to_vec();
        c.sort_unstable();
        self.cpu = median(&c);
        self
    }
}

/// Median of sorted samples; the mean of the two middle ones for an even count.
fn median(sorted: &[Duration]) -> Duration {
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

/// One fixture directory, timed with both tools.
#[derive(Debug, Clone)]
pub struct FixtureRow {
    pub name: String,
    pub bytes: u64,
    /// `manifests/` + `metadata/annotations.yaml`: omps reads it, courier 2.1.11 cannot.
    pub bundle_format: bool,
    pub omps: Timing,
    pub courier: Timing,
    /// Median of intake plus validation inside one process (no start-up), if measured.
    pub in_process: Option<Duration>,
}

impl FixtureRow {
    /// Courier's CPU time over ours: what validating one package costs, whatever the load.
    pub fn speedup(&self) -> f64 {
        ratio(self.courier.cpu, self.omps.cpu)
    }

    /// The same ratio on wall-clock time.
    pub fn wall_speedup(&self) -> f64 {
        ratio(self.courier.median, self.omps.median)
    }
}

/// One size of the linearity series.
#[derive(Debug, Clone)]
pub struct SizeRow {
    pub factor: usize,
    pub versions: usize,
    pub bytes: u64,
    pub omps: Timing,
    pub courier: Timing,
    /// Median of intake plus validation inside one process (no start-up), if measured.
    pub in_process: Option<Duration>,
}

/// The machine the numbers were taken on.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory: String,
    pub os: String,
    pub rustc: String,
    pub python: String,
    /// `/proc/loadavg` 1-minute load when the run started: other work skews the timings.
    pub load: String,
}

impl Machine {
    pub fn detect(courier: &Path) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        // The venv's python is the one courier runs on.
        let python = courier.with_file_name("python");
        Self {
            cpus: std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
            cpu_model: field(&cpuinfo, "model name", ':').unwrap_or_else(|| "unknown".into()),
            memory: field(&meminfo, "MemTotal", ':')
                .as_deref()
                .and_then(kib_to_gib)
                .unwrap_or_else(|| "unknown".into()),
            os: field(&os_release, "PRETTY_NAME", '=')
                .map_or_else(|| "unknown".into(), |s| s.trim_matches('"').to_owned()),
            rustc: tool_version("rustc", "-V"),
            python: tool_version(&python.to_string_lossy(), "--version"),
            load: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next().map(str::to_owned))
                .unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// The value of the first `key<sep>value` line.
fn field(text: &str, key: &str, sep: char) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(sep)?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// `"24506484 kB"` → `"23.4 GiB"`.
fn kib_to_gib(v: &str) -> Option<String> {
    let kib: u32 = v.strip_suffix("kB")?.trim().parse().ok()?;
    Some(format!("{:.1} GiB", f64::from(kib) / 1024.0 / 1024.0))
}

fn tool_version(program: &str, flag: &str) -> String {
    Command::new(program)
        .arg(flag)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".into(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        )
}

/// Everything `docs/benchmarks.md` shows.
#[derive(Debug, Clone)]
pub struct Report {
    pub date: String,
    pub command: String,
    pub machine: Machine,
    /// Median wall-clock time of running `true` the same way.
    pub spawn_floor: Duration,
    pub runs: usize,
    pub courier_runs: usize,
    pub size_base: String,
    pub fixtures: Vec<FixtureRow>,
    pub sizes: Vec<SizeRow>,
}

/// Speed-up target of issue 2.
const TARGET: f64 = 100.0;

impl Report {
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.render_setup(&mut s);
        self.render_fixtures(&mut s);
        self.render_sizes(&mut s);
        s
    }

    fn render_setup(&self, s: &mut String) {
        let m = &self.machine;
        let _ = write!(
            s,
            "# Benchmarks: `omps validate` vs `operator-courier verify`\n\n\
             Generated by `cargo xtask bench`; do not edit by hand, rerun it instead.\n\n\
             ## Set-up\n\n\
             - Date: {date}\n\
             - Command: `{command}`\n\
             - Machine: {cpus} CPUs (`nproc`), {model}, {mem} RAM, {os}; load average \
             {load} when the run started\n\
             - omps: release build, {rustc}\n\
             - operator-courier {COURIER_VERSION} on {python}, in `target/courier-venv`\n\
             - Method: each tool runs as its own process on the same directory with its output \
             discarded: `omps validate <dir> --output json` and `operator-courier verify <dir>`. \
             One untimed warm-up run, then {runs} timed runs of omps and {courier_runs} of courier \
             (at most 3 for the linearity series); the tables show the median wall-clock time \
             and the median CPU time (user + system of the child process, from `getrusage`). \
             Times include process start-up (for courier that is mostly Python imports), which is \
             what a user of either command pays. The speed-up is the ratio of CPU times, which \
             other work on the machine does not move; the wall-clock ratio is shown beside it.\n\
             - \"in-process\" is the median of reading the directory and validating it inside one \
             process (`cargo bench -p manifest-bundle --bench validate`, at least 10 iterations \
             and 300 ms per input): the cost of validation itself, without start-up.\n\
             - Start-up floor: running `true` the same way takes {floor:.2} ms (median), so for \
             small inputs the omps column is mostly process creation.\n",
            date = self.date,
            command = self.command,
            cpus = m.cpus,
            model = m.cpu_model,
            mem = m.memory,
            os = m.os,
            load = m.load,
            rustc = m.rustc,
            python = m.python,
            runs = self.runs,
            courier_runs = self.courier_runs,
            floor = ms(self.spawn_floor),
        );
    }

    fn render_fixtures(&self, s: &mut String) {
        s.push_str(
            "\n## Per fixture\n\n\
             Every directory in `../shared/fixtures/operators/`. \"exit\" is each tool's exit \
             code (0 valid, 1 invalid); a `≠` marks a different verdict.\n\n\
             | fixture | size (kB) | exit omps / courier | omps (ms) | omps min–max (ms) \
             | in-process (ms) | courier (ms) | omps CPU (ms) | courier CPU (ms) | speed-up (CPU) \
             | speed-up (wall) |\n\
             |---|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.fixtures {
            let same = if r.omps.exit == r.courier.exit {
                "/"
            } else {
                "≠"
            };
            let _ = writeln!(
                s,
                "| `{}` | {:.1} | {} {same} {} | {:.2} | {:.2}–{:.2} | {} | {:.0} | {:.2} | {:.0} | \
                 {:.0}× | {:.0}× |",
                r.name,
                kib(r.bytes),
                r.omps.exit,
                r.courier.exit,
                ms(r.omps.median),
                ms(r.omps.min),
                ms(r.omps.max),
                opt_ms(r.in_process),
                ms(r.courier.median),
                ms(r.omps.cpu),
                ms(r.courier.cpu),
                r.speedup(),
                r.wall_speedup(),
            );
        }
        let speedups: Vec<f64> = self.fixtures.iter().map(FixtureRow::speedup).collect();
        if let Some(st) = SpeedupStats::new(&speedups) {
            let _ = write!(
                s,
                "\nSpeed-up per package (CPU time): minimum {:.0}×, median {:.0}×, geometric mean {:.0}×. \
                 Target ≥{TARGET:.0}×: **{}** ({} of {} fixtures).\n",
                st.min,
                st.median,
                st.geo_mean,
                if st.met == speedups.len() {
                    "met"
                } else {
                    "NOT met"
                },
                st.met,
                speedups.len(),
            );
        }
        // Courier stops early on bundle-format input without validating it, so those rows
        // compare full validation with an early exit; show the like-for-like figure too.
        let validated: Vec<f64> = self
            .fixtures
            .iter()
            .filter(|r| !r.bundle_format)
            .map(FixtureRow::speedup)
            .collect();
        if validated.len() < speedups.len()
            && let Some(st) = SpeedupStats::new(&validated)
        {
            let _ = writeln!(
                s,
                "On the {} fixtures courier actually validates (all but the bundle-format ones): \
                 minimum {:.0}×, median {:.0}×; ≥{TARGET:.0}× on {} of {}.",
                validated.len(),
                st.min,
                st.median,
                st.met,
                validated.len(),
            );
        }
        let differ = |bundle: bool| -> Vec<String> {
            self.fixtures
                .iter()
                .filter(|r| r.omps.exit != r.courier.exit && r.bundle_format == bundle)
                .map(|r| format!("`{}`", r.name))
                .collect()
        };
        let (bundles, others) = (differ(true), differ(false));
        if !bundles.is_empty() {
            let _ = writeln!(
                s,
                "\nVerdicts differ, as intended, on the bundle-format fixtures {}: omps validates \
                 the `manifests/` + `metadata/annotations.yaml` layout, operator-courier \
                 {COURIER_VERSION} cannot read it and stops with \
                 `Bundle does not contain any packages.`",
                bundles.join(", ")
            );
        }
        if !others.is_empty() {
            let _ = writeln!(
                s,
                "\n**Verdicts differ unexpectedly on: {}.**",
                others.join(", ")
            );
        }
    }

    fn render_sizes(&self, s: &mut String) {
        let _ = write!(
            s,
            "\n## Linearity\n\n\
             One nested package made of `{base}`'s package file and `k` copies of each of its \
             version directories (copy `i` of `0.9.2` is `0.9.2-r<i>`), so the work grows with \
             `k` and nothing else changes.\n\n\
             | k | versions | size (kB) | omps (ms) | omps ms/MB | in-process (ms) \
             | courier (ms) | courier ms/MB | speed-up |\n\
             |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            base = self.size_base,
        );
        for r in &self.sizes {
            let mb = mib(r.bytes);
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.0} | {:.0}× |",
                r.factor,
                r.versions,
                kib(r.bytes),
                ms(r.omps.median),
                ms(r.omps.median) / mb,
                opt_ms(r.in_process),
                ms(r.courier.median),
                ms(r.courier.median) / mb,
                ratio(r.courier.median, r.omps.median),
            );
        }
        let pts = |f: fn(&SizeRow) -> Duration| -> Vec<(f64, f64)> {
            self.sizes
                .iter()
                .map(|r| (mib(r.bytes), ms(f(r))))
                .collect()
        };
        let in_process: Vec<(f64, f64)> = self
            .sizes
            .iter()
            .filter_map(|r| Some((mib(r.bytes), ms(r.in_process?))))
            .collect();
        for (tool, points) in [
            ("in-process", in_process),
            ("omps", pts(|r| r.omps.median)),
            ("courier", pts(|r| r.courier.median)),
        ] {
            if let Some(fit) = LinearFit::new(&points) {
                let _ = writeln!(
                    s,
                    "\n{tool}: least-squares fit `time ≈ {:.2} ms + {:.2} ms/MB × size`, \
                     R² = {:.4}.",
                    fit.intercept, fit.slope, fit.r2
                );
            }
        }
        s.push_str(
            "\nThe intercept is the fixed cost (process start-up); R² close to 1 means the time \
             grows linearly with the input size.\n",
        );
    }
}

/// Summary of speed-ups.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SpeedupStats {
    min: f64,
    median: f64,
    geo_mean: f64,
    met: usize,
}

impl SpeedupStats {
    fn new(v: &[f64]) -> Option<Self> {
        if v.is_empty() {
            return None;
        }
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            f64::midpoint(s[n / 2 - 1], s[n / 2])
        };
        let geo_mean = (s.iter().map(|x| x.ln()).sum::<f64>() / count(n)).exp();
        Some(Self {
            min: s[0],
            median,
            geo_mean,
            met: s.iter().filter(|&&x| x >= TARGET).count(),
        })
    }
}

/// Ordinary least squares `y = intercept + slope * x` with its coefficient of determination.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LinearFit {
    intercept: f64,
    slope: f64,
    r2: f64,
}

impl LinearFit {
    fn new(points: &[(f64, f64)]) -> Option<Self> {
        if points.len() < 2 {
            return None;
        }
        let n = count(points.len());
        let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
        let my = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let syy: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
        if sxx == 0.0 {
            return None;
        }
        let slope = sxy / sxx;
        let r2 = if syy == 0.0 {
            1.0
        } else {
            sxy * sxy / (sxx * syy)
        };
        Some(Self {
            intercept: my - slope * mx,
            slope,
            r2,
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn opt_ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "–".to_owned(), |d| format!("{:.3}", ms(d)))
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

#[allow(clippy::cast_precision_loss)] // sizes and counts here are far below 2^52
fn count(n: usize) -> f64 {
    n as f64
}

#[allow(clippy::cast_precision_loss)] // sizes here are far below 2^52
fn kib(bytes: u64) -> f64 {
    bytes as f64 / 1024.0
}

fn mib(bytes: u64) -> f64 {
    kib(bytes) / 1024.0
}

/// Current UTC time as `YYYY-MM-DD HH:MM UTC`, without a date library.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

fn format_utc(secs: u64) -> String {
    let (y, m, d) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`,
/// restricted to dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64, exit: i32) -> Timing {
        // CPU time a tenth of the wall time: ratios are the same on both.
        Timing::from_samples(&[Duration::from_millis(ms)], exit)
            .with_cpu(&[Duration::from_millis(ms) / 10])
    }

    #[test]
    fn median_of_odd_and_even_samples() {
        let d = Duration::from_millis;
        let t = Timing::from_samples(&[d(5), d(1), d(3)], 0);
        assert_eq!((t.median, t.min, t.max, t.runs), (d(3), d(1), d(5), 3));
        let t = Timing::from_samples(&[d(4), d(1), d(2), d(100)], 1);
        assert_eq!(t.median, d(3));
        assert_eq!(t.exit, 1);
        assert_eq!(Timing::from_samples(&[], 0).median, Duration::ZERO);
    }

    #[test]
    fn dates_are_formatted_in_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(
            format_utc(20_778 * 86_400 + 5 * 3600 + 41 * 60 + 59),
            "2026-11-21 05:41 UTC"
        );
    }

    #[test]
    fn machine_fields_are_parsed() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n";
        assert_eq!(field(cpuinfo, "model name", ':').unwrap(), "AMD EPYC 7B13");
        assert_eq!(field(cpuinfo, "missing", ':'), None);
        assert_eq!(kib_to_gib("24506484 kB").unwrap(), "23.4 GiB");
        assert_eq!(kib_to_gib("garbage"), None);
    }

    #[test]
    fn linear_fit_recovers_a_line_and_flags_a_curve() {
        let line: Vec<(f64, f64)> = (1..=5)
            .map(|x| (f64::from(x), 2.0 + 3.0 * f64::from(x)))
            .collect();
        let f = LinearFit::new(&line).unwrap();
        assert!((f.intercept - 2.0).abs() < 1e-9 && (f.slope - 3.0).abs() < 1e-9);
        assert!((f.r2 - 1.0).abs() < 1e-12);
        let curve: Vec<(f64, f64)> = (1..=5)
            .map(|x| (f64::from(x), f64::from(x).powi(4)))
            .collect();
        assert!(LinearFit::new(&curve).unwrap().r2 < 0.95);
        assert_eq!(LinearFit::new(&[(1.0, 1.0)]), None);
    }

    #[test]
    fn speedup_summary_counts_target_hits() {
        let st = SpeedupStats::new(&[50.0, 200.0, 800.0]).unwrap();
        assert_eq!((st.min, st.median, st.met), (50.0, 200.0, 2));
        assert!((st.geo_mean - 200.0).abs() < 1e-9);
        assert_eq!(SpeedupStats::new(&[]), None);
    }

    fn sample_report() -> Report {
        Report {
            date: "2026-11-21 06:00 UTC".into(),
            command: "cargo xtask bench --runs 3 --courier-runs 1".into(),
            machine: Machine {
                cpus: 2,
                cpu_model: "Test CPU".into(),
                memory: "4.0 GiB".into(),
                os: "Debian".into(),
                rustc: "rustc 1.95.0".into(),
                python: "Python 3.11.7".into(),
                load: "0.50".into(),
            },
            spawn_floor: Duration::from_micros(1500),
            runs: 3,
            courier_runs: 1,
            size_base: "etcd".into(),
            fixtures: vec![
                FixtureRow {
                    name: "etcd".into(),
                    bytes: 2048,
                    bundle_format: false,
                    omps: t(2, 0),
                    courier: t(800, 0),
                    in_process: Some(Duration::from_micros(1250)),
                },
                FixtureRow {
                    name: "broken".into(),
                    bytes: 1024,
                    bundle_format: false,
                    omps: t(4, 0),
                    courier: t(200, 1),
                    in_process: None,
                },
            ],
            sizes: vec![
                SizeRow {
                    factor: 1,
                    versions: 6,
                    bytes: 1024 * 1024,
                    omps: t(3, 0),
                    courier: t(1000, 0),
                    in_process: Some(Duration::from_millis(1)),
                },
                SizeRow {
                    factor: 2,
                    versions: 12,
                    bytes: 2 * 1024 * 1024,
                    omps: t(5, 0),
                    courier: t(2000, 0),
                    in_process: Some(Duration::from_millis(2)),
                },
            ],
        }
    }

    #[test]
    fn report_has_setup_tables_summary_and_fit() {
        let md = sample_report().render();
        for needle in [
            "- Command: `cargo xtask bench --runs 3 --courier-runs 1`",
            "- Machine: 2 CPUs (`nproc`), Test CPU, 4.0 GiB RAM, Debian; load average 0.50 when",
            "- Date: 2026-11-21 06:00 UTC",
            "running `true` the same way takes 1.50 ms (median)",
            "| `etcd` | 2.0 | 0 / 0 | 2.00 | 2.00–2.00 | 1.250 | 800 | 0.20 | 80 | 400× | 400× |",
            "| `broken` | 1.0 | 0 ≠ 1 | 4.00 | 4.00–4.00 | – | 200 | 0.40 | 20 | 50× | 50× |",
            "Speed-up per package (CPU time): minimum 50×",
            "minimum 50×, median 225×",
            "Target ≥100×: **NOT met** (1 of 2 fixtures)",
            "**Verdicts differ unexpectedly on: `broken`.**",
            "| 2 | 12 | 2048 | 5.00 | 2.50 | 2.000 | 2000 | 1000 | 400× |",
            "in-process: least-squares fit `time ≈ 0.00 ms + 1.00 ms/MB × size`",
            "omps: least-squares fit `time ≈ 1.00 ms + 2.00 ms/MB × size`, R² = 1.0000.",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
    }

    #[test]
    fn report_says_met_when_every_fixture_reaches_the_target() {
        let mut r = sample_report();
        r.fixtures.pop();
        let md = r.render();
        assert!(md.contains("**met** (1 of 1 fixtures)"), "{md}");
        assert!(!md.contains("Verdicts differ"), "{md}");
    }

    #[test]
    fn bundle_format_differences_are_explained_not_flagged() {
        let mut r = sample_report();
        r.fixtures[1].bundle_format = true;
        let md = r.render();
        assert!(
            md.contains("as intended, on the bundle-format fixtures `broken`"),
            "{md}"
        );
        assert!(
            md.contains(
                "On the 1 fixtures courier actually validates (all but the bundle-format ones): \
                 minimum 400×, median 400×; ≥100× on 1 of 1."
            ),
            "{md}"
        );
        assert!(!md.contains("unexpectedly"), "{md}");
    }
}
