//! `omps mirror`: registry-to-registry sync (replaces the Quay tools' `quay_sync`).
//!
//! Parses arguments and the configuration file, then calls `quay_client::mirror` (plan and
//! execute) and `quay_client::preflight`; this module only formats the results.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use quay_client::{CopyOptions, SecretString};
use quay_tools::mirror::{
    Discovery, Endpoint, ExecuteOptions, ItemResult, ItemStatus, MirrorConfig, MirrorObserver,
    MirrorReport, PlanOptions, ServerConfig, TagFilter, normalize_server, parse_repository,
    registry_host,
};

use crate::error::{CliError, Exit};
use crate::output::{self, ConnArgs, OAuthArgs, Output};
use crate::registry::RegistryAuthArgs;

/// Arguments of `omps mirror`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // one field per command-line switch
pub struct MirrorArgs {
    /// Configuration file: this project's format or the original quay_sync file
    /// (`source_*`/`destination_*` or `primary_*`/`secondary_*` keys); see docs/mirror.md.
    #[arg(long, short = 'c', alias = "config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Source registry (host, host:port or URL); overrides the configuration file.
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// Destination registry (host, host:port or URL); overrides the configuration file.
    #[arg(long, value_name = "URL")]
    pub destination: Option<String>,
    /// Source Quay API base URL when it differs from the registry URL.
    #[arg(long, value_name = "URL")]
    pub source_api_url: Option<String>,
    /// Destination Quay API base URL when it differs from the registry URL.
    #[arg(long, value_name = "URL")]
    pub destination_api_url: Option<String>,
    /// File with the source Quay API token (or set OMPS_MIRROR_SOURCE_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub source_token_file: Option<PathBuf>,
    /// File with the destination Quay API token (or set OMPS_MIRROR_DESTINATION_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub destination_token_file: Option<PathBuf>,
    /// Registry user for both sides when the configuration has none (as quay_sync's
    /// --username).
    #[arg(long, env = "OMPS_MIRROR_USERNAME", value_name = "USER")]
    pub username: Option<String>,
    /// File with the registry password for --username (or set OMPS_MIRROR_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Image to mirror: `<org>/<repo>:<tag>`, or `<org>/<repo>` for every (selected) tag.
    /// Repeatable; added to the configured list.
    #[arg(long = "repository", short = 'r', value_name = "REF")]
    pub repositories: Vec<String>,
    /// Discover repositories on the source (Quay API with a source token, else the registry
    /// catalog); creates missing organizations and repositories on the destination when it has
    /// an API token.
    #[arg(long)]
    pub auto_discovery: bool,
    /// Restrict discovery to these organizations (repeatable).
    #[arg(long = "org", value_name = "ORG")]
    pub organizations: Vec<String>,
    /// Where to discover.
    #[arg(long, value_enum, default_value_t = DiscoveryArg::Auto)]
    pub discovery: DiscoveryArg,
    /// Tag selection for repositories given without a tag: glob with `*` and `?` (repeatable).
    #[arg(long = "tags", value_name = "GLOB")]
    pub tags: Vec<String>,
    /// Keep going after a failed image; failures are reported at the end and the exit code
    /// is still 1.
    #[arg(long)]
    pub skip_broken_images: bool,
    /// Images copied in parallel (default 4, or the configuration's `sync.concurrency`).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: Option<u16>,
    /// Blobs of one image copied in parallel.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub blob_jobs: u16,
    /// Swap source and destination.
    #[arg(long)]
    pub failover: bool,
    /// Plan and compare digests, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Timeout of each preflight step (DNS, TCP connect, GET /v2/) in seconds.
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    pub preflight_timeout: u64,
    /// Skip the preflight check.
    #[arg(long)]
    pub no_preflight: bool,
    /// Registry credentials for both sides as USER:PASSWORD (wins over the configuration file
    /// and --username; prefer an auth file, command lines are visible to other users).
    #[arg(long, value_name = "USER:PASSWORD", value_parser = crate::registry::secret, env = "OMPS_MIRROR_CREDS", hide_env_values = true)]
    pub creds: Option<SecretString>,
    /// Source registry credentials as USER:PASSWORD (skopeo's --src-creds; wins over --creds).
    #[arg(long, value_name = "USER:PASSWORD", value_parser = crate::registry::secret, hide_env_values = true)]
    pub src_creds: Option<SecretString>,
    /// Destination registry credentials as USER:PASSWORD (skopeo's --dest-creds; wins over
    /// --creds).
    #[arg(long, value_name = "USER:PASSWORD", value_parser = crate::registry::secret, hide_env_values = true)]
    pub dest_creds: Option<SecretString>,
    #[command(flatten)]
    pub auth: RegistryAuthArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub oauth: OAuthArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// `--discovery` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiscoveryArg {
    /// Quay API when the source has a token, else the registry catalog.
    Auto,
    /// Quay REST API (`/api/v1/repository`, tag lists).
    QuayApi,
    /// Registry catalog (`/v2/_catalog`, `tags/list`).
    Registry,
}

fn env_secret(var: &str) -> Option<SecretString> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

/// Merges the configuration file and the flags (flags win).
fn effective_config(args: &MirrorArgs) -> Result<MirrorConfig, CliError> {
    let from_file = args
        .config_file
        .as_deref()
        .map(|p| MirrorConfig::from_file(p, &quay_tools::credentials::process_env))
        .transpose()?;
    let mut cfg = if let Some(c) = from_file {
        c
    } else {
        let (Some(s), Some(d)) = (&args.source, &args.destination) else {
            return Err(CliError::usage(
                "give --config-file, or both --source and --destination",
            ));
        };
        // A configuration of just the two servers, filled from the flags below.
        MirrorConfig::from_servers(s, d)?
    };
    if let Some(s) = &args.source {
        cfg.source.url = normalize_server(s)?;
    }
    if let Some(d) = &args.destination {
        cfg.destination.url = normalize_server(d)?;
    }
    let side = |server: &mut ServerConfig,
                api_url: &Option<String>,
                token_file: &Option<PathBuf>,
                token_env: &str|
     -> Result<(), CliError> {
        if let Some(u) = api_url {
            server.api_url = Some(normalize_server(u)?);
        }
        if let Some(f) = token_file {
            server.api_token = Some(output::secret_file(f)?);
        } else if let Some(t) = env_secret(token_env) {
            server.api_token = Some(t);
        }
        if server.registry_username.is_none() {
            if let Some(u) = &args.username {
                server.registry_username = Some(u.clone());
                server.registry_password = match &args.password_file {
                    Some(f) => Some(output::secret_file(f)?),
                    None => env_secret("OMPS_MIRROR_PASSWORD"),
                };
            }
        }
        Ok(())
    };
    side(
        &mut cfg.source,
        &args.source_api_url,
        &args.source_token_file,
        "OMPS_MIRROR_SOURCE_TOKEN",
    )?;
    side(
        &mut cfg.destination,
        &args.destination_api_url,
        &args.destination_token_file,
        "OMPS_MIRROR_DESTINATION_TOKEN",
    )?;
    // Explicit credentials win over the configuration file (and, later, the auth files).
    for (server, flag) in [
        (
            &mut cfg.source,
            args.src_creds.as_ref().or(args.creds.as_ref()),
        ),
        (
            &mut cfg.destination,
            args.dest_creds.as_ref().or(args.creds.as_ref()),
        ),
    ] {
        if let Some(value) = flag {
            if let quay_client::RegistryAuth::Basic { username, password } =
                quay_client::oci::auth_file::parse_creds(value)?
            {
                server.registry_username = Some(username);
                server.registry_password = Some(password);
            }
        }
    }
    if args.failover {
        std::mem::swap(&mut cfg.source, &mut cfg.destination);
    }
    for r in &args.repositories {
        cfg.repositories.push(parse_repository(r)?);
    }
    cfg.auto_discovery |= args.auto_discovery;
    cfg.skip_broken_images |= args.skip_broken_images;
    cfg.insecure_skip_verify |= args.conn.insecure();
    cfg.organizations.extend(args.organizations.iter().cloned());
    cfg.tags.extend(args.tags.iter().cloned());
    if let Some(j) = args.jobs {
        cfg.concurrency = Some(usize::from(j));
    }
    if cfg.repositories.is_empty() && !cfg.auto_discovery {
        return Err(CliError::usage(
            "nothing to mirror: give repositories (configuration or --repository) or --auto-discovery",
        ));
    }
    Ok(cfg)
}

/// Prints each item as it finishes (text mode) and advances the progress bar.
struct Progress {
    bar: indicatif::ProgressBar,
    lines: bool,
}

impl MirrorObserver for Progress {
    fn started(&self, total: usize) {
        self.bar.set_length(total as u64);
    }

    fn item_done(&self, r: &ItemResult) {
        self.bar.inc(1);
        if self.lines {
            let line = item_line(r);
            if self.bar.is_hidden() {
                println!("{line}");
            } else {
                self.bar.suspend(|| println!("{line}"));
            }
        }
    }
}

fn item_line(r: &ItemResult) -> String {
    let digest = r.digest.as_deref().unwrap_or("-");
    match r.status {
        ItemStatus::Copied => format!(
            "copied        {}  {digest}  ({} blobs sent, {} already present, {} bytes)",
            r.image, r.blobs_copied, r.blobs_skipped, r.bytes_copied
        ),
        ItemStatus::Unchanged => format!("unchanged     {}  {digest}", r.image),
        ItemStatus::Planned => format!("would copy    {}  {digest}", r.image),
        ItemStatus::Failed => format!(
            "FAILED        {}  {}",
            r.image,
            r.error.as_deref().unwrap_or("")
        ),
        ItemStatus::NotAttempted => format!("not attempted {}", r.image),
    }
}

fn print_text_report(report: &MirrorReport) {
    let s = &report.summary;
    for n in report.organizations.iter().chain(&report.repositories) {
        match &n.error {
            Some(e) => println!("{:<13} {}  {e}", n.status, n.name),
            None => println!("{:<13} {}", n.status, n.name),
        }
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    println!(
        "mirror{}: {} copied, {} unchanged, {} planned, {} failed, {} not attempted",
        if report.dry_run { " (dry run)" } else { "" },
        s.copied,
        s.unchanged,
        s.planned,
        s.failed,
        s.not_attempted
    );
    if !report.errors.is_empty() {
        eprintln!("failures:");
        for e in &report.errors {
            eprintln!("  {e}");
        }
    }
}

/// Runs `omps mirror`.
pub async fn run(args: &MirrorArgs) -> Result<Exit, CliError> {
    let cfg = effective_config(args)?;
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    let mut settings = args.conn.http_settings()?;
    if settings.ca_bundle_pem.is_none() {
        if let Some(p) = &cfg.ca_bundle {
            settings = settings.ca_bundle_pem(output::read_ca_bundle(p)?);
        }
    }
    if cfg.insecure_skip_verify {
        settings = settings.danger_accept_invalid_certs(true);
    }
    if settings.danger_accept_invalid_certs {
        eprintln!("warning: TLS certificate verification is off for every call");
    }
    let oauth = args.oauth.token(&settings).await?;
    let mut cfg = cfg;
    for server in [&mut cfg.source, &mut cfg.destination] {
        server.url = plain_http_fallback(&server.url, &settings).await?;
    }
    let mut src = Endpoint::connect_with_token(
        &cfg.source,
        cfg.source.api_token.clone().or(oauth.clone()),
        &settings,
    )?;
    let mut dst = Endpoint::connect_with_token(
        &cfg.destination,
        cfg.destination.api_token.clone().or(oauth.clone()),
        &settings,
    )?;
    for (ep, server) in [(&mut src, &cfg.source), (&mut dst, &cfg.destination)] {
        auth_file_credentials(args, ep, server, oauth.is_some(), &settings)?;
    }
    if !args.no_preflight {
        let timeout = Duration::from_secs(args.preflight_timeout.max(1));
        for (role, ep) in [("source", &src), ("destination", &dst)] {
            match quay_tools::preflight::check_side(role, &ep.registry, timeout).await {
                Ok(r) => {
                    if format_is_text(args) {
                        eprintln!(
                            "preflight: {role} {} reachable ({}){}",
                            registry_host(&ep.url),
                            r.connected_to,
                            if r.authentication_required {
                                ", asks for credentials"
                            } else {
                                ""
                            }
                        );
                    }
                }
                Err(e) => return Err(preflight_error(e)),
            }
        }
    }
    let plan_opts = {
        let mut p = PlanOptions::default();
        p.repositories.clone_from(&cfg.repositories);
        p.auto_discovery = cfg.auto_discovery;
        p.organizations.clone_from(&cfg.organizations);
        p.discovery = match args.discovery {
            DiscoveryArg::Auto => Discovery::Auto,
            DiscoveryArg::QuayApi => Discovery::QuayApi,
            DiscoveryArg::Registry => Discovery::RegistryCatalog,
        };
        p.tags = TagFilter::new(cfg.tags.clone());
        p
    };
    let plan = quay_tools::mirror::plan(&src, &dst, &plan_opts).await?;
    let mut exec = ExecuteOptions::default();
    exec.concurrency = cfg.concurrency.unwrap_or(4);
    exec.skip_broken_images = cfg.skip_broken_images;
    exec.dry_run = args.dry_run;
    exec.copy = CopyOptions::default().blob_concurrency(usize::from(args.blob_jobs));
    let progress = Progress {
        bar: output::progress_bar(plan.items.len() as u64, "mirror"),
        lines: format_is_text(args),
    };
    let report = quay_tools::mirror::execute(&src, &dst, &plan, &exec, &progress).await;
    progress.bar.finish_and_clear();
    match args.output {
        Output::Json | Output::Yaml => output::print_document(
            args.output,
            &serde_json::to_value(&report).unwrap_or_else(|_| serde_json::json!({})),
        ),
        Output::Text => print_text_report(&report),
    }
    Ok(if report.is_success() {
        Exit::Success
    } else {
        Exit::Refused
    })
}

/// A preflight failure, with the hint for TLS spoken to a plain-HTTP registry (what the
/// original configuration's scheme-less servers meet first).
fn preflight_error(e: quay_tools::ToolsError) -> CliError {
    let hint = match &e {
        quay_tools::ToolsError::Preflight { host, error, .. } => {
            crate::registry::tls_hint(error, host).map(|_| {
                format!(
                    "{host} answers in plain HTTP, not TLS: if that is expected (a test \
                     registry), give --skip-tls-verify (plain HTTP allowed, as podman and skopeo \
                     do) or write the server as http://{host}"
                )
            })
        }
        _ => None,
    };
    let e = match (e, &hint) {
        // Ours names the flag; the transport's own hint would repeat it.
        (quay_tools::ToolsError::Preflight { role, host, error }, Some(_)) => {
            quay_tools::ToolsError::Preflight {
                role,
                host,
                error: Box::new(match *error {
                    quay_client::QuayError::Transport { source } => {
                        quay_client::QuayError::Transport {
                            source: source.with_hint(None),
                        }
                    }
                    other => other,
                }),
            }
        }
        (other, _) => other,
    };
    let e = CliError::from(e);
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

/// A side with no credentials of its own (no registry user, no API token) reads the container
/// auth files.
fn auth_file_credentials(
    args: &MirrorArgs,
    ep: &mut Endpoint,
    server: &ServerConfig,
    oauth: bool,
    settings: &quay_client::HttpSettings,
) -> Result<(), CliError> {
    let anonymous = server.registry_username.is_none()
        && server.registry_password.is_none()
        && server.api_token.is_none()
        && !oauth;
    if !anonymous {
        return Ok(());
    }
    let auth = args.auth.resolve(None, &registry_host(&ep.url), None)?;
    if !matches!(auth, quay_client::RegistryAuth::Anonymous) {
        ep.registry = quay_client::RegistryClient::builder(ep.url.as_str())
            .http_settings(settings.clone())
            .auth(auth)
            .build()?;
    }
    Ok(())
}

/// With verification off, an `https://` registry that answers in plain HTTP is used over HTTP
/// (skopeo's and podman's `--tls-verify=false`): the URL to use.
async fn plain_http_fallback(
    url: &url::Url,
    settings: &quay_client::HttpSettings,
) -> Result<url::Url, CliError> {
    if !settings.danger_accept_invalid_certs || url.scheme() != "https" {
        return Ok(url.clone());
    }
    let probe = quay_client::RegistryClient::builder(url.as_str())
        .http_settings(settings.clone())
        .build()?
        .with_plain_http_fallback()
        .await;
    if probe.base_url().scheme() == "http" {
        let mut plain = url.clone();
        // `http` and `https` are both special schemes: switching between them cannot fail.
        let _ = plain.set_scheme("http");
        eprintln!(
            "warning: {} answers in plain HTTP; TLS verification is off, so using HTTP",
            registry_host(url)
        );
        return Ok(plain);
    }
    Ok(url.clone())
}

fn format_is_text(args: &MirrorArgs) -> bool {
    args.output == Output::Text
}
