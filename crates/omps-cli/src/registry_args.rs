//! Registry options shared by the commands that read or write images on OCI registries
//! (`omps catalog ...`): the same flags, environment variables and meaning as
//! `omps bundle push`, in one `clap` struct to flatten into each command.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;

use clap::Args;
use quay_client::{ImageReference, RegistryAuth, RegistryClient, SecretString};

use crate::error::CliError;

// clap's value parsers return a `Result`.
#[allow(clippy::unnecessary_wraps)]
fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

/// Registry location, TLS and credentials.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
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
    /// Talk plain HTTP to the registries (local test registries only).
    #[arg(long)]
    pub plain_http: bool,
    /// Extra PEM root certificates for the registries' TLS.
    #[arg(long, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,
    /// Seconds for each registry call.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
}

impl RegistryArgs {
    /// The credentials of the flags and the environment (reads standard input once for
    /// `--password-stdin`).
    pub fn credentials(&self) -> Result<RegistryAuth, CliError> {
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
        RegistryAuth::from_parts(self.username.clone(), password, self.token.clone()).map_err(|e| {
            CliError::usage(format!(
                "{e} (give --username with --password-stdin, or a token)"
            ))
        })
    }
}

/// One client per registry host, built on first use. The credentials go only to the hosts the
/// command allows ([`Registries::client`]'s `with_credentials`), never to a registry merely
/// named inside an input file unless the command says so.
pub struct Registries {
    args: RegistryArgs,
    auth: Option<RegistryAuth>,
    clients: BTreeMap<(String, bool, bool), RegistryClient>,
}

impl Registries {
    /// Registries with the command's options; the credentials are read on first need.
    pub fn new(args: &RegistryArgs) -> Self {
        Self {
            args: args.clone(),
            auth: None,
            clients: BTreeMap::new(),
        }
    }

    /// The client for `image`'s registry, with the command's credentials or anonymous, over
    /// plain HTTP when `--plain-http` is given.
    pub fn client(
        &mut self,
        image: &ImageReference,
        with_credentials: bool,
    ) -> Result<RegistryClient, CliError> {
        let plain = self.args.plain_http;
        self.client_with(image, with_credentials, plain)
    }

    /// [`Registries::client`] with the transport chosen by the caller (a push's base image on
    /// another registry keeps HTTPS although the target is a plain-HTTP test registry).
    pub fn client_with(
        &mut self,
        image: &ImageReference,
        with_credentials: bool,
        plain_http: bool,
    ) -> Result<RegistryClient, CliError> {
        let host = image.registry.clone().unwrap_or_default();
        let key = (host.clone(), with_credentials, plain_http);
        if let Some(c) = self.clients.get(&key) {
            return Ok(c.clone());
        }
        let auth = if with_credentials {
            if self.auth.is_none() {
                self.auth = Some(self.args.credentials()?);
            }
            self.auth.clone().unwrap_or_default()
        } else {
            RegistryAuth::Anonymous
        };
        let scheme = if plain_http { "http" } else { "https" };
        let mut settings = crate::output::http_settings(self.args.timeout);
        if let Some(path) = &self.args.ca_bundle {
            settings = settings.ca_bundle_pem(crate::output::read_ca_bundle(path)?);
        }
        let client = RegistryClient::builder(format!("{scheme}://{host}"))
            .http_settings(settings)
            .auth(auth)
            .build()?;
        self.clients.insert(key, client.clone());
        Ok(client)
    }
}

/// An image reference as typed on the command line: `registry[:port]/path[:tag|@digest]`, the
/// registry required (no implicit default registry).
pub fn parse_image(image: &str) -> Result<ImageReference, CliError> {
    ImageReference::parse(image)
        .and_then(|r| r.require_registry(image))
        .map_err(|e| CliError::usage(e.to_string()))
}

/// Whether a registry host is this machine (`localhost`, `127.0.0.0/8`, `[::1]`), with or
/// without a port.
pub fn is_loopback(host: &str) -> bool {
    let loopback = |name: &str| {
        name == "localhost"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    if loopback(host) {
        return true;
    }
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map_or(host, |(h, _port)| h),
    };
    loopback(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for yes in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.0.0.1:5000",
            "127.1.2.3:1",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "quay.io",
            "registry.lan:5000",
            "10.0.0.1:5000",
            "[2001:db8::1]:5000",
            "",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }
}
