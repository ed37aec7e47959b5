//! The connection to the API server: login, raw calls with retries, limits and re-login.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use crate::error::{Cause, Error};
use crate::limits::Limits;
use crate::login::{self, PasswordLogin, Tls};

/// How failed calls are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 5).
    pub max_retries: u32,
    /// First back-off; each next one doubles (default 1 s).
    pub base_delay: Duration,
    /// Longest back-off (default 8 s).
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured on a 429 (default 60 s).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        // Up to 25% jitter so that many clients do not retry in step; the clock's nanoseconds are
        // random enough for that and need no extra dependency.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        exp + exp.mul_f64(f64::from(nanos % 1000) / 4000.0)
    }
}

/// Where the credentials come from.
#[derive(Clone)]
pub enum Credentials {
    /// A bearer token.
    Token(SecretString),
    /// OpenShift username and password, exchanged for a token through the OAuth server (what
    /// `oc login -u -p` does).
    Password {
        /// User name.
        username: String,
        /// Password.
        password: SecretString,
    },
    /// None (anonymous).
    None,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token([redacted])"),
            Self::Password { username, .. } => {
                write!(
                    f,
                    "Password {{ username: {username:?}, password: [redacted] }}"
                )
            }
            Self::None => f.write_str("None"),
        }
    }
}

/// Which kubeconfig to read.
#[derive(Debug, Clone, Default)]
pub struct KubeconfigSource {
    /// An explicit file (`--kubeconfig`); `None`: `KUBECONFIG`, then `~/.kube/config`, then the
    /// in-cluster service account.
    pub path: Option<PathBuf>,
    /// A context other than `current-context`.
    pub context: Option<String>,
}

/// Builds a [`Cluster`] for an explicit server URL (the test seam).
#[derive(Debug)]
pub struct ClusterBuilder {
    server: Url,
    credentials: Credentials,
    tls: Tls,
    namespace: String,
    limits: Limits,
    retry: RetryPolicy,
}

impl ClusterBuilder {
    /// A bearer token for every call.
    #[must_use]
    pub fn token(mut self, token: SecretString) -> Self {
        self.credentials = Credentials::Token(token);
        self
    }

    /// OpenShift username and password (OAuth).
    #[must_use]
    pub fn password(mut self, username: impl Into<String>, password: SecretString) -> Self {
        self.credentials = Credentials::Password {
            username: username.into(),
            password,
        };
        self
    }

    /// PEM certificates to trust, for the API server and the OAuth server alike.
    #[must_use]
    pub fn certificate_authority(mut self, pem: Vec<u8>) -> Self {
        self.tls.ca_pem = Some(pem);
        self
    }

    /// Skips certificate verification (API and OAuth server).
    #[must_use]
    pub fn insecure_skip_tls_verify(mut self, insecure: bool) -> Self {
        self.tls.insecure = insecure;
        self
    }

    /// Namespace for namespaced objects that name none (default `default`).
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Input and response limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Logs in (for a password, through OAuth) and checks the credentials with a call.
    pub async fn build(self) -> Result<Cluster, Error> {
        if self.tls.insecure {
            tracing::warn!("TLS verification is off for the API and OAuth servers");
        }
        let (token, relogin) = match self.credentials {
            Credentials::Token(t) => (Some(t), None),
            Credentials::None => (None, None),
            Credentials::Password { username, password } => {
                let login = PasswordLogin {
                    server: self.server.clone(),
                    username,
                    password,
                    tls: self.tls.clone(),
                    timeout: self.limits.request_timeout,
                };
                (Some(login.token().await?), Some(login))
            }
        };
        let mut config = kube::Config::new(
            self.server
                .as_str()
                .parse()
                .map_err(|e| Error::Config(format!("server URL: {e}")))?,
        );
        config.default_namespace.clone_from(&self.namespace);
        config.accept_invalid_certs = self.tls.insecure;
        if let Some(pem) = &self.tls.ca_pem {
            config.root_cert = Some(login::pem_certificates(pem)?);
        }
        config.auth_info.token = token;
        let cluster = Cluster::from_config(config, self.limits, self.retry, relogin)?;
        if cluster.inner.relogin.is_some() {
            let user = cluster.whoami().await?;
            tracing::info!("logged in as {user}");
        }
        Ok(cluster)
    }
}

struct Inner {
    client: Mutex<kube::Client>,
    config: Mutex<kube::Config>,
    relogin: Option<PasswordLogin>,
    namespace: String,
    limits: Limits,
    retry: RetryPolicy,
}

/// A logged-in connection to one cluster. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("namespace", &self.inner.namespace)
            .finish_non_exhaustive()
    }
}

/// A response as received (status and the body, read within the limit).
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Body bytes.
    pub body: Bytes,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self, context: &str) -> Result<Value, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Transport {
            context: context.to_owned(),
            message: format!("unreadable JSON from the server: {e}"),
        })
    }

    /// The error this non-success response stands for.
    pub fn into_error(self, context: &str) -> Error {
        let body = String::from_utf8_lossy(&self.body).into_owned();
        let status: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let text = |k: &str| {
            status
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let causes: Vec<Cause> = status
            .pointer("/details/causes")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default();
        if self.status == StatusCode::UNAUTHORIZED {
            return Error::Unauthorized(format!("{context}: {}", text("message")));
        }
        let mut message = text("message");
        if message.is_empty() {
            message.clone_from(&body);
        }
        let mut reason = text("reason");
        if reason.is_empty() {
            self.status
                .canonical_reason()
                .unwrap_or("")
                .clone_into(&mut reason);
        }
        Error::Api {
            context: context.to_owned(),
            status: self.status.as_u16(),
            reason,
            message,
            causes,
            body,
        }
    }
}

impl Cluster {
    /// A builder for an explicit server URL.
    pub fn builder(server: Url) -> ClusterBuilder {
        ClusterBuilder {
            server,
            credentials: Credentials::None,
            tls: Tls::default(),
            namespace: "default".into(),
            limits: Limits::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Connects with a kubeconfig (or the in-cluster service account when there is none).
    pub async fn from_kubeconfig(
        source: &KubeconfigSource,
        limits: Limits,
        retry: RetryPolicy,
    ) -> Result<Self, Error> {
        let options = kube::config::KubeConfigOptions {
            context: source.context.clone(),
            ..Default::default()
        };
        let config = match &source.path {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
            }
            None if source.context.is_some() => kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|e| Error::Config(e.to_string()))?,
            None => kube::Config::infer()
                .await
                .map_err(|e| Error::Config(e.to_string()))?,
        };
        Self::from_config(config, limits, retry, None)
    }

    fn from_config(
        mut config: kube::Config,
        limits: Limits,
        retry: RetryPolicy,
        relogin: Option<PasswordLogin>,
    ) -> Result<Self, Error> {
        config.read_timeout = Some(limits.request_timeout);
        config.connect_timeout = Some(limits.request_timeout);
        let client =
            kube::Client::try_from(config.clone()).map_err(|e| Error::Config(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client: Mutex::new(client),
                namespace: config.default_namespace.clone(),
                config: Mutex::new(config),
                relogin,
                limits,
                retry,
            }),
        })
    }

    /// The namespace given to namespaced objects that name none.
    pub fn default_namespace(&self) -> &str {
        &self.inner.namespace
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The user the credentials belong to (`users/~`, OpenShift).
    pub async fn whoami(&self) -> Result<String, Error> {
        let context = "who am I";
        let res = self
            .call(
                context,
                Method::GET,
                "/apis/user.openshift.io/v1/users/~",
                None,
                None,
            )
            .await?;
        if !res.status.is_success() {
            return Err(res.into_error(context));
        }
        Ok(res
            .json(context)?
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned())
    }

    fn client(&self) -> kube::Client {
        self.inner
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn relogin(&self) -> Result<bool, Error> {
        let Some(login) = &self.inner.relogin else {
            return Ok(false);
        };
        tracing::info!("the token was refused; logging in again");
        let token = login.token().await?;
        let config = {
            let mut config = self
                .inner
                .config
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            config.auth_info.token = Some(token);
            config.clone()
        };
        let client = kube::Client::try_from(config).map_err(|e| Error::Config(e.to_string()))?;
        *self
            .inner
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = client;
        Ok(true)
    }

    /// One API call with retries (429 with `Retry-After`, 5xx, transport errors), the response
    /// limit and the request timeout. Any other status is returned for the caller to read.
    pub async fn call(
        &self,
        context: &str,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Response, Error> {
        let retry = &self.inner.retry;
        let mut attempt = 0u32;
        let mut relogged = false;
        loop {
            let mut request = Request::builder()
                .method(method.clone())
                .uri(path_and_query)
                .header(http::header::ACCEPT, "application/json");
            if let Some(ct) = content_type {
                request = request.header(http::header::CONTENT_TYPE, ct);
            }
            let request = request
                .body(kube::client::Body::from(body.clone().unwrap_or_default()))
                .map_err(|e| Error::Config(format!("{context}: {e}")))?;
            tracing::debug!(%method, path = path_and_query, attempt, "request");
            let outcome = self.send_once(context, request).await;
            let wait = match outcome {
                Ok((res, retry_after)) => {
                    let status = res.status;
                    if status == StatusCode::UNAUTHORIZED && !relogged && self.relogin().await? {
                        relogged = true;
                        continue;
                    }
                    if !matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
                        || attempt >= retry.max_retries
                    {
                        return Ok(res);
                    }
                    tracing::warn!(%status, path = path_and_query, "retrying");
                    match retry_after {
                        Some(after) if status == StatusCode::TOO_MANY_REQUESTS => {
                            after.min(retry.max_retry_after)
                        }
                        _ => retry.backoff(attempt),
                    }
                }
                Err(e) if e.is_retryable() && attempt < retry.max_retries => {
                    tracing::warn!(path = path_and_query, error = %e, "retrying");
                    retry.backoff(attempt)
                }
                Err(e) => return Err(e),
            };
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(
        &self,
        context: &str,
        request: Request<kube::client::Body>,
    ) -> Result<(Response, Option<Duration>), Error> {
        let limits = &self.inner.limits;
        let client = self.client();
        let transport = |message: String| Error::Transport {
            context: context.to_owned(),
            message,
        };
        let exchange = async {
            let res = client
                .send(request)
                .await
                .map_err(|e| transport(e.to_string()))?;
            let status = res.status();
            let retry_after = res
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = Limited::new(res.into_body(), limits.max_response_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        Error::ResponseTooLarge {
                            context: context.to_owned(),
                            max: limits.max_response_bytes,
                        }
                    } else {
                        transport(e.to_string())
                    }
                })?
                .to_bytes();
            Ok((Response { status, body }, retry_after))
        };
        tokio::time::timeout(limits.request_timeout, exchange)
            .await
            .map_err(|_| transport(format!("no answer within {:?}", limits.request_timeout)))?
    }

    /// GET returning `None` on 404.
    pub async fn get_json(&self, context: &str, path: &str) -> Result<Option<Value>, Error> {
        let res = self.call(context, Method::GET, path, None, None).await?;
        match res.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => res.json(context).map(Some),
            _ => Err(res.into_error(context)),
        }
    }
}
