//! The memory benchmarks of `cargo xtask bench` (alone: `cargo xtask bench --only memory`):
//! the real server binary (release) under bursts of pushes of ~20 MiB-inflating zips, 64 at the
//! default configuration (peak RSS, RSS after) and 128 inside a 512 MiB memory cgroup (every
//! push 200 or 503, no OOM kill). Each is an ignored test of `omps-server::memory` that writes its
//! table to a file; the section is replaced in (or appended to) `docs/benchmarks.md`.

use std::path::Path;

use anyhow::{Context, Result};

use crate::report::Machine;
use crate::step::{Step, cargo};

/// The section's heading: everything from it to the next `## ` heading is replaced.
const HEADING: &str = "## Service: memory under bursts of large pushes";

pub fn run(root: &Path, out: &Path, command: &str) -> Result<()> {
    // Before any work of ours, so the load average shows what else the machine was doing.
    let machine = Machine::detect(Path::new("/nonexistent/python"));
    let scratch = tempfile::tempdir().context("cannot create a temp dir")?;
    let memory = scratch.path().join("memory.md");
    let cgroup = scratch.path().join("cgroup.md");
    Step::new("bench: memory", cargo(), root)
        .args([
            "nextest",
            "run",
            "--release",
            "-p",
            "omps-server",
            "--test",
            "memory",
            "--run-ignored",
            "only",
            "--no-fail-fast",
            "--test-threads",
            "1",
            "-E",
            "test(/^bench_/)",
        ])
        .env("OMPS_MEMORY_REPORT", &memory)
        .env("OMPS_CGROUP_REPORT", &cgroup)
        .run(1, 1)?;
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("{} was not written", path.display()))
    };
    let section = format!(
        "{HEADING}\n\n\
         The real `omps-server` binary (release, jemalloc) on 127.0.0.1 at the default configuration \
         (local store, `memory_budget` 96 MiB, `max_concurrent_pushes` 8), one warm-up push, then a burst of \
         concurrent pushes, each to its own organization, of a zip of about 1 MB inflating to about 19.6 MiB: \
         either a valid nested package plus a 19 MiB text file (spooled to disk, not held) or a flat package \
         with three 6.5 MiB YAML files (manifests: held and parsed in memory). Targets: 64 concurrent pushes \
         peak below 200 MiB resident and fall back within 50 MiB of idle; 128 concurrent inside a 512 MiB \
         memory cgroup are never OOM-killed and every push ends 200 or 503 `OMPSServerBusy`.\n\n\
         - Machine: {} CPUs, {}, {} RAM, {}; load average {} when the run started; {}\n\
         - Command: `{command}` (the ignored tests `omps-server::memory bench_*`)\n\n\
         ### 64 concurrent pushes, default configuration\n\n{}\n\
         ### 128 concurrent pushes in a 512 MiB memory cgroup (v1)\n\n{}\n",
        machine.cpus,
        machine.cpu_model,
        machine.memory,
        machine.os,
        machine.load,
        machine.rustc,
        read(&memory)?,
        read(&cgroup)?,
    );
    let doc = std::fs::read_to_string(out).unwrap_or_default();
    std::fs::write(out, replace_section(&doc, &section))
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote the memory benchmarks to {}", out.display());
    Ok(())
}

/// `doc` with the section under [`HEADING`] replaced by `section`, or `section` appended.
fn replace_section(doc: &str, section: &str) -> String {
    let Some(start) = doc.find(HEADING) else {
        let mut out = doc.to_owned();
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(section);
        return out;
    };
    let rest = &doc[start + HEADING.len()..];
    let end = rest
        .find("\n## ")
        .map_or(doc.len(), |i| start + HEADING.len() + i + 1);
    format!("{}{section}{}", &doc[..start], &doc[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_replaced_in_place_or_appended() {
        let section = format!("{HEADING}\n\nnew\n");
        let doc = format!("# T\n\n## A\n\na\n\n{HEADING}\n\nold\n\n## B\n\nb\n");
        assert_eq!(
            replace_section(&doc, &section),
            format!("# T\n\n## A\n\na\n\n{HEADING}\n\nnew\n## B\n\nb\n")
        );
        let last = format!("# T\n\n{HEADING}\n\nold\n");
        assert_eq!(
            replace_section(&last, &section),
            format!("# T\n\n{section}")
        );
        assert_eq!(
            replace_section("# T\n", &section),
            format!("# T\n\n{section}")
        );
    }
}
