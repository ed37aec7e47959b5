//! Registry credentials the way skopeo, podman and docker find them: the container auth files
//! (`containers-auth.json(5)`, docker's `config.json`) and explicit `user:password` values.
//!
//! [`CredentialSources::resolve`] is the one place a command turns its flags into the
//! [`RegistryAuth`] for a registry: explicit flags win, then the auth file given with
//! `--authfile` (or `REGISTRY_AUTH_FILE`), then the default files in their documented order.
//! Errors name files and keys, never a secret.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};

use super::RegistryAuth;
use crate::QuayError;

/// Auth files larger than this are refused (a file of a few hundred registries is a few KiB).
pub const MAX_AUTH_FILE_BYTES: u64 = 1024 * 1024;

/// One `auths` entry.
#[derive(serde::Deserialize, Default)]
struct Entry {
    /// `base64(user:password)`.
    #[serde(default)]
    auth: Option<String>,
    /// An OAuth2 refresh token for the registry's token server (`docker login` with an identity
    /// provider, Azure, ...).
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

#[derive(serde::Deserialize)]
struct FileShape {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

/// A parsed auth file: its `auths` entries by normalised key (`host[:port][/path]`).
pub struct AuthFile {
    path: PathBuf,
    entries: BTreeMap<String, Entry>,
}

impl std::fmt::Debug for AuthFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthFile")
            .field("path", &self.path)
            .field("keys", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Normalises an `auths` key: docker writes URLs (`https://index.docker.io/v1/`), podman writes
/// `host[:port][/namespace[/repo]]`. A URL keeps only its host; Docker Hub's aliases become
/// `docker.io`.
fn normalize_key(key: &str) -> String {
    let key = key.trim();
    let key = match key.split_once("://") {
        // A URL names a registry, whatever its path (`/v1/`, `/v2/`).
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest),
        None => key.trim_end_matches('/'),
    };
    normalize_host(key)
}

fn normalize_host(key: &str) -> String {
    let (host, path) = key
        .split_once('/')
        .map_or((key, None), |(h, p)| (h, Some(p)));
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        other => other,
    };
    match path {
        Some(p) => format!("{host}/{p}"),
        None => host.to_owned(),
    }
}

impl AuthFile {
    /// Reads an auth file (at most [`MAX_AUTH_FILE_BYTES`]). Errors name the file only.
    pub fn load(path: &Path) -> Result<Self, QuayError> {
        use std::io::Read as _;
        let file = std::fs::File::open(path).map_err(|e| {
            QuayError::Config(format!("cannot read the auth file {}: {e}", path.display()))
        })?;
        let mut text = Vec::new();
        file.take(MAX_AUTH_FILE_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(|e| {
                QuayError::Config(format!("cannot read the auth file {}: {e}", path.display()))
            })?;
        if text.len() as u64 > MAX_AUTH_FILE_BYTES {
            return Err(QuayError::Config(format!(
                "the auth file {} is larger than {MAX_AUTH_FILE_BYTES} bytes",
                path.display()
            )));
        }
        Self::parse(path, &text)
    }

    /// Parses the text of an auth file; `path` names it in messages.
    pub fn parse(path: &Path, text: &[u8]) -> Result<Self, QuayError> {
        // serde_json's own messages carry positions, never values of the document.
        let shape: FileShape = serde_json::from_slice(text).map_err(|e| {
            QuayError::Config(format!(
                "the auth file {} is not a JSON object with \"auths\": {e}",
                path.display()
            ))
        })?;
        let entries = shape
            .auths
            .into_iter()
            .map(|(k, v)| (normalize_key(&k), v))
            .collect();
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The credentials for `registry` (`host[:port]`) and, when given, `repository`: the most
    /// specific key wins (`host/ns/repo`, then `host/ns`, then `host`), as podman looks them up.
    /// `Ok(None)` when the file has no entry, or an entry with neither `auth` nor
    /// `identitytoken` (docker's credential helpers leave those).
    pub fn lookup(
        &self,
        registry: &str,
        repository: Option<&str>,
    ) -> Result<Option<RegistryAuth>, QuayError> {
        let host = normalize_host(registry);
        let mut candidates = Vec::new();
        if let Some(repo) = repository {
            let parts: Vec<&str> = repo.split('/').collect();
            for n in (1..=parts.len()).rev() {
                candidates.push(format!("{host}/{}", parts[..n].join("/")));
            }
        }
        candidates.push(host);
        for key in candidates {
            let Some(entry) = self.entries.get(&key) else {
                continue;
            };
            if let Some(auth) = self.entry_auth(&key, entry)? {
                return Ok(Some(auth));
            }
        }
        Ok(None)
    }

    fn entry_auth(&self, key: &str, entry: &Entry) -> Result<Option<RegistryAuth>, QuayError> {
        let bad = |what: &str| {
            QuayError::Config(format!(
                "the auth file {}: auths.\"{key}\".auth {what}",
                self.path.display()
            ))
        };
        if let Some(token) = entry.identity_token.as_deref().filter(|t| !t.is_empty()) {
            // The user name that goes with an identity token is not needed by the token flow.
            return Ok(Some(RegistryAuth::IdentityToken(SecretString::from(
                token.to_owned(),
            ))));
        }
        let Some(encoded) = entry.auth.as_deref().filter(|a| !a.is_empty()) else {
            return Ok(None);
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| bad("is not base64"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad("is not UTF-8 text"))?;
        let Some((user, password)) = decoded.split_once(':') else {
            return Err(bad("is not base64 of user:password"));
        };
        Ok(Some(RegistryAuth::basic(
            user,
            SecretString::from(password.to_owned()),
        )))
    }
}

/// The default auth files, in the order podman and skopeo read them:
/// `${XDG_RUNTIME_DIR}/containers/auth.json`, `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`,
/// `${DOCKER_CONFIG:-~/.docker}/config.json`. `env` looks environment variables up.
pub fn default_auth_files(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = var("HOME");
    let mut files = Vec::new();
    if let Some(run) = var("XDG_RUNTIME_DIR") {
        files.push(run.join("containers/auth.json"));
    }
    if let Some(config) =
        var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")))
    {
        files.push(config.join("containers/auth.json"));
    }
    if let Some(docker) = var("DOCKER_CONFIG").or_else(|| home.as_ref().map(|h| h.join(".docker")))
    {
        files.push(docker.join("config.json"));
    }
    files
}

/// Where credentials may come from, in the order they win.
#[derive(Default)]
#[non_exhaustive]
pub struct CredentialSources {
    /// Explicit credentials (flags, environment, a configuration file): used as they are.
    pub explicit: Option<RegistryAuth>,
    /// An auth file named by the user (`--authfile`, `REGISTRY_AUTH_FILE`): must be readable.
    pub auth_file: Option<PathBuf>,
    /// Whether the default auth files are read when nothing above gave credentials.
    pub default_files: bool,
}

impl std::fmt::Debug for CredentialSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSources")
            .field("explicit", &self.explicit)
            .field("auth_file", &self.auth_file)
            .field("default_files", &self.default_files)
            .finish()
    }
}

/// What [`CredentialSources::resolve`] found, and where (for a log line; never the secret).
#[derive(Debug)]
pub struct ResolvedAuth {
    /// The credentials.
    pub auth: RegistryAuth,
    /// Where they came from: `None` for explicit ones or none at all, else the auth file.
    pub from_file: Option<PathBuf>,
}

impl CredentialSources {
    /// The credentials for `registry` (`host[:port]`) and `repository`: the explicit ones; else
    /// the entry of the named auth file (a named file that cannot be read is an error); else the
    /// first default file that has an entry (missing default files are skipped, unreadable ones
    /// are errors); else anonymous.
    pub fn resolve(
        &self,
        registry: &str,
        repository: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ResolvedAuth, QuayError> {
        if let Some(auth) = &self.explicit {
            if !matches!(auth, RegistryAuth::Anonymous) {
                return Ok(ResolvedAuth {
                    auth: auth.clone(),
                    from_file: None,
                });
            }
        }
        let mut files: Vec<(PathBuf, bool)> = Vec::new();
        if let Some(f) = &self.auth_file {
            files.push((f.clone(), true));
        } else if self.default_files {
            files.extend(default_auth_files(env).into_iter().map(|f| (f, false)));
        }
        for (path, named) in files {
            if !named && !path.exists() {
                continue;
            }
            let file = AuthFile::load(&path)?;
            if let Some(auth) = file.lookup(registry, repository)? {
                return Ok(ResolvedAuth {
                    auth,
                    from_file: Some(path),
                });
            }
        }
        Ok(ResolvedAuth {
            auth: RegistryAuth::Anonymous,
            from_file: None,
        })
    }
}

/// Parses `user:password` (skopeo's `--creds`); the password may contain `:`. The error never
/// repeats the value.
pub fn parse_creds(value: &SecretString) -> Result<RegistryAuth, QuayError> {
    match value.expose_secret().split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(
            RegistryAuth::basic(user, SecretString::from(password.to_owned())),
        ),
        _ => Err(QuayError::Config(
            "--creds must be USER:PASSWORD (both non-empty)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn user_of(auth: &RegistryAuth) -> String {
        match auth {
            RegistryAuth::Basic { username, password } => {
                format!("{username}:{}", password.expose_secret())
            }
            RegistryAuth::IdentityToken(t) => format!("identity:{}", t.expose_secret()),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn keys_are_normalised_and_the_most_specific_wins() {
        let text = format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{}"}},
                "127.0.0.1:5000": {{"auth": "{}"}},
                "127.0.0.1:5000/team": {{"auth": "{}"}},
                "http://quay.example.com/v2/": {{"auth": "{}"}},
                "tok.example.com": {{"identitytoken": "refresh-me", "auth": ""}},
                "helper.example.com": {{}}
            }}, "credHelpers": {{"x": "y"}}}}"#,
            b64("hub:hubpw"),
            b64("host:hostpw"),
            b64("team:team:pw"),
            b64("q:qpw")
        );
        let f = AuthFile::parse(Path::new("auth.json"), text.as_bytes()).unwrap();
        let get = |r: &str, repo: Option<&str>| f.lookup(r, repo).unwrap().map(|a| user_of(&a));
        assert_eq!(get("docker.io", None).as_deref(), Some("hub:hubpw"));
        assert_eq!(get("127.0.0.1:5000", None).as_deref(), Some("host:hostpw"));
        assert_eq!(
            get("127.0.0.1:5000", Some("team/app")).as_deref(),
            Some("team:team:pw")
        );
        assert_eq!(
            get("127.0.0.1:5000", Some("other/app")).as_deref(),
            Some("host:hostpw")
        );
        assert_eq!(get("quay.example.com", None).as_deref(), Some("q:qpw"));
        assert_eq!(
            get("tok.example.com", None).as_deref(),
            Some("identity:refresh-me")
        );
        assert_eq!(get("helper.example.com", None), None);
        assert_eq!(get("127.0.0.1:5001", None), None);
    }

    #[test]
    fn bad_entries_name_the_key_not_the_value() {
        let text = r#"{"auths": {"r.example.com": {"auth": "bm9jb2xvbg=="}}}"#; // "nocolon"
        let f = AuthFile::parse(Path::new("a.json"), text.as_bytes()).unwrap();
        let e = f.lookup("r.example.com", None).unwrap_err().to_string();
        assert!(e.contains("auths.\"r.example.com\".auth"), "{e}");
        assert!(!e.contains("nocolon") && !e.contains("bm9jb2xvbg"), "{e}");
        let e = AuthFile::parse(Path::new("a.json"), b"{\"auths\": [\"secret\"]}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.json") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn sources_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let home = dir.path().join("home");
        std::fs::create_dir_all(run.join("containers")).unwrap();
        std::fs::create_dir_all(home.join(".docker")).unwrap();
        std::fs::write(
            run.join("containers/auth.json"),
            format!(
                r#"{{"auths": {{"a.example": {{"auth": "{}"}}}}}}"#,
                b64("run:1")
            ),
        )
        .unwrap();
        std::fs::write(
            home.join(".docker/config.json"),
            format!(
                r#"{{"auths": {{"a.example": {{"auth": "{}"}}, "b.example": {{"auth": "{}"}}}}}}"#,
                b64("docker:2"),
                b64("docker:3")
            ),
        )
        .unwrap();
        let (run_s, home_s) = (run.display().to_string(), home.display().to_string());
        let env = move |k: &str| match k {
            "XDG_RUNTIME_DIR" => Some(run_s.clone()),
            "HOME" => Some(home_s.clone()),
            _ => None,
        };
        let defaults = CredentialSources {
            default_files: true,
            ..CredentialSources::default()
        };
        let got = |s: &CredentialSources, r: &str| user_of(&s.resolve(r, None, &env).unwrap().auth);
        assert_eq!(got(&defaults, "a.example"), "run:1");
        assert_eq!(got(&defaults, "b.example"), "docker:3");
        assert_eq!(got(&defaults, "c.example"), "Anonymous");
        let explicit = CredentialSources {
            explicit: Some(RegistryAuth::basic("flag", SecretString::from("4"))),
            default_files: true,
            ..CredentialSources::default()
        };
        assert_eq!(got(&explicit, "a.example"), "flag:4");
        let named = CredentialSources {
            auth_file: Some(home.join(".docker/config.json")),
            default_files: true,
            ..CredentialSources::default()
        };
        assert_eq!(got(&named, "a.example"), "docker:2");
        let missing = CredentialSources {
            auth_file: Some(dir.path().join("nope.json")),
            ..CredentialSources::default()
        };
        let e = missing.resolve("a.example", None, &env).unwrap_err();
        assert!(e.to_string().contains("nope.json"), "{e}");
        // Default files that do not exist are skipped.
        let nothing = |_: &str| Some("/nonexistent-omps-test".to_owned());
        assert!(matches!(
            defaults.resolve("a.example", None, &nothing).unwrap().auth,
            RegistryAuth::Anonymous
        ));
    }

    #[test]
    fn creds_values() {
        let ok = parse_creds(&SecretString::from("u:p:w")).unwrap();
        assert_eq!(user_of(&ok), "u:p:w");
        for bad in ["nocolon", ":pw", "user:"] {
            let e = parse_creds(&SecretString::from(bad))
                .unwrap_err()
                .to_string();
            assert!(!e.contains(bad), "{e}");
        }
    }
}
