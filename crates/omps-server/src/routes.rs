//! The router: OMPS v1/v2 routes, the new read endpoints, health, about, metrics and `OpenAPI`.
//!
//! Routing (documented in docs/api.md): literal segments win over parameters, so
//! `DELETE /v1/health/ping` and push-shaped DELETEs answer 405 instead of deleting anything.

use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};
use tracing::Instrument as _;

use crate::error::ApiError;
use crate::push::{self, Params, optional_auth, require_auth};
use crate::service::PushService;
use crate::service::read::{Deleted, Releases, Repositories};
use crate::state::AppState;

/// The longest path segment served (a file name limit).
pub(crate) const MAX_SEGMENT_BYTES: usize = crate::names::MAX_LEN;

/// The OMPS application.
pub fn app(state: AppState) -> Router {
    let body_limit = usize::try_from(state.config().max_content_length).unwrap_or(usize::MAX);
    Router::new()
        .route("/v1/{org}/{repo}/zipfile", post(push::zip_v1))
        .route("/v1/{org}/{repo}/zipfile/{version}", post(push::zip_v1))
        .route("/v1/{org}/{repo}/koji/{nvr}", post(push::koji_v1))
        .route("/v1/{org}/{repo}/koji/{nvr}/{version}", post(push::koji_v1))
        .route("/v1/{org}/{repo}", delete(delete_releases))
        .route("/v1/{org}/{repo}/{version}", delete(delete_releases))
        .route("/v1/health/ping", get(health))
        .route("/v1/about", get(about))
        .route("/v2/{org}/zipfile", post(push::zip_v2))
        .route("/v2/{org}/zipfile/{version}", post(push::zip_v2))
        .route("/v2/{org}/koji/{nvr}", post(push::koji_v2))
        .route("/v2/{org}/koji/{nvr}/{version}", post(push::koji_v2))
        .route(
            "/v2/{org}/{repo}",
            delete(delete_releases).get(list_releases),
        )
        .route(
            "/v2/{org}/{repo}/{version}",
            delete(delete_releases).get(download_release),
        )
        // Literal beats parameter: `catalog` is the organization's catalog, not a package
        // (a package named `catalog` is still deleted with DELETE).
        .route(
            "/v2/{org}/catalog",
            get(get_catalog).delete(delete_catalog_package),
        )
        .route("/v2/{org}", get(list_repositories))
        .route("/v2/health/ping", get(health))
        .route("/v2/about", get(about))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route_layer(middleware::from_fn(remember_route))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// The matched route template, carried to the outer middleware for metrics and logs.
#[derive(Clone)]
struct RouteName(String);

async fn remember_route(matched: MatchedPath, request: Request, next: Next) -> Response {
    let name = matched.as_str().to_owned();
    let mut response = next.run(request).await;
    response.extensions_mut().insert(RouteName(name));
    response
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(new_request_id, str::to_owned)
}

fn new_request_id() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{:016x}", hasher.finish())
}

/// Outermost layer: request id, dot-segment rejection, the JSON envelope for framework errors
/// (404, 405 with `Allow`, 413), access log and metrics.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(request.headers());
    let method = request.method().clone();
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %request.uri().path());
    // Dot segments never name a resource, and no organization, repository, version or NVR is
    // longer than a file name may be.
    let has_dot_segment = request.uri().path().split('/').any(|s| {
        let s = s.to_ascii_lowercase();
        s.len() > MAX_SEGMENT_BYTES
            || matches!(s.as_str(), "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e.")
    });
    let mut response = if has_dot_segment {
        ApiError::not_found().into_response()
    } else {
        next.run(request).instrument(span.clone()).await
    };
    response = envelope(response, state.config().max_content_length);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let route = response
        .extensions()
        .get::<RouteName>()
        .map_or("unmatched", |r| r.0.as_str())
        .to_owned();
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state
        .inner
        .metrics
        .request(method.as_str(), &route, status, elapsed);
    span.in_scope(|| tracing::info!(status, route = %route, elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX), "request completed"));
    response
}

/// Framework-generated errors (plain-text bodies) become the OMPS envelope; headers such as
/// `Allow` are kept.
fn envelope(response: Response, body_limit: u64) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(body_limit),
        // Undecodable path segments and other extractor rejections: no such resource.
        s if s.is_client_error() => ApiError::not_found(),
        _ => ApiError::internal(),
    };
    let (mut parts, _) = response.into_parts();
    let fresh = error.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.status = fresh.status();
    Response::from_parts(parts, fresh.into_body())
}

/// `DELETE /v{1,2}/{org}/{repo}[/{version}]`.
async fn delete_releases(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Json<Deleted>, ApiError> {
    let auth = require_auth(&headers)?;
    let Params {
        org, repo, version, ..
    } = Params::from(params);
    PushService::new(state)
        .delete(&org, &repo, version.as_deref(), &auth)
        .await
        .map(Json)
}

/// `GET /v2/{org}/{repo}`: the releases of a package (new).
async fn list_releases(
    State(state): State<AppState>,
    Path((org, repo)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Releases>, ApiError> {
    PushService::new(state)
        .list_releases(&org, &repo, optional_auth(&headers).as_ref())
        .await
        .map(Json)
}

/// `GET /v2/{org}/{repo}/{version}`: a release's blob (new).
async fn download_release(
    State(state): State<AppState>,
    Path((org, repo, version)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let download = PushService::new(state)
        .download(&org, &repo, &version, optional_auth(&headers).as_ref())
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", download.filename),
            ),
        ],
        Body::from(download.blob),
    )
        .into_response())
}

/// `GET /v2/{org}/catalog`: the organization's catalog as an FBC JSON stream (new).
async fn get_catalog(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let catalog = PushService::new(state)
        .catalog(&org, optional_auth(&headers).as_ref())
        .await?;
    let mut response = ([(header::CONTENT_TYPE, "application/json")], catalog.json).into_response();
    if let Ok(value) = HeaderValue::from_str(&catalog.digest) {
        response
            .headers_mut()
            .insert("docker-content-digest", value);
    }
    Ok(response)
}

/// `DELETE /v2/{org}/catalog`: deletes the package named `catalog`, as for any package.
async fn delete_catalog_package(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Deleted>, ApiError> {
    let auth = require_auth(&headers)?;
    PushService::new(state)
        .delete(&org, "catalog", None, &auth)
        .await
        .map(Json)
}

/// `GET /v2/{org}`: the repositories of an organization (new).
async fn list_repositories(
    State(state): State<AppState>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Repositories>, ApiError> {
    PushService::new(state)
        .list_repositories(&org, optional_auth(&headers).as_ref())
        .await
        .map(Json)
}

fn service_status(result: Option<Result<(), String>>) -> Value {
    match result {
        None => Value::Null,
        Some(Ok(())) => json!({"details": "It works!", "ok": true}),
        Some(Err(details)) => json!({"details": details, "ok": false}),
    }
}

async fn bounded<F: std::future::Future<Output = Result<(), String>>>(
    timeout: Duration,
    check: F,
) -> Result<(), String> {
    tokio::time::timeout(timeout, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", timeout.as_secs())))
}

/// `GET /v{1,2}/health/ping`: 200 when every configured service is healthy, else 503.
async fn health(State(state): State<AppState>) -> Response {
    let timeout = Duration::from_secs(state.config().request_timeout);
    let store = state.default_store();
    let backends = &state.inner.backends;
    let (quay, koji, greenwave) = tokio::join!(
        async {
            match &store {
                Some(s) => bounded(timeout, s.health()).await,
                None => Err("no store configured".to_owned()),
            }
        },
        async {
            match &backends.build_system {
                Some(b) => Some(bounded(timeout, b.health()).await),
                None => None,
            }
        },
        async {
            match &backends.gate {
                Some(g) => Some(bounded(timeout, g.health()).await),
                None => None,
            }
        },
    );
    let ok = quay.is_ok()
        && koji.as_ref().is_none_or(Result::is_ok)
        && greenwave.as_ref().is_none_or(Result::is_ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ok": ok,
        "services": {"greenwave": service_status(greenwave), "koji": service_status(koji), "quay": service_status(Some(quay))},
        "status": status.as_u16(),
        "store": store.map(|s| s.kind()),
    });
    (status, Json(body)).into_response()
}

/// `GET /v{1,2}/about`.
async fn about() -> Json<Value> {
    Json(json!({
        "courier_compat": "2.1.11",
        "operatorcourier": manifest_bundle::VERSION,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics_text(),
    )
        .into_response()
}

/// `GET /openapi.json`.
async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}
