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

/// Python peers installed with pip, each into its own virtualenv under `target/`:
/// (name, virtualenv directory, pinned requirement, executable in `bin/`).
const PYTHON_PEERS: [(&str, &str, &str, &str); 1] =
    [("moto", "moto-venv", "moto[server]==5.2.5", "moto_server")];

/// Debian packages holding the registry peers.
const APT_PACKAGES: [&str; 2] = ["docker-registry", "skopeo"];

/// Where each peer was found (`None`: not installed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peers {
    pub courier: Option<PathBuf>,
    pub docker_registry: Option<PathBuf>,
    pub skopeo: Option<PathBuf>,
    /// `moto_server`, the S3 peer of the IMS client tests.
    pub moto: Option<PathBuf>,
}

impl Peers {
    /// Environment variables the peer tests read, for the peers that were found.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        [
            ("OMPS_COURIER", &self.courier),
            ("OMPS_DOCKER_REGISTRY", &self.docker_registry),
            ("OMPS_SKOPEO", &self.skopeo),
            ("OMPS_MOTO_SERVER", &self.moto),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|p| (k, p.clone().into_os_string())))
        .collect()
    }

    /// Names of the peers that were not found.
    pub fn missing(&self) -> Vec<&'static str> {
        [
            ("operator-courier", self.courier.is_none()),
            ("docker-registry", self.docker_registry.is_none()),
            ("skopeo", self.skopeo.is_none()),
            ("moto", self.moto.is_none()),
        ]
        .into_iter()
        .filter_map(|(n, missing)| missing.then_some(n))
        .collect()
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
        moto: python_peer_bin(root, "moto"),
    }
}

/// The executable of a Python peer of [`PYTHON_PEERS`], when its virtualenv has it.
fn python_peer_bin(root: &Path, name: &str) -> Option<PathBuf> {
    let (_, venv, _, bin) = PYTHON_PEERS.iter().find(|p| p.0 == name)?;
    let path = root.join("target").join(venv).join("bin").join(bin);
    path.is_file().then_some(path)
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
    let need_venv = found.courier.is_none() || found.moto.is_none();
    // Debian's python3 ships without `ensurepip`; then `python3 -m venv` needs python3-venv.
    let need_python_venv = need_venv && !python_has_venv();
    let packages = apt_packages(need_apt, need_python_venv);
    if packages.is_empty() {
        println!("    docker-registry, skopeo: already installed (apt skipped)");
    } else {
        apt_install(root, &packages)?;
    }
    for (name, venv, requirement, _) in PYTHON_PEERS {
        if python_peer_bin(root, name).is_none() {
            install_python_peer(root, &root.join("target").join(venv), requirement)?;
        }
    }
    if found.courier.is_none() {
        install_courier(root)?;
    } else {
        println!(
            "    operator-courier: already in {}",
            venv_dir(root).display()
        );
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

fn install_python_peer(root: &Path, venv: &Path, requirement: &str) -> Result<()> {
    if venv.exists() {
        std::fs::remove_dir_all(venv)
            .with_context(|| format!("cannot remove stale {}", venv.display()))?;
    }
    for (i, step) in python_peer_steps(root, venv, requirement)
        .iter()
        .enumerate()
    {
        step.run(i + 1, 2)?;
    }
    Ok(())
}

fn python_peer_steps(root: &Path, venv: &Path, requirement: &str) -> [Step; 2] {
    [
        Step::new("python3 -m venv", "python3", root).args([
            "-m".as_ref(),
            "venv".as_ref(),
            venv.as_os_str(),
        ]),
        Step::new(
            &format!("pip install {requirement}"),
            venv.join("bin").join("pip"),
            root,
        )
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ]),
    ]
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
            moto: None,
        };
        assert_eq!(
            p.env(),
            vec![
                ("OMPS_COURIER", OsString::from("/v/bin/operator-courier")),
                ("OMPS_SKOPEO", OsString::from("/usr/bin/skopeo")),
            ]
        );
        assert_eq!(p.missing(), vec!["docker-registry", "moto"]);
        assert_eq!(Peers::default().missing().len(), 4);
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
    fn python_peer_is_pinned_in_its_own_venv() {
        let root = Path::new("/repo");
        let [mk, pip] =
            python_peer_steps(root, &root.join("target/moto-venv"), "moto[server]==5.2.5");
        assert_eq!(mk.command_line(), "python3 -m venv /repo/target/moto-venv");
        assert_eq!(
            pip.command_line(),
            "/repo/target/moto-venv/bin/pip install --quiet --disable-pip-version-check \
             'moto[server]==5.2.5'"
        );
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(locate(tmp.path()).moto, None);
        let bin = tmp.path().join("target/moto-venv/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("moto_server"), "").unwrap();
        assert_eq!(locate(tmp.path()).moto, Some(bin.join("moto_server")));
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
