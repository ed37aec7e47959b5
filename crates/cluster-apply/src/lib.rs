#![doc = include_str!("../README.md")]

pub mod client;
pub mod discovery;
pub mod error;
pub mod input;
pub mod limits;
pub mod login;
pub mod readiness;
pub mod run;
pub mod secret;
pub mod yaml;

pub use client::{Cluster, ClusterBuilder, Credentials, KubeconfigSource, RetryPolicy};
pub use error::{Cause, Error, NotReady};
pub use input::{Order, Plan, Sources};
pub use limits::{Limits, YamlLimits};
pub use run::{
    Action, ApplyOptions, DEFAULT_FIELD_MANAGER, DryRun, Event, Outcome, Report, WaitMode,
    apply_dir, apply_dir_until, apply_sources, apply_sources_until,
};
pub use secret::{SecretFromFiles, SecretOutcome, create_secret_from_files};

/// The cluster's infrastructure name (`config.openshift.io/v1` `Infrastructure` `cluster`,
/// `status.infrastructureName`), the ID OpenShift MachineSets embed.
pub async fn infrastructure_name(cluster: &Cluster) -> Result<String, Error> {
    let path = "/apis/config.openshift.io/v1/infrastructures/cluster";
    let context = "read the infrastructure name";
    let res = cluster
        .call(context, http::Method::GET, path, None, None)
        .await?;
    match res.status.as_u16() {
        404 => {
            return Err(Error::NotOpenShift(
                "no infrastructures/cluster (not an OpenShift cluster?)".into(),
            ));
        }
        403 => {
            return Err(Error::NotOpenShift(format!(
                "not allowed to read infrastructures/cluster: {}",
                res.into_error(context)
            )));
        }
        s if !(200..300).contains(&s) => return Err(res.into_error(context)),
        _ => {}
    }
    res.json(context)?
        .pointer("/status/infrastructureName")
        .and_then(serde_json::Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::NotOpenShift("status.infrastructureName is empty".into()))
}
