//! `omps push`, `omps delete`, `omps list`: the OMPS API, against a running service (`--url`) or
//! in-process on the same configuration (`--direct`, no server needed; `push` calls the
//! server's push service directly).
//!
//! Exit status: the table of `omps --help` ([`crate::error`]); a service error answer exits
//! 1 (4xx) or 3 (5xx).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::error::{CliError, Exit, Failure};
use crate::output::Output;

/// Where requests go and with which credentials.
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// Base URL of the OMPS service (env `OMPS_URL`).
    #[arg(
        long,
        env = "OMPS_URL",
        default_value = "http://127.0.0.1:8080",
        conflicts_with = "direct"
    )]
    pub url: String,
    /// Run the request in-process on the server configuration instead of calling a service.
    #[arg(long)]
    pub direct: bool,
    /// Server configuration file for `--direct` (env `OMPS_CONFIG`).
    #[arg(long, env = "OMPS_CONFIG", requires = "direct")]
    pub config: Option<PathBuf>,
    /// Local store directory for `--direct` (env `OMPS_DATA_DIR`).
    #[arg(long, requires = "direct")]
    pub data_dir: Option<PathBuf>,
    /// `Authorization` value sent to the service, e.g. `basic <token>` (env `OMPS_AUTH`; never
    /// echoed). A service demands one for push and delete; `--direct` on the local store needs
    /// none.
    #[arg(
        long,
        env = "OMPS_AUTH",
        hide_env_values = true,
        conflicts_with = "auth_file"
    )]
    pub auth: Option<String>,
    /// Read the `Authorization` value from a file (first line).
    #[arg(long)]
    pub auth_file: Option<PathBuf>,
    /// Extra PEM CA bundle for HTTPS to the service.
    #[arg(long)]
    pub ca_bundle: Option<PathBuf>,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// `omps push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// A directory (zipped on the fly) or a zip archive with the manifests at its root.
    #[arg(required_unless_present = "koji", conflicts_with = "koji")]
    pub path: Option<PathBuf>,
    /// Push the operator manifests of this Koji build (NVR) instead.
    #[arg(long)]
    pub koji: Option<String>,
    /// Organization (namespace).
    #[arg(long)]
    pub org: String,
    /// Repository: uses the v1 API, which requires it to equal the (suffixed) package name;
    /// without it the v2 API takes the repository from `packageName`.
    #[arg(long)]
    pub repo: Option<String>,
    /// Release version (`x.y.z`); automatic when absent.
    #[arg(long)]
    pub version: Option<String>,
    #[command(flatten)]
    pub connection: Connection,
}

/// `omps delete`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// Organization.
    #[arg(long)]
    pub org: String,
    /// Repository.
    #[arg(long)]
    pub repo: String,
    /// Delete only this release; all releases when absent.
    #[arg(long)]
    pub version: Option<String>,
    #[command(flatten)]
    pub connection: Connection,
}

/// `omps list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Organization: lists its repositories.
    #[arg(long)]
    pub org: String,
    /// Repository: lists its releases.
    #[arg(long)]
    pub repo: Option<String>,
    #[command(flatten)]
    pub connection: Connection,
}

/// A request to the API.
struct ApiRequest {
    method: axum::http::Method,
    path: String,
    body: Option<(String, Vec<u8>)>,
}

/// What the API answered.
struct ApiAnswer {
    status: u16,
    json: Value,
}

fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn auth_value(c: &Connection) -> Result<Option<SecretString>, CliError> {
    if let Some(a) = &c.auth {
        return Ok(Some(SecretString::from(a.clone())));
    }
    if let Some(file) = &c.auth_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
        let first = text.lines().next().unwrap_or_default().trim().to_owned();
        return Ok(Some(SecretString::from(first)));
    }
    Ok(None)
}

async fn send(c: &Connection, request: ApiRequest, org: &str) -> Result<ApiAnswer, CliError> {
    let auth = auth_value(c)?;
    if c.direct {
        return send_direct(c, request, auth, org).await;
    }
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(c.timeout))
        .connect_timeout(Duration::from_secs(10));
    if let Some(path) = &c.ca_bundle {
        let pem = std::fs::read(path)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    let client = builder
        .build()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let base = service_url(&c.url)?;
    let url = format!("{}{}", base.as_str().trim_end_matches('/'), request.path);
    let mut rb = client.request(request.method, &url);
    if let Some(a) = &auth {
        let mut value = reqwest::header::HeaderValue::from_str(a.expose_secret())
            .map_err(|_| CliError::usage("the Authorization value is not a valid header"))?;
        value.set_sensitive(true);
        rb = rb.header(reqwest::header::AUTHORIZATION, value);
    }
    if let Some((content_type, body)) = request.body {
        rb = rb
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
    }
    let response = rb
        .send()
        .await
        .map_err(|e| transport_error("calling the OMPS service", &e))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| transport_error("reading the OMPS service's answer", &e))?;
    Ok(ApiAnswer {
        status,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    })
}

/// The service URL, checked before anything is sent: a URL without a scheme is a usage error.
fn service_url(url: &str) -> Result<url::Url, CliError> {
    if !url.contains("://") {
        return Err(CliError::usage(format!(
            "--url (OMPS_URL) {url:?} has no scheme: write http://{url} or https://{url}"
        )));
    }
    omps_http::parse_base_url(url).map_err(|e| match e {
        omps_http::HttpError::Config(m) => CliError::usage(format!("--url (OMPS_URL): {m}")),
        other => CliError::usage(format!("--url (OMPS_URL): {other}")),
    })
}

/// A failed call as the shared transport error: the URL with its port, the cause, and the hint
/// (HTTP spoken to TLS or the reverse, nothing listening) on a line of its own.
fn transport_error(context: &str, e: &reqwest::Error) -> CliError {
    let error = omps_http::TransportError::from_reqwest(context, e);
    let hint = error.hint().map(str::to_owned);
    let cli = CliError::from(omps_http::HttpError::Transport(error.with_hint(None)));
    match hint {
        Some(h) => cli.with_hint(h),
        None => cli,
    }
}

async fn send_direct(
    c: &Connection,
    request: ApiRequest,
    auth: Option<SecretString>,
    org: &str,
) -> Result<ApiAnswer, CliError> {
    let state = direct_state(c, false)?;
    let auth = auth.or_else(|| local_auth(&state, org));
    let router = omps_server::app(state);
    let mut builder = axum::http::Request::builder()
        .method(request.method)
        .uri(request.path);
    if let Some(a) = &auth {
        builder = builder.header(axum::http::header::AUTHORIZATION, a.expose_secret());
    }
    let body = match request.body {
        Some((content_type, bytes)) => {
            builder = builder.header(axum::http::header::CONTENT_TYPE, content_type);
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    let req = builder
        .body(body)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let response = router
        .oneshot(req)
        .await
        .map_err(|e| CliError::unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .map_err(|e| CliError::unreachable(e.to_string()))?;
    Ok(ApiAnswer {
        status,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    })
}

/// `omps push --direct`: the server's push service in-process, no HTTP.
async fn push_direct(args: &PushArgs) -> Result<ApiAnswer, CliError> {
    let c = &args.connection;
    let state = direct_state(c, true)?;
    let Some(auth) = auth_value(c)?.or_else(|| local_auth(&state, &args.org)) else {
        let e = omps_server::ApiError::auth_required();
        return Ok(ApiAnswer {
            status: e.status.as_u16(),
            json: e.body(),
        });
    };
    let source = match (&args.koji, &args.path) {
        (Some(nvr), _) => omps_server::PushSource::Koji { nvr: nvr.clone() },
        (None, Some(path)) => {
            // Reading and zipping a directory is blocking work: off the runtime.
            let path = path.clone();
            let file = tokio::task::spawn_blocking(move || {
                let zip = archive_bytes(&path)?;
                let mut file = tempfile::NamedTempFile::new()
                    .map_err(|e| CliError::usage(format!("cannot create a temporary file: {e}")))?;
                file.write_all(&zip)
                    .map_err(|e| CliError::usage(format!("cannot write a temporary file: {e}")))?;
                Ok::<_, CliError>(file)
            })
            .await
            .map_err(|e| CliError::internal(format!("zipping the input panicked: {e}")))??;
            omps_server::PushSource::Archive(file)
        }
        (None, None) => return Err(CliError::usage("give a directory, a zip or --koji NVR")),
    };
    let request = omps_server::PushRequest {
        organization: args.org.clone(),
        repository: args.repo.clone(),
        version: args.version.clone(),
        auth,
        source,
    };
    Ok(
        match omps_server::PushService::new(state).push(request).await {
            Ok(outcome) => ApiAnswer {
                status: 200,
                json: serde_json::to_value(outcome).unwrap_or(Value::Null),
            },
            Err(e) => ApiAnswer {
                status: e.status.as_u16(),
                json: e.body(),
            },
        },
    )
}

/// `--direct` on the local store checks no credentials: a placeholder `Authorization` value
/// stands in for the one a service would demand.
fn local_auth(state: &omps_server::AppState, org: &str) -> Option<SecretString> {
    (state.config().store_for(org) == omps_server::config::StoreKind::Local)
        .then(|| SecretString::from("omps-direct-local"))
}

/// The server's state on the `--direct` configuration. A data directory that does not exist is
/// an error unless the command writes (`push` creates it).
fn direct_state(c: &Connection, writes: bool) -> Result<omps_server::AppState, CliError> {
    if let Some(dir) = &c.data_dir {
        if !writes && !dir.is_dir() {
            return Err(CliError::usage(format!(
                "--data-dir {}: no such directory (the local store is created by the first push)",
                dir.display()
            )));
        }
    }
    let args = omps_server::serve::ServeArgs {
        config: c.config.clone(),
        listen: None,
        data_dir: c.data_dir.clone(),
        check_config: false,
    };
    let (config, _warnings) =
        omps_server::serve::load_config(&args).map_err(|e| CliError::usage(e.to_string()))?;
    omps_server::AppState::from_config(config).map_err(|e| CliError::usage(e.to_string()))
}

/// Zips a directory in memory (the manifests at the archive root), or reads a zip.
fn archive_bytes(path: &Path) -> Result<Vec<u8>, CliError> {
    if !path.is_dir() {
        return std::fs::read(path)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())));
    }
    let tree = manifest_bundle::ManifestTree::from_dir(path, &manifest_bundle::Limits::default())
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in tree.iter() {
        writer
            .start_file(name, options)
            .map_err(|e| CliError::usage(e.to_string()))?;
        writer
            .write_all(data)
            .map_err(|e| CliError::usage(e.to_string()))?;
    }
    Ok(writer
        .finish()
        .map_err(|e| CliError::usage(e.to_string()))?
        .into_inner())
}

fn multipart(filename: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "omps-cli-9c1b7e0f4a2d";
    let mut body = Vec::with_capacity(data.len() + 256);
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes());
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Prints a successful answer; an error answer becomes a [`Failure::Service`].
fn report(
    output: Output,
    url: &str,
    result: Result<ApiAnswer, CliError>,
    text: impl FnOnce(&Value) -> String,
) -> Result<Exit, CliError> {
    let answer = result?;
    if !(200..300).contains(&answer.status) {
        return Err(service_error(answer, url));
    }
    match output {
        Output::Json | Output::Yaml => crate::output::print_data(output, &answer.json),
        Output::Text => {
            // Nothing found prints nothing on stdout (the closure says so on stderr).
            let text = text(&answer.json);
            if !text.is_empty() {
                println!("{text}");
            }
        }
    }
    Ok(Exit::Success)
}

/// A service's error answer as a [`CliError`], with a hint for the answers a person can act on.
fn service_error(answer: ApiAnswer, url: &str) -> CliError {
    let id = answer.json["error"].as_str().map(str::to_owned);
    let message = answer.json["message"].as_str().map(str::to_owned);
    let (Some(id), Some(message)) = (id, message) else {
        // Not the OMPS error envelope: something else answers on that URL.
        let status = answer.status;
        let message = format!("{url} did not answer with an OMPS error document");
        let hint = "is --url (OMPS_URL) the base URL of an OMPS service? `GET <url>/v2/about` \
                    answers with its version";
        let e: CliError = Failure::Service {
            status,
            id: format!("HTTP {status}"),
            message: message.clone(),
            body: serde_json::json!({
                "result": "failure",
                "error": {"kind": "service", "message": format!("HTTP {status}: {message}"), "status": status, "hint": hint},
            }),
        }
        .into();
        return e.with_hint(hint);
    };
    let hint = match id.as_str() {
        "OMPSAuthorizationHeaderRequired" => Some(
            "give the Authorization value with --auth (or the OMPS_AUTH environment variable), \
             or --auth-file FILE"
                .to_owned(),
        ),
        "RequestEntityTooLarge" => Some(
            "the upload limit is the server's max_content_length setting (2 MiB unless \
             configured): raise it in the server configuration, or push a smaller archive"
                .to_owned(),
        ),
        _ => None,
    };
    let e: CliError = Failure::Service {
        status: answer.status,
        id,
        message,
        body: answer.json,
    }
    .into();
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

/// The API request of a push through a service.
async fn push_request(args: &PushArgs) -> Result<ApiRequest, CliError> {
    let org = segment(&args.org);
    let version_suffix = args
        .version
        .as_deref()
        .map(|v| format!("/{}", segment(v)))
        .unwrap_or_default();
    match (&args.koji, &args.path) {
        (Some(nvr), _) => Ok(ApiRequest {
            method: axum::http::Method::POST,
            path: match &args.repo {
                Some(repo) => format!(
                    "/v1/{org}/{}/koji/{}{version_suffix}",
                    segment(repo),
                    segment(nvr)
                ),
                None => format!("/v2/{org}/koji/{}{version_suffix}", segment(nvr)),
            },
            body: None,
        }),
        (None, Some(path)) => {
            // Reading and zipping a directory is blocking work: off the runtime.
            let path = path.clone();
            tokio::task::spawn_blocking(move || archive_bytes(&path))
                .await
                .map_err(|e| CliError::internal(format!("zipping the input panicked: {e}")))
                .and_then(|r| r)
        }
        .map(|zip| ApiRequest {
            method: axum::http::Method::POST,
            path: match &args.repo {
                Some(repo) => format!("/v1/{org}/{}/zipfile{version_suffix}", segment(repo)),
                None => format!("/v2/{org}/zipfile{version_suffix}"),
            },
            body: Some(multipart("manifests.zip", &zip)),
        }),
        (None, None) => Err(CliError::usage("give a directory, a zip or --koji NVR")),
    }
}

/// Runs `omps push`.
pub async fn push(args: &PushArgs) -> Result<Exit, CliError> {
    let c = &args.connection;
    let result = if c.direct {
        push_direct(args).await
    } else {
        match push_request(args).await {
            Ok(request) => send(c, request, &args.org).await,
            Err(e) => Err(e),
        }
    };
    report(c.output, &c.url, result, |json| {
        let mut text = format!(
            "pushed {}/{} {}",
            json["organization"].as_str().unwrap_or_default(),
            json["repo"].as_str().unwrap_or_default(),
            json["version"].as_str().unwrap_or_default()
        );
        for image in json["images"].as_array().into_iter().flatten() {
            text.push_str("\nimage ");
            text.push_str(image["reference"].as_str().unwrap_or_default());
            text.push(' ');
            text.push_str(image["digest"].as_str().unwrap_or_default());
        }
        for warning in json["warnings"].as_array().into_iter().flatten() {
            text.push_str("\nwarning: ");
            text.push_str(warning.as_str().unwrap_or_default());
        }
        text
    })
    .map_err(|e| with_package_hint(e, args.path.as_deref()))
}

/// A service that found no package file: the same hint `omps validate` gives, from the local
/// input.
fn with_package_hint(e: CliError, path: Option<&Path>) -> CliError {
    let text = e.to_string();
    // The service's message, as the local loader's error it stands for.
    let cause = if text.contains("Could not find packageName in manifests.")
        || text.contains("Bundle does not contain any packages.")
    {
        manifest_bundle::Error::PackageNameNotFound
    } else if text.contains("Courier requires valid input YAML files") {
        manifest_bundle::Error::Structural(manifest_bundle::Structural::InvalidYaml {
            path: String::new(),
        })
    } else {
        return e;
    };
    match path {
        Some(path) if e.hint().is_none() => {
            match crate::validate::read_tree(path, &manifest_bundle::Limits::default()) {
                Ok(tree) => match crate::hints::unloadable(path, &tree, &cause) {
                    Some(hint) => e.with_hint(hint),
                    None => e,
                },
                Err(_) => e,
            }
        }
        _ => e,
    }
}

/// Runs `omps delete`.
pub async fn delete(args: &DeleteArgs) -> Result<Exit, CliError> {
    let c = &args.connection;
    let mut path = format!("/v2/{}/{}", segment(&args.org), segment(&args.repo));
    if let Some(v) = &args.version {
        path.push('/');
        path.push_str(&segment(v));
    }
    let result = send(
        c,
        ApiRequest {
            method: axum::http::Method::DELETE,
            path,
            body: None,
        },
        &args.org,
    )
    .await;
    report(c.output, &c.url, result, |json| {
        let deleted: Vec<&str> = json["deleted"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        format!(
            "deleted {} release(s) of {}/{}: {}",
            deleted.len(),
            args.org,
            args.repo,
            deleted.join(", ")
        )
    })
}

/// Runs `omps list`.
pub async fn list(args: &ListArgs) -> Result<Exit, CliError> {
    let c = &args.connection;
    let path = match &args.repo {
        Some(repo) => format!("/v2/{}/{}", segment(&args.org), segment(repo)),
        None => format!("/v2/{}", segment(&args.org)),
    };
    let result = send(
        c,
        ApiRequest {
            method: axum::http::Method::GET,
            path,
            body: None,
        },
        &args.org,
    )
    .await;
    report(c.output, &c.url, result, |json| {
        let key = if args.repo.is_some() {
            "releases"
        } else {
            "repositories"
        };
        let items: Vec<&str> = json[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if items.is_empty() {
            match &args.repo {
                Some(repo) => eprintln!("no releases of {}/{repo}", args.org),
                None => eprintln!("no repositories in organization {}", args.org),
            }
        }
        items.join("\n")
    })
}
