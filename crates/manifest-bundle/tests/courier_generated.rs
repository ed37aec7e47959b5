//! Generator-driven differential of whole packages against live operator-courier 2.1.11
//! (`operatorcourier.api.build_and_verify`, the code behind `operator-courier verify` and
//! OMPS), through one long-lived Python process.
//!
//! Each group mutates a small valid package (flat or nested) from a fixed seed and compares
//! the verdict and, where courier writes a report, the multisets of warnings and errors; where
//! courier stops with a structural message, ours must be the same text; where courier's Python
//! raises, ours must be invalid with our own message.
//!
//! The tests need the courier venv, so they are `#[ignore]`d; `cargo xtask ci` sets
//! `OMPS_COURIER`. Without it they panic rather than pass.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use manifest_bundle::{Error, Limits, ManifestTree, validate_tree};
use serde_json::Value;
use test_support::courier::{Oracle, Rng, Verify};

const PACKAGE: &str = "packageName: example
channels:
- name: alpha
  currentCSV: example.v0.1.0
";

const CSV: &str = "apiVersion: operators.coreos.com/v1alpha1
kind: ClusterServiceVersion
metadata:
  name: example.v0.1.0
  annotations:
    categories: Database
    description: An example
    containerImage: example/op:1
    createdAt: 2020-01-01
    support: Example
    certified: 'false'
    alm-examples: '[{\"kind\": \"Example\"}]'
spec:
  displayName: Example
  description: An example
  icon: []
  version: 0.1.0
  provider:
    name: Example
  maturity: alpha
  installModes: []
  install:
    strategy: deployment
    spec:
      deployments: []
      permissions: []
  customresourcedefinitions:
    owned:
    - name: examples.example.com
      kind: Example
      version: v1
";

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: examples.example.com
spec:
  group: example.com
  names:
    kind: Example
    plural: examples
  versions:
  - name: v1
    served: true
    storage: true
";

/// Where a mutation applies: a file and the exact text it replaces there.
struct Site {
    file: &'static str,
    from: &'static str,
    to: &'static [&'static str],
}

/// Values that make courier's Python raise, or not, depending on where they go.
const ODD: &[&str] = &[
    "null",
    "1",
    "1.5",
    "true",
    "abc",
    "''",
    "[]",
    "[a]",
    "[name]",
    "{}",
    "{name: x}",
    "[{name: x}]",
    "2020-01-01",
    "!!binary aGk=",
    "!!set {name}",
    "!!omap [{name: x}]",
    "[[name]]",
    "{owned: x}",
    "&r [*r]",
    "&q {name: *q}",
];

#[allow(clippy::too_many_lines)] // one table
fn sites() -> Vec<Site> {
    vec![
        Site {
            file: "csv",
            from: "  annotations:\n",
            to: &[
                "  annotations: null\n  x:\n",
                "  annotations: 7\n  x:\n",
                "  annotations: [a]\n  x:\n",
                "  annotations: categories description\n  x:\n",
                "  annotations: !!binary aGk=\n  x:\n",
            ],
        },
        Site {
            file: "csv",
            from: "    owned:\n",
            to: &[
                "    owned: null\n    x:\n",
                "    owned: {name: examples.example.com}\n    x:\n",
                "    owned: name\n    x:\n",
                "    owned: 3\n    x:\n",
                "    owned: [name]\n    x:\n",
                "    owned: !!omap [{name: x}]\n    x:\n",
                "    owned: [[name]]\n    x:\n",
            ],
        },
        Site {
            file: "csv",
            from: "  customresourcedefinitions:\n",
            to: &[
                "  customresourcedefinitions: owned\n  x:\n",
                "  customresourcedefinitions: 1\n  x:\n",
                "  customresourcedefinitions: []\n  x:\n",
                "  customresourcedefinitions: [owned]\n  x:\n",
                "  customresourcedefinitions: null\n  x:\n",
            ],
        },
        Site {
            file: "pkg",
            from: "channels:\n",
            to: &[
                "channels: abc\nx:\n",
                "channels: {name: a, currentCSV: b}\nx:\n",
                "channels: null\nx:\n",
                "channels: 1\nx:\n",
                "channels: []\nx:\n",
                "channels: [currentCSV]\nx:\n",
                "channels: !!pairs [{name: a}]\nx:\n",
                "channels: {currentCSV: example.v0.1.0}\nx:\n",
            ],
        },
        Site {
            file: "crd",
            from: "  versions:\n",
            to: &[
                "  versions: v1\n  x:\n",
                "  versions: 1\n  x:\n",
                "  versions: {name: v1}\n  x:\n",
                "  versions: []\n  x:\n",
                "  versions: null\n  x:\n",
                "  versions: [name]\n  x:\n",
                "  versions: [storage]\n  x:\n",
                "  version: [{name: v1}]\n  versions:\n",
                "  version: v2\n  versions:\n",
                "  version: 1\n  versions:\n",
                "  version: []\n  versions:\n",
                "  version: {0: {name: v9}}\n  versions:\n",
            ],
        },
        Site {
            file: "crd",
            from: "metadata:\n  name: examples.example.com\n",
            to: &[
                "metadata: null\nx:\n  name: examples.example.com\n",
                "metadata: name\nx:\n  name: examples.example.com\n",
                "metadata: [name]\nx:\n  name: examples.example.com\n",
                "metadata:\n  name: [examples.example.com]\n",
            ],
        },
        Site {
            file: "crd",
            from: "  names:\n",
            to: &[
                "  names: kind plural\n  x:\n",
                "  names: null\n  x:\n",
                "  names: [kind, plural]\n  x:\n",
            ],
        },
        Site {
            file: "crd",
            from: "    plural: examples\n",
            to: &[
                "    plural: 1\n",
                "    plural: [examples]\n",
                "    plural: null\n",
            ],
        },
        Site {
            file: "crd",
            from: "  group: example.com\n",
            to: &[
                "  group: 1\n",
                "  group: [example.com]\n",
                "  group: null\n",
            ],
        },
        Site {
            file: "crd",
            from: "kind: CustomResourceDefinition\n",
            to: &[
                "kind: [CustomResourceDefinition]\n",
                "kind: {a: b}\n",
                "kind: customresourcedefinition\n",
            ],
        },
        Site {
            file: "csv",
            from: "metadata:\n  name: example.v0.1.0\n",
            to: &[
                "metadata: null\nx:\n  name: example.v0.1.0\n",
                "metadata: name annotations\nx:\n  name: example.v0.1.0\n",
                "metadata: [name]\nx:\n  name: example.v0.1.0\n",
            ],
        },
        Site {
            file: "csv",
            from: "  install:\n",
            to: &[
                "  install: null\n  x:\n",
                "  install: strategy spec\n  x:\n",
                "  install: [strategy]\n  x:\n",
            ],
        },
        Site {
            file: "csv",
            from: "    spec:\n      deployments: []\n",
            to: &[
                "    spec: deployments permissions\n",
                "    spec: [deployments]\n",
                "    spec: null\n",
                "    spec:\n      deployments: {}\n",
                "    spec:\n      deployments: !!pairs [{a: 1}]\n",
            ],
        },
        Site {
            file: "csv",
            from: "    strategy: deployment\n",
            to: &[
                "    strategy: [deployment]\n",
                "    strategy: Deployment\n",
                "    strategy: null\n",
            ],
        },
        Site {
            file: "csv",
            from: "    - name: examples.example.com\n",
            to: &[
                "    - name: [examples.example.com]\n",
                "    - name: 1\n",
                "    - name: null\n",
                "    - name: {a: b}\n",
                "    - examples.example.com\n    - name: x\n",
            ],
        },
        Site {
            file: "csv",
            from: "      version: v1\n",
            to: &[
                "      version: [v1]\n",
                "      version: 1\n",
                "      version: v2\n",
            ],
        },
        Site {
            file: "csv",
            from: "spec:\n  displayName",
            to: &[
                "spec: null\nx:\n  displayName",
                "spec: displayName\nx:\n  displayName",
                "spec: [install]\nx:\n  displayName",
            ],
        },
    ]
}

const ALM: &[&str] = &[
    "'[{\"a\": NaN}]'",
    "'[Infinity, -Infinity]'",
    "'{\"a\": nan}'",
    "'[1,]'",
    "'[1e400]'",
    "'{\"a\": 01}'",
    "'[\"\\u00e9\"]'",
    "!!binary W10=",
    "!!binary e30K",
    "1",
    "null",
    "[]",
    "'  [1] '",
    "''",
    "'\"\\ud800\"'",
    "'[true, false, null]'",
];

/// Values printed by courier's messages (`%s`), each as YAML.
const PRINTED: &[&str] = &[
    "2020-01-01",
    "2020-01-01 10:00:00Z",
    "2020-01-01t10:00:00.5+05:30",
    "2021-03-04 05:06:07 -02",
    "1e+20",
    "1.0e+20",
    "1.0e-7",
    "0.1",
    "1.5",
    "-0.0",
    ".inf",
    ".nan",
    "100000000000000000000",
    "[a, b]",
    "{a: 1}",
    "!!binary aGk=",
    "true",
    "null",
    "0x1F",
    "1:20",
    "1:20.5",
    "'x'",
    "!!omap [{a: 1}]",
    "\"t\\u00e9st\"",
    "[1.5, 2020-01-01]",
    "&r [*r]",
    "12345678901234567890123",
];

#[derive(Debug)]
enum Ours {
    Report(manifest_bundle::ValidationReport),
    Structural(String),
    Unreadable(#[allow(dead_code)] String),
}

fn ours(dir: &Path, repository: Option<&str>) -> Ours {
    let limits = Limits::for_directories();
    let tree = match ManifestTree::from_dir(dir, &limits) {
        Ok(t) => t,
        Err(e) => return Ours::Unreadable(e.to_string()),
    };
    match validate_tree(&tree, repository, &limits.yaml) {
        Ok((_, report)) => Ours::Report(report),
        Err(e @ Error::Structural(_)) => Ours::Structural(e.to_string()),
        Err(e) => Ours::Unreadable(e.to_string()),
    }
}

fn counts(items: &[String]) -> BTreeMap<&str, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i.as_str()).or_default() += 1;
    }
    m
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// How we differ from courier on one input, if we do.
fn difference(courier: &Verify, ours: &Ours) -> Option<String> {
    match (courier.outcome.as_str(), &courier.report, ours) {
        ("valid" | "courier", Some(report), Ours::Report(r)) => {
            let (w, e) = (strings(report, "warnings"), strings(report, "errors"));
            (counts(&w) != counts(&r.warnings) || counts(&e) != counts(&r.errors)).then(|| {
                format!(
                    "courier warnings {w:?} errors {e:?}\n      ours    warnings {:?} errors {:?}",
                    r.warnings, r.errors
                )
            })
        }
        ("courier", None, Ours::Structural(text)) if *text == courier.message => None,
        // Two unloadable files: which one courier meets first follows `os.listdir` order,
        // ours is sorted. Both verdicts are "invalid" and both messages name a file problem.
        ("courier", None, Ours::Structural(text))
            if courier.message == "Courier requires valid input YAML files"
                && text.contains("operator-courier 2.1.11 stops") =>
        {
            None
        }
        ("raised", None, Ours::Structural(_)) => None,
        ("raised", None, Ours::Report(r))
            if r.errors
                .iter()
                .any(|e| e.contains("operator-courier 2.1.11 stops")) =>
        {
            None
        }
        _ => Some(format!("courier {courier:?}\n      ours {ours:?}")),
    }
}

/// One generated package: flat or nested, then `mutate`d file by file.
fn write_package(root: &Path, nested: bool, texts: &BTreeMap<&str, String>) {
    let version_dir = if nested {
        root.join("0.1.0")
    } else {
        root.to_owned()
    };
    std::fs::create_dir_all(&version_dir).unwrap();
    std::fs::write(root.join("example.package.yaml"), &texts["pkg"]).unwrap();
    std::fs::write(
        version_dir.join("example.v0.1.0.clusterserviceversion.yaml"),
        &texts["csv"],
    )
    .unwrap();
    std::fs::write(
        version_dir.join("examples.example.com.crd.yaml"),
        &texts["crd"],
    )
    .unwrap();
}

fn base_texts() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("pkg", PACKAGE.to_owned()),
        ("csv", CSV.to_owned()),
        ("crd", CRD.to_owned()),
    ])
}

/// Runs `cases` packages of a group; `generate` edits the three texts and returns the
/// repository argument to use.
fn run_group(
    name: &str,
    seed: u64,
    cases: usize,
    generate: impl Fn(&mut Rng, &mut BTreeMap<&'static str, String>) -> Option<String>,
) {
    let mut oracle = Oracle::start();
    let mut rng = Rng::new(seed);
    let mut report = String::new();
    let (mut failures, mut raised, mut invalid) = (0, 0, 0);
    for i in 0..cases {
        let mut texts = base_texts();
        let repository = generate(&mut rng, &mut texts);
        let nested = rng.one_in(2);
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("example");
        write_package(&root, nested, &texts);
        let c = oracle.verify(&root, repository.as_deref());
        raised += usize::from(c.outcome == "raised");
        invalid += usize::from(c.invalid());
        if let Some(d) = difference(&c, &ours(&root, repository.as_deref())) {
            failures += 1;
            if failures <= 12 {
                let changed: Vec<String> = texts
                    .iter()
                    .filter(|(k, v)| base_texts()[*k] != **v)
                    .map(|(k, v)| format!("{k}: {v:?}"))
                    .collect();
                let _ = writeln!(
                    report,
                    "case {i} (nested {nested}, repository {repository:?}) {changed:?}\n      {d}"
                );
            }
        }
    }
    println!(
        "{name}: {cases} packages (seed {seed}): courier invalid on {invalid}, raised on {raised}; {failures} differ"
    );
    assert!(
        report.is_empty(),
        "{name}: {failures} of {cases} packages differ from operator-courier (seed {seed}):\n{report}"
    );
}

fn mutate(rng: &mut Rng, texts: &mut BTreeMap<&'static str, String>, sites: &[Site]) {
    let site = &sites[rng.below(sites.len())];
    let to = *rng.pick(site.to);
    let text = texts.get_mut(site.file).expect("a known file");
    *text = text.replacen(site.from, to, 1);
}

#[test]
#[ignore = "needs operator-courier; run by cargo xtask ci"]
fn rules_where_courier_raises_give_an_invalid_verdict() {
    let sites = sites();
    run_group("raising rules", 0x2a15e, 400, |rng, texts| {
        for _ in 0..=rng.below(2) {
            mutate(rng, texts, &sites);
        }
        // Sometimes an odd value in a place no site covers.
        if rng.one_in(3) {
            let odd = *rng.pick(ODD);
            let key = *rng.pick(&[
                "    served: true\n",
                "    kind: Example\n",
                "  maturity: alpha\n",
                "  icon: []\n",
            ]);
            let file = if key.contains("served") || key.contains("kind: Example") {
                "crd"
            } else {
                "csv"
            };
            let indent = &key[..key.len() - key.trim_start().len()];
            let field = key.trim().split(':').next().unwrap_or("x");
            let t = texts.get_mut(file).unwrap();
            *t = t.replacen(key, &format!("{indent}{field}: {odd}\n"), 1);
        }
        None
    });
}

#[test]
#[ignore = "needs operator-courier; run by cargo xtask ci"]
fn alm_examples_json_like_python() {
    run_group("alm-examples", 0xa1e, 120, |rng, texts| {
        let alm = *rng.pick(ALM);
        let csv = texts.get_mut("csv").unwrap();
        *csv = csv.replacen(
            "    alm-examples: '[{\"kind\": \"Example\"}]'\n",
            &format!("    alm-examples: {alm}\n"),
            1,
        );
        None
    });
}

#[test]
#[ignore = "needs operator-courier; run by cargo xtask ci"]
fn printed_values_like_python_str() {
    run_group("printed values", 0x9e1, 300, |rng, texts| {
        let value = *rng.pick(PRINTED);
        match rng.below(3) {
            0 => {
                let pkg = texts.get_mut("pkg").unwrap();
                *pkg = pkg.replacen(
                    "currentCSV: example.v0.1.0",
                    &format!("currentCSV: {value}"),
                    1,
                );
                None
            }
            1 => {
                let csv = texts.get_mut("csv").unwrap();
                *csv = csv.replacen(
                    "    - name: examples.example.com\n",
                    &format!("    - name: {value}\n"),
                    1,
                );
                None
            }
            _ => {
                let pkg = texts.get_mut("pkg").unwrap();
                *pkg = pkg.replacen("packageName: example", &format!("packageName: {value}"), 1);
                Some((*rng.pick(&["example", "other", "2020-01-01", "1e+20"])).to_owned())
            }
        }
    });
}

/// The issue's examples of rules where courier raises, each on its own.
#[test]
#[ignore = "needs operator-courier; run by cargo xtask ci"]
fn issue_examples_of_raising_rules() {
    let mut oracle = Oracle::start();
    let cases: &[(&str, &str, &str)] = &[
        ("csv", "  annotations:\n", "  annotations: null\n  x:\n"),
        ("csv", "  annotations:\n", "  annotations: 7\n  x:\n"),
        ("csv", "    owned:\n", "    owned: null\n    x:\n"),
        (
            "csv",
            "    owned:\n",
            "    owned: {name: examples.example.com}\n    x:\n",
        ),
        (
            "csv",
            "  customresourcedefinitions:\n",
            "  customresourcedefinitions: owned\n  x:\n",
        ),
        (
            "pkg",
            "channels:\n",
            "channels: {currentCSV: example.v0.1.0}\nx:\n",
        ),
        ("pkg", "channels:\n", "channels: abc\nx:\n"),
        ("crd", "  versions:\n", "  versions: v1\n  x:\n"),
    ];
    let mut report = String::new();
    for (file, from, to) in cases {
        for nested in [false, true] {
            let mut texts = base_texts();
            let t = texts.get_mut(file).unwrap();
            assert!(t.contains(from));
            *t = t.replacen(from, to, 1);
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("example");
            write_package(&root, nested, &texts);
            let c = oracle.verify(&root, None);
            assert!(c.invalid(), "{to:?}: courier {c:?}");
            let o = ours(&root, None);
            if let Some(d) = difference(&c, &o) {
                let _ = writeln!(report, "{to:?} nested {nested}: {d}");
            }
        }
    }
    assert!(report.is_empty(), "differences from courier:\n{report}");
}

/// Directory input as courier reads it: links inside the root, odd file names, more than
/// 1,000 entries, more than 20 MiB. Every variant, flat and nested.
#[test]
#[ignore = "needs operator-courier; run by cargo xtask ci"]
fn directory_input_like_courier() {
    use std::os::unix::ffi::OsStrExt as _;
    use std::os::unix::fs::symlink;

    type Edit = fn(&Path, &Path);
    let variants: &[(&str, Edit)] = &[
        ("symlinked CSV", |root, version| {
            let csv = version.join("example.v0.1.0.clusterserviceversion.yaml");
            std::fs::create_dir_all(root.join("store")).unwrap();
            std::fs::rename(&csv, root.join("store/csv.txt")).unwrap();
            let depth = version.strip_prefix(root).unwrap().components().count();
            let up = "../".repeat(depth);
            symlink(format!("{up}store/csv.txt"), &csv).unwrap();
        }),
        ("symlinked README", |root, version| {
            std::fs::write(root.join("README.md"), "# example\n").unwrap();
            symlink(root.join("README.md"), version.join("README")).unwrap();
        }),
        ("symlinked version folder", |root, version| {
            if version != root {
                symlink("0.1.0", root.join("0.1.0-again")).unwrap();
            }
        }),
        ("backslash and colon names", |_, version| {
            std::fs::write(version.join("odd\\name.yaml"), "a: 1\n").unwrap();
            std::fs::write(version.join("a:b.txt"), "x\n").unwrap();
        }),
        ("non-UTF-8 CRD name", |_, version| {
            let crd = version.join("examples.example.com.crd.yaml");
            let odd = version.join(std::ffi::OsStr::from_bytes(b"caf\xe9.crd.yaml"));
            std::fs::rename(crd, odd).unwrap();
        }),
        ("1,200 entries", |root, _| {
            std::fs::create_dir_all(root.join("docs")).unwrap();
            for i in 0..1_200 {
                std::fs::write(root.join(format!("docs/page{i}.md")), "x").unwrap();
            }
        }),
        ("21 MiB", |root, _| {
            std::fs::write(root.join("icon.bin"), vec![b'x'; 21 * 1024 * 1024]).unwrap();
        }),
    ];
    let mut oracle = Oracle::start();
    let mut report = String::new();
    for (name, edit) in variants {
        for nested in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("example");
            write_package(&root, nested, &base_texts());
            let version = if nested {
                root.join("0.1.0")
            } else {
                root.clone()
            };
            edit(&root, &version);
            let c = oracle.verify(&root, Some("example"));
            assert!(!c.invalid(), "{name} nested {nested}: courier {c:?}");
            if let Some(d) = difference(&c, &ours(&root, Some("example"))) {
                let _ = writeln!(report, "{name} (nested {nested}): {d}");
            }
        }
    }
    assert!(
        report.is_empty(),
        "directory input differs from courier:\n{report}"
    );
}
