//! `omps cluster …`: ordered apply of a manifest directory with readiness waits, a secret from
//! files, the infrastructure name. Calls `cluster_apply`; here only login flags, progress
//! display and result formatting.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use cluster_apply::{
    ApplyOptions, Cluster, DEFAULT_FIELD_MANAGER, DryRun, Event, KubeconfigSource, Limits, Order,
    RetryPolicy, SecretFromFiles, WaitMode,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use crate::error::{CliError, Exit};
use crate::output::{self, Output, TextOrJson};

/// The exit statuses of `omps cluster …`: the cluster-apply specification's, the documented
/// exception to the table of `omps --help`.
pub const CLUSTER_EXIT_TABLE: [(u8, &str); 7] = [
    (
        0,
        "everything applied and ready (a dry run: everything validated)",
    ),
    (
        1,
        "the API refused (422, 403, conflict, missing namespace, not OpenShift) or a request failed after retries",
    ),
    (
        2,
        "usage or input error found before anything was applied (bad YAML, stray files, missing name, `<INFRAID>` without OpenShift)",
    ),
    (3, "readiness timeout (also: a kind that is never served)"),
    (
        4,
        "an object reached a failed state (CSV Failed, CrashLoopBackOff, Job Failed, ...)",
    ),
    (
        5,
        "login or authentication failed (401, OAuth refusal, expired token)",
    ),
    (130, "interrupted (what was applied stays applied)"),
];

/// `omps cluster --help` after the options: login, exit statuses, examples.
pub fn cluster_help() -> String {
    use std::fmt::Write as _;
    let mut text = String::from(
        "Login, in this order: --server with --token / --token-file / OMPS_CLUSTER_TOKEN; --server with
--username and --password-env VAR or --password-file (OpenShift OAuth, what `oc login -u -p`
does); otherwise the kubeconfig (--kubeconfig, else KUBECONFIG, else ~/.kube/config, else the
in-cluster service account) with --context. Tokens and passwords are never printed.

Exit status (these commands use their specification's codes, not the table of `omps --help`):
",
    );
    for (code, meaning) in CLUSTER_EXIT_TABLE {
        let _ = writeln!(text, "  {code:<3}  {meaning}");
    }
    text.push_str(
        "
Examples:
  omps cluster apply ./quay_only_manifests
  omps cluster apply ./odf_quay_manifests --dry-run -o json
  omps cluster --server https://api.ocp.example.com:6443 --username kubeadmin \\
      --password-file ~/.kubeadmin apply ./odf_only_manifests --timeout-for Subscription=20m
  omps cluster secret-from-file init-config-bundle-secret -n quay --from-file config.yaml=./config.yaml
  omps cluster infrastructure-name",
    );
    text
}

/// Arguments of `omps cluster`.
#[derive(Debug, Args)]
pub struct ClusterCmd {
    #[command(flatten)]
    login: LoginArgs,
    /// Namespace for namespaced objects that name none (default: the kubeconfig context's,
    /// else `default`).
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    namespace: Option<String>,
    /// Output format: text (progress on stderr, results on stdout) or one JSON document.
    #[arg(short = 'o', long, value_enum, default_value_t = TextOrJson::Text, global = true)]
    pub output: TextOrJson,
    #[command(subcommand)]
    command: ClusterSub,
}

#[derive(Debug, Subcommand)]
enum ClusterSub {
    /// Apply a directory of numbered manifests in order (server-side apply), waiting after each
    /// file until its objects are ready.
    #[command(
        after_help = "Files: the directory's own .yaml/.yml/.json files in byte order of their names (printed
first; a warning when a numeric reading would differ), several documents per file, `List`s
expanded, <INFRAID> replaced with the cluster's infrastructure name. Everything is validated
before the first call. Nothing is applied after a failed file unless --keep-going.

Durations: 500ms, 90s, 20m, 1h (a bare number is seconds).

Examples:
  omps cluster apply ./quay_only_manifests
  omps cluster apply ./odf_quay_manifests --dry-run=client
  omps cluster apply ./manifests --timeout 45m --timeout-for Subscription=20m --wait-for ConfigMap=never -o json"
    )]
    Apply(ApplyArgs),
    /// Create a secret from files (`oc create secret generic NAME --from-file=[KEY=]PATH`).
    #[command(
        name = "secret-from-file",
        after_help = "Values are never printed; --dry-run shows keys and sizes.\n\nExamples:\n  omps cluster secret-from-file init-config-bundle-secret -n quay --from-file config.yaml=./config.yaml\n  omps cluster secret-from-file tls -n app --from-file tls.crt=./cert.pem --from-file tls.key=./key.pem --type kubernetes.io/tls --replace"
    )]
    SecretFromFile(SecretArgs),
    /// Print the cluster's infrastructure name (OpenShift), the ID MachineSets embed.
    #[command(
        name = "infrastructure-name",
        after_help = "Examples:\n  omps cluster infrastructure-name\n  omps cluster infrastructure-name -o json"
    )]
    InfrastructureName,
}

/// How `omps cluster` logs in.
#[derive(Debug, Clone, Args)]
struct LoginArgs {
    /// Kubeconfig file (default: KUBECONFIG, else ~/.kube/config, else the in-cluster service
    /// account).
    #[arg(long, global = true, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: current-context).
    #[arg(long, global = true, value_name = "NAME")]
    context: Option<String>,
    /// API server URL; with it, log in with --token/--token-file or --username instead of the
    /// kubeconfig.
    #[arg(long, global = true, value_name = "URL")]
    server: Option<String>,
    /// Bearer token. Prefer OMPS_CLUSTER_TOKEN or --token-file: command lines are visible to
    /// other users.
    #[arg(
        long,
        global = true,
        env = "OMPS_CLUSTER_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = secret_value
    )]
    token: Option<SecretString>,
    /// File holding the bearer token.
    #[arg(
        long,
        global = true,
        env = "OMPS_CLUSTER_TOKEN_FILE",
        value_name = "FILE"
    )]
    token_file: Option<PathBuf>,
    /// OpenShift user name (OAuth login, as `oc login -u`).
    #[arg(long, global = true, value_name = "USER")]
    username: Option<String>,
    /// Name of the environment variable holding the password.
    #[arg(long, global = true, value_name = "VAR")]
    password_env: Option<String>,
    /// File holding the password.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with = "password_env"
    )]
    password_file: Option<PathBuf>,
    /// PEM certificates to trust for the API server and the OAuth server (--server logins).
    #[arg(long, global = true, value_name = "PEM")]
    certificate_authority: Option<PathBuf>,
    /// Do not verify TLS certificates (API and OAuth server). Test clusters only.
    #[arg(long, global = true)]
    insecure_skip_tls_verify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DryRunArg {
    /// Validate, order and template; print what would be sent; send nothing that changes.
    Client,
    /// Send every apply with dryRun=All: the server validates, nothing persists, no waits.
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OrderArg {
    /// Byte order of the whole file name (upstream's; the seed's mixed-width names need it).
    Bytes,
    /// Leading number ascending, ties by byte order, files without a number last.
    Numeric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WaitArg {
    Never,
    Exists,
    Ready,
}

#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // independent switches of the command line
struct ApplyArgs {
    /// The directory of manifests.
    dir: PathBuf,
    /// Dry run: `--dry-run` alone is `--dry-run=server`.
    #[arg(
        long,
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "server",
        value_name = "MODE"
    )]
    dry_run: Option<DryRunArg>,
    /// After a failed file, go on with the next one (the exit status stays non-zero).
    #[arg(long)]
    keep_going: bool,
    /// Field manager of server-side apply; keep it stable across runs.
    #[arg(long, default_value = DEFAULT_FIELD_MANAGER, value_name = "NAME")]
    field_manager: String,
    /// Take over fields that other field managers own.
    #[arg(long)]
    force_conflicts: bool,
    /// Use --namespace even for objects that name their own.
    #[arg(long, requires = "namespace")]
    force_namespace: bool,
    /// File order.
    #[arg(long, value_enum, default_value_t = OrderArg::Bytes)]
    order: OrderArg,
    /// Readiness timeout per file.
    #[arg(long, default_value = "30m", value_parser = parse_duration, value_name = "DURATION")]
    timeout: Duration,
    /// Readiness timeout for files holding a kind (`KIND[.group]=DURATION`), repeatable.
    #[arg(long, value_parser = parse_kind_duration, value_name = "KIND=DURATION")]
    timeout_for: Vec<(String, Duration)>,
    /// Bound on the whole run.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    total_timeout: Option<Duration>,
    /// First poll interval while waiting (doubles up to 15 s); at least 10ms.
    #[arg(long, default_value = "2s", value_parser = parse_poll_interval, value_name = "DURATION")]
    poll_interval: Duration,
    /// How long a recoverable bad state (CrashLoopBackOff, ResolutionFailed, ...) may last
    /// before it fails the run.
    #[arg(long, default_value = "120s", value_parser = parse_duration, value_name = "DURATION")]
    fail_grace: Duration,
    /// What to wait for, per kind (`KIND[.group]=never|exists|ready`), repeatable.
    #[arg(long, value_parser = parse_wait_for, value_name = "KIND=MODE")]
    wait_for: Vec<(String, WaitMode)>,
    /// Apply every file in order without waiting.
    #[arg(long)]
    no_wait: bool,
    /// Pause after each ready file.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    settle: Option<Duration>,
}

#[derive(Debug, Args)]
struct SecretArgs {
    /// Secret name.
    name: String,
    /// A file to add: the key is the file's name unless given (`KEY=PATH`); repeatable.
    #[arg(long = "from-file", required = true, value_parser = parse_from_file, value_name = "[KEY=]PATH")]
    from_file: Vec<(Option<String>, PathBuf)>,
    /// Secret type.
    #[arg(long = "type", default_value = "Opaque", value_name = "TYPE")]
    secret_type: String,
    /// Replace an existing secret (keys not given are removed).
    #[arg(long)]
    replace: bool,
    /// Read the files and show keys and sizes; send nothing.
    #[arg(long)]
    dry_run: bool,
}

/// A token is a secret from the start: no `Debug` of the parsed command line shows it.
#[allow(clippy::unnecessary_wraps)] // the signature of a clap value parser
fn secret_value(s: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(s))
}

/// Reads `500ms`, `90s`, `20m`, `1h`, or plain seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 500ms, 90s, 20m, 1h)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

fn parse_poll_interval(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_millis(10) {
        return Err("the poll interval must be at least 10ms".into());
    }
    Ok(d)
}

fn split_kind<'a>(text: &'a str, form: &str) -> Result<(String, &'a str), String> {
    text.split_once('=')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v))
        .ok_or_else(|| format!("{text:?} is not {form}"))
}

fn parse_kind_duration(text: &str) -> Result<(String, Duration), String> {
    let (kind, d) = split_kind(text, "KIND=DURATION")?;
    Ok((kind, parse_duration(d)?))
}

fn parse_wait_for(text: &str) -> Result<(String, WaitMode), String> {
    let (kind, mode) = split_kind(text, "KIND=never|exists|ready")?;
    let mode = match WaitArg::from_str(mode, true)? {
        WaitArg::Never => WaitMode::Never,
        WaitArg::Exists => WaitMode::Exists,
        WaitArg::Ready => WaitMode::Ready,
    };
    Ok((kind, mode))
}

fn parse_from_file(text: &str) -> Result<(Option<String>, PathBuf), String> {
    match text.split_once('=') {
        Some((key, path)) if !path.is_empty() => Ok((Some(key.to_owned()), PathBuf::from(path))),
        Some(_) => Err(format!("{text:?}: no path after '='")),
        None if text.is_empty() => Err("empty --from-file".into()),
        None => Ok((None, PathBuf::from(text))),
    }
}

impl LoginArgs {
    fn token(&self) -> Result<Option<SecretString>, CliError> {
        if let Some(t) = self
            .token
            .as_ref()
            .filter(|t| !t.expose_secret().is_empty())
        {
            return Ok(Some(t.clone()));
        }
        self.token_file
            .as_deref()
            .map(output::secret_file)
            .transpose()
    }

    fn password(&self) -> Result<SecretString, CliError> {
        if let Some(var) = &self.password_env {
            return std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(SecretString::from)
                .ok_or_else(|| {
                    CliError::usage(format!("--password-env {var}: the variable is not set"))
                });
        }
        if let Some(file) = &self.password_file {
            return output::secret_file(file);
        }
        Err(CliError::usage(
            "--username needs --password-env VAR or --password-file FILE (never a password on the command line)",
        ))
    }

    /// Logs in: --server with a token or a password, else the kubeconfig.
    async fn connect(&self) -> Result<Cluster, CliError> {
        let token = self.token()?;
        let Some(server) = &self.server else {
            if token.is_some() || self.username.is_some() {
                return Err(CliError::usage(
                    "--token, --token-file and --username need --server (or use a kubeconfig)",
                ));
            }
            if self.certificate_authority.is_some() || self.insecure_skip_tls_verify {
                return Err(CliError::usage(
                    "--certificate-authority and --insecure-skip-tls-verify apply to --server logins; a kubeconfig names its own",
                ));
            }
            let source = KubeconfigSource {
                path: self.kubeconfig.clone(),
                context: self.context.clone(),
            };
            return Ok(Cluster::from_kubeconfig(
                &source,
                Limits::default(),
                RetryPolicy::default(),
            )
            .await?);
        };
        if self.kubeconfig.is_some() || self.context.is_some() {
            return Err(CliError::usage(
                "--server replaces the kubeconfig: give either, not both",
            ));
        }
        let url = url::Url::parse(server)
            .map_err(|e| CliError::usage(format!("--server {server:?}: {e}")))?;
        let mut builder = Cluster::builder(url);
        builder = match (token, &self.username) {
            (Some(t), None) => builder.token(t),
            (None, Some(user)) => builder.password(user.clone(), self.password()?),
            (Some(_), Some(_)) => {
                return Err(CliError::usage("give a token or --username, not both"));
            }
            (None, None) => {
                return Err(CliError::usage(
                    "--server needs --token, --token-file, OMPS_CLUSTER_TOKEN or --username",
                ));
            }
        };
        if let Some(ca) = &self.certificate_authority {
            builder = builder.certificate_authority(output::read_ca_bundle(ca)?);
        }
        if self.insecure_skip_tls_verify {
            eprintln!("warning: TLS verification is off for the API and OAuth servers");
            builder = builder.insecure_skip_tls_verify(true);
        }
        Ok(builder.build().await?)
    }
}

impl ClusterCmd {
    /// The output format.
    pub fn output(&self) -> Output {
        self.output.into()
    }
}

/// Runs `omps cluster …`.
pub async fn run(cmd: &ClusterCmd) -> Result<Exit, CliError> {
    crate::ims::init_logging(
        &std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,cluster_apply=info".to_owned()),
    );
    let json = cmd.output == TextOrJson::Json;
    match &cmd.command {
        ClusterSub::Apply(args) => apply(cmd, args, json).await,
        ClusterSub::SecretFromFile(args) => {
            let cluster = cmd.login.connect().await?;
            secret_from_file(&cluster, cmd.namespace.clone(), args, json).await
        }
        ClusterSub::InfrastructureName => {
            let cluster = cmd.login.connect().await?;
            let name = cluster_apply::infrastructure_name(&cluster).await?;
            if json {
                output::print_json(&json!({"result": "success", "infrastructure_name": name}));
            } else {
                println!("{name}");
            }
            Ok(Exit::Success)
        }
    }
}

fn options(args: &ApplyArgs, namespace: Option<String>) -> ApplyOptions {
    ApplyOptions {
        field_manager: args.field_manager.clone(),
        force_conflicts: args.force_conflicts,
        dry_run: match args.dry_run {
            None => DryRun::None,
            Some(DryRunArg::Client) => DryRun::Client,
            Some(DryRunArg::Server) => DryRun::Server,
        },
        namespace,
        force_namespace: args.force_namespace,
        order: match args.order {
            OrderArg::Bytes => Order::Bytes,
            OrderArg::Numeric => Order::Numeric,
        },
        timeout: args.timeout,
        timeout_for: args.timeout_for.iter().cloned().collect(),
        total_timeout: args.total_timeout,
        poll_interval: args.poll_interval,
        fail_grace: args.fail_grace,
        wait_for: args.wait_for.iter().cloned().collect(),
        no_wait: args.no_wait,
        keep_going: args.keep_going,
        settle: args.settle,
        ..ApplyOptions::default()
    }
}

async fn apply(cmd: &ClusterCmd, args: &ApplyArgs, json: bool) -> Result<Exit, CliError> {
    let options = options(args, cmd.namespace.clone());
    // A report-shaped failure document, so that scripts read one shape whatever failed.
    let early = |error: CliError| {
        let report = json!({
            "result": "failure",
            "error": error.to_string(),
            "dry_run": options.dry_run,
            "files": [],
        });
        error.with_document(report)
    };
    let cluster = cmd.login.connect().await.map_err(early)?;
    let printer = Printer::new(json);
    let interrupt = async {
        crate::ims::termination_signal().await;
    };
    let outcome = cluster_apply::apply_dir_until(
        &cluster,
        &args.dir,
        &options,
        &|event| printer.event(event),
        interrupt,
    )
    .await;
    printer.finish();
    let report = serde_json::to_value(&outcome.report)
        .map_err(|e| CliError::internal(format!("cannot serialise the report: {e}")))?;
    match outcome.error {
        None => {
            if json {
                output::print_json(&report);
            } else {
                println!("{}", summary(&outcome.report));
            }
            Ok(Exit::Success)
        }
        Some(error) => Err(CliError::from(error).with_document(report)),
    }
}

/// `applied 5 objects from 4 files: 3 created, 1 configured, 1 unchanged; all ready`.
fn summary(report: &cluster_apply::Report) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut objects = 0;
    for o in report.files.iter().flat_map(|f| &f.objects) {
        objects += 1;
        *counts.entry(o.action.as_str()).or_default() += 1;
    }
    let actions: Vec<String> = ["created", "configured", "unchanged", "skipped"]
        .iter()
        .filter_map(|a| counts.get(a).map(|n| format!("{n} {a}")))
        .collect();
    let tail = match report.dry_run {
        DryRun::None => "all ready",
        DryRun::Client => "client dry run: nothing sent",
        DryRun::Server => "server dry run: nothing persisted",
    };
    format!(
        "applied {objects} object{} from {} file{}: {}; {tail}",
        plural(objects),
        report.files.len(),
        plural(report.files.len()),
        if actions.is_empty() {
            "nothing".to_owned()
        } else {
            actions.join(", ")
        }
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Shows the run as it happens: results on stdout (stderr with `-o json`), progress on stderr;
/// on a terminal a live line with the file being waited on, the latest status and the time.
struct Printer {
    json: bool,
    live: Option<Mutex<Live>>,
}

#[derive(Default)]
struct Live {
    bar: Option<indicatif::ProgressBar>,
    waiting: String,
}

impl Printer {
    fn new(json: bool) -> Self {
        Self {
            json,
            live: std::io::stderr()
                .is_terminal()
                .then(|| Mutex::new(Live::default())),
        }
    }

    fn live(&self) -> Option<std::sync::MutexGuard<'_, Live>> {
        self.live
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// A progress line on stderr (above the live line on a terminal).
    fn progress(&self, line: &str) {
        match self.live().as_ref().and_then(|l| l.bar.clone()) {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// A result line: stdout for people, stderr when stdout carries the JSON document.
    fn result(&self, line: &str) {
        if self.json {
            self.progress(line);
            return;
        }
        match self.live().as_ref().and_then(|l| l.bar.clone()) {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    fn event(&self, event: Event) {
        match event {
            Event::Order(files) => self.progress(&format!("apply order: {}", files.join(", "))),
            Event::Warning(w) => self.progress(&format!("warning: {w}")),
            Event::Applied {
                file,
                object,
                action,
                dry_run,
            } => {
                let suffix = if dry_run { " (dry run)" } else { "" };
                self.result(&format!("{file}: {object} {}{suffix}", action.as_str()));
            }
            Event::WouldSend { file, body } => {
                let text = serde_json::to_string_pretty(&body).unwrap_or_default();
                self.result(&format!("{file}: would apply:\n{text}"));
            }
            Event::Waiting { file, objects } => {
                let what = format!("{file}: waiting for {objects} object{}", plural(objects));
                match self.live() {
                    Some(mut live) => {
                        live.bar = Some(spinner(&what));
                        live.waiting = what;
                    }
                    None => eprintln!("{what} …"),
                }
            }
            Event::Status {
                file,
                object,
                status,
                elapsed,
            } => match self.live() {
                Some(live) => {
                    if let Some(bar) = &live.bar {
                        bar.set_message(format!("{}: {object}: {status}", live.waiting));
                    }
                }
                None => eprintln!("{file}: {object}: {status} ({:.1}s)", elapsed.as_secs_f64()),
            },
            Event::FileReady { file, elapsed } => {
                if let Some(mut live) = self.live() {
                    if let Some(bar) = live.bar.take() {
                        bar.finish_and_clear();
                    }
                }
                self.progress(&format!("{file}: ready in {:.1}s", elapsed.as_secs_f64()));
            }
            _ => {}
        }
    }

    /// Clears the live line (after a failure no `FileReady` did).
    fn finish(&self) {
        if let Some(mut live) = self.live() {
            if let Some(bar) = live.bar.take() {
                bar.finish_and_clear();
            }
        }
    }
}

fn spinner(message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

async fn secret_from_file(
    cluster: &Cluster,
    namespace: Option<String>,
    args: &SecretArgs,
    json: bool,
) -> Result<Exit, CliError> {
    let spec = SecretFromFiles {
        name: args.name.clone(),
        namespace,
        files: args.from_file.clone(),
        secret_type: Some(args.secret_type.clone()),
        replace: args.replace,
    };
    let outcome = cluster_apply::create_secret_from_files(cluster, &spec, args.dry_run).await?;
    if json {
        let keys: Vec<Value> = outcome
            .keys
            .iter()
            .map(|(k, n)| json!({"key": k, "bytes": n}))
            .collect();
        output::print_json(&json!({
            "result": "success",
            "action": outcome.action,
            "name": args.name,
            "namespace": outcome.namespace,
            "type": args.secret_type,
            "dry_run": args.dry_run,
            "keys": keys,
        }));
    } else {
        let keys: Vec<String> = outcome
            .keys
            .iter()
            .map(|(k, n)| format!("{k} ({n} bytes)"))
            .collect();
        println!(
            "secret {}/{} {}: {}",
            outcome.namespace,
            args.name,
            outcome.action,
            keys.join(", ")
        );
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_spec_writes_them() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("20m").unwrap(), Duration::from_secs(1200));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        for bad in ["", "m", "10d", "-1s", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_poll_interval("5ms").is_err());
        assert_eq!(
            parse_poll_interval("10ms").unwrap(),
            Duration::from_millis(10)
        );
        assert_eq!(
            parse_kind_duration("Subscription.operators.coreos.com=20m").unwrap(),
            (
                "Subscription.operators.coreos.com".to_owned(),
                Duration::from_secs(1200)
            )
        );
        assert!(parse_kind_duration("=20m").is_err());
        assert_eq!(
            parse_wait_for("ConfigMap=never").unwrap(),
            ("ConfigMap".to_owned(), WaitMode::Never)
        );
        assert!(parse_wait_for("ConfigMap=sometimes").is_err());
        assert_eq!(
            parse_from_file("config.yaml=/tmp/c").unwrap(),
            (Some("config.yaml".to_owned()), PathBuf::from("/tmp/c"))
        );
        assert_eq!(
            parse_from_file("/tmp/c").unwrap(),
            (None, PathBuf::from("/tmp/c"))
        );
        assert!(parse_from_file("k=").is_err());
    }

    #[test]
    fn a_token_given_as_a_flag_is_kept_secret() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            cmd: ClusterCmd,
        }
        let parsed = Wrapper::try_parse_from([
            "omps",
            "--server",
            "https://api.example:6443",
            "--token",
            "sha256~flag-token-canary",
            "infrastructure-name",
        ])
        .unwrap();
        let token = parsed.cmd.login.token().unwrap().unwrap();
        assert_eq!(token.expose_secret(), "sha256~flag-token-canary");
        let shown = format!("{parsed:?}");
        assert!(!shown.contains("flag-token-canary"), "{shown}");
    }
}
