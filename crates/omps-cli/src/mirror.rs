//! `omps mirror`: registry-to-registry sync (replaces the Quay tools' `quay_sync`).
//!
//! Parses arguments and the configuration file, then calls `quay_client::mirror` (plan and
//! execute) and `quay_client::preflight`; this module only formats the results.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use quay_client::mirror::{
    Discovery, Endpoint, ExecuteOptions, ImageRef, ItemResult, ItemStatus, MirrorConfig,
    MirrorObserver, MirrorReport, PlanOptions, ServerConfig, TagFilter, normalize_server,
    registry_host,
};
use quay_client::{CopyOptions, QuayError, SecretString};

use crate::error::{CliError, Exit};
use crate::output::{self, ConnArgs, OAuthArgs, Output};

/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

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
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub oauth: OAuthArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
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

fn read_config(path: &Path) -> Result<MirrorConfig, CliError> {
    let text = read_yaml_file(path)?;
    Ok(MirrorConfig::from_value(
        &text,
        &quay_client::credentials::process_env,
    )?)
}

/// Reads a YAML file (size-limited) into JSON with the bounded parser of `manifest-bundle`.
pub fn read_yaml_file(path: &Path) -> Result<serde_json::Value, CliError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::config(format!("cannot read {}: {e}", path.display())))?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| CliError::config(format!("cannot read {}: {e}", path.display())))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(CliError::config(format!(
            "{} is larger than {MAX_CONFIG_BYTES} bytes",
            path.display()
        )));
    }
    let limits = manifest_bundle::YamlLimits {
        max_bytes: usize::try_from(MAX_CONFIG_BYTES).unwrap_or(usize::MAX),
        max_depth: 32,
        max_nodes: 100_000,
        ..manifest_bundle::YamlLimits::default()
    };
    let doc = manifest_bundle::yaml::parse(&text, &limits)
        .map_err(|e| CliError::config(format!("{}: {e}", path.display())))?;
    Ok(doc.map_or(serde_json::Value::Null, |d| d.to_json()))
}

fn env_secret(var: &str) -> Option<SecretString> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
}

/// Merges the configuration file and the flags (flags win).
fn effective_config(args: &MirrorArgs) -> Result<MirrorConfig, CliError> {
    let from_file = args.config_file.as_deref().map(read_config).transpose()?;
    let mut cfg = if let Some(c) = from_file {
        c
    } else {
        let (Some(s), Some(d)) = (&args.source, &args.destination) else {
            return Err(CliError::usage(
                "give --config-file, or both --source and --destination",
            ));
        };
        // An empty configuration in this project's format, filled from the flags below.
        MirrorConfig::from_value(
            &serde_json::json!({"servers": {"primary": {"url": s}, "secondary": {"url": d}}}),
            &|_| None,
        )?
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
    if args.failover {
        std::mem::swap(&mut cfg.source, &mut cfg.destination);
    }
    for r in &args.repositories {
        cfg.repositories.push(ImageRef::parse(r)?);
    }
    cfg.auto_discovery |= args.auto_discovery;
    cfg.skip_broken_images |= args.skip_broken_images;
    cfg.insecure_skip_verify |= args.conn.insecure_skip_tls_verify;
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
    let mut conn = args.conn.connect_options()?;
    if conn.ca_bundle_pem.is_none() {
        if let Some(p) = &cfg.ca_bundle {
            conn.ca_bundle_pem = Some(output::read_ca_bundle(p)?);
        }
    }
    conn.insecure_skip_verify |= cfg.insecure_skip_verify;
    if conn.insecure_skip_verify {
        eprintln!("warning: TLS certificate verification is off for every call");
    }
    let oauth = args.oauth.token(&conn).await?;
    let src = Endpoint::connect_with_token(
        &cfg.source,
        cfg.source.api_token.clone().or(oauth.clone()),
        &conn,
    )?;
    let dst = Endpoint::connect_with_token(
        &cfg.destination,
        cfg.destination.api_token.clone().or(oauth),
        &conn,
    )?;
    if !args.no_preflight {
        let timeout = Duration::from_secs(args.preflight_timeout.max(1));
        for (role, ep) in [("source", &src), ("destination", &dst)] {
            match quay_client::preflight::check_registry(&ep.registry, timeout).await {
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
                Err(e) => return Err(preflight_error(role, &ep.url, e).into()),
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
    let plan = quay_client::mirror::plan(&src, &dst, &plan_opts).await?;
    let mut exec = ExecuteOptions::default();
    exec.concurrency = cfg.concurrency.unwrap_or(4);
    exec.skip_broken_images = cfg.skip_broken_images;
    exec.dry_run = args.dry_run;
    exec.copy = CopyOptions::default().blob_concurrency(usize::from(args.blob_jobs));
    let progress = Progress {
        bar: output::progress_bar(plan.items.len() as u64, "mirror"),
        lines: format_is_text(args),
    };
    let report = quay_client::mirror::execute(&src, &dst, &plan, &exec, &progress).await;
    progress.bar.finish_and_clear();
    match args.output {
        Output::Json => output::print_json(
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

fn format_is_text(args: &MirrorArgs) -> bool {
    args.output == Output::Text
}

/// Prefixes a preflight failure with the role, keeping its category (and exit code).
fn preflight_error(role: &str, url: &url::Url, e: QuayError) -> QuayError {
    let what = format!(
        "preflight failed for the {role} registry {}",
        registry_host(url)
    );
    let strip = |c: &str| c.trim_start_matches("preflight: ").to_owned();
    match e {
        QuayError::Transport { context, source } => QuayError::Transport {
            context: format!("{what}: {}", strip(&context)),
            source,
        },
        QuayError::Timeout { context } => QuayError::Timeout {
            context: format!("{what}: {}", strip(&context)),
        },
        QuayError::Config(m) => QuayError::Config(format!("{what}: {m}")),
        other => other,
    }
}
