//! The catalog benchmark of `cargo xtask bench`: a synthetic catalog of a few hundred packages
//! (real bundle blobs, renamed) loaded from a directory and validated, in process, as JSON and
//! as YAML. Target: well under a second of CPU time. Appended to `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

use crate::step::{Step, cargo};

/// The CPU time the target allows (the issue says "well under a second").
const CPU_TARGET_MS: f64 = 500.0;

/// One line of the bench output.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub format: String,
    pub bytes: u64,
    pub packages: u64,
    pub bundles: u64,
    pub cpu_ms: f64,
    pub wall_ms: f64,
    pub iterations: u64,
}

/// Parses `format  bytes  packages  bundles  cpu_ns  wall_ns  iterations` lines.
pub fn parse(stdout: &str) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let [format, bytes, packages, bundles, cpu, wall, iterations] = f[..] else {
            bail!("unexpected catalog bench line {line:?}");
        };
        let n = |s: &str| -> Result<u64> {
            s.parse().with_context(|| format!("bad number in {line:?}"))
        };
        #[allow(clippy::cast_precision_loss)]
        rows.push(Row {
            format: format.to_owned(),
            bytes: n(bytes)?,
            packages: n(packages)?,
            bundles: n(bundles)?,
            cpu_ms: n(cpu)? as f64 / 1e6,
            wall_ms: n(wall)? as f64 / 1e6,
            iterations: n(iterations)?,
        });
    }
    ensure!(!rows.is_empty(), "the catalog bench printed nothing");
    Ok(rows)
}

/// Markdown section for the report.
pub fn render(rows: &[Row]) -> String {
    let mut s = String::from(
        "\n## Catalogs: load and validate\n\nA synthetic file-based catalog written to a directory (one `catalog.<ext>` per package; \
         every bundle a copy of the real `sosreport-operator` bundle with its `olm.csv.metadata`, renamed), then loaded and \
         validated with every `opm validate` rule, in process. CPU time is the bench thread's (`/proc/thread-self/schedstat`), \
         so the load of the machine barely moves it; wall time is shown for context. Target: well under a second. \
         Command: `cargo bench -p olm-catalog --bench catalog` (run by `cargo xtask bench`).\n\n\
         | format | packages | bundles | bytes | CPU ms (median) | wall ms (median) | runs |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {} |",
            r.format, r.packages, r.bundles, r.bytes, r.cpu_ms, r.wall_ms, r.iterations
        );
    }
    s
}

pub fn run(root: &Path, out: &Path) -> Result<()> {
    let step = Step::new("bench: catalog load + validate", cargo(), root).args([
        "bench",
        "-q",
        "-p",
        "olm-catalog",
        "--bench",
        "catalog",
    ]);
    println!("\n==> {}", step.title);
    let output = step.command().output().context("cannot run cargo bench")?;
    ensure!(
        output.status.success(),
        "the catalog bench failed ({})",
        output.status
    );
    let rows = parse(&String::from_utf8(output.stdout).context("bench output is not UTF-8")?)?;
    for r in &rows {
        println!(
            "    {:<5} {} bundles  CPU {:.1} ms  wall {:.1} ms",
            r.format, r.bundles, r.cpu_ms, r.wall_ms
        );
        ensure!(
            r.cpu_ms < CPU_TARGET_MS,
            "loading and validating the {} catalog took {:.0} ms of CPU, over the {CPU_TARGET_MS} ms target",
            r.format,
            r.cpu_ms
        );
    }
    let mut report = std::fs::read_to_string(out).unwrap_or_default();
    report.push_str(&render(&rows));
    std::fs::write(out, report).with_context(|| format!("cannot write {}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_parsed_and_rendered() {
        let rows = parse("json\t12291000\t300\t3000\t100931862\t366595633\t9\n").unwrap();
        assert_eq!(rows[0].bundles, 3000);
        assert!((rows[0].cpu_ms - 100.93).abs() < 0.01);
        let md = render(&rows);
        assert!(
            md.contains("| json | 300 | 3000 | 12291000 | 100.9 | 366.6 | 9 |"),
            "{md}"
        );
        assert!(parse("json 1 2").is_err());
        assert!(parse("").is_err());
        assert!(parse("json\t1\t2\t3\tx\t5\t6").is_err());
    }
}
