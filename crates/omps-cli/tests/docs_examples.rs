//! The docs cannot drift from the binaries: every `omps …` command line in the README files and
//! docs/ names real subcommands and flags (checked against `--help`), and the README's quick
//! start runs as written against a real `omps serve` (only the server address is changed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Markdown files whose examples are checked.
fn documents() -> Vec<PathBuf> {
    let root = workspace();
    let mut files = vec![
        root.join("README.md"),
        root.join("crates/omps-cli/README.md"),
    ];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The command lines of the fenced code blocks of `text` that run `omps` (directly or through
/// `cargo run -p omps-cli --`), continuation lines joined, comments and prompts removed, the
/// program named `omps`.
fn omps_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            pending.clear();
            continue;
        }
        if !in_block {
            continue;
        }
        let line = line.trim();
        let line = line.strip_prefix("$ ").unwrap_or(line);
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        let full = format!("{pending}{line}");
        pending.clear();
        let full = match full.find(" #") {
            Some(i) => full[..i].trim_end().to_owned(),
            None => full,
        };
        let full = full
            .trim_start_matches(|c: char| c.is_ascii_uppercase() || c == '_' || c == '=')
            .trim_start();
        if let Some(rest) = full.strip_prefix("cargo run --release -p omps-cli -- ") {
            out.push(format!("omps {rest}"));
        } else if full.starts_with("omps ") {
            out.push(full.to_owned());
        }
    }
    out
}

/// Splits a command line into words (single and double quotes; no expansions).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (_, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

/// `omps <path> --help`, or `None` when that is not a command.
fn help(cache: &mut BTreeMap<Vec<String>, Option<String>>, path: &[String]) -> Option<String> {
    cache
        .entry(path.to_vec())
        .or_insert_with(|| {
            let out = Command::cargo_bin("omps")
                .unwrap()
                .args(path)
                .arg("--help")
                .output()
                .unwrap();
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        })
        .clone()
}

#[test]
fn every_documented_omps_command_line_names_real_subcommands_and_flags() {
    let mut cache = BTreeMap::new();
    let mut checked = 0;
    let mut problems = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc
            .strip_prefix(workspace())
            .unwrap_or(&doc)
            .display()
            .to_string();
        for line in omps_lines(&text) {
            let words = words(&line);
            // `omps ims` hands its arguments to the helper's own parser (tested elsewhere).
            if words.get(1).is_some_and(|w| w == "ims") {
                continue;
            }
            // The subcommand path: each word that opens a command with help of its own.
            let mut path: Vec<String> = Vec::new();
            let mut leaf = help(&mut cache, &path).unwrap();
            for w in &words[1..] {
                if !w.chars().all(|c| c.is_ascii_lowercase() || c == '-') || w.starts_with('-') {
                    continue;
                }
                let mut next = path.clone();
                next.push(w.clone());
                if let Some(h) = help(&mut cache, &next) {
                    if h != leaf {
                        path = next;
                        leaf = h;
                    }
                }
            }
            if path.is_empty() {
                problems.push(format!("{name}: `{line}`: no such omps command"));
                continue;
            }
            for w in &words[1..] {
                let flag = w.split(['=', '[']).next().unwrap_or_default().to_owned();
                let known = if flag.starts_with("--") && flag.len() > 2 {
                    [" ", ",", "\n", "=", "["]
                        .iter()
                        .any(|end| leaf.contains(&format!("{flag}{end}")))
                } else if flag.len() == 2
                    && flag.starts_with('-')
                    && flag.chars().nth(1).is_some_and(|c| c.is_ascii_alphabetic())
                {
                    leaf.contains(&format!("{flag},")) || leaf.contains(&format!("{flag} "))
                } else {
                    continue;
                };
                if !known {
                    problems.push(format!(
                        "{name}: `{line}`: `omps {}` has no flag {flag}",
                        path.join(" ")
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The docs hold a few dozen examples; finding almost none means the scan broke.
    assert!(checked >= 30, "only {checked} command lines found");
}

/// The shell lines of the README's quick start that talk to the server, in order.
fn quick_start_lines(readme: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_block = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block
            && (line.starts_with("cargo run --release -p omps-cli -- ")
                || line.starts_with("curl ")
                || line.starts_with("(cd "))
        {
            lines.push(line.to_owned());
        }
    }
    lines
}

#[test]
fn the_readme_quick_start_runs_as_written() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let lines = quick_start_lines(&readme);
    assert!(lines.len() >= 7, "{lines:?}");
    let server = test_support::server::OmpsServer::builder(assert_cmd::cargo::cargo_bin("omps"))
        .subcommand("serve")
        .start();
    let base = server.base().to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = tempfile::tempdir().unwrap();
    // `cargo run --release -p omps-cli --` is the built binary; the server is ours, and files the
    // README writes to /tmp go to a private directory.
    let omps = assert_cmd::cargo::cargo_bin("omps");
    std::os::unix::fs::symlink(&omps, bin_dir.path().join("omps")).unwrap();
    let mut outputs = Vec::new();
    for line in &lines {
        let command = line
            .replace("cargo run --release -p omps-cli -- ", "omps ")
            .replace("http://127.0.0.1:8080", &base)
            .replace("/tmp/", &format!("{}/", tmp.path().display()));
        let out = Command::new("sh")
            .args(["-ec", &command])
            .current_dir(workspace())
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin_dir.path().display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("OMPS_URL", &base)
            .env_remove("OMPS_AUTH")
            .env_remove("OMPS_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "README line failed: {line}\nstdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push((line.clone(), stdout));
    }
    // What the lines say they do happened: the CLI pushed 1.0.0, curl pushed 2.0.0, the list
    // shows both, the download is a gzip file, the delete removed the releases.
    let find = |prefix: &str| {
        outputs
            .iter()
            .find(|(l, _)| l.starts_with(prefix))
            .map_or_else(
                || panic!("no README line starts with {prefix}"),
                |(_, o)| o.clone(),
            )
    };
    assert!(
        find("cargo run --release -p omps-cli -- push").contains("pushed myorg/etcd 1.0.0"),
        "{outputs:?}"
    );
    let listed = find("curl -s http://127.0.0.1:8080/v2/myorg/etcd\n".trim_end());
    assert!(
        listed.contains("1.0.0") && listed.contains("2.0.0"),
        "{listed}"
    );
    let download = std::fs::read(tmp.path().join("etcd-1.0.0.tar.gz")).unwrap();
    assert!(download.starts_with(&[0x1f, 0x8b]), "not gzip");
    let validated = find("cargo run --release -p omps-cli -- validate");
    let doc: serde_json::Value = serde_json::from_str(&validated).unwrap();
    assert_eq!(doc["errors"], serde_json::json!([]), "{doc}");
    let gone = Command::new("curl")
        .args(["-s", &format!("{base}/v2/myorg/etcd")])
        .output()
        .unwrap();
    let gone = String::from_utf8_lossy(&gone.stdout);
    assert!(
        !gone.contains("1.0.0") && !gone.contains("2.0.0"),
        "the README's delete left releases behind: {gone}"
    );
}

#[test]
fn the_documented_bundle_conversion_runs_as_written() {
    // docs/bundle-conversion.md: `omps bundle convert ./etcd ./bundles`, then its JSON form
    // from a zip.
    let text = std::fs::read_to_string(workspace().join("docs/bundle-conversion.md")).unwrap();
    let lines: Vec<String> = omps_lines(&text)
        .into_iter()
        .filter(|l| l.starts_with("omps bundle convert"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let tmp = tempfile::tempdir().unwrap();
    let etcd = test_support::fixtures::operator("etcd");
    let copy = Command::new("cp")
        .arg("-r")
        .arg(&etcd)
        .arg(tmp.path().join("etcd"))
        .status()
        .unwrap();
    assert!(copy.success());
    let zip = Command::new("sh")
        .args(["-ec", "cd etcd && zip -qr ../manifests.zip ."])
        .current_dir(tmp.path())
        .status()
        .unwrap();
    assert!(zip.success());
    for (i, line) in lines.iter().enumerate() {
        let mut args = words(line);
        args.remove(0);
        // Each line gets its own output directory (the second would refuse the first's).
        let last = args.len() - 1 - usize::from(line.ends_with("json")) * 2;
        args[last] = format!("./bundles-{i}");
        let out = Command::cargo_bin("omps")
            .unwrap()
            .args(&args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            tmp.path()
                .join(format!("bundles-{i}/0.9.4/metadata/annotations.yaml"))
                .is_file()
        );
    }
}
