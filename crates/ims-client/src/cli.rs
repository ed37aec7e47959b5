//! The IMS Python Helper's command line (spec §2) as a library entry point: parsing with the
//! helper's option names, defaults, environment fall-backs and mounted-file conventions, then
//! running the command and producing the one JSON document for stdout.
//!
//! A binary stays thin: set up logging on stderr, call [`run`] with the process arguments, the
//! environment and a signal future, print [`RunOutput::stdout`], exit with
//! [`RunOutput::exit_code`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use crate::error::ImsError;
use crate::ims::{Arch, ImsClient, check_uuid};
use crate::manifest::{ArtifactKind, python_json};
use crate::recipe::{
    Distro, RecipeRequest, job_status_json, recipe_json, set_job_status, upload_recipe_until,
};
use crate::s3::{ProgressFn, S3Client};
use crate::upload::{UploadRequest, failure_json, upload_preflighted};

/// Where Kubernetes mounts the Keycloak admin client's secret in IMS pods.
pub const DEFAULT_OAUTH_CONFIG_DIR: &str = "/etc/admin-client-auth";
/// The helper's default IMS URL.
pub const DEFAULT_IMS_URL: &str = "https://api-gw-service-nmn.local/apis/ims";

/// Options valid before or after the subcommand words (upstream only honoured them after).
#[derive(Debug, Clone, Args)]
#[allow(clippy::struct_excessive_bools)] // independent switches of the command line
pub struct Common {
    /// Log level (DEBUG, INFO, WARNING, ERROR); default: env LOG_LEVEL, else INFO.
    #[arg(short = 'l', long = "log-level", global = true)]
    pub log_level: Option<String>,
    /// Per-request timeout of every IMS, token and S3 call, in seconds.
    #[arg(short = 't', long, global = true, default_value_t = 720)]
    pub timeout: u64,
    /// IMS base URL.
    #[arg(long = "ims-url", global = true, default_value = DEFAULT_IMS_URL)]
    pub ims_url: String,
    /// PEM CA bundle for IMS and the token endpoint (default: env CA_CERT).
    #[arg(long, global = true)]
    pub cert: Option<PathBuf>,
    /// Turn TLS verification off for IMS and the token endpoint (warned about).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// OAuth2 client id (default: env OAUTH_CLIENT_ID, else `client-id` in the mounted directory).
    #[arg(long = "oauth-client-id", global = true)]
    pub oauth_client_id: Option<String>,
    /// OAuth2 client secret; prefer `--oauth-client-secret-file` (command lines are visible).
    #[arg(long = "oauth-client-secret", global = true, value_parser = secret_value)]
    pub oauth_client_secret: Option<SecretString>,
    /// File holding the OAuth2 client secret.
    #[arg(long = "oauth-client-secret-file", global = true)]
    pub oauth_client_secret_file: Option<PathBuf>,
    /// Token endpoint URL (default: env OAUTH_CLIENT_ENDPOINT, else `endpoint` in the mounted
    /// directory).
    #[arg(long = "token-url", global = true)]
    pub token_url: Option<String>,
    /// How the client id and secret reach the token endpoint: HTTP Basic (what the Python
    /// helper sends) or `client_id`/`client_secret` form fields.
    #[arg(long = "token-auth", global = true, value_enum, default_value_t = TokenAuthArg::Basic)]
    pub token_auth: TokenAuthArg,
    /// S3 endpoint (default: env S3_ENDPOINT, else S3_HOST).
    #[arg(long = "s3-endpoint", global = true)]
    pub s3_endpoint: Option<String>,
    /// S3 access key (default: env S3_ACCESS_KEY).
    #[arg(long = "s3-access-key", global = true)]
    pub s3_access_key: Option<String>,
    /// S3 secret key (default: env S3_SECRET_KEY).
    #[arg(long = "s3-secret-key", global = true, value_parser = secret_value)]
    pub s3_secret_key: Option<SecretString>,
    /// `false/off/no/f/0`: no verification (warned); `true/on/yes/t/1`: system roots;
    /// otherwise a PEM CA path. Default: env S3_SSL_VERIFY, else "False".
    #[arg(long = "s3-ssl-verify", global = true)]
    pub s3_ssl_verify: Option<String>,
    /// S3 bucket (default: env S3_BUCKET).
    #[arg(long = "s3-bucket", global = true)]
    pub s3_bucket: Option<String>,
    /// SigV4 region (default: env AWS_REGION, else us-east-1).
    #[arg(long = "s3-region", global = true)]
    pub s3_region: Option<String>,
    /// Virtual-hosted S3 addressing instead of path-style.
    #[arg(long = "s3-virtual-hosted", global = true)]
    pub s3_virtual_hosted: bool,
    /// Do not compare S3 ETags (stores whose ETags are not MD5s); md5sum is still compared.
    #[arg(long = "no-etag-check", global = true)]
    pub no_etag_check: bool,
}

/// The exit statuses of the helper's command line (spec §11), as listed in its help.
pub const EXIT_TABLE: [(i32, &str); 5] = [
    (0, "success"),
    (
        1,
        "failure: the JSON document's \"error\" says what failed (what this run created was cleaned up)",
    ),
    (2, "usage or local validation error (nothing was sent)"),
    (130, "interrupted by SIGINT (after the clean-up)"),
    (143, "terminated by SIGTERM (after the clean-up)"),
];

/// The help text after the options: credential precedence and [`EXIT_TABLE`].
pub fn after_help() -> String {
    use std::fmt::Write as _;
    let mut text = String::from(
        "Common options are accepted before or after the subcommand words. Credentials: option >\n\
         environment variable > file in $OAUTH_CONFIG_DIR (default /etc/admin-client-auth).\n\
         One JSON document on stdout; logs on stderr.\n\nExit status:\n",
    );
    for (code, meaning) in EXIT_TABLE {
        let _ = writeln!(text, "  {code:<3}  {meaning}");
    }
    text
}

/// `ims-helper [COMMON] …`
#[derive(Debug, Parser)]
#[command(
    name = "ims-helper",
    version,
    about = "Upload image artifacts to S3 and record them in IMS",
    after_help = after_help()
)]
pub struct Cli {
    /// Common options.
    #[command(flatten)]
    pub common: Common,
    /// What to do.
    #[command(subcommand)]
    pub command: Group,
}

/// Top-level command groups.
#[derive(Debug, Subcommand)]
pub enum Group {
    /// Image commands.
    Image {
        /// The image command.
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Recipe commands.
    Recipe {
        /// The recipe command.
        #[command(subcommand)]
        command: RecipeCommand,
    },
}

/// `image …`
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Upload artifacts, write the manifest, link it, record the job's result.
    #[command(name = "upload_artifacts")]
    UploadArtifacts(UploadArgs),
    /// Set a job's status.
    #[command(name = "set_job_status")]
    SetJobStatus {
        /// Job id (a whole UUID).
        #[arg(value_name = "IMS_JOB_ID")]
        job_id: String,
        /// One of the IMS job statuses.
        #[arg(value_name = "JOB_STATUS")]
        status: String,
    },
}

/// `image upload_artifacts` arguments.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)]
pub struct UploadArgs {
    /// Image name.
    #[arg(value_name = "IMAGE_NAME")]
    pub name: String,
    /// Job whose result the image becomes (default: env IMS_JOB_ID).
    #[arg(value_name = "IMS_JOB_ID")]
    pub job_id: Option<String>,
    /// Root filesystem (squashfs).
    #[arg(short = 'r', long = "rootfs")]
    pub rootfs: Option<PathBuf>,
    /// Kernel.
    #[arg(short = 'k', long = "kernel")]
    pub kernel: Option<PathBuf>,
    /// Initrd.
    #[arg(short = 'i', long = "initrd")]
    pub initrd: Option<PathBuf>,
    /// Debug kernel.
    #[arg(short = 'd', long = "debug")]
    pub debug: Option<PathBuf>,
    /// Boot parameters.
    #[arg(short = 'p', long = "boot-parameters")]
    pub boot_parameters: Option<PathBuf>,
    /// Architecture of a new record.
    #[arg(long, value_enum, default_value_t = ArchArg::X86_64)]
    pub arch: ArchArg,
    /// Reuse an identical uploaded image or an empty record of the same name.
    #[arg(long = "skip-existing")]
    pub skip_existing: bool,
    /// Upload without a rootfs and leave the record unlinked.
    #[arg(long = "allow-no-rootfs")]
    pub allow_no_rootfs: bool,
}

/// `recipe …`
#[derive(Debug, Subcommand)]
pub enum RecipeCommand {
    /// Register a kiwi-ng recipe archive (gzipped tar).
    Upload {
        /// Recipe name.
        name: String,
        /// The archive.
        file: PathBuf,
        /// Linux distribution.
        #[arg(long, value_enum)]
        distro: DistroArg,
        /// Template variable, repeatable.
        #[arg(long = "template", value_name = "KEY=VALUE", value_parser = parse_template)]
        template: Vec<(String, String)>,
        /// Architecture.
        #[arg(long, value_enum)]
        arch: Option<ArchArg>,
        /// Whether the recipe requires DKMS.
        #[arg(long = "require-dkms")]
        require_dkms: Option<bool>,
    },
}

/// `--arch` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchArg {
    /// x86_64
    #[value(name = "x86_64")]
    X86_64,
    /// aarch64
    #[value(name = "aarch64")]
    Aarch64,
}

impl From<ArchArg> for Arch {
    fn from(a: ArchArg) -> Self {
        match a {
            ArchArg::X86_64 => Arch::X86_64,
            ArchArg::Aarch64 => Arch::Aarch64,
        }
    }
}

/// `--token-auth` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenAuthArg {
    /// `Authorization: Basic base64(id:secret)`.
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

impl From<TokenAuthArg> for omps_http::oauth::ClientAuth {
    fn from(a: TokenAuthArg) -> Self {
        match a {
            TokenAuthArg::Basic => Self::Basic,
            TokenAuthArg::Body => Self::Body,
        }
    }
}

/// `--distro` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DistroArg {
    /// sles12
    Sles12,
    /// sles15
    Sles15,
    /// centos7
    Centos7,
}

impl From<DistroArg> for Distro {
    fn from(d: DistroArg) -> Self {
        match d {
            DistroArg::Sles12 => Distro::Sles12,
            DistroArg::Sles15 => Distro::Sles15,
            DistroArg::Centos7 => Distro::Centos7,
        }
    }
}

/// Secret option values are kept as [`SecretString`]s from the start, so that no `Debug` of the
/// parsed command line shows them.
#[allow(clippy::unnecessary_wraps)] // the signature of a clap value parser
fn secret_value(s: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(s))
}

fn parse_template(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// Reads environment variables; tests pass a map instead of the process environment.
pub trait Environment {
    /// The variable's value, when set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Environment for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// OAuth2 client credentials, resolved with precedence flag > environment > mounted file.
#[derive(Debug)]
pub struct OAuthSettings {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: SecretString,
    /// Token endpoint.
    pub token_url: String,
}

/// One of flag, environment variable, file `name` in `dir`; the file's content is trimmed.
fn layered(
    flag: Option<String>,
    env: &dyn Environment,
    var: &str,
    dir: Option<&Path>,
    file: &str,
    what: &str,
) -> Result<String, ImsError> {
    if let Some(v) = flag.filter(|v| !v.is_empty()) {
        return Ok(v);
    }
    if let Some(v) = env.var(var) {
        return Ok(v);
    }
    let Some(dir) = dir else {
        return Err(ImsError::InvalidInput(format!(
            "no {what}: give --{} or set {var} (no mounted {DEFAULT_OAUTH_CONFIG_DIR})",
            file.replace("endpoint", "token-url")
                .replace("client-", "oauth-client-")
        )));
    };
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ImsError::InvalidInput(format!("no {what}: cannot read {}: {e}", path.display()))
    })?;
    Ok(text.trim().to_owned())
}

/// Resolves the OAuth2 settings (spec §2).
pub fn oauth_settings(common: &Common, env: &dyn Environment) -> Result<OAuthSettings, ImsError> {
    let dir = env
        .var("OAUTH_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(DEFAULT_OAUTH_CONFIG_DIR)))
        .filter(|d| d.is_dir());
    let dir = dir.as_deref();
    let client_id = layered(
        common.oauth_client_id.clone(),
        env,
        "OAUTH_CLIENT_ID",
        dir,
        "client-id",
        "OAuth2 client id",
    )?;
    let secret_flag = match &common.oauth_client_secret_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| {
                    ImsError::InvalidInput(format!("cannot read {}: {e}", path.display()))
                })?
                .trim()
                .to_owned(),
        ),
        None => common
            .oauth_client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned()),
    };
    let client_secret = layered(
        secret_flag,
        env,
        "OAUTH_CLIENT_SECRET",
        dir,
        "client-secret",
        "OAuth2 client secret",
    )?;
    let token_url = layered(
        common.token_url.clone(),
        env,
        "OAUTH_CLIENT_ENDPOINT",
        dir,
        "endpoint",
        "token endpoint",
    )?;
    if token_url.starts_with("http://") {
        tracing::warn!(
            token_url,
            "the token endpoint is plain http: the client secret travels in clear"
        );
    }
    Ok(OAuthSettings {
        client_id,
        client_secret: SecretString::from(client_secret),
        token_url,
    })
}

/// `--s3-ssl-verify`, read the helper's way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Verify {
    /// No verification (warned about).
    Off,
    /// System roots.
    SystemRoots,
    /// A PEM bundle added to the system roots.
    CaFile(PathBuf),
}

/// Reads an `--s3-ssl-verify` / `S3_SSL_VERIFY` value.
pub fn s3_verify(value: &str) -> S3Verify {
    match value.trim().to_ascii_lowercase().as_str() {
        "false" | "off" | "no" | "f" | "0" => S3Verify::Off,
        "true" | "on" | "yes" | "t" | "1" => S3Verify::SystemRoots,
        _ => S3Verify::CaFile(PathBuf::from(value.trim())),
    }
}

fn read_ca(path: &Path) -> Result<Vec<u8>, ImsError> {
    std::fs::read(path)
        .map_err(|e| ImsError::Config(format!("cannot read CA file {}: {e}", path.display())))
}

fn http_settings(common: &Common) -> crate::HttpSettings {
    crate::default_http_settings().timeout(Duration::from_secs(common.timeout.max(1)))
}

/// Builds the IMS client (with its token source) from the command line and environment.
pub fn ims_from(common: &Common, env: &dyn Environment) -> Result<ImsClient, ImsError> {
    let mut settings = http_settings(common);
    if let Some(cert) = common
        .cert
        .clone()
        .or_else(|| env.var("CA_CERT").map(PathBuf::from))
    {
        settings = settings.ca_bundle_pem(read_ca(&cert)?);
    }
    if common.insecure {
        tracing::warn!("--insecure: TLS verification is off for IMS and the token endpoint");
        settings = settings.danger_accept_invalid_certs(true);
    }
    let oauth = oauth_settings(common, env)?;
    let tokens = omps_http::oauth::ClientCredentials::builder(oauth.token_url)
        .client_id(oauth.client_id)
        .client_secret(oauth.client_secret)
        .client_auth(common.token_auth.into())
        .http_settings(settings.clone())
        .build()
        .map_err(|e| ImsError::from_http(crate::Service::Token, e))?;
    ImsClient::builder(common.ims_url.clone())
        .http_settings(settings)
        .token_source(Arc::new(tokens))
        .build()
}

/// Builds the S3 client from the command line and environment.
pub fn s3_from(common: &Common, env: &dyn Environment) -> Result<S3Client, ImsError> {
    s3_with_progress(common, env, None)
}

fn s3_with_progress(
    common: &Common,
    env: &dyn Environment,
    progress: Option<ProgressFn>,
) -> Result<S3Client, ImsError> {
    let need = |flag: &Option<String>, vars: &[&str], what: &str| {
        flag.clone()
            .filter(|v| !v.is_empty())
            .or_else(|| vars.iter().find_map(|v| env.var(v)))
            .ok_or_else(|| {
                ImsError::InvalidInput(format!(
                    "no {what}: give the option or set {}",
                    vars.join(" or ")
                ))
            })
    };
    let endpoint = need(
        &common.s3_endpoint,
        &["S3_ENDPOINT", "S3_HOST"],
        "S3 endpoint",
    )?;
    let access = need(&common.s3_access_key, &["S3_ACCESS_KEY"], "S3 access key")?;
    let secret_flag = common
        .s3_secret_key
        .as_ref()
        .map(|s| s.expose_secret().to_owned());
    let secret = need(&secret_flag, &["S3_SECRET_KEY"], "S3 secret key")?;
    let bucket = need(&common.s3_bucket, &["S3_BUCKET"], "S3 bucket")?;
    let verify = common
        .s3_ssl_verify
        .clone()
        .or_else(|| env.var("S3_SSL_VERIFY"))
        .unwrap_or_else(|| "False".to_owned());
    let mut settings = http_settings(common);
    match s3_verify(&verify) {
        S3Verify::Off => {
            if endpoint.starts_with("https://") {
                tracing::warn!("S3 TLS verification is off (--s3-ssl-verify {verify})");
            }
            settings = settings.danger_accept_invalid_certs(true);
        }
        S3Verify::SystemRoots => {}
        S3Verify::CaFile(path) => settings = settings.ca_bundle_pem(read_ca(&path)?),
    }
    let region = common
        .s3_region
        .clone()
        .or_else(|| env.var("AWS_REGION"))
        .unwrap_or_else(|| "us-east-1".to_owned());
    let mut builder = S3Client::builder(endpoint)
        .bucket(bucket)
        .region(region)
        .credentials(access, SecretString::from(secret))
        .virtual_hosted(common.s3_virtual_hosted)
        .http_settings(settings);
    if let Some(p) = progress {
        builder = builder.progress(p);
    }
    builder.build()
}

/// What a binary prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// 0 success, 1 failure, 2 usage error, 130 interrupted by SIGINT, 143 by SIGTERM.
    pub exit_code: i32,
    /// The JSON document (or help text) for stdout, newline-terminated.
    pub stdout: String,
    /// A message for stderr (usage errors), if any.
    pub stderr: Option<String>,
}

/// The log level the command line asks for (`-l`, else env `LOG_LEVEL`, else INFO), as a
/// `tracing` filter directive.
pub fn log_filter(args: &[OsString], env: &dyn Environment) -> String {
    let level = Cli::try_parse_from(args)
        .ok()
        .and_then(|c| c.common.log_level)
        .or_else(|| env.var("LOG_LEVEL"))
        .unwrap_or_else(|| "INFO".to_owned());
    match level.to_ascii_uppercase().as_str() {
        "DEBUG" | "NOTSET" => "debug",
        "WARNING" | "WARN" => "warn",
        "ERROR" | "CRITICAL" => "error",
        _ => "info",
    }
    .to_owned()
}

fn document(v: &Value) -> String {
    python_json(v) + "\n"
}

fn usage(message: String) -> RunOutput {
    RunOutput {
        exit_code: 2,
        stdout: document(&serde_json::json!({"error": message, "result": "failure"})),
        stderr: Some(message),
    }
}

fn is_interrupted(e: &ImsError) -> bool {
    match e {
        ImsError::Interrupted => true,
        ImsError::Upload { source, .. } => is_interrupted(source),
        _ => false,
    }
}

fn finish(result: Result<Value, ImsError>, signal: Option<Signal>) -> RunOutput {
    match result {
        Ok(doc) => RunOutput {
            exit_code: 0,
            stdout: document(&doc),
            stderr: None,
        },
        Err(e) => {
            let exit_code = if e.is_usage() {
                2
            } else if is_interrupted(&e) {
                signal.unwrap_or(Signal::Interrupt).exit_code()
            } else {
                1
            };
            RunOutput {
                exit_code,
                stdout: document(&failure_json(&e)),
                stderr: (exit_code == 2).then(|| e.to_string()),
            }
        }
    }
}

/// The signal that interrupted a run. The exit status is 128 + its number, as a shell reports a
/// process killed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C): exit 130.
    Interrupt,
    /// SIGTERM: exit 143.
    Terminate,
}

impl Signal {
    /// 130 or 143.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// What a binary adds to a run besides the arguments and the environment.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Receives the progress of every file upload (for a progress bar).
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Parses `args` (program name first), runs the command and returns what to print. `interrupt`
/// completes on SIGINT/SIGTERM; uploads then clean up and the exit code is 130.
pub async fn run(
    args: Vec<OsString>,
    env: &dyn Environment,
    interrupt: impl Future<Output = ()> + Send,
) -> RunOutput {
    let interrupt = async {
        interrupt.await;
        Signal::Interrupt
    };
    run_with(args, env, interrupt, Hooks::default()).await
}

/// [`run`] with the signal that `interrupt` yields deciding the exit status (130 or 143), and
/// the binary's [`Hooks`].
pub async fn run_with(
    args: Vec<OsString>,
    env: &dyn Environment,
    interrupt: impl Future<Output = Signal> + Send,
    hooks: Hooks,
) -> RunOutput {
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    RunOutput {
                        exit_code: 0,
                        stdout: text,
                        stderr: None,
                    }
                }
                _ => usage(text.trim_end().to_owned()),
            };
        }
    };
    let received = std::sync::OnceLock::new();
    let interrupt = async {
        let signal = interrupt.await;
        let _ = received.set(signal);
    };
    let result = execute(cli, env, interrupt, &hooks).await;
    finish(result, received.get().copied())
}

async fn execute(
    cli: Cli,
    env: &dyn Environment,
    interrupt: impl Future<Output = ()> + Send,
    hooks: &Hooks,
) -> Result<Value, ImsError> {
    let common = &cli.common;
    let mut interrupt = std::pin::pin!(interrupt);
    match cli.command {
        Group::Image {
            command: ImageCommand::SetJobStatus { job_id, status },
        } => {
            check_uuid("IMS job id", &job_id)?;
            status.parse::<crate::JobStatus>()?;
            let ims = ims_from(common, env)?;
            // One PATCH: an interrupt just stops waiting for it.
            let job = tokio::select! {
                r = set_job_status(&ims, &job_id, &status) => r?,
                () = &mut interrupt => return Err(ImsError::Interrupted),
            };
            Ok(job_status_json(&job))
        }
        Group::Image {
            command: ImageCommand::UploadArtifacts(args),
        } => {
            let req = upload_request(args, common, env);
            // Local problems are reported before any client is built or any call is made;
            // nothing exists yet, so an interrupt while the files are hashed just stops.
            let files = tokio::select! {
                r = crate::upload::preflight(&req) => r?,
                () = &mut interrupt => return Err(ImsError::Interrupted),
            };
            let ims = ims_from(common, env)?;
            let s3 = s3_with_progress(common, env, hooks.progress.clone())?;
            let outcome = upload_preflighted(&ims, &s3, &req, files, interrupt).await?;
            Ok(outcome.to_json())
        }
        Group::Recipe {
            command:
                RecipeCommand::Upload {
                    name,
                    file,
                    distro,
                    template,
                    arch,
                    require_dkms,
                },
        } => {
            let req = RecipeRequest {
                name,
                path: file,
                distro: distro.into(),
                template: template.into_iter().collect(),
                arch: arch.map(Arch::from),
                require_dkms,
            };
            let ims = ims_from(common, env)?;
            let s3 = s3_with_progress(common, env, hooks.progress.clone())?;
            Ok(recipe_json(
                &upload_recipe_until(&ims, &s3, &req, interrupt).await?,
            ))
        }
    }
}

fn upload_request(args: UploadArgs, common: &Common, env: &dyn Environment) -> UploadRequest {
    let mut files = BTreeMap::new();
    for (kind, path) in [
        (ArtifactKind::Rootfs, args.rootfs),
        (ArtifactKind::Kernel, args.kernel),
        (ArtifactKind::Initrd, args.initrd),
        (ArtifactKind::DebugKernel, args.debug),
        (ArtifactKind::BootParameters, args.boot_parameters),
    ] {
        if let Some(p) = path {
            files.insert(kind, p);
        }
    }
    UploadRequest {
        name: args.name,
        job_id: args.job_id.or_else(|| env.var("IMS_JOB_ID")),
        files,
        arch: args.arch.into(),
        skip_existing: args.skip_existing,
        allow_no_rootfs: args.allow_no_rootfs,
        no_etag_check: common.no_etag_check,
    }
}

/// Redacts the values of secret-carrying options in an argument list, for logging it.
pub fn redacted_args(args: &[OsString]) -> Vec<String> {
    let secret_flags = ["--oauth-client-secret", "--s3-secret-key"];
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for a in args {
        let a = a.to_string_lossy().into_owned();
        if hide_next {
            out.push("[REDACTED]".to_owned());
            hide_next = false;
        } else if let Some(flag) = secret_flags
            .iter()
            .find(|f| a.starts_with(&format!("{f}=")))
        {
            out.push(format!("{flag}=[REDACTED]"));
        } else {
            hide_next = secret_flags.contains(&a.as_str());
            out.push(a);
        }
    }
    out
}
