//! The first hour with omps: the common mistakes get a message that says what to do, pinned as
//! exact text (paths and ports masked). Against a real `omps serve` where a service is involved.

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;
use test_support::fixtures::operator as fixture;
use test_support::server::OmpsServer;

/// `omps <args>` in `dir`, without the caller's OMPS variables: (exit, stdout, stderr).
fn omps_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("omps")
        .unwrap()
        .args(args)
        .current_dir(dir)
        .env_remove("OMPS_URL")
        .env_remove("OMPS_AUTH")
        .env_remove("OMPS_CONFIG")
        .env_remove("OMPS_DATA_DIR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn serve(env: &[(&str, &str)]) -> OmpsServer {
    let mut b = OmpsServer::builder(assert_cmd::cargo::cargo_bin("omps")).subcommand("serve");
    for (k, v) in env {
        b = b.env(*k, *v);
    }
    b.start()
}

/// Copies a fixture into `dir/<name>`.
fn copy_fixture(name: &str, dir: &Path) {
    let ok = Command::new("cp")
        .arg("-r")
        .arg(fixture(name))
        .arg(dir.join(name))
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn zip(dir: &Path, what: &str, zip_name: &str) {
    let ok = Command::new("sh")
        .args(["-ec", &format!("zip -qr {zip_name} {what}")])
        .current_dir(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

const NO_PACKAGE_FILE: &str = "a package needs a package file at its root (e.g. \
     etcd.package.yaml with packageName, channels and defaultChannel) next to the CSV and CRD \
     files or version directories";

#[test]
fn packaging_mistakes_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_fixture("deployment-validation-operator", dir);

    // The folder wrapped in the zip (`zip -r dvo.zip deployment-validation-operator`).
    zip(dir, "deployment-validation-operator", "wrapped.zip");
    let (code, stdout, stderr) = omps_in(dir, &["validate", "wrapped.zip"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr,
        "Bundle does not contain any packages.\nhint: the archive wraps the manifests in the \
         folder deployment-validation-operator/; they must be at its root: zip the folder's \
         contents, e.g. (cd deployment-validation-operator && zip -r \
         ../deployment-validation-operator.zip .)\n"
    );

    // A directory given one level too high.
    let parent = dir.join("parent");
    std::fs::create_dir(&parent).unwrap();
    copy_fixture("deployment-validation-operator", &parent);
    let (code, _, stderr) = omps_in(dir, &["validate", "parent"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Bundle does not contain any packages.\nhint: the manifests are one level down, in \
         deployment-validation-operator/: give that folder \
         (parent/deployment-validation-operator)\n"
    );

    // No package file.
    let no_pkg = dir.join("no-package");
    std::fs::create_dir(&no_pkg).unwrap();
    for e in std::fs::read_dir(fixture("deployment-validation-operator").join("0.0.10")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), no_pkg.join(e.file_name())).unwrap();
    }
    let (code, _, stderr) = omps_in(dir, &["validate", "no-package"]);
    assert_eq!(code, 1);
    assert!(
        stderr.ends_with(&format!("\nhint: {NO_PACKAGE_FILE}\n")),
        "{stderr}"
    );

    // A file-based catalog where a package is expected: named, for validate and convert.
    let fbc = dir.join("catalog");
    std::fs::create_dir(&fbc).unwrap();
    std::fs::write(
        fbc.join("index.yaml"),
        "---\nschema: olm.package\nname: etcd\ndefaultChannel: alpha\n---\nschema: olm.channel\n\
         package: etcd\nname: alpha\nentries:\n  - name: etcd.v1.0.0\n---\nschema: olm.bundle\n\
         package: etcd\nname: etcd.v1.0.0\nimage: quay.example.com/etcd/bundle:1.0.0\n\
         properties:\n  - type: olm.package\n    value:\n      packageName: etcd\n      \
         version: 1.0.0\n",
    )
    .unwrap();
    let catalog_hint = "hint: catalog is a file-based catalog (olm.package, olm.channel, \
                        olm.bundle blobs), not an operator package: give the package-manifest \
                        directory it was made from, or a bundle directory\n";
    let (code, _, stderr) = omps_in(dir, &["validate", "catalog"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!("Courier requires valid input YAML files\n{catalog_hint}")
    );
    let (code, _, stderr) = omps_in(dir, &["bundle", "convert", "catalog", "out"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        format!("error: catalog: Courier requires valid input YAML files\n{catalog_hint}")
    );
}

#[test]
fn local_mistakes_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_fixture("deployment-validation-operator", dir);

    // A URL without a scheme is a usage error, in text and in JSON.
    let (code, stdout, stderr) = omps_in(dir, &["list", "--org", "x", "--url", "127.0.0.1:8080"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: --url (OMPS_URL) \"127.0.0.1:8080\" has no scheme: write http://127.0.0.1:8080 \
         or https://127.0.0.1:8080\n"
    );
    let (code, stdout, _) = omps_in(
        dir,
        &[
            "list",
            "--org",
            "x",
            "--url",
            "127.0.0.1:8080",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 2);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["result"], "failure");
    assert_eq!(doc["error"]["kind"], "config");

    // A data directory that does not exist is refused, not listed as empty.
    let (code, stdout, stderr) = omps_in(
        dir,
        &["list", "--org", "x", "--direct", "--data-dir", "omps-dta"],
    );
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        "error: --data-dir omps-dta: no such directory (the local store is created by the first \
         push)\n"
    );

    // --direct on the local store needs no credentials; an empty list says so on stderr only.
    let (code, stdout, stderr) = omps_in(
        dir,
        &[
            "push",
            "deployment-validation-operator",
            "--org",
            "myorg",
            "--direct",
            "--data-dir",
            "data",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "pushed myorg/deployment-validation-operator 1.0.0\n"
    );
    let (code, stdout, stderr) = omps_in(
        dir,
        &["list", "--org", "nobody", "--direct", "--data-dir", "data"],
    );
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "", "no repositories in organization nobody\n")
    );
}

#[test]
fn service_answers_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_fixture("deployment-validation-operator", dir);
    copy_fixture("tackle-operator", dir);
    zip(dir, "deployment-validation-operator", "wrapped.zip");
    let server = serve(&[("OMPS_MAX_CONTENT_LENGTH", "20000")]);
    let url = server.base().to_owned();

    // No --auth: the hint names the flag and the variable.
    let (code, _, stderr) = omps_in(
        dir,
        &[
            "push",
            "deployment-validation-operator",
            "--org",
            "myorg",
            "--url",
            &url,
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: OMPSAuthorizationHeaderRequired: Request contains no 'Authorization' header\n\
         hint: give the Authorization value with --auth (or the OMPS_AUTH environment variable), \
         or --auth-file FILE\n"
    );
    let auth = ["--url", url.as_str(), "--auth", "basic dXNlcjpwYXNz"];

    // TLS spoken to the plain-HTTP service: the URL with its port, the cause, the fix.
    let tls_url = url.replacen("http://", "https://", 1);
    let (code, _, stderr) = omps_in(dir, &["list", "--org", "myorg", "--url", &tls_url]);
    assert_eq!(code, 4);
    let port = url.rsplit(':').next().unwrap();
    assert_eq!(
        stderr.replace(port, "PORT"),
        "error: calling the OMPS service: TLS handshake failed \
         (https://127.0.0.1:PORT/v2/myorg): received corrupt message of type InvalidContentType\n\
         hint: 127.0.0.1:PORT answered in plain HTTP, not TLS: use an http:// URL for it\n"
    );

    // Too large: the limit and its setting are named.
    let mut args = vec!["push", "tackle-operator", "--org", "myorg"];
    args.extend(auth);
    let (code, _, stderr) = omps_in(dir, &args);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: RequestEntityTooLarge: The data value transmitted exceeds the capacity limit \
         (20000 bytes; the server's max_content_length setting).\nhint: the upload limit is the \
         server's max_content_length setting (2 MiB unless configured): raise it in the server \
         configuration, or push a smaller archive\n"
    );

    // The wrapped zip pushed to a service: the service's message, and our hint.
    let mut args = vec!["push", "wrapped.zip", "--org", "myorg"];
    args.extend(auth);
    let (code, _, stderr) = omps_in(dir, &args);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: PackageValidationError: Could not find packageName in manifests.\nhint: the \
         archive wraps the manifests in the folder deployment-validation-operator/; they must be \
         at its root: zip the folder's contents, e.g. (cd deployment-validation-operator && zip \
         -r ../deployment-validation-operator.zip .)\n"
    );

    // A release the local store does not have.
    let mut args = vec![
        "delete",
        "--org",
        "myorg",
        "--repo",
        "etcd",
        "--version",
        "9.9.9",
    ];
    args.extend(auth);
    let (code, _, stderr) = omps_in(dir, &args);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: QuayPackageNotFound: release 9.9.9 of myorg/etcd does not exist in the local \
         store\n"
    );

    drop(server);
}

#[tokio::test]
async fn a_url_that_is_not_an_omps_service_is_named() {
    // Any other HTTP server: a 404 in plain text, as Go servers and registries answer.
    let other = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(404).set_body_string("404 page not found\n"))
        .mount(&other)
        .await;
    let url = other.uri();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().unwrap();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            omps_in(dir.path(), &args)
        })
    };
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = ["list", "--org", "x", "--url", url.as_str()]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    };
    let (code, stdout, stderr) = run(args(&[])).await.unwrap();
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr.replace(&url, "URL"),
        "error: HTTP 404: URL did not answer with an OMPS error document\nhint: is --url \
         (OMPS_URL) the base URL of an OMPS service? `GET <url>/v2/about` answers with its \
         version\n"
    );
    let (code, stdout, _) = run(args(&["-o", "json"])).await.unwrap();
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["result"], "failure");
    assert_eq!(doc["error"]["status"], 404, "{doc}");
    assert!(doc["error"]["hint"].as_str().unwrap().contains("--url"));
}

#[test]
fn usage_errors_answer_in_the_format_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).map_err(|e| e.to_string());
    let yaml = |s: &str| serde_saphyr::from_str::<serde_json::Value>(s).map_err(|e| e.to_string());
    for (format, parse) in [
        (
            "json",
            &json as &dyn Fn(&str) -> Result<serde_json::Value, String>,
        ),
        ("yaml", &yaml),
    ] {
        let (code, stdout, stderr) =
            omps_in(dir.path(), &["bundle", "push", "-o", format, "--bogus"]);
        assert_eq!(code, 2, "{stderr}");
        let doc = parse(&stdout).unwrap_or_else(|e| panic!("{format}: {e}\n{stdout}"));
        assert_eq!(doc["result"], "failure");
        assert_eq!(doc["error"]["kind"], "config");
        assert_eq!(
            doc["error"]["message"],
            "unexpected argument '--bogus' found"
        );
    }
    // An unreadable input and a missing argument, with JSON asked for: JSON on stdout.
    let (code, stdout, stderr) = omps_in(dir.path(), &["validate", "nope", "-o", "json"]);
    assert_eq!(code, 2);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "input");
    assert_eq!(
        doc["error"]["message"],
        "I/O error on nope: No such file or directory (os error 2)"
    );
    assert_eq!(
        stderr,
        "error: I/O error on nope: No such file or directory (os error 2)\n"
    );
    let (code, stdout, _) = omps_in(dir.path(), &["validate", "-o", "json"]);
    assert_eq!(code, 2);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        doc["error"]["message"],
        "the following required arguments were not provided: <PATH>"
    );
    // Text asked for (or nothing): clap's own message, nothing on stdout.
    let (code, stdout, stderr) = omps_in(dir.path(), &["bundle", "push", "--bogus"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.starts_with("error: unexpected argument '--bogus' found"));
}

/// What `omps bundle convert` writes, its own validator accepts without a channel warning (a
/// bundle is never given a default channel it is not in).
#[test]
fn converted_bundles_pass_their_own_validator() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundles");
    let (code, _, stderr) = omps_in(
        tmp.path(),
        &[
            "bundle",
            "convert",
            fixture("etcd").to_str().unwrap(),
            "bundles",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let mut seen = 0;
    for entry in std::fs::read_dir(&out).unwrap() {
        let dir = entry.unwrap().path();
        let (code, stdout, stderr) = omps_in(
            tmp.path(),
            &["validate", "-o", "json", dir.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{}: {stderr}", dir.display());
        let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(doc["errors"], serde_json::json!([]));
        for w in doc["warnings"].as_array().unwrap() {
            assert!(
                !w.as_str().unwrap().contains("channel"),
                "{}: {w}",
                dir.display()
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 6, "etcd has six versions");
}
