//! Loading and validating a large catalog, in process.
//!
//! `cargo bench -p olm-catalog --bench catalog [-- PACKAGES BUNDLES_PER_PACKAGE]` (default 300
//! packages of 10 bundles, two channels each). The bundles are copies of the real
//! `sosreport-operator` bundle rendered with its `olm.csv.metadata`, renamed per package and
//! version, so blob sizes are those of a real catalog. Prints one tab-separated line per format:
//! `format  bytes  packages  bundles  median_cpu_ns  median_wall_ns  iterations`; CPU time is
//! the calling thread's (`/proc/thread-self/schedstat`), so machine load barely moves it.
//! `cargo xtask bench` reads these lines into `docs/benchmarks.md`.

use std::path::Path;
use std::time::{Duration, Instant};

use olm_catalog::{
    Catalog, CatalogLimits, Channel, ChannelEntry, Format, Package, RenderOptions, Value, load_dir,
    render_bundle_dir, validate, write_dir,
};

const BUDGET: Duration = Duration::from_secs(3);
const MIN_ITERATIONS: usize = 5;

/// CPU time of this thread in nanoseconds, when the kernel tells it.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn synthetic(packages: usize, per_package: usize) -> Catalog {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/operators/sosreport-operator/0.0.2");
    let options = RenderOptions {
        image: Some("quay.example/x/bundle:0.0.2".into()),
        ..RenderOptions::default()
    };
    let template = render_bundle_dir(&fixture, &options, &CatalogLimits::default())
        .expect("render the fixture")
        .bundle;
    let mut c = Catalog::default();
    for p in 0..packages {
        let pkg = format!("operator-{p:04}");
        c.packages.push(Package {
            name: pkg.clone(),
            default_channel: "stable".into(),
            ..Package::default()
        });
        let mut stable = Vec::new();
        let mut fast = Vec::new();
        for v in 0..per_package {
            let name = format!("{pkg}.v1.{v}.0");
            let mut b = template.clone();
            b.name.clone_from(&name);
            b.package.clone_from(&pkg);
            b.image = format!("quay.example/{pkg}/bundle:1.{v}.0");
            for prop in &mut b.properties {
                if prop.kind == "olm.package" {
                    let mut o = olm_catalog::Object::new();
                    o.push("packageName", Value::str(&pkg));
                    o.push("version", Value::str(format!("1.{v}.0")));
                    prop.value = Value::Object(o);
                }
            }
            for r in &mut b.related_images {
                if r.image.starts_with("quay.example/x/") {
                    r.image.clone_from(&b.image);
                }
            }
            c.bundles.push(b);
            let replaces = if v == 0 {
                String::new()
            } else {
                format!("{pkg}.v1.{}.0", v - 1)
            };
            let entry = ChannelEntry {
                name,
                replaces,
                skip_range: format!("<1.{v}.0"),
                ..ChannelEntry::default()
            };
            fast.push(entry.clone());
            if v % 2 == 0 || v + 1 == per_package {
                stable.push(ChannelEntry {
                    replaces: String::new(),
                    skips: stable
                        .iter()
                        .map(|e: &ChannelEntry| e.name.clone())
                        .collect(),
                    ..entry
                });
            }
        }
        for (name, entries) in [("fast", fast), ("stable", stable)] {
            c.channels.push(Channel {
                name: name.into(),
                package: pkg.clone(),
                entries,
                properties: Vec::new(),
            });
        }
    }
    validate(&c).expect("the synthetic catalog is valid");
    c
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                dir_bytes(&e.path())
            } else {
                e.metadata().expect("metadata").len()
            }
        })
        .sum()
}

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let packages = numbers.first().copied().unwrap_or(300);
    let per_package = numbers.get(1).copied().unwrap_or(10);
    let catalog = synthetic(packages, per_package);
    let limits = CatalogLimits::default();
    for format in [Format::Json, Format::Yaml] {
        let dir = tempfile::tempdir().expect("temp dir");
        write_dir(&catalog, dir.path(), format).expect("write the catalog");
        let once = || {
            let loaded = load_dir(dir.path(), &limits).expect("load");
            let model = validate(&loaded).expect("valid");
            std::hint::black_box(model.packages.len())
        };
        assert_eq!(once(), packages);
        let mut cpu = Vec::new();
        let mut wall = Vec::new();
        let start = Instant::now();
        while wall.len() < MIN_ITERATIONS || start.elapsed() < BUDGET {
            let (c0, w0) = (thread_cpu_ns(), Instant::now());
            once();
            wall.push(w0.elapsed().as_nanos());
            if let (Some(a), Some(b)) = (c0, thread_cpu_ns()) {
                cpu.push(u128::from(b - a));
            }
            if wall.len() >= 200 {
                break;
            }
        }
        wall.sort_unstable();
        cpu.sort_unstable();
        let median_cpu = cpu.get(cpu.len() / 2).copied().unwrap_or(0);
        println!(
            "{}\t{}\t{packages}\t{}\t{median_cpu}\t{}\t{}",
            format.extension(),
            dir_bytes(dir.path()),
            catalog.bundles.len(),
            wall[wall.len() / 2],
            wall.len()
        );
    }
}
