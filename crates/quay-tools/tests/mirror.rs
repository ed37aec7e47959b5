//! `mirror::plan` and `mirror::execute` against wiremock registries and Quay APIs.

use std::sync::Mutex;

use quay_client::{HttpSettings, SecretString};
use quay_tools::mirror::{
    self, Discovery, Endpoint, ExecuteOptions, ItemResult, ItemStatus, MirrorObserver, PlanOptions,
    ServerConfig, TagFilter,
};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn endpoint(server: &MockServer, token: Option<&str>) -> Endpoint {
    let mut s = ServerConfig::new(url::Url::parse(&server.uri()).unwrap());
    s.api_token = token.map(|t| SecretString::from(t.to_owned()));
    Endpoint::connect(&s, &HttpSettings::new()).unwrap()
}

async fn head(s: &MockServer, repo: &str, tag: &str, d: &str) {
    Mock::given(method("HEAD"))
        .and(path(format!("/v2/{repo}/manifests/{tag}")))
        .respond_with(ResponseTemplate::new(200).insert_header("docker-content-digest", d))
        .mount(s)
        .await;
}

#[tokio::test]
async fn quay_api_discovery_follows_pages_and_filters_tags() {
    let src = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository"))
        .and(query_param("namespace", "team"))
        .and(query_param_is_missing("next_page"))
        .and(header("authorization", "Bearer src"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "repositories": [{"namespace": "team", "name": "a", "is_public": true}],
            "next_page": "n2"})))
        .expect(1)
        .mount(&src)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository"))
        .and(query_param("next_page", "n2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "repositories": [{"namespace": "team", "name": "b"}]})))
        .expect(1)
        .mount(&src)
        .await;
    for (repo, page, tags, more) in [
        ("a", "1", vec!["v1", "latest"], true),
        ("a", "2", vec!["v2"], false),
        ("b", "1", vec!["v1"], false),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/repository/team/{repo}/tag/")))
            .and(query_param("page", page))
            .and(query_param("onlyActiveTags", "true"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
                "page": page.parse::<u32>().unwrap(), "has_additional": more})))
            .expect(1)
            .mount(&src)
            .await;
    }
    let dst = test_support::mock::server().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/team"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "team"})))
        .expect(1)
        .mount(&dst)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/other"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error_message": "Not Found"})),
        )
        .expect(1)
        .mount(&dst)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository/team/a"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"namespace": "team", "name": "a"})),
        )
        .mount(&dst)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository/team/b"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error_message": "Not Found"})),
        )
        .mount(&dst)
        .await;
    let mut opts = PlanOptions::default();
    opts.auto_discovery = true;
    opts.organizations = vec!["team".into()];
    opts.tags = TagFilter::new(["v*"]);
    opts.repositories = vec![mirror::parse_repository("other/x:pinned").unwrap()];
    let plan = mirror::plan(
        &endpoint(&src, Some("src")),
        &endpoint(&dst, Some("dst")),
        &opts,
    )
    .await
    .unwrap();
    let items: Vec<String> = plan.items.iter().map(ToString::to_string).collect();
    assert_eq!(
        items,
        ["other/x:pinned", "team/a:v1", "team/a:v2", "team/b:v1"]
    );
    assert_eq!(plan.organizations_to_create, ["other"]);
    let repos: Vec<String> = plan
        .repositories_to_create
        .iter()
        .map(|r| format!("{}/{}:{}", r.namespace, r.name, r.public))
        .collect();
    // team/a exists; other/x is in an organization to create, so it is not looked up.
    assert_eq!(repos, ["other/x:false", "team/b:false"]);
}

#[tokio::test]
async fn quay_api_discovery_without_token_is_a_config_error() {
    let src = test_support::mock::server().await;
    let dst = test_support::mock::server().await;
    let mut opts = PlanOptions::default();
    opts.auto_discovery = true;
    opts.discovery = Discovery::QuayApi;
    let err = mirror::plan(&endpoint(&src, None), &endpoint(&dst, None), &opts)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("source API token"), "{err}");
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, ItemStatus)>>, Mutex<usize>);

impl MirrorObserver for Recorder {
    fn started(&self, total: usize) {
        *self.1.lock().unwrap() = total;
    }
    fn item_done(&self, r: &ItemResult) {
        self.0.lock().unwrap().push((r.image.clone(), r.status));
    }
}

#[tokio::test]
async fn execute_stops_after_first_failure_unless_skipping() {
    let src = test_support::mock::server().await;
    let dst = test_support::mock::server().await;
    head(&src, "t/a", "1", &digest('a')).await;
    head(&dst, "t/a", "1", &digest('a')).await; // unchanged
    // t/b:1 is missing on the source: HEAD 404 -> failure.
    Mock::given(method("HEAD"))
        .and(path("/v2/t/b/manifests/1"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&src)
        .await;
    head(&src, "t/c", "1", &digest('c')).await;
    head(&dst, "t/c", "1", &digest('c')).await;
    let mut opts = PlanOptions::default();
    opts.repositories = ["t/a:1", "t/b:1", "t/c:1"]
        .iter()
        .map(|r| mirror::parse_repository(r).unwrap())
        .collect();
    let (s, d) = (endpoint(&src, None), endpoint(&dst, None));
    let plan = mirror::plan(&s, &d, &opts).await.unwrap();
    assert_eq!(
        plan.notes.len(),
        1,
        "no destination token note: {:?}",
        plan.notes
    );

    let mut exec = ExecuteOptions::default();
    exec.concurrency = 1;
    let rec = Recorder::default();
    let report = mirror::execute(&s, &d, &plan, &exec, &rec).await;
    assert_eq!(*rec.1.lock().unwrap(), 3);
    let statuses: Vec<ItemStatus> = report.items.iter().map(|i| i.status).collect();
    assert_eq!(
        statuses,
        [
            ItemStatus::Unchanged,
            ItemStatus::Failed,
            ItemStatus::NotAttempted
        ]
    );
    assert_eq!(report.result, "failure");
    assert_eq!(rec.0.lock().unwrap().len(), 3);

    exec.skip_broken_images = true;
    let report = mirror::execute(&s, &d, &plan, &exec, &mirror::NoProgress).await;
    let statuses: Vec<ItemStatus> = report.items.iter().map(|i| i.status).collect();
    assert_eq!(
        statuses,
        [
            ItemStatus::Unchanged,
            ItemStatus::Failed,
            ItemStatus::Unchanged
        ]
    );
    assert_eq!(report.result, "failure");
    assert_eq!(report.summary.failed, 1);
    assert!(
        report.errors[0].starts_with("t/b:1: "),
        "{:?}",
        report.errors
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["items"][1]["status"], "failed");
    assert_eq!(json["items"][1]["error_kind"], "not_found");
    assert_eq!(json["summary"]["unchanged"], 2);
}

#[tokio::test]
async fn dry_run_marks_differing_items_planned() {
    let src = test_support::mock::server().await;
    let dst = test_support::mock::server().await;
    head(&src, "t/a", "1", &digest('a')).await;
    head(&dst, "t/a", "1", &digest('b')).await;
    let mut opts = PlanOptions::default();
    opts.repositories = vec![mirror::parse_repository("t/a:1").unwrap()];
    let (s, d) = (endpoint(&src, None), endpoint(&dst, None));
    let plan = mirror::plan(&s, &d, &opts).await.unwrap();
    let mut exec = ExecuteOptions::default();
    exec.dry_run = true;
    let report = mirror::execute(&s, &d, &plan, &exec, &mirror::NoProgress).await;
    assert_eq!(report.items[0].status, ItemStatus::Planned);
    assert_eq!(
        report.items[0].digest.as_deref(),
        Some(digest('a').as_str())
    );
    assert!(report.is_success());
}

#[tokio::test]
async fn transient_failures_are_retried_per_image() {
    let src = test_support::mock::server().await;
    let dst = test_support::mock::server().await;
    // The client retries a HEAD twice itself (3 calls); 4 failures make the first image attempt
    // fail, the image retry then succeeds.
    Mock::given(method("HEAD"))
        .and(path("/v2/t/a/manifests/1"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(4)
        .with_priority(1)
        .expect(4)
        .mount(&src)
        .await;
    head(&src, "t/a", "1", &digest('a')).await;
    head(&dst, "t/a", "1", &digest('a')).await;
    // A permanent failure (404 on the source) is not retried: exactly one HEAD.
    Mock::given(method("HEAD"))
        .and(path("/v2/t/gone/manifests/1"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&src)
        .await;
    let mut s = ServerConfig::new(url::Url::parse(&src.uri()).unwrap());
    s.api_token = None;
    let settings = HttpSettings::new().timeout(std::time::Duration::from_secs(5));
    let s = Endpoint::connect(&s, &settings).unwrap();
    let d = endpoint(&dst, None);
    let mut opts = PlanOptions::default();
    opts.repositories = vec![
        mirror::parse_repository("t/a:1").unwrap(),
        mirror::parse_repository("t/gone:1").unwrap(),
    ];
    let plan = mirror::plan(&s, &d, &opts).await.unwrap();
    let mut exec = ExecuteOptions::default();
    exec.retry_delay = std::time::Duration::from_millis(10);
    exec.skip_broken_images = true;
    let report = mirror::execute(&s, &d, &plan, &exec, &mirror::NoProgress).await;
    assert_eq!(report.items[0].status, ItemStatus::Unchanged, "{report:?}");
    assert_eq!(report.items[1].status, ItemStatus::Failed);
}

#[tokio::test]
async fn api_token_doubles_as_registry_credential_for_quay() {
    use base64::Engine as _;
    let src = test_support::mock::server().await;
    let dst = test_support::mock::server().await;
    head(&src, "t/a", "1", &digest('a')).await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("$oauthtoken:dst-api-token")
    );
    Mock::given(method("HEAD"))
        .and(path("/v2/t/a/manifests/1"))
        .and(header("authorization", basic.as_str()))
        .respond_with(
            ResponseTemplate::new(200).insert_header("docker-content-digest", digest('a').as_str()),
        )
        .expect(1)
        .mount(&dst)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/v2/t/a/manifests/1"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", "Basic realm=\"quay\""),
        )
        .with_priority(10)
        .mount(&dst)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/organization/t"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "t"})))
        .mount(&dst)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/repository/t/a"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"namespace": "t", "name": "a"})),
        )
        .mount(&dst)
        .await;
    let mut opts = PlanOptions::default();
    opts.repositories = vec![mirror::parse_repository("t/a:1").unwrap()];
    let (s, d) = (endpoint(&src, None), endpoint(&dst, Some("dst-api-token")));
    let plan = mirror::plan(&s, &d, &opts).await.unwrap();
    let report = mirror::execute(
        &s,
        &d,
        &plan,
        &ExecuteOptions::default(),
        &mirror::NoProgress,
    )
    .await;
    assert_eq!(report.items[0].status, ItemStatus::Unchanged, "{report:?}");
}
