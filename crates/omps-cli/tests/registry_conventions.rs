//! Registry conventions of skopeo and podman, against real `docker-registry` processes:
//! credentials from the container auth files (`--authfile`, `${XDG_RUNTIME_DIR}/containers/
//! auth.json`, `~/.docker/config.json`) and `--creds`, explicit flags winning; TLS verification
//! off allowing plain HTTP (`omps bundle push`, `omps mirror` with the original quay_sync
//! configuration), and the hints when TLS meets plain HTTP. Results are read back with `skopeo`.
//!
//! Ignored by default; `cargo xtask ci` runs them with `--run-ignored all`. They need
//! `OMPS_DOCKER_REGISTRY` and `OMPS_SKOPEO` and fail loudly without.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;
use base64::Engine as _;
use serde_json::{Value, json};
use test_support::fixtures::operator as fixture;
use test_support::registry::{PASSWORD, Registry, RegistryOptions, USER};
use test_support::skopeo;

/// `omps <args>` with a clean credential environment: `home` as `HOME`, no runtime directory,
/// no auth-file or credential variables from the caller.
fn omps(args: &[&str], home: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::cargo_bin("omps").unwrap();
    cmd.args(args)
        .env("HOME", home)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("OMPS_REGISTRY_CREDS")
        .env_remove("OMPS_REGISTRY_USERNAME")
        .env_remove("OMPS_REGISTRY_PASSWORD")
        .env_remove("OMPS_REGISTRY_TOKEN")
        .env_remove("OMPS_MIRROR_CREDS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Converts the etcd fixture and returns one bundle directory.
fn bundle_dir(tmp: &Path) -> PathBuf {
    let out = tmp.join("bundles");
    let (code, _, stderr) = omps(
        &[
            "bundle",
            "convert",
            fixture("etcd").to_str().unwrap(),
            out.to_str().unwrap(),
        ],
        tmp,
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    out.join("0.9.4")
}

/// An auth file with one `auths` entry.
fn auth_file(path: &Path, key: &str, user: &str, password: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        path,
        serde_json::to_vec(&json!({"auths": {key: {"auth": auth}}})).unwrap(),
    )
    .unwrap();
}

/// The digest skopeo reads for `reference` on `registry` (with the registry's credentials).
fn skopeo_digest(registry: &Registry, reference: &str) -> String {
    let out = skopeo::run(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        &format!("{USER}:{PASSWORD}"),
        &skopeo::image(registry, reference),
    ]);
    let v: Value = serde_json::from_slice(&out).unwrap();
    v["Digest"].as_str().unwrap().to_owned()
}

fn pushed_digest(stdout: &str) -> String {
    let v: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    v["digest"].as_str().unwrap().to_owned()
}

/// Replaces the registry's port so messages can be compared as exact text.
fn masked(text: &str, registry: &Registry) -> String {
    text.replace(&registry.port().to_string(), "PORT")
}

#[test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
fn auth_file_credentials_reach_a_registry_that_requires_them() {
    let reg = Registry::start_with(RegistryOptions::default().htpasswd(true));
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let dir = bundle_dir(tmp.path());
    let dir = dir.to_str().unwrap();
    let host = reg.host();
    let push = |tag: &str, extra: &[&str], env: &[(&str, &str)]| {
        let image = format!("{host}/ops/etcd-bundle:{tag}");
        let mut args = vec![
            "bundle",
            "push",
            dir,
            image.as_str(),
            "--plain-http",
            "-o",
            "json",
        ];
        args.extend(extra);
        omps(&args, &home, env)
    };

    // No credentials anywhere: refused, and the hint names the ways to give some.
    let (code, _, stderr) = push("none", &[], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("hint: ")
            && stderr.contains("--creds USER:PASSWORD")
            && stderr.contains("--authfile"),
        "{stderr}"
    );

    // --authfile.
    let named = tmp.path().join("named-auth.json");
    auth_file(&named, &host, USER, PASSWORD);
    let (code, stdout, stderr) = push("named", &["--authfile", named.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        pushed_digest(&stdout),
        skopeo_digest(&reg, "ops/etcd-bundle:named")
    );

    // REGISTRY_AUTH_FILE, as podman and skopeo read it.
    let (code, _, stderr) = push(
        "env",
        &[],
        &[("REGISTRY_AUTH_FILE", named.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{stderr}");

    // ${XDG_RUNTIME_DIR}/containers/auth.json, found without any flag.
    let run = tmp.path().join("run");
    auth_file(&run.join("containers/auth.json"), &host, USER, PASSWORD);
    let (code, stdout, stderr) = push("xdg", &[], &[("XDG_RUNTIME_DIR", run.to_str().unwrap())]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        pushed_digest(&stdout),
        skopeo_digest(&reg, "ops/etcd-bundle:xdg")
    );

    // ~/.docker/config.json, with a docker-style URL key.
    auth_file(
        &home.join(".docker/config.json"),
        &format!("http://{host}/v2/"),
        USER,
        PASSWORD,
    );
    let (code, _, stderr) = push("docker", &[], &[]);
    assert_eq!(code, 0, "{stderr}");

    // Explicit flags win over every auth file: wrong --creds fail although the files are right,
    // and neither password is ever printed.
    let (code, stdout, stderr) = push(
        "flag-wins",
        &["--creds", "testuser:wrong-secret-pw"],
        &[("XDG_RUNTIME_DIR", run.to_str().unwrap())],
    );
    assert_eq!(code, 1, "{stderr}");
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("wrong-secret-pw") && !text.contains(PASSWORD),
            "{text}"
        );
    }
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["result"], "failure", "{doc:#}");
    assert_eq!(doc["error"]["kind"], "unauthorized", "{doc:#}");
    let (code, _, stderr) = push("creds", &["--creds", &format!("{USER}:{PASSWORD}")], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");

    // A broken auth file named by the user is an error naming the file and the key, not the
    // value.
    let broken = tmp.path().join("broken.json");
    std::fs::write(
        &broken,
        format!(r#"{{"auths": {{"{host}": {{"auth": "not base64!"}}}}}}"#),
    )
    .unwrap();
    let (code, _, stderr) = push("broken", &["--authfile", broken.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("broken.json")
            && stderr.contains("auth is not base64")
            && !stderr.contains("not base64!"),
        "{stderr}"
    );
}

#[test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
fn tls_verification_off_allows_plain_http_and_mismatches_are_explained() {
    let plain = Registry::start_with(RegistryOptions::default().htpasswd(true));
    let tls = Registry::start_with(RegistryOptions::default().tls(true));
    let tmp = tempfile::tempdir().unwrap();
    let dir = bundle_dir(tmp.path());
    let dir = dir.to_str().unwrap();
    let creds = format!("{USER}:{PASSWORD}");

    // TLS spoken to a plain-HTTP registry, verification on: unreachable (4), with the port and
    // a hint that names the flags.
    let image = format!("{}/ops/etcd-bundle:1", plain.host());
    let (code, _, stderr) = omps(
        &["bundle", "push", dir, &image, "--creds", &creds],
        tmp.path(),
        &[],
    );
    assert_eq!(code, 4, "{stderr}");
    let stderr = masked(&stderr, &plain);
    assert!(stderr.contains("(https://127.0.0.1:PORT/v2/"), "{stderr}");
    assert!(
        stderr.contains(
            "hint: 127.0.0.1:PORT answers in plain HTTP, not TLS: if that is expected (a test \
             registry), give --tls-verify=false (plain HTTP allowed, like skopeo) or --plain-http"
        ),
        "{stderr}"
    );

    // Verification off: plain HTTP is allowed, like skopeo and podman.
    for flag in ["--tls-verify=false", "--skip-tls-verify"] {
        let (code, stdout, stderr) = omps(
            &[
                "bundle", "push", dir, &image, "--creds", &creds, flag, "-o", "json",
            ],
            tmp.path(),
            &[],
        );
        assert_eq!(code, 0, "{flag}: {stderr}");
        assert_eq!(
            pushed_digest(&stdout),
            skopeo_digest(&plain, "ops/etcd-bundle:1")
        );
        assert!(
            stderr.contains("TLS certificate verification is off"),
            "{stderr}"
        );
    }

    // Verification off against a real TLS registry keeps TLS (no silent downgrade).
    let tls_image = format!("{}/ops/etcd-bundle:1", tls.host());
    let (code, stdout, stderr) = omps(
        &[
            "bundle",
            "push",
            dir,
            &tls_image,
            "--tls-verify=false",
            "-o",
            "json",
        ],
        tmp.path(),
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!pushed_digest(&stdout).is_empty());

    // Plain HTTP spoken to a TLS registry: the registry's 400 is explained.
    let (code, _, stderr) = omps(
        &["bundle", "push", dir, &tls_image, "--plain-http"],
        tmp.path(),
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        masked(&stderr, &tls).contains(
            "hint: 127.0.0.1:PORT expects TLS (HTTPS): drop --plain-http or the http:// scheme"
        ),
        "{stderr}"
    );
}

#[test]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
fn mirror_with_the_original_configuration_and_skip_tls_verify_uses_plain_http() {
    // The source needs credentials (from an auth file); the destination takes them from
    // --dest-creds. Both speak plain HTTP and are named without a scheme, as quay_sync's
    // configuration names them.
    let src = Registry::start_with(RegistryOptions::default().htpasswd(true));
    let dst = Registry::start_with(RegistryOptions::default().htpasswd(true));
    let tmp = tempfile::tempdir().unwrap();
    let dir = bundle_dir(tmp.path());
    let creds = format!("{USER}:{PASSWORD}");
    let image = format!("{}/team/etcd-bundle:1", src.host());
    let (code, stdout, stderr) = omps(
        &[
            "bundle",
            "push",
            dir.to_str().unwrap(),
            &image,
            "--plain-http",
            "--creds",
            &creds,
            "-o",
            "json",
        ],
        tmp.path(),
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let digest = pushed_digest(&stdout);

    let config = tmp.path().join("sample_config.yaml");
    std::fs::write(
        &config,
        format!(
            "source_server: {}\nsource_token: \"\"\ndestination_server: {}\nfailover: false\n\
             repositories:\n- team/etcd-bundle:1\n",
            src.host(),
            dst.host()
        ),
    )
    .unwrap();
    let authfile = tmp.path().join("auth.json");
    auth_file(&authfile, &src.host(), USER, PASSWORD);
    let config = config.to_str().unwrap();

    // Verification on: the TLS failure names host and port, and says what to do.
    let (code, _, stderr) = omps(
        &[
            "mirror",
            "-c",
            config,
            "--authfile",
            authfile.to_str().unwrap(),
            "--dest-creds",
            &creds,
        ],
        tmp.path(),
        &[],
    );
    assert_eq!(code, 4, "{stderr}");
    assert!(
        masked(&stderr, &src).ends_with(
            "): received corrupt message of type InvalidContentType\nhint: 127.0.0.1:PORT answers \
             in plain HTTP, not TLS: if that is expected (a test registry), give \
             --skip-tls-verify (plain HTTP allowed, as podman and skopeo do) or write the server \
             as http://127.0.0.1:PORT\n"
        ),
        "{stderr}"
    );

    let (code, stdout, stderr) = omps(
        &[
            "mirror",
            "-c",
            config,
            "--skip-tls-verify",
            "--authfile",
            authfile.to_str().unwrap(),
            "--dest-creds",
            &creds,
            "-o",
            "json",
        ],
        tmp.path(),
        &[],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["summary"]["copied"], 1, "{report:#}");
    assert_eq!(skopeo_digest(&dst, "team/etcd-bundle:1"), digest);
    assert!(
        !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
        "{stderr}"
    );

    src_creds_win_over_the_auth_file(config, &authfile, &creds, tmp.path());
}

/// Explicit flags win over the auth file: a wrong --src-creds fails although the file is
/// right, and the wrong password is not printed either.
fn src_creds_win_over_the_auth_file(config: &str, authfile: &Path, creds: &str, dir: &Path) {
    let (code, stdout, stderr) = omps(
        &[
            "mirror",
            "-c",
            config,
            "--skip-tls-verify",
            "--authfile",
            authfile.to_str().unwrap(),
            "--src-creds",
            "testuser:wrong-src-pw",
            "--dest-creds",
            creds,
            "-o",
            "json",
        ],
        dir,
        &[],
    );
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["summary"]["failed"], 1, "{report:#}");
    assert!(
        !stdout.contains("wrong-src-pw") && !stderr.contains("wrong-src-pw"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs docker-registry and skopeo; run by cargo xtask ci"]
async fn identity_tokens_from_the_auth_file_reach_a_token_registry() {
    use test_support::registry_token::{ISSUER, SERVICE, TokenServer};
    // docker-registry has no token server of its own: ours issues the JWTs, the real registry
    // verifies them against the test CA.
    let tokens = TokenServer::start("refresh-me-0123456789").await;
    let reg = Registry::start_with_token_auth(&tokens.realm(), SERVICE, ISSUER);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let dir = bundle_dir(tmp.path());
    let host = reg.host();
    let write = |token: &str| {
        let file = home.join(".docker/config.json");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            serde_json::to_vec(
                &json!({"auths": {host.clone(): {"auth": "", "identitytoken": token}}}),
            )
            .unwrap(),
        )
        .unwrap();
    };
    let push = |tag: &'static str| {
        let (dir, home, host) = (dir.clone(), home.clone(), host.clone());
        tokio::task::spawn_blocking(move || {
            let image = format!("{host}/ops/etcd-bundle:{tag}");
            omps(
                &[
                    "bundle",
                    "push",
                    dir.to_str().unwrap(),
                    &image,
                    "--plain-http",
                    "-o",
                    "json",
                ],
                &home,
                &[],
            )
        })
    };

    // A wrong identity token: the token server refuses it, the push exits 1.
    write("not-the-token");
    let (code, stdout, stderr) = push("wrong").await.unwrap();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(!stderr.contains("not-the-token") && !stdout.contains("not-the-token"));
    let refused = tokens.requests().await;
    assert!(refused >= 1, "the token server was never asked");

    write(tokens.refresh_token());
    let (code, stdout, stderr) = push("1").await.unwrap();
    assert_eq!(code, 0, "{stdout}\n{stderr}\nregistry log:\n{}", reg.log());
    assert!(tokens.requests().await > refused);
    assert!(!stderr.contains(tokens.refresh_token()) && !stdout.contains(tokens.refresh_token()));
    // skopeo, logging in to the same token server with the test user, finds the pushed digest.
    let digest = tokio::task::spawn_blocking({
        let reg_host = reg.host();
        move || {
            skopeo::run(&[
                "inspect",
                "--tls-verify=false",
                "--creds",
                &format!("{USER}:{PASSWORD}"),
                &format!("docker://{reg_host}/ops/etcd-bundle:1"),
            ])
        }
    })
    .await
    .unwrap();
    let v: Value = serde_json::from_slice(&digest).unwrap();
    assert_eq!(v["Digest"].as_str(), Some(pushed_digest(&stdout).as_str()));
}
