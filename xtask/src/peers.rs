//! The external programs that some tests talk to ("peers"), and their installation.
//!
//! Tests that need a peer are `#[ignore]`d (so a plain `cargo nextest run` stays hermetic) and
//! read the peer's path from an environment variable, panicking when it is unset so that CI can
//! never skip them silently.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

use crate::step::{Step, which};

/// operator-courier version the differential test and the benchmark compare against.
pub const COURIER_VERSION: &str = "2.1.11";

/// Debian packages holding the registry peers.
const APT_PACKAGES: [&str; 2] = ["docker-registry", "skopeo"];

/// A peer that is a Python program with its packages: a virtualenv of its own under `target/`,
/// filled with `pip install --no-deps` from a complete pinned list (so the set never drifts
/// with a resolver), and recorded in a marker file so that a changed list reinstalls it.
#[derive(Debug, PartialEq, Eq)]
pub struct PythonPeer {
    /// Name in messages.
    pub name: &'static str,
    /// Virtualenv directory under `target/`.
    pub venv: &'static str,
    /// Environment variable the peer tests read: the path of [`Self::program`].
    pub env: &'static str,
    /// The program in the venv's `bin/` that the tests run (`python`, or a peer's own script).
    pub program: &'static str,
    /// Every package with its version, dependencies included.
    pub packages: &'static [&'static str],
    /// Environment for the install (e.g. pure-Python builds of sdists).
    pub install_env: &'static [(&'static str, &'static str)],
}

/// The Python peers, one row each; a new peer is a new row.
pub const PYTHON_PEERS: &[PythonPeer] = &[
    // The Koji client library and its marshaller; the test hub is built on them. `--no-deps`
    // leaves out requests-gssapi, whose Kerberos build the read-only calls never need.
    PythonPeer {
        name: "koji",
        venv: "koji-venv",
        env: "OMPS_KOJI_PYTHON",
        program: "python",
        packages: &[
            "koji==1.36.1",
            "defusedxml==0.7.1",
            "python-dateutil==2.9.0.post0",
            "six==1.17.0",
            "requests==2.32.3",
            "urllib3==2.2.3",
            "idna==3.10",
            "certifi==2024.8.30",
            "charset-normalizer==3.4.0",
        ],
        install_env: &[],
    },
    // Greenwave 0.9.4 and WaiverDB 1.4.0, the releases on the package index, with the
    // libraries of their time: WaiverDB needs Flask < 2.3 (`before_first_request`) and
    // SQLAlchemy 1.3 (its `dbapi_error` listener), built without C extensions.
    PythonPeer {
        name: "greenwave",
        venv: "greenwave-venv",
        env: "OMPS_GREENWAVE_PYTHON",
        program: "python",
        packages: &[
            "greenwave==0.9.4",
            "waiverdb==1.4.0",
            "Flask==2.2.5",
            "Werkzeug==2.2.3",
            "Jinja2==3.1.6",
            "MarkupSafe==3.0.4",
            "itsdangerous==2.0.1",
            "click==8.5.1",
            "blinker==1.9.0",
            "Flask-SQLAlchemy==2.5.1",
            "SQLAlchemy==1.3.24",
            "Flask-RESTful==0.3.10",
            "aniso8601==10.0.1",
            "pytz==2026.6",
            "Flask-Cors==4.0.1",
            "Flask-Migrate==3.1.0",
            "alembic==1.7.7",
            "Mako==1.4.3",
            "flask-oidc==1.4.0",
            "oauth2client==4.1.3",
            "httplib2==0.32.1",
            "pyparsing==3.3.3",
            "pyasn1==0.6.5",
            "pyasn1_modules==0.4.2",
            "rsa==4.9.1",
            "prometheus_client==0.20.0",
            "stomp-py==8.1.0",
            "docopt==0.6.2",
            "websocket-client==1.9.2",
            "fedora-messaging==3.5.0",
            "pika==1.4.4",
            "Twisted==26.10.0",
            "attrs==26.1.0",
            "Automat==25.4.16",
            "constantly==23.10.4",
            "hyperlink==21.0.0",
            "Incremental==24.11.0",
            "zope.interface==8.7",
            "typing_extensions==4.16.0",
            "crochet==2.1.1",
            "wrapt==2.5.2",
            "jsonschema==4.26.0",
            "jsonschema-specifications==2025.9.1",
            "referencing==0.37.0",
            "rpds-py==2026.9.1",
            "service-identity==26.1.0",
            "pyOpenSSL==26.4.0",
            "cryptography==50.0.2",
            "cffi==2.1.1",
            "pycparser==3.12",
            "tomli==2.5.0",
            "packaging==26.4",
            "PyYAML==6.0.2",
            "dogpile.cache==1.3.3",
            "decorator==5.3.1",
            "stevedore==5.10.0",
            "requests==2.32.3",
            "urllib3==2.8.0",
            "idna==3.20",
            "certifi==2026.10.19.post1",
            "charset-normalizer==3.5.3",
            "six==1.17.0",
        ],
        install_env: &[("DISABLE_SQLALCHEMY_CEXT", "1")],
    },
    // moto's S3 server for the IMS client tests: moto, Flask for its server mode, and what its
    // S3 backend imports; none of the other AWS services' dependencies.
    PythonPeer {
        name: "moto",
        venv: "moto-venv",
        env: "OMPS_MOTO_SERVER",
        program: "moto_server",
        packages: &[
            "moto==5.2.5",
            "boto3==1.44.8",
            "botocore==1.44.8",
            "s3transfer==0.19.3",
            "jmespath==1.1.0",
            "python-dateutil==2.9.0.post0",
            "six==1.17.0",
            "urllib3==2.8.0",
            "cryptography==50.0.2",
            "cffi==2.1.1",
            "pycparser==3.12",
            "requests==2.34.2",
            "idna==3.20",
            "certifi==2026.10.19.post1",
            "charset-normalizer==3.5.3",
            "responses==0.26.3",
            "PyYAML==6.0.4",
            "Werkzeug==3.1.9",
            "MarkupSafe==3.0.4",
            "xmltodict==1.0.4",
            "Jinja2==3.1.6",
            "Flask==3.1.3",
            "flask-cors==6.0.5",
            "itsdangerous==2.2.0",
            "click==8.5.1",
            "blinker==1.9.0",
        ],
        install_env: &[],
    },
];

/// Where each peer was found (`None`: not installed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peers {
    pub courier: Option<PathBuf>,
    pub docker_registry: Option<PathBuf>,
    pub skopeo: Option<PathBuf>,
    /// The `python` of each [`PYTHON_PEERS`] row, in table order.
    pub python: Vec<(&'static PythonPeer, Option<PathBuf>)>,
}

impl Peers {
    /// Environment variables the peer tests read, for the peers that were found.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        [
            ("OMPS_COURIER", &self.courier),
            ("OMPS_DOCKER_REGISTRY", &self.docker_registry),
            ("OMPS_SKOPEO", &self.skopeo),
        ]
        .into_iter()
        .chain(self.python.iter().map(|(peer, python)| (peer.env, python)))
        .filter_map(|(k, v)| v.as_ref().map(|p| (k, p.clone().into_os_string())))
        .collect()
    }

    /// Names of the peers that were not found.
    pub fn missing(&self) -> Vec<&'static str> {
        [
            ("operator-courier", self.courier.is_none()),
            ("docker-registry", self.docker_registry.is_none()),
            ("skopeo", self.skopeo.is_none()),
        ]
        .into_iter()
        .chain(self.python.iter().map(|(peer, p)| (peer.name, p.is_none())))
        .filter_map(|(n, missing)| missing.then_some(n))
        .collect()
    }
}

impl PythonPeer {
    /// The virtualenv of this peer.
    pub fn venv_dir(&self, root: &Path) -> PathBuf {
        root.join("target").join(self.venv)
    }

    fn program_path(&self, root: &Path) -> PathBuf {
        self.venv_dir(root).join("bin").join(self.program)
    }

    fn marker(&self, root: &Path) -> PathBuf {
        self.venv_dir(root).join(".omps-peer-packages")
    }

    fn marker_text(&self) -> String {
        self.packages.join("\n")
    }

    /// The venv's program when the venv holds exactly this row's packages.
    fn locate(&self, root: &Path) -> Option<PathBuf> {
        let program = self.program_path(root);
        let installed = std::fs::read_to_string(self.marker(root)).ok()?;
        (program.is_file() && installed == self.marker_text()).then_some(program)
    }

    fn install_steps(&self, root: &Path) -> [Step; 2] {
        let venv = self.venv_dir(root);
        let mut pip = Step::new(
            &format!("pip install ({} peer)", self.name),
            venv.join("bin").join("pip"),
            root,
        )
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
        ])
        .args(self.packages);
        for (k, v) in self.install_env {
            pip = pip.env(k, v);
        }
        [
            Step::new("python3 -m venv", "python3", root).args([
                "-m".as_ref(),
                "venv".as_ref(),
                venv.as_os_str(),
            ]),
            pip,
        ]
    }

    fn install(&self, root: &Path) -> Result<PathBuf> {
        let venv = self.venv_dir(root);
        if venv.exists() {
            std::fs::remove_dir_all(&venv)
                .with_context(|| format!("cannot remove stale {}", venv.display()))?;
        }
        for (i, step) in self.install_steps(root).iter().enumerate() {
            step.run(i + 1, 2)?;
        }
        std::fs::write(self.marker(root), self.marker_text())
            .with_context(|| format!("cannot write {}", self.marker(root).display()))?;
        self.locate(root)
            .with_context(|| format!("pip did not install the {} peer", self.name))
    }
}

/// The courier virtualenv lives in `target/` so that it is per checkout and ignored by git.
pub fn venv_dir(root: &Path) -> PathBuf {
    root.join("target").join("courier-venv")
}

fn courier_in(venv: &Path) -> PathBuf {
    venv.join("bin").join("operator-courier")
}

/// Finds the peers without installing anything.
pub fn locate(root: &Path) -> Peers {
    let courier = courier_in(&venv_dir(root));
    Peers {
        courier: courier.is_file().then_some(courier),
        docker_registry: which("docker-registry"),
        skopeo: which("skopeo"),
        python: PYTHON_PEERS.iter().map(|p| (p, p.locate(root))).collect(),
    }
}

/// Finds the peers, installing missing ones first when `install` is set.
pub fn ensure(root: &Path, install: bool) -> Result<Peers> {
    let found = locate(root);
    if !install {
        return Ok(found);
    }
    let start = Instant::now();
    println!("\n==> test peers");
    let need_apt = found.docker_registry.is_none() || found.skopeo.is_none();
    let need_venv = found.courier.is_none();
    let python_missing: Vec<&PythonPeer> = found
        .python
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(peer, _)| *peer)
        .collect();
    // Debian's python3 ships without `ensurepip`; then `python3 -m venv` needs python3-venv.
    let need_python_venv = (need_venv || !python_missing.is_empty()) && !python_has_venv();
    let packages = apt_packages(need_apt, need_python_venv);
    if packages.is_empty() {
        println!("    docker-registry, skopeo: already installed (apt skipped)");
    } else {
        apt_install(root, &packages)?;
    }
    if need_venv {
        install_courier(root)?;
    } else {
        println!(
            "    operator-courier: already in {}",
            venv_dir(root).display()
        );
    }
    for peer in PYTHON_PEERS {
        if python_missing.contains(&peer) {
            peer.install(root)?;
        } else {
            println!(
                "    {}: already in {}",
                peer.name,
                peer.venv_dir(root).display()
            );
        }
    }
    let peers = locate(root);
    let missing = peers.missing();
    if !missing.is_empty() {
        bail!("still missing after installation: {}", missing.join(", "));
    }
    println!(
        "==> test peers ready ({:.1}s)",
        start.elapsed().as_secs_f64()
    );
    Ok(peers)
}

/// Finds operator-courier alone (the benchmark needs no registry peers), installing it first
/// when missing and `install` is set.
pub fn ensure_courier(root: &Path, install: bool) -> Result<PathBuf> {
    let courier = courier_in(&venv_dir(root));
    if courier.is_file() {
        return Ok(courier);
    }
    if !install {
        bail!(
            "operator-courier not found at {}; run without --no-install",
            courier.display()
        );
    }
    if !python_has_venv() {
        apt_install(root, &["python3-venv"])?;
    }
    install_courier(root)?;
    ensure!(
        courier.is_file(),
        "pip did not install {}",
        courier.display()
    );
    Ok(courier)
}

fn apt_packages(need_registry_peers: bool, need_python_venv: bool) -> Vec<&'static str> {
    let mut p = Vec::new();
    if need_registry_peers {
        p.extend(APT_PACKAGES);
    }
    if need_python_venv {
        p.push("python3-venv");
    }
    p
}

fn python_has_venv() -> bool {
    Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn apt_install(root: &Path, packages: &[&str]) -> Result<()> {
    if !is_root() {
        bail!(
            "missing {}; install them with `sudo apt-get install {}` \
             or run with --no-install",
            packages.join(", "),
            packages.join(" ")
        );
    }
    for (i, step) in apt_steps(root, packages).iter().enumerate() {
        step.run(i + 1, 2)?;
    }
    Ok(())
}

fn apt_steps(root: &Path, packages: &[&str]) -> [Step; 2] {
    [
        Step::new("apt-get update", "apt-get", root)
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        Step::new("apt-get install", "apt-get", root)
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    ]
}

fn install_courier(root: &Path) -> Result<()> {
    let venv = venv_dir(root);
    // A half-made venv from an interrupted run would make `-m venv` keep a broken pip.
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .with_context(|| format!("cannot remove stale {}", venv.display()))?;
    }
    for (i, step) in courier_steps(root, &venv).iter().enumerate() {
        step.run(i + 1, 2)?;
    }
    Ok(())
}

fn courier_steps(root: &Path, venv: &Path) -> [Step; 2] {
    [
        Step::new("python3 -m venv", "python3", root).args([
            "-m".as_ref(),
            "venv".as_ref(),
            venv.as_os_str(),
        ]),
        Step::new(
            "pip install operator-courier",
            venv.join("bin").join("pip"),
            root,
        )
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("operator-courier=={COURIER_VERSION}"),
        ]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_only_found_peers() {
        let p = Peers {
            courier: Some("/v/bin/operator-courier".into()),
            docker_registry: None,
            skopeo: Some("/usr/bin/skopeo".into()),
            python: vec![
                (
                    &PYTHON_PEERS[0],
                    Some("/r/target/koji-venv/bin/python".into()),
                ),
                (&PYTHON_PEERS[1], None),
            ],
        };
        assert_eq!(
            p.env(),
            vec![
                ("OMPS_COURIER", OsString::from("/v/bin/operator-courier")),
                ("OMPS_SKOPEO", OsString::from("/usr/bin/skopeo")),
                (
                    "OMPS_KOJI_PYTHON",
                    OsString::from("/r/target/koji-venv/bin/python")
                ),
            ]
        );
        assert_eq!(p.missing(), vec!["docker-registry", "greenwave"]);
        assert_eq!(Peers::default().missing().len(), 3);
    }

    #[test]
    fn apt_is_skipped_when_nothing_is_missing() {
        assert!(apt_packages(false, false).is_empty());
        assert_eq!(apt_packages(true, false), ["docker-registry", "skopeo"]);
        assert_eq!(apt_packages(false, true), ["python3-venv"]);
    }

    #[test]
    fn apt_and_pip_command_lines() {
        let root = Path::new("/repo");
        let [update, install] = apt_steps(root, &["docker-registry", "skopeo"]);
        assert_eq!(
            update.command_line(),
            "DEBIAN_FRONTEND=noninteractive apt-get update -q"
        );
        assert_eq!(
            install.command_line(),
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
             docker-registry skopeo"
        );
        let venv = venv_dir(root);
        let [mk, pip] = courier_steps(root, &venv);
        assert_eq!(
            mk.command_line(),
            "python3 -m venv /repo/target/courier-venv"
        );
        assert_eq!(
            pip.command_line(),
            "/repo/target/courier-venv/bin/pip install --quiet --disable-pip-version-check \
             operator-courier==2.1.11"
        );
    }

    #[test]
    fn python_peer_install_is_one_pinned_no_deps_pip_call() {
        let root = Path::new("/repo");
        let koji = &PYTHON_PEERS[0];
        let [mk, pip] = koji.install_steps(root);
        assert_eq!(mk.command_line(), "python3 -m venv /repo/target/koji-venv");
        assert!(
            pip.command_line().starts_with(
                "/repo/target/koji-venv/bin/pip install --quiet --disable-pip-version-check \
                 --no-deps koji==1.36.1 "
            ),
            "{}",
            pip.command_line()
        );
        let greenwave = &PYTHON_PEERS[1];
        let [_, pip] = greenwave.install_steps(root);
        assert_eq!(pip.env_value("DISABLE_SQLALCHEMY_CEXT").unwrap(), "1");
        for peer in PYTHON_PEERS {
            // Every package pinned exactly, none twice: `--no-deps` installs only this list.
            let mut names: Vec<String> = peer
                .packages
                .iter()
                .map(|p| {
                    let (name, version) = p.split_once("==").expect("pinned");
                    assert!(!version.is_empty(), "{p}");
                    name.to_ascii_lowercase().replace('_', "-")
                })
                .collect();
            let n = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "a package listed twice in {}", peer.name);
        }
    }

    #[test]
    fn python_peer_is_found_only_with_its_exact_package_list() {
        let root = tempfile::tempdir().unwrap();
        let peer = &PYTHON_PEERS[0];
        assert_eq!(peer.locate(root.path()), None);
        let bin = peer.venv_dir(root.path()).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("python"), "").unwrap();
        assert_eq!(peer.locate(root.path()), None, "no marker: not ours");
        std::fs::write(peer.marker(root.path()), "koji==1.0").unwrap();
        assert_eq!(peer.locate(root.path()), None, "other pins: reinstall");
        std::fs::write(peer.marker(root.path()), peer.marker_text()).unwrap();
        assert_eq!(peer.locate(root.path()), Some(bin.join("python")));
    }

    #[test]
    fn locate_finds_courier_in_the_venv() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(locate(root.path()).courier, None);
        let bin = venv_dir(root.path()).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("operator-courier"), "").unwrap();
        assert_eq!(
            locate(root.path()).courier,
            Some(bin.join("operator-courier"))
        );
    }
}
