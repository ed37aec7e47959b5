//! `omps bundle convert` on every fixture: the output is checked against a model of our rules
//! (validation.md §9.1) computed here from the fixture files, and that model is compared with a
//! model of operator-sdk's `pkgman-to-bundle`. The differences found must be exactly the ones
//! documented in docs/bundle-conversion.md (the table below).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use assert_cmd::Command;
use manifest_bundle::YamlLimits;
use manifest_bundle::yaml::{self, Yaml};
use serde_json::Value;

use test_support::fixtures::operators_dir as fixtures_dir;

fn omps() -> Command {
    Command::cargo_bin("omps").unwrap()
}

/// Every file below `dir`, relative, with its bytes.
fn files_below(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn parse(bytes: &[u8]) -> Option<Yaml> {
    yaml::parse(std::str::from_utf8(bytes).ok()?, &YamlLimits::default())
        .ok()
        .flatten()
}

fn text(y: Option<&Yaml>) -> Option<String> {
    y.map(Yaml::py_str)
}

struct Csv {
    file: String,
    name: String,
    version: String,
    replaces: Option<String>,
    owned: Vec<String>,
    metrics_annotations: bool,
}

struct VersionDir {
    /// Directory name ("" for the flat layout).
    dir: String,
    csv: Csv,
    /// CRD file → `metadata.name`.
    crds: BTreeMap<String, String>,
    /// Every file in the directory (pkgman-to-bundle copies them all).
    files: Vec<String>,
}

struct Package {
    channels: Vec<(String, String)>,
    default_channel: Option<String>,
    versions: Vec<VersionDir>,
}

fn read_version(root: &Path, dir: &str) -> Option<VersionDir> {
    let path = if dir.is_empty() {
        root.to_path_buf()
    } else {
        root.join(dir)
    };
    let mut csv = None;
    let mut crds = BTreeMap::new();
    let mut files = Vec::new();
    for e in std::fs::read_dir(&path).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            continue;
        }
        let file = e.file_name().to_string_lossy().into_owned();
        files.push(file.clone());
        let Some(doc) = parse(&std::fs::read(e.path()).unwrap()) else {
            continue;
        };
        let name = text(doc.get("metadata").and_then(|m| m.get("name")));
        match doc.get("kind").and_then(Yaml::as_str) {
            Some("ClusterServiceVersion") => {
                let spec = doc.get("spec");
                let annotations = doc.get("metadata").and_then(|m| m.get("annotations"));
                csv = Some(Csv {
                    file,
                    name: name.unwrap(),
                    version: text(spec.and_then(|s| s.get("version"))).unwrap(),
                    replaces: text(spec.and_then(|s| s.get("replaces"))),
                    owned: spec
                        .and_then(|s| s.get("customresourcedefinitions"))
                        .and_then(|c| c.get("owned"))
                        .and_then(Yaml::as_seq)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|o| text(o.get("name")))
                        .collect(),
                    metrics_annotations: [
                        "operators.operatorframework.io/builder",
                        "operators.operatorframework.io/project_layout",
                    ]
                    .iter()
                    .any(|k| annotations.and_then(|a| a.get(k)).is_some()),
                });
            }
            Some("CustomResourceDefinition") => {
                crds.insert(file, name.unwrap());
            }
            _ => {}
        }
    }
    files.sort();
    csv.map(|csv| VersionDir {
        dir: dir.to_owned(),
        csv,
        crds,
        files,
    })
}

/// `None` for bundle-format fixtures (no package file).
fn read_package(root: &Path) -> Option<Package> {
    let mut package = None;
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            if let Some(doc) = parse(&std::fs::read(&p).unwrap()) {
                if doc.get("packageName").is_some() {
                    package = Some(doc);
                }
            }
        }
    }
    let package = package?;
    let channels = package
        .get("channels")
        .and_then(Yaml::as_seq)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                text(c.get("name")).unwrap(),
                text(c.get("currentCSV")).unwrap(),
            )
        })
        .collect();
    let mut dirs: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .is_dir()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    dirs.sort();
    let mut versions: Vec<VersionDir> = dirs.iter().filter_map(|d| read_version(root, d)).collect();
    if versions.is_empty() {
        versions.extend(read_version(root, ""));
    }
    Some(Package {
        channels,
        default_channel: text(package.get("defaultChannel")),
        versions,
    })
}

/// Our rule: channels whose `replaces` chain from `currentCSV` reaches the CSV, in package-file
/// order; the default channel when none.
fn our_channels(p: &Package, csv: &str) -> String {
    let replaces: BTreeMap<&str, Option<&str>> = p
        .versions
        .iter()
        .map(|v| (v.csv.name.as_str(), v.csv.replaces.as_deref()))
        .collect();
    let mut out = Vec::new();
    for (channel, head) in &p.channels {
        let mut at = Some(head.as_str());
        let mut seen = BTreeSet::new();
        while let Some(name) = at {
            if !replaces.contains_key(name) || !seen.insert(name) {
                break;
            }
            if name == csv {
                out.push(channel.clone());
                break;
            }
            at = replaces[name];
        }
    }
    if out.is_empty() {
        out.push(our_default(p).unwrap());
    }
    out.join(",")
}

fn our_default(p: &Package) -> Option<String> {
    p.default_channel
        .clone()
        .or_else(|| (p.channels.len() == 1).then(|| p.channels[0].0.clone()))
}

/// pkgman-to-bundle's rule: the channels whose `currentCSV` is the CSV, else the default channel.
fn pkgman_channels(p: &Package, csv: &str) -> String {
    let heads: Vec<&str> = p
        .channels
        .iter()
        .filter(|(_, head)| head == csv)
        .map(|(c, _)| c.as_str())
        .collect();
    if heads.is_empty() {
        p.default_channel.clone().unwrap_or_default()
    } else {
        heads.join(",")
    }
}

/// The documented differences between our conversion and pkgman-to-bundle, per fixture (beyond
/// the layout `<version>/` instead of `bundle-<dir>/bundle/` + `bundle-<dir>/bundle.Dockerfile`).
const DOCUMENTED: &[&str] = &[
    "etcd 0.6.1: not in the default channel singlenamespace-alpha; pkgman still writes it as the default",
    "etcd 0.9.0: channels ours=singlenamespace-alpha,clusterwide-alpha pkgman=singlenamespace-alpha",
    "etcd 0.9.2-clusterwide: channels ours=clusterwide-alpha pkgman=singlenamespace-alpha",
    "etcd 0.9.2-clusterwide: not in the default channel singlenamespace-alpha; pkgman still writes it as the default",
    "etcd 0.9.4-clusterwide: not in the default channel singlenamespace-alpha; pkgman still writes it as the default",
    "etcd-missing-install: invalid; ours refuses, pkgman converts",
    "ext-postgres-operator-flat: flat layout; pkgman writes no bundle",
    "flagsmith 0.0.1: pkgman adds metrics labels",
    "flagsmith-owned-crd-mismatch: invalid; ours refuses, pkgman converts",
    "infinispan: invalid; ours refuses, pkgman converts",
    "kubernetes-nmstate-operator 0.33.0: pkgman also copies nmstate-operator_v1_serviceaccount.yaml",
    "kubernetes-nmstate-operator 0.33.0: pkgman adds metrics labels",
    "kubernetes-nmstate-operator 0.37.0: pkgman also copies nmstate-operator_v1_serviceaccount.yaml",
    "kubernetes-nmstate-operator 0.37.0: pkgman adds metrics labels",
    "node-problem-detector: no defaultChannel; pkgman fails, ours uses the only channel",
    "sosreport-operator: bundle format; pkgman fails (no package), ours copies manifests/ and metadata/",
    "tackle-operator: bundle format; pkgman fails (no package), ours copies manifests/ and metadata/",
    "vault-helm: bundle format; pkgman fails (no package), ours copies manifests/ and metadata/",
];

fn convert(fixture: &Path, out: &Path) -> (i32, Value, String) {
    let o = omps()
        .args(["bundle", "convert", "--output", "json"])
        .arg(fixture)
        .arg(out)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn annotations_of(bytes: &[u8]) -> BTreeMap<String, String> {
    parse(bytes)
        .unwrap()
        .get("annotations")
        .and_then(Yaml::as_map)
        .unwrap()
        .iter()
        .map(|(k, v)| (k.py_str(), v.py_str()))
        .collect()
}

/// `annotations.yaml` and `bundle.Dockerfile` of one converted bundle hold exactly our labels.
fn check_metadata(
    name: &str,
    base: &str,
    produced: &BTreeMap<String, Vec<u8>>,
    p: &Package,
    package: &str,
    channels: &str,
) {
    let annotations = annotations_of(&produced[&format!("{base}/metadata/annotations.yaml")]);
    let mut expected = BTreeMap::from([
        (
            "operators.operatorframework.io.bundle.mediatype.v1".to_owned(),
            "registry+v1".to_owned(),
        ),
        (
            "operators.operatorframework.io.bundle.manifests.v1".into(),
            "manifests/".into(),
        ),
        (
            "operators.operatorframework.io.bundle.metadata.v1".into(),
            "metadata/".into(),
        ),
        (
            "operators.operatorframework.io.bundle.package.v1".into(),
            package.to_owned(),
        ),
        (
            "operators.operatorframework.io.bundle.channels.v1".into(),
            channels.to_owned(),
        ),
    ]);
    // The default channel only when the bundle is in it (else opm refuses the bundle).
    if let Some(d) = our_default(p).filter(|d| channels.split(',').any(|c| c == d)) {
        expected.insert(
            "operators.operatorframework.io.bundle.channel.default.v1".into(),
            d,
        );
    }
    assert_eq!(annotations, expected, "{name} {base}");
    let dockerfile =
        String::from_utf8(produced[&format!("{base}/bundle.Dockerfile")].clone()).unwrap();
    assert!(dockerfile.starts_with("FROM scratch\n"), "{dockerfile}");
    for (k, val) in &expected {
        assert!(
            dockerfile.contains(&format!("LABEL {k}={val}\n")),
            "{name} {base}: {k}\n{dockerfile}"
        );
    }
    assert!(dockerfile.contains("COPY manifests /manifests/\nCOPY metadata /metadata/\n"));
}

/// Checks a converted package-manifest fixture against our model; returns the pkgman
/// differences found.
fn check_package(name: &str, root: &Path, p: &Package, out: &Path, json: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    let flat = p.versions.len() == 1 && p.versions[0].dir.is_empty();
    if flat {
        diffs.push(format!("{name}: flat layout; pkgman writes no bundle"));
    }
    if p.default_channel.is_none() {
        diffs.push(format!(
            "{name}: no defaultChannel; pkgman fails, ours uses the only channel"
        ));
    }
    let produced = files_below(out);
    let mut expected_files = BTreeSet::new();
    for v in &p.versions {
        let src = if v.dir.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&v.dir)
        };
        let base = v.csv.version.clone();
        let mut manifests = vec![v.csv.file.clone()];
        for (file, crd) in &v.crds {
            if !flat || v.csv.owned.contains(crd) {
                manifests.push(file.clone());
            }
        }
        for m in &manifests {
            let path = format!("{base}/manifests/{m}");
            assert_eq!(
                produced.get(&path),
                Some(&std::fs::read(src.join(m)).unwrap()),
                "{name}: {path} must be the source file byte for byte"
            );
            expected_files.insert(path);
        }
        let channels = our_channels(p, &v.csv.name);
        check_metadata(name, &base, &produced, p, &name_of_package(root), &channels);
        expected_files.insert(format!("{base}/metadata/annotations.yaml"));
        expected_files.insert(format!("{base}/bundle.Dockerfile"));
        // The JSON report names the same bundle.
        let reported = json["bundles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["version"] == base.as_str())
            .unwrap_or_else(|| panic!("{name}: {base} not reported in {json}"));
        assert_eq!(reported["channels"], channels.as_str());

        if flat || p.default_channel.is_none() {
            continue;
        }
        let label = if v.dir == v.csv.version {
            v.csv.version.clone()
        } else {
            format!("{} (dir {})", v.csv.version, v.dir)
        };
        if let Some(d) = our_default(p).filter(|d| !channels.split(',').any(|c| c == d)) {
            diffs.push(format!(
                "{name} {label}: not in the default channel {d}; pkgman still writes it as the default"
            ));
        }
        let theirs = pkgman_channels(p, &v.csv.name);
        if theirs != channels {
            diffs.push(format!(
                "{name} {label}: channels ours={channels} pkgman={theirs}"
            ));
        }
        for f in &v.files {
            if !manifests.contains(f) {
                diffs.push(format!("{name} {label}: pkgman also copies {f}"));
            }
        }
        if v.csv.metrics_annotations {
            diffs.push(format!("{name} {label}: pkgman adds metrics labels"));
        }
    }
    assert_eq!(
        produced.keys().cloned().collect::<BTreeSet<_>>(),
        expected_files,
        "{name}: exactly the bundle files"
    );
    diffs
}

fn name_of_package(root: &Path) -> String {
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            if let Some(doc) = parse(&std::fs::read(&p).unwrap()) {
                if let Some(n) = doc.get("packageName") {
                    return n.py_str();
                }
            }
        }
    }
    unreachable!("package fixtures have a package file")
}

/// A bundle-format fixture is copied version by version: manifests/ and metadata/ unchanged.
fn check_bundle_format(name: &str, root: &Path, out: &Path) {
    let produced = files_below(out);
    let mut expected = BTreeSet::new();
    for e in std::fs::read_dir(root).unwrap() {
        let dir = e.unwrap().path();
        if !dir.join("metadata/annotations.yaml").is_file() {
            continue;
        }
        let source = files_below(&dir);
        let annotations = annotations_of(&source["metadata/annotations.yaml"]);
        let csv = source
            .iter()
            .filter(|(p, _)| p.starts_with("manifests/"))
            .find_map(|(_, d)| {
                parse(d).filter(|y| {
                    y.get("kind").and_then(Yaml::as_str) == Some("ClusterServiceVersion")
                })
            })
            .unwrap();
        let version = text(csv.get("spec").and_then(|s| s.get("version"))).unwrap();
        for (path, data) in &source {
            if path.starts_with("manifests/") || path.starts_with("metadata/") {
                let out_path = format!("{version}/{path}");
                assert_eq!(produced.get(&out_path), Some(data), "{name}: {out_path}");
                expected.insert(out_path);
            }
        }
        let dockerfile =
            String::from_utf8(produced[&format!("{version}/bundle.Dockerfile")].clone()).unwrap();
        for (k, v) in &annotations {
            assert!(
                dockerfile.contains(&format!("LABEL {k}={v}\n")),
                "{name}: {k}"
            );
        }
        expected.insert(format!("{version}/bundle.Dockerfile"));
    }
    assert_eq!(
        produced.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "{name}"
    );
}

#[test]
fn every_fixture_converts_as_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let mut found = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .is_dir()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert!(names.len() >= 15, "{names:?}");
    for name in &names {
        let root = fixtures_dir().join(name);
        let out = tmp.path().join(name);
        let (code, json, stderr) = convert(&root, &out);
        let valid = std::fs::read_to_string(fixtures_dir().join(format!("{name}.courier.txt")))
            .unwrap()
            .starts_with('0');
        match read_package(&root) {
            Some(p) if valid => {
                assert_eq!(code, 0, "{name}: {stderr}");
                found.extend(check_package(name, &root, &p, &out, &json));
            }
            Some(_) => {
                assert_eq!(code, 1, "{name}: {stderr}");
                assert!(
                    stderr.contains("is not a valid operator package"),
                    "{stderr}"
                );
                assert!(!out.exists(), "{name}: nothing written for invalid input");
                found.push(format!("{name}: invalid; ours refuses, pkgman converts"));
            }
            None => {
                assert_eq!(code, 0, "{name}: {stderr}");
                check_bundle_format(name, &root, &out);
                found.push(format!(
                    "{name}: bundle format; pkgman fails (no package), ours copies manifests/ and metadata/"
                ));
            }
        }
    }
    found.sort();
    let mut documented: Vec<String> = DOCUMENTED.iter().map(|s| (*s).to_owned()).collect();
    documented.sort();
    assert_eq!(
        found, documented,
        "differences from pkgman-to-bundle changed; update docs/bundle-conversion.md"
    );
}

#[test]
fn zip_input_gives_the_same_bundles_as_the_directory() {
    let root = fixtures_dir().join("ext-postgres-operator");
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("m.zip");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    for (path, data) in files_below(&root) {
        writer
            .start_file(path, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut writer, &data).unwrap();
    }
    writer.finish().unwrap();
    let (a, _, e) = convert(&root, &tmp.path().join("from-dir"));
    assert_eq!(a, 0, "{e}");
    let (b, _, e) = convert(&zip_path, &tmp.path().join("from-zip"));
    assert_eq!(b, 0, "{e}");
    assert_eq!(
        files_below(&tmp.path().join("from-dir")),
        files_below(&tmp.path().join("from-zip"))
    );
}

#[test]
fn existing_output_is_refused_and_text_output_lists_bundles() {
    let root = fixtures_dir().join("etcd");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    omps()
        .args(["bundle", "convert"])
        .arg(&root)
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not empty"));
    assert_eq!(files_below(tmp.path()).len(), 1, "nothing written");

    let out = tmp.path().join("bundles");
    let assert = omps()
        .args(["bundle", "convert"])
        .arg(&root)
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 6, "{stdout}");
    assert!(
        stdout.contains("0.9.0: etcdoperator.v0.9.0 (package etcd, channels singlenamespace-alpha,clusterwide-alpha, 5 files)"),
        "{stdout}"
    );
}
