//! Request and response types of the decision API.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::GreenwaveError;

/// The gating point(s) of a decision: one context or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DecisionContext {
    /// A single decision context such as `omps_push`.
    One(String),
    /// Several decision contexts, all evaluated.
    Many(Vec<String>),
}

impl From<&str> for DecisionContext {
    fn from(value: &str) -> Self {
        Self::One(value.to_owned())
    }
}

impl From<String> for DecisionContext {
    fn from(value: String) -> Self {
        Self::One(value)
    }
}

impl From<Vec<String>> for DecisionContext {
    fn from(value: Vec<String>) -> Self {
        Self::Many(value)
    }
}

/// Body of `POST /api/v1.0/decision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRequest {
    /// The gating point, e.g. `omps_push`.
    pub decision_context: DecisionContext,
    /// The product version, e.g. `cvp`.
    pub product_version: String,
    /// The subject type, e.g. `koji_build`.
    pub subject_type: String,
    /// The subject, e.g. a build NVR.
    pub subject_identifier: String,
    /// Ask for `results` and `waivers` in the answer; omitted from the body when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verbose: Option<bool>,
}

impl DecisionRequest {
    /// A request about a Koji build (`subject_type = "koji_build"`), as OMPS sends it.
    pub fn koji_build(
        decision_context: impl Into<DecisionContext>,
        product_version: impl Into<String>,
        nvr: impl Into<String>,
    ) -> Self {
        Self {
            decision_context: decision_context.into(),
            product_version: product_version.into(),
            subject_type: "koji_build".to_owned(),
            subject_identifier: nvr.into(),
            verbose: None,
        }
    }
}

/// One satisfied or unsatisfied requirement of a decision.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Requirement {
    /// Requirement type, e.g. `test-result-missing`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The test case, when the requirement is about one.
    #[serde(default)]
    pub testcase: Option<String>,
    /// Subject type of the requirement.
    #[serde(default)]
    pub subject_type: Option<String>,
    /// Subject identifier of the requirement.
    #[serde(default)]
    pub subject_identifier: Option<String>,
    /// Test scenario, often `null`.
    #[serde(default)]
    pub scenario: Option<String>,
    /// Every other member, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A decision, typed, plus the raw JSON it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Whether every applicable policy is satisfied. Decide on this field only.
    pub policies_satisfied: bool,
    /// Human-readable summary.
    pub summary: String,
    /// Ids of the applicable policies (absent when on-demand rules were used).
    pub applicable_policies: Vec<String>,
    /// Requirements that are met.
    pub satisfied_requirements: Vec<Requirement>,
    /// Requirements that are not met.
    pub unsatisfied_requirements: Vec<Requirement>,
    /// The full response body, as received.
    pub raw: Value,
}

#[derive(Deserialize)]
struct DecisionWire {
    policies_satisfied: bool,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    applicable_policies: Vec<String>,
    #[serde(default)]
    satisfied_requirements: Vec<Requirement>,
    #[serde(default)]
    unsatisfied_requirements: Vec<Requirement>,
}

impl Decision {
    /// Interprets a decision body (status 200 already checked).
    pub fn from_json(body: Value) -> Result<Self, GreenwaveError> {
        if body.get("policies_satisfied").is_none() {
            return Err(GreenwaveError::MissingPoliciesSatisfied { body });
        }
        match DecisionWire::deserialize(&body) {
            Ok(wire) => Ok(Self {
                policies_satisfied: wire.policies_satisfied,
                summary: wire.summary,
                applicable_policies: wire.applicable_policies,
                satisfied_requirements: wire.satisfied_requirements,
                unsatisfied_requirements: wire.unsatisfied_requirements,
                raw: body,
            }),
            Err(e) => Err(GreenwaveError::InvalidResponse {
                reason: e.to_string(),
                body,
            }),
        }
    }
}

/// Answer of `GET /api/v1.0/about`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    /// Greenwave's version.
    pub version: String,
    /// The full response body.
    pub raw: Value,
}

impl About {
    pub(crate) fn from_json(body: Value) -> Result<Self, GreenwaveError> {
        match body.get("version").and_then(Value::as_str) {
            Some(version) => Ok(Self {
                version: version.to_owned(),
                raw: body,
            }),
            None => Err(GreenwaveError::InvalidResponse {
                reason: "no string `version` in about answer".to_owned(),
                body,
            }),
        }
    }
}
