//! Registry authentication: `WWW-Authenticate` challenges and the bearer-token cache.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

/// Credentials for a registry.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum RegistryAuth {
    /// No credentials; public pulls through the token flow still work.
    #[default]
    Anonymous,
    /// User name and password (or robot `org+name` and its token, or `$oauthtoken` and an
    /// OAuth token on Quay). Sent as Basic to registries that ask for Basic, and to the token
    /// server of registries that ask for Bearer.
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: SecretString,
    },
    /// A registry bearer token obtained elsewhere, sent as is on every request.
    Bearer(SecretString),
    /// An OAuth2 refresh token for the registry's token server (an auth file's
    /// `identitytoken`): exchanged for access tokens with the `refresh_token` grant, as docker
    /// and podman do.
    IdentityToken(SecretString),
}

impl RegistryAuth {
    /// Basic credentials.
    pub fn basic(username: impl Into<String>, password: SecretString) -> Self {
        RegistryAuth::Basic {
            username: username.into(),
            password,
        }
    }

    /// Credentials from parts, as flags, environment variables, configuration files and auth
    /// files give them: a bearer `token` wins; a user name needs a password and a password a
    /// user name; nothing at all is anonymous. The error names what is missing, never a value.
    pub fn from_parts(
        username: Option<String>,
        password: Option<SecretString>,
        token: Option<SecretString>,
    ) -> Result<Self, crate::QuayError> {
        match (token, username, password) {
            (Some(t), None, None) => Ok(RegistryAuth::Bearer(t)),
            (Some(_), _, _) => Err(crate::QuayError::Config(
                "give either a registry token or a user name and password, not both".into(),
            )),
            (None, Some(u), Some(p)) => Ok(RegistryAuth::basic(u, p)),
            (None, None, None) => Ok(RegistryAuth::Anonymous),
            (None, Some(u), None) => Err(crate::QuayError::Config(format!(
                "registry user {u} has no password"
            ))),
            (None, None, Some(_)) => Err(crate::QuayError::Config(
                "a registry password is set without a user name".into(),
            )),
        }
    }

    /// Credentials from a forwarded `Authorization` header value: `Basic <base64 user:pass>`
    /// as user and password, `Bearer <token>` or a bare token as a bearer token. Invalid Basic
    /// credentials are [`QuayError::InvalidArgument`](crate::QuayError::InvalidArgument) (the
    /// value is never repeated).
    pub fn from_authorization(value: &SecretString) -> Result<Self, crate::QuayError> {
        let value = value.expose_secret().trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or(("", value));
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return Err(crate::QuayError::InvalidArgument(
                    "the Authorization header is not valid Basic credentials".into(),
                ));
            };
            return Ok(RegistryAuth::basic(
                user,
                SecretString::from(password.to_owned()),
            ));
        }
        let token = if scheme.eq_ignore_ascii_case("bearer") {
            rest.trim()
        } else {
            value
        };
        Ok(RegistryAuth::Bearer(SecretString::from(token.to_owned())))
    }

    pub(crate) fn basic_header(&self) -> Option<HeaderValue> {
        match self {
            RegistryAuth::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose_secret());
                let enc = base64::engine::general_purpose::STANDARD.encode(raw);
                sensitive(&format!("Basic {enc}"))
            }
            _ => None,
        }
    }
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryAuth::Anonymous => f.write_str("Anonymous"),
            RegistryAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            RegistryAuth::Bearer(_) => f.write_str("Bearer([REDACTED])"),
            RegistryAuth::IdentityToken(_) => f.write_str("IdentityToken([REDACTED])"),
        }
    }
}

/// A header value marked sensitive so it never shows in `Debug` output of requests.
pub(crate) fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses the first Basic or Bearer challenge of a `WWW-Authenticate` value.
pub(crate) fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    Some(Challenge::Bearer {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `key=value` or `key="quoted, value"` pairs separated by commas.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next().is_none() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    _ => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
    }
}

/// The set of scopes a request needs; its string form keys the token cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Scopes(pub BTreeSet<String>);

impl Scopes {
    pub(crate) fn pull(repo: &str) -> Self {
        Self([format!("repository:{repo}:pull")].into())
    }

    pub(crate) fn push(repo: &str) -> Self {
        Self([format!("repository:{repo}:pull,push")].into())
    }

    pub(crate) fn catalog() -> Self {
        Self(["registry:catalog:*".to_owned()].into())
    }

    pub(crate) fn none() -> Self {
        Self(BTreeSet::new())
    }

    #[must_use]
    pub(crate) fn with(mut self, other: &Scopes) -> Self {
        self.0.extend(other.0.iter().cloned());
        self
    }

    pub(crate) fn key(&self) -> String {
        self.0.iter().cloned().collect::<Vec<_>>().join(" ")
    }
}

/// One cached registry token.
pub(crate) struct CachedToken {
    pub header: HeaderValue,
    pub valid_until: Instant,
}

/// Tokens per scope set; an expired entry counts as absent.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: HashMap<String, CachedToken>,
}

impl TokenCache {
    pub(crate) fn get(&self, key: &str) -> Option<HeaderValue> {
        self.tokens
            .get(key)
            .filter(|t| t.valid_until > Instant::now())
            .map(|t| t.header.clone())
    }

    pub(crate) fn put(&mut self, key: String, token: CachedToken) {
        self.tokens.retain(|_, t| t.valid_until > Instant::now());
        self.tokens.insert(key, token);
    }
}

/// Answer of a token server.
#[derive(serde::Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenAnswer {
    /// The bearer header and how long to trust it (a safety margin before its expiry).
    pub(crate) fn into_cached(self) -> Option<CachedToken> {
        let token = self.token.or(self.access_token).filter(|t| !t.is_empty())?;
        let lifetime = self
            .expires_in
            .or_else(|| jwt_remaining_secs(&token))
            .unwrap_or(60);
        // Refresh a little early so a token does not expire mid-request.
        let margin = (lifetime / 10).clamp(1, 30);
        let header = sensitive(&format!("Bearer {token}"))?;
        Some(CachedToken {
            header,
            valid_until: Instant::now() + Duration::from_secs(lifetime.saturating_sub(margin)),
        })
    }
}

/// Quay answers only `{"token": "<jwt>"}`; read the JWT's `exp` claim when present.
fn jwt_remaining_secs(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(exp.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_authorization_and_parts() {
        let basic =
            RegistryAuth::from_authorization(&SecretString::from("basic dXNlcjpwYXNz")).unwrap();
        assert_eq!(
            format!("{basic:?}"),
            "Basic { username: \"user\", password: \"[REDACTED]\" }"
        );
        assert!(matches!(
            RegistryAuth::from_authorization(&SecretString::from("Bearer abc")).unwrap(),
            RegistryAuth::Bearer(t) if t.expose_secret() == "abc"
        ));
        assert!(matches!(
            RegistryAuth::from_authorization(&SecretString::from("rawtoken")).unwrap(),
            RegistryAuth::Bearer(t) if t.expose_secret() == "rawtoken"
        ));
        let e = RegistryAuth::from_authorization(&SecretString::from("Basic !!!")).unwrap_err();
        assert!(matches!(e, crate::QuayError::InvalidArgument(_)), "{e:?}");
        assert!(!e.to_string().contains("!!!"));
        let pw = || Some(SecretString::from("pw"));
        assert!(matches!(
            RegistryAuth::from_parts(Some("u".into()), pw(), None).unwrap(),
            RegistryAuth::Basic { .. }
        ));
        assert!(matches!(
            RegistryAuth::from_parts(None, None, None).unwrap(),
            RegistryAuth::Anonymous
        ));
        assert!(RegistryAuth::from_parts(Some("u".into()), None, None).is_err());
        assert!(RegistryAuth::from_parts(None, pw(), None).is_err());
        assert!(RegistryAuth::from_parts(Some("u".into()), pw(), pw()).is_err());
        let e = RegistryAuth::from_parts(None, pw(), None).unwrap_err();
        assert!(!e.to_string().contains("pw\""), "{e}");
    }

    #[test]
    fn parses_bearer_with_quoted_commas() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
    }

    #[test]
    fn parses_basic_and_rejects_unknown() {
        assert_eq!(
            parse_challenge(r#"Basic realm="test-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    #[test]
    fn token_lifetime_from_expires_in_or_jwt() {
        let t = TokenAnswer {
            token: None,
            access_token: Some("abc".into()),
            expires_in: Some(300),
        }
        .into_cached()
        .unwrap();
        let left = t.valid_until - Instant::now();
        assert!(left > Duration::from_secs(200) && left <= Duration::from_secs(300));

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!(r#"{{"exp":{}}}"#, now + 1000));
        let jwt = format!("eyJhbGciOiJub25lIn0.{claims}.sig");
        let t = TokenAnswer {
            token: Some(jwt),
            access_token: None,
            expires_in: None,
        }
        .into_cached()
        .unwrap();
        let left = t.valid_until - Instant::now();
        assert!(left > Duration::from_secs(900), "{left:?}");
        assert!(
            TokenAnswer {
                token: None,
                access_token: None,
                expires_in: None
            }
            .into_cached()
            .is_none()
        );
    }

    #[test]
    fn debug_redacts_credentials() {
        let a = RegistryAuth::basic("robot", SecretString::from("s3cret"));
        assert!(!format!("{a:?}").contains("s3cret"));
        let b = RegistryAuth::Bearer(SecretString::from("tok"));
        assert!(!format!("{b:?}").contains("tok"));
        let i = RegistryAuth::IdentityToken(SecretString::from("refresh"));
        assert!(!format!("{i:?}").contains("refresh"));
    }
}
