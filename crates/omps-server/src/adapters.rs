//! Production implementations of the backend traits on the client crates.

use std::path::Path;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::json;

use crate::backends::{BuildError, BuildSystem, Gate, GateDecision, GateError, RepoPublisher};

/// Koji through koji-client.
#[derive(Debug, Clone)]
pub struct KojiBuildSystem {
    client: koji_client::Client,
}

impl KojiBuildSystem {
    /// Wraps a client configured with the hub URL and the file root (`topurl`).
    #[must_use]
    pub fn new(client: koji_client::Client) -> Self {
        Self { client }
    }
}

fn build_error(e: koji_client::KojiError, nvr: &str) -> BuildError {
    use koji_client::KojiError as K;
    if e.is_invalid_nvr() {
        return BuildError::NotFound {
            nvr: nvr.to_owned(),
        };
    }
    match e {
        K::BuildNotFound { .. } => BuildError::NotFound {
            nvr: nvr.to_owned(),
        },
        K::BuildNotComplete { state, .. } => BuildError::NotComplete {
            nvr: nvr.to_owned(),
            state: format!("{state:?}").to_uppercase(),
        },
        K::NotAnOperatorImage { .. } => BuildError::NotOperatorImage {
            nvr: nvr.to_owned(),
        },
        K::ArchiveNotFound { file, .. } => BuildError::ArchiveMissing {
            file,
            nvr: nvr.to_owned(),
        },
        other => BuildError::Other(other.to_string()),
    }
}

#[async_trait]
impl BuildSystem for KojiBuildSystem {
    async fn fetch_manifests(
        &self,
        nvr: &str,
        dest: &Path,
        max_bytes: u64,
    ) -> Result<(), BuildError> {
        let archive = self
            .client
            .find_operator_manifests(nvr)
            .await
            .map_err(|e| build_error(e, nvr))?;
        self.client
            .download_to_file(&archive, max_bytes, dest)
            .await
            .map(|_| ())
            .map_err(|e| build_error(e, nvr))
    }

    async fn health(&self) -> Result<(), String> {
        self.client
            .get_api_version()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Greenwave through greenwave-client.
#[derive(Debug, Clone)]
pub struct GreenwaveGate {
    client: greenwave_client::Client,
    context: String,
    product_version: String,
}

impl GreenwaveGate {
    /// A gate asking `client` with the configured decision context and product version.
    pub fn new(
        client: greenwave_client::Client,
        context: impl Into<String>,
        product_version: impl Into<String>,
    ) -> Self {
        Self {
            client,
            context: context.into(),
            product_version: product_version.into(),
        }
    }
}

#[async_trait]
impl Gate for GreenwaveGate {
    async fn decide(&self, nvr: &str) -> Result<GateDecision, GateError> {
        use greenwave_client::GreenwaveError as G;
        let request = greenwave_client::DecisionRequest::koji_build(
            self.context.as_str(),
            self.product_version.as_str(),
            nvr,
        );
        match self.client.decision(&request).await {
            Ok(decision) => Ok(GateDecision {
                satisfied: decision.policies_satisfied,
                raw: decision.raw,
            }),
            Err(G::MissingPoliciesSatisfied { body }) => Err(GateError {
                message: format!("Missing key 'policies_satisfied' in answer for nvr {nvr}"),
                body,
            }),
            Err(G::Status { status, body, .. }) => Err(GateError {
                message: format!("Greenwave unexpected response code: {status}"),
                body,
            }),
            Err(G::InvalidResponse { reason, body }) => Err(GateError {
                message: format!("Request failed: {reason}"),
                body,
            }),
            Err(other) => Err(GateError {
                message: format!(
                    "Request failed: {}",
                    other.to_string().trim_start_matches("Request failed: ")
                ),
                body: json!({}),
            }),
        }
    }

    async fn health(&self) -> Result<(), String> {
        self.client
            .about()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Quay REST `changevisibility` through quay-client.
#[derive(Debug, Clone)]
pub struct QuayPublisher {
    client: quay_client::QuayRestClient,
}

impl QuayPublisher {
    /// Wraps a REST client for the configured Quay (without a token; each call uses the
    /// organization's).
    pub fn new(client: quay_client::QuayRestClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl RepoPublisher for QuayPublisher {
    async fn make_public(&self, org: &str, repo: &str, token: &SecretString) -> Result<(), String> {
        let client = self.client.with_token(token).map_err(|e| e.to_string())?;
        client
            .change_visibility(org, repo, quay_client::Visibility::Public)
            .await
            .map_err(|e| {
                e.remote()
                    .map_or_else(|| e.to_string(), |r| r.message_or_default().to_owned())
            })
    }
}
