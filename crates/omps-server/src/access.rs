//! Access control of the embedded (local) store: tokens from a file, stored as SHA-256 hashes,
//! each scoped to organizations with read or write access.
//!
//! ```toml
//! # tokens.toml (`tokens_file`): the hex SHA-256 of each token, never the token itself
//! # (`printf %s "$TOKEN" | sha256sum`).
//! [[token]]
//! name = "ci-robot"                 # names the token in logs
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! organizations = { myorg = "write", shared = "read" }
//!
//! [[token]]
//! name = "auditor"
//! sha256 = "..."
//! organizations = { "*" = "read" }  # every organization
//! ```
//!
//! The token is taken from the caller's `Authorization`: `Bearer <token>`, the password of
//! `Basic <base64(user:token)>` (what App Registry clients send), or a bare value. Stores that
//! forward the caller's credentials upstream (App Registry, OCI) are not checked here: their
//! upstream decides.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use sha2::Digest as _;

use crate::backends::Auth;
use crate::error::{ApiError, ErrorId};

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Listing and downloading.
    Read,
    /// Pushing and deleting (implies read).
    Write,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    sha256: String,
    organizations: BTreeMap<String, Access>,
}

/// One configured token: its hash and its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    name: String,
    sha256: [u8; 32],
    organizations: BTreeMap<String, Access>,
}

/// The tokens of `tokens_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    tokens: Vec<Token>,
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

impl Tokens {
    /// Reads and checks a tokens file; the error names the key (`token[<i>].<key>`).
    pub fn load(path: &Path) -> Result<Self, strict_config::ConfigError> {
        let origin = path.display().to_string();
        let text = strict_config::read_limited(path, &origin)?;
        Self::parse(&origin, &text)
    }

    /// Parses the text of a tokens file.
    pub fn parse(origin: &str, text: &str) -> Result<Self, strict_config::ConfigError> {
        let file: TokensFile = strict_config::from_toml_str(origin, text)?;
        let mut tokens = Vec::new();
        for (i, entry) in file.token.into_iter().enumerate() {
            let at = |key: &str| format!("token[{i}].{key}");
            let invalid = |key: &str, message: &str| {
                strict_config::ConfigError::invalid(origin, at(key), message)
            };
            if entry.name.trim().is_empty() {
                return Err(invalid("name", "must not be empty"));
            }
            let Some(sha256) = parse_hex(&entry.sha256.to_ascii_lowercase()) else {
                return Err(invalid(
                    "sha256",
                    "must be the 64 hex digits of the token's SHA-256 (printf %s \"$TOKEN\" | sha256sum), never the token",
                ));
            };
            if entry.organizations.is_empty() {
                return Err(invalid(
                    "organizations",
                    "must name at least one organization",
                ));
            }
            for org in entry.organizations.keys() {
                if org != "*" {
                    crate::names::check_organization(org)
                        .map_err(|reason| invalid("organizations", &reason))?;
                }
            }
            if tokens.iter().any(|t: &Token| t.sha256 == sha256) {
                return Err(invalid("sha256", "the same token is listed twice"));
            }
            tokens.push(Token {
                name: entry.name,
                sha256,
                organizations: entry.organizations,
            });
        }
        if tokens.is_empty() {
            return Err(strict_config::ConfigError::invalid(
                origin,
                "token",
                "the file lists no token",
            ));
        }
        Ok(Self { tokens })
    }

    /// The number of tokens.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there is no token (never true for a loaded file).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Checks that the caller's credential allows `access` to `org`. `Ok` carries the token's
    /// name for logs; the credential itself is never logged or echoed.
    pub fn authorize(
        &self,
        org: &str,
        access: Access,
        auth: Option<&Auth>,
    ) -> Result<&str, ApiError> {
        let Some(auth) = auth else {
            return Err(ApiError::auth_required());
        };
        let presented = credential(auth.expose_secret());
        let digest: [u8; 32] = sha2::Sha256::digest(presented.as_bytes()).into();
        let Some(token) = self.tokens.iter().find(|t| t.sha256 == digest) else {
            return Err(ApiError::new(
                ErrorId::OMPSInvalidToken,
                "The token in the Authorization header is not valid for this server",
            ));
        };
        let granted = token
            .organizations
            .get(org)
            .or_else(|| token.organizations.get("*"))
            .copied();
        match granted {
            Some(g) if g >= access => Ok(&token.name),
            _ => {
                tracing::warn!(token = %token.name, organization = %org, access = access.as_str(), "access denied");
                Err(ApiError::new(
                    ErrorId::OMPSAccessDenied,
                    format!(
                        "The token does not allow {} access to organization {org}",
                        access.as_str()
                    ),
                ))
            }
        }
    }
}

/// The token inside an `Authorization` value.
fn credential(value: &str) -> String {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or(("", value));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return rest.to_owned();
    }
    if scheme.eq_ignore_ascii_case("basic") {
        if let Some(password) = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|d| d.split_once(':').map(|(_, p)| p.to_owned()))
        {
            return password;
        }
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(token: &str) -> String {
        use std::fmt::Write as _;
        sha2::Sha256::digest(token.as_bytes())
            .iter()
            .fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            })
    }

    fn tokens() -> Tokens {
        Tokens::parse(
            "t",
            &format!(
                "[[token]]\nname = \"w\"\nsha256 = \"{}\"\norganizations = {{ a = \"write\", b = \"read\" }}\n\
                 [[token]]\nname = \"all\"\nsha256 = \"{}\"\norganizations = {{ \"*\" = \"read\" }}\n",
                hash("secret-w"),
                hash("secret-all")
            ),
        )
        .unwrap()
    }

    #[test]
    fn scopes_and_credential_forms() {
        let t = tokens();
        let auth = |v: &str| Auth::from(v.to_owned());
        assert_eq!(
            t.authorize("a", Access::Write, Some(&auth("Bearer secret-w")))
                .unwrap(),
            "w"
        );
        let basic = format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode("robot:secret-w")
        );
        assert!(t.authorize("a", Access::Write, Some(&auth(&basic))).is_ok());
        assert!(
            t.authorize("a", Access::Read, Some(&auth("secret-w")))
                .is_ok()
        );
        let denied = t
            .authorize("b", Access::Write, Some(&auth("Bearer secret-w")))
            .unwrap_err();
        assert_eq!(denied.id, ErrorId::OMPSAccessDenied);
        assert!(
            t.authorize("b", Access::Read, Some(&auth("Bearer secret-w")))
                .is_ok()
        );
        assert!(
            t.authorize("zzz", Access::Read, Some(&auth("Bearer secret-all")))
                .is_ok()
        );
        let unknown = t
            .authorize("a", Access::Read, Some(&auth("Bearer nope")))
            .unwrap_err();
        assert_eq!(unknown.id, ErrorId::OMPSInvalidToken);
        assert!(!unknown.message.contains("nope"));
        assert_eq!(
            t.authorize("a", Access::Read, None).unwrap_err().id,
            ErrorId::OMPSAuthorizationHeaderRequired
        );
    }

    #[test]
    fn bad_files_name_the_key() {
        for (text, key) in [
            (
                "[[token]]\nname = \"x\"\nsha256 = \"plain-token\"\norganizations = { a = \"read\" }",
                "token[0].sha256",
            ),
            (
                &format!(
                    "[[token]]\nname = \"x\"\nsha256 = \"{}\"\norganizations = {{ a = \"admin\" }}",
                    hash("t")
                ),
                "token[0].organizations.a",
            ),
            (
                &format!(
                    "[[token]]\nname = \"x\"\nsha256 = \"{}\"\norganizations = {{}}",
                    hash("t")
                ),
                "token[0].organizations",
            ),
            (
                &format!(
                    "[[token]]\nname = \"x\"\nsha256 = \"{}\"\norganizations = {{ a = \"read\" }}\nscope = 1",
                    hash("t")
                ),
                "token[0].scope",
            ),
            ("", "token"),
        ] {
            let e = Tokens::parse("t", text).unwrap_err();
            assert_eq!(e.key_path(), Some(key), "{text}: {e}");
        }
    }
}
