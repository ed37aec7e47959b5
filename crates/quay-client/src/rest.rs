//! Quay REST API v1 client (organizations, repositories, robots, proxy cache, tags).

use std::collections::HashSet;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::appr::Visibility;
use crate::error::{Api, QuayError};
use crate::http::{ClientBuilder, Http, de_opt_secret};

/// Safety stop for paging loops, so a server that never ends a listing cannot hang us.
const MAX_PAGES: usize = 10_000;

/// Options of [`QuayRestClient`] beyond the connection settings: the API token.
#[derive(Default)]
#[non_exhaustive]
pub struct QuayRestOptions {
    token: Option<SecretString>,
}

impl std::fmt::Debug for QuayRestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuayRestOptions")
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// Builder for [`QuayRestClient`].
pub type QuayRestClientBuilder = ClientBuilder<QuayRestOptions>;

impl ClientBuilder<QuayRestOptions> {
    /// OAuth access token sent as `Authorization: Bearer <token>`.
    #[must_use]
    pub fn token(mut self, token: SecretString) -> Self {
        self.options.token = Some(token);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<QuayRestClient, QuayError> {
        let (http, options) = self.into_http(Api::QuayRest)?;
        let auth = options.token.as_ref().map(bearer).transpose()?;
        Ok(QuayRestClient { http, auth })
    }
}

fn bearer(token: &SecretString) -> Result<HeaderValue, QuayError> {
    let mut v =
        HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            QuayError::Config("token contains characters not allowed in a header".into())
        })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Client for Quay's REST API v1 (`<base>/api/v1/...`).
///
/// Mutations accept any 2xx and ignore the body (Quay answers `"Created"`, `""`, `{}` or
/// nothing). Cheap to clone; [`QuayRestClient::with_token`] gives a copy using another token
/// (for example one per organization) that shares the connection pool.
#[derive(Clone)]
pub struct QuayRestClient {
    http: Http,
    auth: Option<HeaderValue>,
}

impl std::fmt::Debug for QuayRestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuayRestClient")
            .field("base_url", &self.http.base.as_str())
            .field("token", &self.auth.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// Answer of `POST /api/v1/user/initialize`.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct InitializedUser {
    /// The new user's name.
    pub username: String,
    /// The e-mail address, when given.
    #[serde(default)]
    pub email: Option<String>,
    /// An OAuth token with all scopes, when requested.
    #[serde(default, deserialize_with = "de_opt_secret")]
    pub access_token: Option<SecretString>,
}

/// An organization (`GET /api/v1/organization/{org}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Organization {
    /// Name.
    pub name: String,
    /// E-mail (admins only).
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the caller administers it.
    #[serde(default)]
    pub is_admin: bool,
    /// Whether the caller is a member.
    #[serde(default)]
    pub is_member: bool,
    /// All other fields as returned.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A repository to create (`POST /api/v1/repository`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewRepository {
    /// Owning namespace (organization or user).
    pub namespace: String,
    /// Repository name (`^[a-z0-9][.a-z0-9_-]{0,254}$`).
    pub repository: String,
    /// Visibility.
    pub visibility: Visibility,
    /// Description (may be empty).
    pub description: String,
    /// `image` (default when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_kind: Option<String>,
}

/// A repository (`GET /api/v1/repository/{ns}/{repo}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Repository {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `image` or `application`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether it is public.
    #[serde(default)]
    pub is_public: bool,
    /// `NORMAL`, `READ_ONLY` or `MIRROR`.
    #[serde(default)]
    pub state: Option<String>,
    /// All other fields as returned (`tags`, `can_admin`, ...).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Filter of a repository listing; at least one of `namespace`, `public`, `starred` is needed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositoryQuery {
    /// Only repositories of this namespace.
    pub namespace: Option<String>,
    /// Include public repositories.
    pub public: bool,
    /// Only starred repositories.
    pub starred: bool,
    /// `image` or `application`.
    pub repo_kind: Option<String>,
}

#[derive(Deserialize)]
struct RepositoryPage {
    #[serde(default)]
    repositories: Vec<Repository>,
    #[serde(default)]
    next_page: Option<String>,
}

/// A robot account.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Robot {
    /// Full name `<org>+<short>`.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<String>,
    /// The robot's token (org admins only).
    #[serde(default, deserialize_with = "de_opt_secret")]
    pub token: Option<SecretString>,
}

#[derive(Deserialize)]
struct RobotList {
    #[serde(default)]
    robots: Vec<Robot>,
}

/// Proxy-cache configuration of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ProxyCacheConfig {
    /// Upstream registry (`host[/namespace]`).
    pub upstream_registry: String,
    /// Cache expiration in seconds.
    #[serde(default, deserialize_with = "de_lenient_u64")]
    pub expiration_s: Option<u64>,
    /// Whether the upstream is reached without TLS verification.
    #[serde(default, deserialize_with = "de_lenient_bool")]
    pub insecure: bool,
}

/// A proxy-cache configuration to create.
#[derive(Clone)]
pub struct NewProxyCache {
    /// Upstream registry (`host[/namespace]`).
    pub upstream_registry: String,
    /// Upstream user name.
    pub username: Option<String>,
    /// Upstream password.
    pub password: Option<SecretString>,
    /// Cache expiration in seconds (server default 86400).
    pub expiration_s: Option<u64>,
    /// Skip TLS verification towards the upstream.
    pub insecure: bool,
}

impl std::fmt::Debug for NewProxyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewProxyCache")
            .field("upstream_registry", &self.upstream_registry)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("expiration_s", &self.expiration_s)
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// Filter of a tag listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagQuery {
    /// Only live tags (`onlyActiveTags=true`); sync tools need this.
    pub only_active: bool,
    /// Page size (server maximum 100).
    pub page_size: u32,
    /// `like:<x>` or `eq:<x>`.
    pub filter_tag_name: Option<String>,
    /// One tag only.
    pub specific_tag: Option<String>,
}

impl Default for TagQuery {
    fn default() -> Self {
        Self {
            only_active: true,
            page_size: 100,
            filter_tag_name: None,
            specific_tag: None,
        }
    }
}

/// A tag of a repository.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Tag {
    /// Tag name.
    pub name: String,
    /// Digest of the manifest it points at.
    #[serde(default)]
    pub manifest_digest: Option<String>,
    /// Whether that manifest is a list/index.
    #[serde(default)]
    pub is_manifest_list: bool,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Start of life (unix seconds).
    #[serde(default)]
    pub start_ts: Option<i64>,
    /// End of life (unix seconds), for dead or expiring tags.
    #[serde(default)]
    pub end_ts: Option<i64>,
    /// Last modification time.
    #[serde(default)]
    pub last_modified: Option<String>,
}

#[derive(Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    has_additional: bool,
}

fn de_lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    // Quay answers "" for every field when no proxy cache is configured.
    let v: serde_json::Value = Deserialize::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

fn de_lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v: serde_json::Value = Deserialize::deserialize(d)?;
    Ok(matches!(v, serde_json::Value::Bool(true)))
}

impl QuayRestClient {
    /// Starts a builder for the Quay at `base_url` (e.g. `https://quay.example.com`; the
    /// `/api/v1` prefix is added by the client).
    pub fn builder(base_url: impl Into<String>) -> QuayRestClientBuilder {
        ClientBuilder::new(base_url.into(), QuayRestOptions::default())
    }

    /// A copy of this client that authenticates with another OAuth token.
    pub fn with_token(&self, token: &SecretString) -> Result<Self, QuayError> {
        Ok(Self {
            http: self.http.clone(),
            auth: Some(bearer(token)?),
        })
    }

    /// The configured base URL.
    pub fn base_url(&self) -> &url::Url {
        &self.http.base
    }

    fn api_url(&self, segments: &[&str]) -> url::Url {
        let mut all = vec!["api", "v1"];
        all.extend_from_slice(segments);
        self.http.url(&all)
    }

    fn request(&self, method: Method, url: &url::Url) -> reqwest::RequestBuilder {
        let rb = self.http.client.request(method, url.clone());
        match &self.auth {
            Some(v) => rb.header(AUTHORIZATION, v.clone()),
            None => rb,
        }
    }

    async fn call(
        &self,
        context: &str,
        method: Method,
        url: url::Url,
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, QuayError> {
        let idempotent = method == Method::GET || method == Method::HEAD;
        let resp = self
            .http
            .send_api(context, idempotent, || {
                let rb = self.request(method.clone(), &url);
                match body {
                    Some(b) => rb.json(b),
                    None => rb,
                }
            })
            .await?;
        self.http.check(resp).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        context: &str,
        url: url::Url,
    ) -> Result<T, QuayError> {
        let resp = self.call(context, Method::GET, url, None).await?;
        self.http.json(context, resp).await
    }

    /// Any 2xx is success; the body is drained but never parsed.
    async fn mutate(
        &self,
        context: &str,
        method: Method,
        url: url::Url,
        body: Option<&serde_json::Value>,
    ) -> Result<(), QuayError> {
        let resp = self.call(context, method, url, body).await?;
        self.http.body(context, resp).await?;
        Ok(())
    }

    /// Creates the first user of a fresh Quay (`POST /api/v1/user/initialize`); with
    /// `want_token` the answer carries an OAuth token with all scopes. Needs no token.
    pub async fn initialize_user(
        &self,
        username: &str,
        password: &SecretString,
        email: Option<&str>,
        want_token: bool,
    ) -> Result<InitializedUser, QuayError> {
        let mut body = serde_json::json!({
            "username": username,
            "password": password.expose_secret(),
            "access_token": want_token,
        });
        if let Some(e) = email {
            body["email"] = e.into();
        }
        let url = self.api_url(&["user", "initialize"]);
        let resp = self
            .call("Quay user initialize", Method::POST, url, Some(&body))
            .await?;
        self.http.json("Quay user initialize", resp).await
    }

    /// `GET /api/v1/organization/{org}`.
    pub async fn get_organization(&self, org: &str) -> Result<Organization, QuayError> {
        self.get_json("Quay organization", self.api_url(&["organization", org]))
            .await
    }

    /// `POST /api/v1/organization/` (an existing name is [`QuayError::AlreadyExists`]).
    pub async fn create_organization(
        &self,
        name: &str,
        email: Option<&str>,
    ) -> Result<(), QuayError> {
        let mut body = serde_json::json!({ "name": name });
        if let Some(e) = email {
            body["email"] = e.into();
        }
        // The trailing slash is required by Quay.
        let url = self.api_url(&["organization", ""]);
        self.mutate("Quay organization create", Method::POST, url, Some(&body))
            .await
    }

    /// `DELETE /api/v1/organization/{org}`.
    pub async fn delete_organization(&self, org: &str) -> Result<(), QuayError> {
        let url = self.api_url(&["organization", org]);
        self.mutate("Quay organization delete", Method::DELETE, url, None)
            .await
    }

    /// `POST /api/v1/repository` (an existing repository is [`QuayError::AlreadyExists`]).
    pub async fn create_repository(&self, repo: &NewRepository) -> Result<(), QuayError> {
        let body = serde_json::to_value(repo)
            .map_err(|e| QuayError::InvalidArgument(format!("cannot encode repository: {e}")))?;
        let url = self.api_url(&["repository"]);
        self.mutate("Quay repository create", Method::POST, url, Some(&body))
            .await
    }

    /// `GET /api/v1/repository/{ns}/{repo}` (without tags or statistics).
    pub async fn get_repository(
        &self,
        namespace: &str,
        repo: &str,
    ) -> Result<Repository, QuayError> {
        let mut url = self.api_url(&["repository", namespace, repo]);
        url.query_pairs_mut()
            .append_pair("includeTags", "false")
            .append_pair("includeStats", "false");
        self.get_json("Quay repository", url).await
    }

    /// Lists repositories, following `next_page` until the last page.
    pub async fn list_repositories(
        &self,
        query: &RepositoryQuery,
    ) -> Result<Vec<Repository>, QuayError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let mut url = self.api_url(&["repository"]);
            {
                let mut q = url.query_pairs_mut();
                if let Some(ns) = &query.namespace {
                    q.append_pair("namespace", ns);
                }
                if query.public {
                    q.append_pair("public", "true");
                }
                if query.starred {
                    q.append_pair("starred", "true");
                }
                if let Some(k) = &query.repo_kind {
                    q.append_pair("repo_kind", k);
                }
                if let Some(n) = &next {
                    q.append_pair("next_page", n);
                }
            }
            let page: RepositoryPage = self.get_json("Quay repository list", url).await?;
            out.extend(page.repositories);
            match page.next_page {
                Some(n) if !n.is_empty() => {
                    if !seen.insert(n.clone()) {
                        return Err(QuayError::InvalidResponse(
                            "repository list repeated a next_page token".into(),
                        ));
                    }
                    next = Some(n);
                }
                _ => return Ok(out),
            }
        }
        Err(QuayError::InvalidResponse(format!(
            "repository list did not end after {MAX_PAGES} pages"
        )))
    }

    /// `POST /api/v1/repository/{ns}/{repo}/changevisibility` (any 2xx is success).
    pub async fn change_visibility(
        &self,
        namespace: &str,
        repo: &str,
        visibility: Visibility,
    ) -> Result<(), QuayError> {
        let url = self.api_url(&["repository", namespace, repo, "changevisibility"]);
        let body = serde_json::json!({ "visibility": visibility.as_str() });
        self.mutate("Quay change visibility", Method::POST, url, Some(&body))
            .await
    }

    /// `DELETE /api/v1/repository/{ns}/{repo}`.
    pub async fn delete_repository(&self, namespace: &str, repo: &str) -> Result<(), QuayError> {
        let url = self.api_url(&["repository", namespace, repo]);
        self.mutate("Quay repository delete", Method::DELETE, url, None)
            .await
    }

    /// Lists an organization's robots, with tokens when the caller administers it.
    pub async fn list_robots(&self, org: &str) -> Result<Vec<Robot>, QuayError> {
        let mut url = self.api_url(&["organization", org, "robots"]);
        url.query_pairs_mut()
            .append_pair("permissions", "false")
            .append_pair("token", "true");
        let list: RobotList = self.get_json("Quay robot list", url).await?;
        Ok(list.robots)
    }

    /// `.../organization/{org}/robots/{short}` or `.../user/robots/{short}`, plus `extra`.
    fn robot_url(&self, org: Option<&str>, short_name: &str, extra: &[&str]) -> url::Url {
        let mut segs: Vec<&str> = match org {
            Some(o) => vec!["organization", o, "robots", short_name],
            None => vec!["user", "robots", short_name],
        };
        segs.extend_from_slice(extra);
        self.api_url(&segs)
    }

    async fn robot_get(&self, org: Option<&str>, short_name: &str) -> Result<Robot, QuayError> {
        let url = self.robot_url(org, short_name, &[]);
        self.get_json("Quay robot", url).await
    }

    async fn robot_create(
        &self,
        org: Option<&str>,
        short_name: &str,
        description: Option<&str>,
    ) -> Result<Robot, QuayError> {
        let url = self.robot_url(org, short_name, &[]);
        let body = serde_json::json!({ "description": description.unwrap_or("") });
        let resp = self
            .call("Quay robot create", Method::PUT, url, Some(&body))
            .await?;
        self.http.json("Quay robot create", resp).await
    }

    async fn robot_delete(&self, org: Option<&str>, short_name: &str) -> Result<(), QuayError> {
        let url = self.robot_url(org, short_name, &[]);
        self.mutate("Quay robot delete", Method::DELETE, url, None)
            .await
    }

    /// Gets one organization robot. Quay's 400 "Could not find robot" is
    /// [`QuayError::NotFound`].
    pub async fn get_robot(&self, org: &str, short_name: &str) -> Result<Robot, QuayError> {
        self.robot_get(Some(org), short_name).await
    }

    /// Creates an organization robot (`PUT .../robots/{short}`); an existing one is
    /// [`QuayError::AlreadyExists`].
    pub async fn create_robot(
        &self,
        org: &str,
        short_name: &str,
        description: Option<&str>,
    ) -> Result<Robot, QuayError> {
        self.robot_create(Some(org), short_name, description).await
    }

    /// Deletes an organization robot.
    pub async fn delete_robot(&self, org: &str, short_name: &str) -> Result<(), QuayError> {
        self.robot_delete(Some(org), short_name).await
    }

    /// Gets a robot of the calling user (`GET /api/v1/user/robots/{short}`).
    pub async fn get_user_robot(&self, short_name: &str) -> Result<Robot, QuayError> {
        self.robot_get(None, short_name).await
    }

    /// Creates a robot of the calling user (`PUT /api/v1/user/robots/{short}`).
    pub async fn create_user_robot(
        &self,
        short_name: &str,
        description: Option<&str>,
    ) -> Result<Robot, QuayError> {
        self.robot_create(None, short_name, description).await
    }

    /// Deletes a robot of the calling user.
    pub async fn delete_user_robot(&self, short_name: &str) -> Result<(), QuayError> {
        self.robot_delete(None, short_name).await
    }

    /// Regenerates an organization robot's token (`POST .../robots/{short}/regenerate`) and
    /// returns the robot with its new token.
    pub async fn regenerate_robot_token(
        &self,
        org: &str,
        short_name: &str,
    ) -> Result<Robot, QuayError> {
        let url = self.robot_url(Some(org), short_name, &["regenerate"]);
        let resp = self
            .call("Quay robot regenerate", Method::POST, url, None)
            .await?;
        self.http.json("Quay robot regenerate", resp).await
    }

    /// Adds a user (or robot) to a team of an organization
    /// (`PUT /api/v1/organization/{org}/team/{team}/members/{user}`); any 2xx is success.
    pub async fn add_team_member(
        &self,
        org: &str,
        team: &str,
        user: &str,
    ) -> Result<(), QuayError> {
        let url = self.api_url(&["organization", org, "team", team, "members", user]);
        self.mutate("Quay team member add", Method::PUT, url, None)
            .await
    }

    /// Gets the proxy-cache configuration; `None` when none is configured (Quay answers empty
    /// strings, or 404 on some versions).
    pub async fn get_proxy_cache(&self, org: &str) -> Result<Option<ProxyCacheConfig>, QuayError> {
        let url = self.api_url(&["organization", org, "proxycache"]);
        match self
            .get_json::<ProxyCacheConfig>("Quay proxy cache", url)
            .await
        {
            Ok(c) if c.upstream_registry.is_empty() => Ok(None),
            Ok(c) => Ok(Some(c)),
            Err(QuayError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates the proxy-cache configuration (an existing one is [`QuayError::AlreadyExists`]).
    pub async fn create_proxy_cache(
        &self,
        org: &str,
        config: &NewProxyCache,
    ) -> Result<(), QuayError> {
        let mut body = serde_json::json!({
            "upstream_registry": config.upstream_registry,
            "insecure": config.insecure,
        });
        if let Some(u) = &config.username {
            body["upstream_registry_username"] = u.as_str().into();
        }
        if let Some(p) = &config.password {
            body["upstream_registry_password"] = p.expose_secret().into();
        }
        if let Some(e) = config.expiration_s {
            body["expiration_s"] = e.into();
        }
        let url = self.api_url(&["organization", org, "proxycache"]);
        self.mutate("Quay proxy cache create", Method::POST, url, Some(&body))
            .await
    }

    /// Deletes the proxy-cache configuration (any 2xx is success).
    pub async fn delete_proxy_cache(&self, org: &str) -> Result<(), QuayError> {
        let url = self.api_url(&["organization", org, "proxycache"]);
        self.mutate("Quay proxy cache delete", Method::DELETE, url, None)
            .await
    }

    /// Lists the tags of a repository, following pages until `has_additional` is false.
    pub async fn list_tags(
        &self,
        namespace: &str,
        repo: &str,
        query: &TagQuery,
    ) -> Result<Vec<Tag>, QuayError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut url = self.api_url(&["repository", namespace, repo, "tag", ""]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("limit", &query.page_size.clamp(1, 100).to_string());
                q.append_pair("page", &page.to_string());
                if query.only_active {
                    q.append_pair("onlyActiveTags", "true");
                }
                if let Some(f) = &query.filter_tag_name {
                    q.append_pair("filter_tag_name", f);
                }
                if let Some(t) = &query.specific_tag {
                    q.append_pair("specificTag", t);
                }
            }
            let p: TagPage = self.get_json("Quay tag list", url).await?;
            let empty = p.tags.is_empty();
            out.extend(p.tags);
            // An empty page that claims more would loop forever; stop there.
            if !p.has_additional || empty {
                return Ok(out);
            }
        }
        Err(QuayError::InvalidResponse(format!(
            "tag list did not end after {MAX_PAGES} pages"
        )))
    }
}
