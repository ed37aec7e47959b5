//! greenwave-client against the released Greenwave (0.9.4 from the package index) backed by
//! the released WaiverDB (1.4.0) and a ResultsDB stand-in (`test-support`'s
//! `greenwave_stack`).
//!
//! Proves that the request OMPS sends is one a real Greenwave accepts, and that what it
//! answers (satisfied, failed, missing, waived, no applicable policy) reads as documented.
//!
//! That release predates parts of the decision API in `spec/koji-greenwave.md` (written from
//! current Greenwave): it answers `satisfied_requirements` only when `verbose` is set, words
//! its "no applicable policies" 404 differently, and needs `decision_context` (no on-demand
//! `rules`). OMPS uses none of those differences: it sends a context and decides on
//! `policies_satisfied` alone. The field-by-field shapes of current Greenwave stay covered by
//! the wiremock tests in `decision.rs`.
//!
//! Ignored by default: they need `OMPS_GREENWAVE_PYTHON`, set by `cargo xtask ci`, and panic
//! without it.

use std::time::Duration;

use greenwave_client::{Client, DecisionRequest, GreenwaveError};
use serde_json::json;
use test_support::greenwave_stack::{CONTEXT, GreenwaveStack, PRODUCT_VERSION, Seed, TESTCASE};

const PASSED: &str = "passed-operator-container-1.0-1";
const FAILED: &str = "failed-test-operator-container-1.0-1";
const WAIVED: &str = "waived-operator-container-1.0-1";
const MISSING: &str = "missing-operator-container-1.0-1";

fn client(stack: &GreenwaveStack) -> Client {
    Client::builder(&stack.greenwave_url)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn request(nvr: &str) -> DecisionRequest {
    DecisionRequest::koji_build(CONTEXT, PRODUCT_VERSION, nvr)
}

#[tokio::test]
#[ignore = "needs the Greenwave peer (OMPS_GREENWAVE_PYTHON, set by cargo xtask ci)"]
async fn decisions_of_a_real_greenwave() {
    let stack = GreenwaveStack::start(
        &Seed::default()
            .result(PASSED, "PASSED")
            .result(FAILED, "FAILED")
            .waiver(WAIVED),
    );
    let gw = client(&stack);
    assert_eq!(gw.about().await.unwrap().version, stack.greenwave_version);

    let passed = gw.decision(&request(PASSED)).await.unwrap();
    assert!(passed.policies_satisfied, "{}", passed.raw);
    assert_eq!(passed.applicable_policies, ["omps_operator_push"]);
    assert!(passed.unsatisfied_requirements.is_empty());
    assert_eq!(passed.summary, "all required tests passed");

    let waived = gw.decision(&request(WAIVED)).await.unwrap();
    assert!(waived.policies_satisfied, "{}", waived.raw);

    let failed = gw.decision(&request(FAILED)).await.unwrap();
    assert!(!failed.policies_satisfied);
    assert_eq!(failed.summary, "1 of 1 required tests failed");
    let [req] = failed.unsatisfied_requirements.as_slice() else {
        panic!("{}", failed.raw);
    };
    assert_eq!(req.kind, "test-result-failed");
    assert_eq!(req.testcase.as_deref(), Some(TESTCASE));
    // Members we do not model are kept, and the raw body is the whole answer.
    assert_eq!(req.extra["result_id"], json!(1 + 1));
    assert_eq!(
        failed.raw["unsatisfied_requirements"][0]["type"],
        "test-result-failed"
    );

    let missing = gw.decision(&request(MISSING)).await.unwrap();
    assert!(!missing.policies_satisfied);
    let [req] = missing.unsatisfied_requirements.as_slice() else {
        panic!("{}", missing.raw);
    };
    assert_eq!(req.kind, "test-result-missing");
    assert_eq!(req.subject_type.as_deref(), Some("koji_build"));
    assert_eq!(req.subject_identifier.as_deref(), Some(MISSING));
    assert_eq!(req.scenario, None);

    // verbose: the results and waivers Greenwave based the decision on.
    let mut verbose = request(PASSED);
    verbose.verbose = Some(true);
    let passed = gw.decision(&verbose).await.unwrap();
    assert_eq!(passed.satisfied_requirements[0].kind, "test-result-passed");
    assert_eq!(passed.raw["results"][0]["testcase"]["name"], TESTCASE);
    let mut verbose = request(WAIVED);
    verbose.verbose = Some(true);
    let waived = gw.decision(&verbose).await.unwrap();
    assert_eq!(waived.raw["waivers"][0]["subject_identifier"], WAIVED);
    assert_eq!(waived.raw["waivers"][0]["product_version"], PRODUCT_VERSION);
}

#[tokio::test]
#[ignore = "needs the Greenwave peer (OMPS_GREENWAVE_PYTHON, set by cargo xtask ci)"]
async fn refusals_of_a_real_greenwave_keep_its_body() {
    let stack = GreenwaveStack::start(&Seed::default());
    let gw = client(&stack);
    let err = gw
        .decision(&DecisionRequest::koji_build(
            "no_such_context",
            PRODUCT_VERSION,
            PASSED,
        ))
        .await
        .unwrap_err();
    let GreenwaveError::Status {
        status,
        message,
        body,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*status, 404);
    let text = "Cannot find any applicable policies for koji_build subjects at gating point \
                no_such_context in cvp";
    assert_eq!(message.as_deref(), Some(text));
    assert_eq!(body, &json!({ "message": text }));
    assert!(!err.is_retryable());

    let err = gw
        .decision(&DecisionRequest::koji_build(CONTEXT, "", PASSED))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GreenwaveError::Status { status: 400, message: Some(m), .. }
            if m == "Missing required product version"),
        "{err:?}"
    );
}

#[tokio::test]
#[ignore = "needs the Greenwave peer (OMPS_GREENWAVE_PYTHON, set by cargo xtask ci)"]
async fn a_stopped_greenwave_is_a_transport_error_naming_the_cause() {
    let stack = GreenwaveStack::start(&Seed::default());
    let url = stack.greenwave_url.clone();
    drop(stack);
    let gw = Client::builder(url).build().unwrap();
    let err = gw.decision(&request(PASSED)).await.unwrap_err();
    assert!(matches!(err, GreenwaveError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(text.starts_with("Request failed: "), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
}
