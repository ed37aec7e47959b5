//! A stateful fake of HPE Cray's Image Management Service and its Keycloak token endpoint.
//!
//! No runnable IMS fits a test (the real one needs its Python stack and Kubernetes), so this
//! wiremock responder enforces what the real server validates (spec `ims.md` §4): problem+json
//! errors, 201 on create, exactly one rootfs in a linked manifest, unique link paths, 409 on a
//! different relink, the manifest checks in the server's order, job status values. The token
//! endpoint issues short-lived bearer tokens, and IMS answers 401 to expired or unknown ones, so
//! refresh and the 401 retry are exercised.

// Handlers return early with a ready answer; boxing it buys nothing in a test fake.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Reads an object from the S3 store IMS validates links against: `(bucket, key) -> bytes`.
pub type ObjectReader = Arc<dyn Fn(&str, &str) -> Option<Vec<u8>> + Send + Sync>;

/// The client id and secret the token endpoint accepts.
pub const CLIENT_ID: &str = "admin-client";

/// Job status values IMS accepts.
pub const JOB_STATUSES: [&str; 9] = [
    "creating",
    "fetching_image",
    "fetching_recipe",
    "waiting_for_repos",
    "building_image",
    "packaging_artifacts",
    "waiting_on_user",
    "error",
    "success",
];

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Logged {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Body as text.
    pub body: String,
    /// Every header, as `name: value` lines (for leak checks).
    pub headers: String,
}

/// An injected failure: the next `count` requests matching `method` and a path starting with
/// `path_prefix` get `status` with a problem+json body.
#[derive(Debug, Clone)]
struct Fault {
    method: String,
    path_prefix: String,
    status: u16,
    count: u32,
    /// Process the request first, then answer the failure (a lost answer).
    after_applying: bool,
}

#[derive(Default)]
struct State {
    images: Vec<Value>,
    jobs: Vec<Value>,
    recipes: Vec<Value>,
    tokens: BTreeMap<String, Instant>,
    tokens_issued: u32,
    log: Vec<Logged>,
    faults: Vec<Fault>,
    next_id: u64,
}

struct Shared {
    state: Mutex<State>,
    objects: ObjectReader,
    client_secret: String,
    token_lifetime: Duration,
    auth_required: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running fake: IMS under `/apis/ims`, the token endpoint at `/token`.
pub struct ImsFake {
    server: MockServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ImsFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImsFake")
            .field("uri", &self.server.uri())
            .finish_non_exhaustive()
    }
}

impl ImsFake {
    /// Starts the fake. `objects` is how IMS sees S3; `client_secret` is the only secret the
    /// token endpoint accepts (with [`CLIENT_ID`]); tokens live `token_lifetime`.
    pub async fn start(
        objects: ObjectReader,
        client_secret: &str,
        token_lifetime: Duration,
    ) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            objects,
            client_secret: client_secret.to_owned(),
            token_lifetime,
            auth_required: true,
        });
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(Responder(shared.clone()))
            .mount(&server)
            .await;
        Self { server, shared }
    }

    /// IMS base URL (`<uri>/apis/ims`).
    pub fn ims_url(&self) -> String {
        format!("{}/apis/ims", self.server.uri())
    }

    /// Token endpoint URL.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.server.uri())
    }

    /// Adds a job record (IMS creates jobs itself; tests pre-write them) and returns its id.
    pub fn add_job(&self, id: &str) -> String {
        let job = json!({
            "id": id, "job_type": "create", "artifact_id": "2233c82a-5081-4f67-bec4-4b59a60017a6",
            "public_key_id": "612d6148-588d-44a6-b0cf-60877f26ec4e", "status": "creating",
            "resultant_image_id": null, "arch": "x86_64", "created": "2026-12-01T21:00:00.000000",
            "kubernetes_job": format!("cray-ims-{id}-create"),
        });
        self.shared.lock().jobs.push(job);
        id.to_owned()
    }

    /// Adds an image record as-is (e.g. an empty record left by an earlier run).
    pub fn add_image(&self, record: Value) {
        self.shared.lock().images.push(record);
    }

    /// The image records.
    pub fn images(&self) -> Vec<Value> {
        self.shared.lock().images.clone()
    }

    /// The job records.
    pub fn jobs(&self) -> Vec<Value> {
        self.shared.lock().jobs.clone()
    }

    /// The recipe records.
    pub fn recipes(&self) -> Vec<Value> {
        self.shared.lock().recipes.clone()
    }

    /// Every request received so far.
    pub fn log(&self) -> Vec<Logged> {
        self.shared.lock().log.clone()
    }

    /// How many tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> u32 {
        self.shared.lock().tokens_issued
    }

    /// Makes the next `count` requests `METHOD path_prefix…` fail with `status`.
    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, count: u32) {
        self.shared.lock().faults.push(Fault {
            method: method.to_owned(),
            path_prefix: path_prefix.to_owned(),
            status,
            count,
            after_applying: false,
        });
    }

    /// Like [`ImsFake::fail_next`], but the request takes effect before the failure is answered
    /// (an answer lost on the way back).
    pub fn fail_next_after_applying(
        &self,
        method: &str,
        path_prefix: &str,
        status: u16,
        count: u32,
    ) {
        self.shared.lock().faults.push(Fault {
            method: method.to_owned(),
            path_prefix: path_prefix.to_owned(),
            status,
            count,
            after_applying: true,
        });
    }

    /// Revokes every issued token (IMS then answers 401 until a new one is fetched).
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.clear();
    }
}

struct Responder(Arc<Shared>);

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let shared = &self.0;
        let path = req.url.path().to_owned();
        let query = req.url.query().unwrap_or("").to_owned();
        let method = req.method.as_str().to_owned();
        let headers = req
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
            .collect::<Vec<_>>()
            .join("\n");
        let mut st = shared.lock();
        st.log.push(Logged {
            method: method.clone(),
            path: if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{query}")
            },
            body: String::from_utf8_lossy(&req.body).into_owned(),
            headers,
        });
        if path == "/token" {
            return token(shared, &mut st, req);
        }
        let Some(rest) = path.strip_prefix("/apis/ims/") else {
            return problem(404, "Not Found", "no such route");
        };
        let mut late_fault = None;
        if let Some(f) = st
            .faults
            .iter_mut()
            .find(|f| f.count > 0 && f.method == method && rest.starts_with(&f.path_prefix))
        {
            f.count -= 1;
            if !f.after_applying {
                return problem(f.status, "Injected", "injected failure");
            }
            late_fault = Some(f.status);
        }
        let answer = route(shared, &mut st, req, &method, rest);
        match late_fault {
            Some(status) => problem(status, "Injected", "injected failure after applying"),
            None => answer,
        }
    }
}

fn route(
    shared: &Shared,
    st: &mut State,
    req: &Request,
    method: &str,
    rest: &str,
) -> ResponseTemplate {
    if shared.auth_required && !authorized(st, req) {
        return problem(
            401,
            "Unauthorized",
            "missing, unknown or expired bearer token",
        );
    }
    if req.headers.get("user-agent").is_none() {
        return problem(400, "Bad Request", "no User-Agent");
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let body = &req.body;
    match (method, segments.as_slice()) {
        ("GET", ["images"]) => ok(200, &Value::Array(st.images.clone())),
        ("POST", ["images"]) => create_image(shared, st, body),
        ("GET", ["images", id]) => find(&st.images, id).map_or_else(not_found, |r| ok(200, r)),
        ("PATCH", ["images", id]) => patch_image(shared, st, id, body),
        ("DELETE", ["images", id]) => {
            let before = st.images.len();
            st.images.retain(|r| r["id"] != *id);
            if st.images.len() == before {
                not_found()
            } else {
                ResponseTemplate::new(204)
            }
        }
        ("GET", ["jobs", id]) => find(&st.jobs, id).map_or_else(not_found, |r| ok(200, r)),
        ("PATCH", ["jobs", id]) => patch_job(st, id, body),
        ("GET", ["recipes"]) => ok(200, &Value::Array(st.recipes.clone())),
        ("POST", ["recipes"]) => create_recipe(st, body),
        ("PATCH", ["recipes", id]) => patch_recipe(shared, st, id, body),
        ("DELETE", ["recipes", id]) => {
            let before = st.recipes.len();
            st.recipes.retain(|r| r["id"] != *id);
            if st.recipes.len() == before {
                not_found()
            } else {
                ResponseTemplate::new(204)
            }
        }
        ("GET", ["version"]) => ok(200, &json!({"version": "3.33.0"})),
        _ => problem(405, "Method Not Allowed", "not supported by the fake"),
    }
}

fn token(shared: &Shared, st: &mut State, req: &Request) -> ResponseTemplate {
    use base64::Engine as _;
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    let basic = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    let (id, secret) = basic.unwrap_or_else(|| {
        (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        )
    });
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return ResponseTemplate::new(400)
            .set_body_json(json!({"error": "unsupported_grant_type", "error_description": "client_credentials only"}));
    }
    if id != CLIENT_ID || secret != shared.client_secret {
        return ResponseTemplate::new(401)
            .set_body_json(json!({"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"}));
    }
    st.tokens_issued += 1;
    let token = format!("token-{}-{}", st.tokens_issued, st.next_id);
    st.tokens
        .insert(token.clone(), Instant::now() + shared.token_lifetime);
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": token,
        "expires_in": shared.token_lifetime.as_secs(),
        "token_type": "Bearer",
        "scope": "profile email",
    }))
}

fn authorized(st: &State, req: &Request) -> bool {
    req.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| st.tokens.get(t))
        .is_some_and(|exp| Instant::now() < *exp)
}

fn ok(status: u16, v: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(v)
}

fn problem(status: u16, title: &str, detail: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        serde_json::to_vec(
            &json!({"status": status, "title": title, "detail": detail, "type": "about:blank"}),
        )
        .expect("JSON"),
        "application/problem+json",
    )
}

fn not_found() -> ResponseTemplate {
    problem(404, "Not Found", "Requested record does not exist")
}

fn find<'a>(records: &'a [Value], id: &str) -> Option<&'a Value> {
    records.iter().find(|r| r["id"] == id)
}

fn new_id(st: &mut State) -> String {
    st.next_id += 1;
    format!("6cc42c60-dba6-4408-b008-{:012x}", st.next_id)
}

fn now_naive() -> String {
    "2026-12-01T21:33:37.051005".to_owned()
}

/// Parses a JSON object body; IMS answers 400 for an empty body or `{}`.
fn object_body(body: &[u8]) -> Result<Map<String, Value>, ResponseTemplate> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) if !m.is_empty() => Ok(m),
        Ok(Value::Object(_)) | Err(_) if body.is_empty() || body == b"{}" => Err(problem(
            400,
            "Bad Request",
            "No input provided. Determine the specific information that is missing or invalid and then re-run the request with valid information.",
        )),
        _ => Err(problem(400, "Bad Request", "body is not a JSON object")),
    }
}

fn unknown_fields(m: &Map<String, Value>, allowed: &[&str]) -> Option<ResponseTemplate> {
    let unknown: Vec<&String> = m
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .collect();
    (!unknown.is_empty()).then(|| {
        let errors: Map<String, Value> =
            unknown.iter().map(|k| ((*k).clone(), json!(["Unknown field."]))).collect();
        ResponseTemplate::new(422).set_body_raw(
            serde_json::to_vec(&json!({"status": 422, "title": "Unprocessable Entity", "detail": "Input data failed validation.", "errors": errors})).expect("JSON"),
            "application/problem+json",
        )
    })
}

fn create_image(shared: &Shared, st: &mut State, body: &[u8]) -> ResponseTemplate {
    let m = match object_body(body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if let Some(r) = unknown_fields(&m, &["name", "arch", "link", "metadata"]) {
        return r;
    }
    let name = m.get("name").and_then(Value::as_str).unwrap_or("");
    if name.trim().is_empty() {
        return problem(422, "Unprocessable Entity", "name must not be blank");
    }
    let arch = m.get("arch").and_then(Value::as_str).unwrap_or("x86_64");
    if !["x86_64", "aarch64"].contains(&arch) {
        return problem(
            422,
            "Unprocessable Entity",
            "arch must be one of x86_64, aarch64",
        );
    }
    let id = new_id(st);
    let link = m.get("link").cloned().unwrap_or(Value::Null);
    if !link.is_null() {
        if let Err(r) = validate_image_link(shared, st, &id, &link) {
            return r;
        }
    }
    let record = json!({"id": id, "name": name, "created": now_naive(), "link": link,
                        "arch": arch, "metadata": m.get("metadata").cloned().unwrap_or(json!({}))});
    st.images.push(record.clone());
    ok(201, &record)
}

fn patch_image(shared: &Shared, st: &mut State, id: &str, body: &[u8]) -> ResponseTemplate {
    let Some(pos) = st.images.iter().position(|r| r["id"] == id) else {
        return not_found();
    };
    let m = match object_body(body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if let Some(r) = unknown_fields(&m, &["link", "arch", "metadata"]) {
        return r;
    }
    if let Some(link) = m.get("link") {
        let current = &st.images[pos]["link"];
        if !current.is_null() {
            if current == link {
                return ok(200, &st.images[pos]);
            }
            return problem(
                409,
                "Conflict",
                "The image record already has an artifact link; it cannot be changed.",
            );
        }
        if let Err(r) = validate_image_link(shared, st, id, link) {
            return r;
        }
        st.images[pos]["link"] = link.clone();
    }
    if let Some(arch) = m.get("arch") {
        st.images[pos]["arch"] = arch.clone();
    }
    ok(200, &st.images[pos])
}

fn s3_path(link: &Value) -> Option<(String, String)> {
    if link.get("type")?.as_str()? != "s3" {
        return None;
    }
    let (bucket, key) = link
        .get("path")?
        .as_str()?
        .strip_prefix("s3://")?
        .split_once('/')?;
    Some((bucket.to_owned(), key.to_owned()))
}

/// The checks IMS runs when a link is set on an image, in its order.
fn validate_image_link(
    shared: &Shared,
    st: &State,
    id: &str,
    link: &Value,
) -> Result<(), ResponseTemplate> {
    let unprocessable = |d: &str| problem(422, "Unprocessable Entity", d);
    if st
        .images
        .iter()
        .any(|r| r["id"] != id && r["link"].get("path") == link.get("path"))
    {
        return Err(unprocessable(
            "The artifact link path is already used by another image.",
        ));
    }
    let (bucket, key) = s3_path(link).ok_or_else(|| unprocessable("link type must be s3"))?;
    let bytes = (shared.objects)(&bucket, &key)
        .ok_or_else(|| unprocessable("The manifest could not be validated: it cannot be read."))?;
    if bytes.len() >= 1024 * 1024 {
        return Err(problem(
            400,
            "Bad Request",
            "The manifest is larger than 1 MiB.",
        ));
    }
    let manifest: Value = serde_json::from_slice(&bytes)
        .map_err(|_| problem(500, "Internal Server Error", "The manifest is not JSON."))?;
    if manifest.get("version").and_then(Value::as_str) != Some("1.0") {
        return Err(unprocessable("Unsupported manifest version."));
    }
    let artifacts = manifest
        .get("artifacts")
        .and_then(Value::as_array)
        .ok_or_else(|| unprocessable("The manifest has no artifacts list."))?;
    let mut rootfs = 0;
    for a in artifacts {
        let (b, k) = a
            .get("link")
            .and_then(s3_path)
            .ok_or_else(|| unprocessable("An artifact has no s3 link."))?;
        if (shared.objects)(&b, &k).is_none() {
            return Err(unprocessable(&format!(
                "Artifact s3://{b}/{k} does not exist."
            )));
        }
        if a.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("application/vnd.cray.image.rootfs.squashfs"))
        {
            rootfs += 1;
        }
    }
    if rootfs != 1 {
        return Err(problem(
            400,
            "Bad Request",
            "The manifest must list exactly one rootfs artifact.",
        ));
    }
    Ok(())
}

fn patch_job(st: &mut State, id: &str, body: &[u8]) -> ResponseTemplate {
    let Some(pos) = st.jobs.iter().position(|r| r["id"] == id) else {
        return not_found();
    };
    let m = match object_body(body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if let Some(r) = unknown_fields(&m, &["status", "resultant_image_id"]) {
        return r;
    }
    if let Some(s) = m.get("status") {
        if !s.as_str().is_some_and(|s| JOB_STATUSES.contains(&s)) {
            return problem(
                422,
                "Unprocessable Entity",
                "status is not a valid job status",
            );
        }
        st.jobs[pos]["status"] = s.clone();
    }
    if let Some(r) = m.get("resultant_image_id") {
        let is_uuid = r
            .as_str()
            .is_some_and(|s| s.len() == 36 && s.split('-').count() == 5);
        if !is_uuid {
            return problem(
                422,
                "Unprocessable Entity",
                "resultant_image_id is not a UUID",
            );
        }
        st.jobs[pos]["resultant_image_id"] = r.clone();
    }
    ok(200, &st.jobs[pos])
}

fn template_is_list(m: &Map<String, Value>) -> bool {
    m.get("template_dictionary").is_none_or(|t| {
        t.as_array().is_some_and(|items| {
            items.iter().all(|i| {
                i.get("key").is_some_and(Value::is_string)
                    && i.get("value").is_some_and(Value::is_string)
            })
        })
    })
}

fn create_recipe(st: &mut State, body: &[u8]) -> ResponseTemplate {
    let m = match object_body(body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let allowed = [
        "name",
        "recipe_type",
        "linux_distribution",
        "template_dictionary",
        "arch",
        "require_dkms",
        "link",
    ];
    if let Some(r) = unknown_fields(&m, &allowed) {
        return r;
    }
    let distro = m
        .get("linux_distribution")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !["sles12", "sles15", "centos7"].contains(&distro) {
        return problem(
            422,
            "Unprocessable Entity",
            "linux_distribution must be one of sles12, sles15, centos7",
        );
    }
    if m.get("recipe_type").and_then(Value::as_str) != Some("kiwi-ng") {
        return problem(422, "Unprocessable Entity", "recipe_type must be kiwi-ng");
    }
    if !template_is_list(&m) {
        return problem(
            422,
            "Unprocessable Entity",
            "template_dictionary must be a list of {key, value}",
        );
    }
    let id = new_id(st);
    let record = json!({
        "id": id, "name": m.get("name").cloned().unwrap_or(json!("")), "created": now_naive(),
        "link": m.get("link").cloned().unwrap_or(Value::Null), "recipe_type": "kiwi-ng",
        "linux_distribution": distro, "arch": m.get("arch").cloned().unwrap_or(json!("x86_64")),
        "template_dictionary": m.get("template_dictionary").cloned().unwrap_or(json!([])),
        "require_dkms": m.get("require_dkms").cloned().unwrap_or(json!(true)),
    });
    st.recipes.push(record.clone());
    ok(201, &record)
}

fn patch_recipe(shared: &Shared, st: &mut State, id: &str, body: &[u8]) -> ResponseTemplate {
    let Some(pos) = st.recipes.iter().position(|r| r["id"] == id) else {
        return not_found();
    };
    let m = match object_body(body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if let Some(r) = unknown_fields(&m, &["link", "template_dictionary", "arch", "require_dkms"]) {
        return r;
    }
    if !template_is_list(&m) {
        return problem(
            422,
            "Unprocessable Entity",
            "template_dictionary must be a list of {key, value}",
        );
    }
    if let Some(link) = m.get("link") {
        let current = &st.recipes[pos]["link"];
        if !current.is_null() && current != link {
            return problem(
                409,
                "Conflict",
                "The recipe record already has an artifact link.",
            );
        }
        let exists = s3_path(link)
            .and_then(|(b, k)| (shared.objects)(&b, &k))
            .is_some();
        if !exists {
            return problem(
                422,
                "Unprocessable Entity",
                "The recipe artifact could not be validated.",
            );
        }
        st.recipes[pos]["link"] = link.clone();
    }
    for key in ["template_dictionary", "arch", "require_dkms"] {
        if let Some(v) = m.get(key) {
            st.recipes[pos][key] = v.clone();
        }
    }
    ok(200, &st.recipes[pos])
}
