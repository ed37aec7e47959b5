//! The Containerfile and Kubernetes manifests agree with the server: ports, probes on health
//! routes that exist, a config the server accepts, non-root, several replicas, a PDB.

mod common;

use std::path::PathBuf;

use common::{request, send};
use manifest_bundle::yaml::{self, Yaml};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn manifest(name: &str) -> Yaml {
    let text = std::fs::read_to_string(repo().join("deploy/kubernetes").join(name)).unwrap();
    yaml::parse(&text, &manifest_bundle::YamlLimits::default())
        .unwrap()
        .unwrap()
}

fn at<'a>(v: &'a Yaml, path: &[&str]) -> &'a Yaml {
    path.iter().fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v.as_seq().unwrap_or_else(|| panic!("{k} of {path:?}"))[i],
        Err(_) => v
            .get(k)
            .unwrap_or_else(|| panic!("{k} of {path:?} missing")),
    })
}

fn int(v: &Yaml) -> i64 {
    match v {
        Yaml::Int(i) => *i,
        other => panic!("not an int: {other:?}"),
    }
}

#[tokio::test]
async fn kubernetes_manifests_match_the_server() {
    let deployment = manifest("deployment.yaml");
    assert_eq!(at(&deployment, &["kind"]).as_str(), Some("Deployment"));
    assert!(
        int(at(&deployment, &["spec", "replicas"])) >= 2,
        "several replicas"
    );
    let pod = at(&deployment, &["spec", "template", "spec"]);
    assert_eq!(
        at(pod, &["securityContext", "runAsNonRoot"]),
        &Yaml::Bool(true)
    );
    let container = at(pod, &["containers", "0"]);
    let port = int(at(container, &["ports", "0", "containerPort"]));

    // The config the pods mount is accepted by the server and listens on the container port.
    let configmap = manifest("configmap.yaml");
    let toml_text = at(&configmap, &["data", "omps.toml"])
        .as_str()
        .unwrap()
        .to_owned();
    let secret = manifest("secret.yaml");
    let token_file_key = at(&secret, &["stringData"])
        .as_map()
        .unwrap()
        .iter()
        .next()
        .unwrap()
        .0
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(&token_file_key), "t0ken").unwrap();
    let local_toml = toml_text.replace("/etc/omps/secrets", &dir.path().display().to_string());
    let (config, warnings) = omps_server::Config::parse_toml("omps.toml", &local_toml)
        .expect("the ConfigMap's omps.toml must load");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        config
            .listen
            .rsplit(':')
            .next()
            .unwrap()
            .parse::<i64>()
            .unwrap(),
        port
    );
    assert!(config.listen.starts_with("0.0.0.0:"));
    assert!(
        toml_text.contains(&format!("/etc/omps/secrets/{token_file_key}")),
        "the token file comes from the Secret"
    );

    // Mount paths match the config paths.
    let mounts: Vec<String> = at(container, &["volumeMounts"])
        .as_seq()
        .unwrap()
        .iter()
        .map(|m| at(m, &["mountPath"]).as_str().unwrap().to_owned())
        .collect();
    assert!(
        mounts.contains(&"/etc/omps".to_owned())
            && mounts.contains(&"/etc/omps/secrets".to_owned())
    );
    let env: Vec<(String, String)> = at(container, &["env"])
        .as_seq()
        .unwrap()
        .iter()
        .map(|e| {
            (
                at(e, &["name"]).as_str().unwrap().to_owned(),
                at(e, &["value"]).as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(env.contains(&("OMPS_CONFIG".to_owned(), "/etc/omps/omps.toml".to_owned())));

    // Probes hit routes the server answers with 200 on a healthy store.
    let h = common::harness();
    for probe in ["readinessProbe", "livenessProbe"] {
        let path = at(container, &[probe, "httpGet", "path"]).as_str().unwrap();
        assert_eq!(
            int(at(container, &[probe, "httpGet", "port"])),
            port,
            "{probe} port"
        );
        let answer = send(&h.router, request("GET", path, None)).await;
        assert_eq!(answer.status, 200, "{probe} {path}");
    }

    let pdb = manifest("pdb.yaml");
    assert_eq!(at(&pdb, &["kind"]).as_str(), Some("PodDisruptionBudget"));
    assert!(int(at(&pdb, &["spec", "minAvailable"])) < int(at(&deployment, &["spec", "replicas"])));
    assert_eq!(
        at(&pdb, &["spec", "selector"]),
        at(&deployment, &["spec", "selector"])
    );
    let service = manifest("service.yaml");
    assert_eq!(
        int(at(&service, &["spec", "ports", "0", "targetPort"])),
        port
    );
}

#[test]
fn containerfile_is_multistage_non_root_on_the_server_port() {
    let text = std::fs::read_to_string(repo().join("Containerfile")).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("FROM ")).count(),
        2,
        "multi-stage"
    );
    assert!(text.lines().any(|l| l.trim() == "USER 10001"), "non-root");
    assert!(text.contains("EXPOSE 8080") && text.contains("OMPS_LISTEN=0.0.0.0:8080"));
    assert!(text.contains("-p omps-server"));
    let entrypoint =
        std::fs::read_to_string(repo().join("deploy/container-entrypoint.sh")).unwrap();
    assert!(
        entrypoint.contains("CA_URL") && entrypoint.contains("OMPS_CA_BUNDLE"),
        "CA bundle injection"
    );
    assert!(entrypoint.contains("exec /usr/local/bin/omps-server"));
}
