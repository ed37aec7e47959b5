//! The registry flags every command that talks to an OCI registry shares (`omps bundle push`,
//! `omps mirror`, the catalog commands): TLS, auth files, `--creds`, user and token; and the one
//! function that turns them into a client.
//!
//! Conventions are skopeo's and podman's: `--tls-verify=false` (or `--insecure-skip-tls-verify`)
//! also allows plain HTTP; credentials come from explicit flags, then `--authfile`
//! (`REGISTRY_AUTH_FILE`), then `${XDG_RUNTIME_DIR}/containers/auth.json`,
//! `~/.config/containers/auth.json` and `~/.docker/config.json`. Secrets are never printed.

use std::io::Read as _;
use std::path::PathBuf;

use clap::Args;
use quay_client::oci::auth_file::{CredentialSources, parse_creds};
use quay_client::{HttpSettings, QuayError, RegistryAuth, RegistryClient, SecretString};

use crate::error::CliError;
use crate::output::ConnArgs;

// clap's value parsers return a `Result`.
#[allow(clippy::unnecessary_wraps)]
pub fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

/// Where registry credentials come from (shared by every registry command).
#[derive(Debug, Clone, Args)]
pub struct RegistryAuthArgs {
    /// Container auth file to read credentials from (podman/skopeo `auth.json` or docker
    /// `config.json`). Default: ${XDG_RUNTIME_DIR}/containers/auth.json, then
    /// ~/.config/containers/auth.json, then ~/.docker/config.json.
    #[arg(long, env = "REGISTRY_AUTH_FILE", value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Do not read the default auth files.
    #[arg(long)]
    pub no_authfile: bool,
}

impl RegistryAuthArgs {
    /// The sources for one registry, with `explicit` credentials (flags) winning.
    pub fn sources(&self, explicit: Option<RegistryAuth>) -> CredentialSources {
        let mut s = CredentialSources::default();
        s.explicit = explicit;
        s.auth_file.clone_from(&self.authfile);
        s.default_files = !self.no_authfile;
        s
    }

    /// Resolves the credentials for `registry` (`host[:port]`) and `repository`.
    pub fn resolve(
        &self,
        explicit: Option<RegistryAuth>,
        registry: &str,
        repository: Option<&str>,
    ) -> Result<RegistryAuth, CliError> {
        let resolved = self
            .sources(explicit)
            .resolve(registry, repository, &|k| std::env::var(k).ok())
            .map_err(|e| CliError::from(e).with_hint(AUTH_HINT))?;
        if let Some(file) = &resolved.from_file {
            tracing::info!(registry, file = %file.display(), "registry credentials from an auth file");
        }
        Ok(resolved.auth)
    }
}

const AUTH_HINT: &str =
    "give credentials with --creds USER:PASSWORD, or fix or name another auth file with --authfile";

/// The registry flags of a command that talks to one registry.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Registry credentials as USER:PASSWORD (a robot `org+name` and its token on Quay); wins
    /// over --username/--password and a token. Prefer an auth file or --password-stdin: command
    /// lines are visible to other users.
    // No `conflicts_with`: values from the environment would count, and flags must win.
    #[arg(long, value_name = "USER:PASSWORD", value_parser = secret, env = "OMPS_REGISTRY_CREDS", hide_env_values = true)]
    pub creds: Option<SecretString>,
    /// Registry user (a robot account such as `org+name` on Quay).
    #[arg(long, env = "OMPS_REGISTRY_USERNAME")]
    pub username: Option<String>,
    /// Registry password or robot token (prefer --password-stdin; flags show up in `ps`).
    #[arg(long, env = "OMPS_REGISTRY_PASSWORD", hide_env_values = true, value_parser = secret, conflicts_with = "password_stdin")]
    pub password: Option<SecretString>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// A registry bearer token, sent as is.
    #[arg(long, env = "OMPS_REGISTRY_TOKEN", hide_env_values = true, value_parser = secret, conflicts_with_all = ["username", "password", "password_stdin"])]
    pub token: Option<SecretString>,
    #[command(flatten)]
    pub auth: RegistryAuthArgs,
    /// Talk plain HTTP to the registry (local test registries only).
    #[arg(long)]
    pub plain_http: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

impl RegistryArgs {
    /// The HTTP settings (timeouts, CA bundle, verification).
    pub fn http_settings(&self) -> Result<HttpSettings, CliError> {
        self.conn.http_settings()
    }

    /// The credentials given by flags (reads standard input for `--password-stdin`).
    pub fn explicit(&self) -> Result<Option<RegistryAuth>, CliError> {
        if let Some(c) = &self.creds {
            return parse_creds(c).map(Some).map_err(CliError::from);
        }
        let mut password = self.password.clone();
        if self.password_stdin {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                CliError::input(format!("cannot read the password from standard input: {e}"))
            })?;
            password = Some(SecretString::from(
                text.trim_end_matches(['\r', '\n']).to_owned(),
            ));
        }
        let auth = RegistryAuth::from_parts(self.username.clone(), password, self.token.clone())
            .map_err(|e| {
                CliError::usage(format!(
                    "{e} (give --creds USER:PASSWORD, --username with --password-stdin, or a token)"
                ))
            })?;
        Ok((!matches!(auth, RegistryAuth::Anonymous)).then_some(auth))
    }

    /// A client for `registry` (`host[:port]`) with these flags: credentials resolved in their
    /// order, plain HTTP with `--plain-http`, or when verification is off and the registry
    /// answers in HTTP.
    #[allow(dead_code)] // the catalog commands use it
    pub async fn client(
        &self,
        registry: &str,
        repository: Option<&str>,
    ) -> Result<RegistryClient, CliError> {
        let explicit = self.explicit()?;
        self.client_with(registry, repository, explicit).await
    }

    /// [`RegistryArgs::client`] with the explicit credentials already read (standard input is
    /// read once, before any slow work).
    pub async fn client_with(
        &self,
        registry: &str,
        repository: Option<&str>,
        explicit: Option<RegistryAuth>,
    ) -> Result<RegistryClient, CliError> {
        let auth = self.auth.resolve(explicit, registry, repository)?;
        let settings = self.http_settings()?;
        if settings.danger_accept_invalid_certs {
            eprintln!(
                "warning: TLS certificate verification is off for {registry} (plain HTTP allowed)"
            );
        }
        let scheme = if self.plain_http { "http" } else { "https" };
        let client = RegistryClient::builder(format!("{scheme}://{registry}"))
            .http_settings(settings)
            .auth(auth)
            .build()?;
        if self.plain_http {
            // A TLS registry answers plain HTTP with a 400 whose body says so; the first call of
            // a push is a HEAD, which has no body: ask `GET /v2/` once to tell the user why.
            if let Err(e) = client.ping().await {
                if e.is_http_to_https() {
                    return Err(registry_error(e, registry));
                }
            }
        }
        Ok(client.with_plain_http_fallback().await)
    }
}

/// A registry failure as a [`CliError`], with the hint the flags can act on.
pub fn registry_error(error: QuayError, registry: &str) -> CliError {
    let hint = tls_hint(&error, registry).or_else(|| {
        (error.kind() == quay_client::ErrorKind::Unauthorized).then(|| {
            format!(
                "{registry} refused the credentials, or asked for some: give --creds USER:PASSWORD, \
                 --authfile FILE, or log in with `podman login {registry}`"
            )
        })
    });
    // The command's hint names its flags; the transport's generic one would repeat it.
    let error = match (error, &hint) {
        (QuayError::Transport { source }, Some(_)) => QuayError::Transport {
            source: source.with_hint(None),
        },
        (other, _) => other,
    };
    let e = CliError::from(error);
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

/// The hint for a registry failure that the flags can fix: TLS spoken to a plain-HTTP registry,
/// or plain HTTP spoken to a TLS one.
pub fn tls_hint(error: &QuayError, registry: &str) -> Option<String> {
    if error.is_http_to_https() {
        return Some(format!(
            "{registry} expects TLS (HTTPS): drop --plain-http or the http:// scheme"
        ));
    }
    if let QuayError::Transport { source } = error {
        let cause = source.cause().to_ascii_lowercase();
        if cause.contains("invalidcontenttype") || cause.contains("corrupt message") {
            return Some(format!(
                "{registry} answers in plain HTTP, not TLS: if that is expected (a test \
                 registry), give --tls-verify=false (plain HTTP allowed, like skopeo) or \
                 --plain-http"
            ));
        }
    }
    None
}
