//! `omps quay ...`: Quay administration (organizations, repositories, robots, proxy caches,
//! first-user initialize, declarative apply). Calls `quay_client`; only formats results here.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use quay_client::{
    ExposeSecret as _, NewProxyCache, NewRepository, ProxyCacheConfig, QuayError, QuayRestClient,
    Repository, RepositoryQuery, Robot, SecretString, Visibility,
};
use quay_tools::apply::{self, ApplyConfig, ApplyOptions, ApplyReport};
use serde_json::{Value, json};

use crate::error::{CliError, Exit};
use crate::output::{self, Output, QuayArgs};

/// Arguments of `omps quay`.
#[derive(Debug, Args)]
pub struct QuayCmd {
    #[command(flatten)]
    quay: QuayArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text, global = true)]
    output: Output,
    #[command(subcommand)]
    command: QuaySub,
}

#[derive(Debug, Subcommand)]
enum QuaySub {
    /// Organizations.
    #[command(
        subcommand,
        after_help = "Examples:\n  omps quay org get team-a --output json\n  omps quay org create team-a --email team-a@example.com\n  omps quay org delete old-team"
    )]
    Org(OrgCmd),
    /// Repositories.
    #[command(
        subcommand,
        after_help = "Examples:\n  omps quay repo list team-a\n  omps quay repo create team-a/app --visibility public\n  omps quay repo visibility team-a/app private\n  omps quay repo delete team-a/app"
    )]
    Repo(RepoCmd),
    /// Robot accounts: `<org>+<name>` for organization robots, `<name>` for your own.
    #[command(
        subcommand,
        after_help = "Examples:\n  omps quay robot list team-a\n  omps quay robot create team-a+builder --description 'CI builds' --show-token\n  omps quay robot get mine\n  omps quay robot delete team-a+builder"
    )]
    Robot(RobotCmd),
    /// Proxy-cache configuration of an organization.
    #[command(
        subcommand,
        name = "proxy-cache",
        after_help = "Examples:\n  omps quay proxy-cache get cache-org\n  omps quay proxy-cache create cache-org --upstream registry.example.com --upstream-username reader --upstream-password-file pw.txt\n  omps quay proxy-cache create cache-org --upstream other.example.com --overwrite\n  omps quay proxy-cache delete cache-org"
    )]
    ProxyCache(ProxyCmd),
    /// Create the first user of a fresh Quay (`POST /api/v1/user/initialize`); needs no token.
    #[command(
        after_help = "Examples:\n  omps quay --quay-url https://quay.example.com initialize --username quayadmin --password-file pw.txt --email admin@example.com --token-output token.txt"
    )]
    Initialize(InitArgs),
    /// Make organizations, robots and proxy caches match a YAML file; idempotent.
    #[command(
        after_help = "A second run after a successful one changes nothing and says so.\n\nExamples:\n  omps quay apply -f quay.yaml --dry-run\n  OMPS_QUAY_TOKEN_FILE=/run/secrets/quay omps quay apply -f quay.yaml --output json"
    )]
    Apply(ApplyArgs),
}

#[derive(Debug, Subcommand)]
enum OrgCmd {
    /// Show an organization.
    Get {
        /// Organization name.
        name: String,
    },
    /// Create an organization.
    Create {
        /// Organization name.
        name: String,
        /// Contact e-mail.
        #[arg(long)]
        email: Option<String>,
    },
    /// Delete an organization.
    Delete {
        /// Organization name.
        name: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VisibilityArg {
    Public,
    Private,
}

impl From<VisibilityArg> for Visibility {
    fn from(v: VisibilityArg) -> Self {
        match v {
            VisibilityArg::Public => Visibility::Public,
            VisibilityArg::Private => Visibility::Private,
        }
    }
}

#[derive(Debug, Subcommand)]
enum RepoCmd {
    /// List the repositories of a namespace (all pages).
    List {
        /// Namespace (organization or user).
        namespace: String,
    },
    /// Create a repository `<namespace>/<name>`.
    Create {
        /// `<namespace>/<name>`.
        repository: String,
        /// Visibility.
        #[arg(long, value_enum, default_value_t = VisibilityArg::Private)]
        visibility: VisibilityArg,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Change a repository's visibility.
    Visibility {
        /// `<namespace>/<name>`.
        repository: String,
        /// New visibility.
        #[arg(value_enum)]
        visibility: VisibilityArg,
    },
    /// Delete a repository.
    Delete {
        /// `<namespace>/<name>`.
        repository: String,
    },
}

#[derive(Debug, Subcommand)]
enum RobotCmd {
    /// List an organization's robots.
    List {
        /// Organization.
        org: String,
        /// Include the robots' tokens in the output.
        #[arg(long)]
        show_token: bool,
    },
    /// Show a robot (`<org>+<name>`, or `<name>` for your own).
    Get {
        /// Robot.
        robot: String,
        /// Include the robot's token in the output.
        #[arg(long)]
        show_token: bool,
    },
    /// Create a robot.
    Create {
        /// Robot (`<org>+<name>`, or `<name>` for your own).
        robot: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Include the new robot's token in the output.
        #[arg(long)]
        show_token: bool,
    },
    /// Delete a robot.
    Delete {
        /// Robot (`<org>+<name>`, or `<name>` for your own).
        robot: String,
    },
}

#[derive(Debug, Subcommand)]
enum ProxyCmd {
    /// Show an organization's proxy-cache configuration.
    Get {
        /// Organization.
        org: String,
    },
    /// Configure an organization as a proxy cache.
    Create {
        /// Organization.
        org: String,
        /// Upstream registry (`host[/namespace]`).
        #[arg(long)]
        upstream: String,
        /// Upstream user.
        #[arg(long)]
        upstream_username: Option<String>,
        /// File with the upstream password (or set OMPS_UPSTREAM_PASSWORD).
        #[arg(long, value_name = "FILE")]
        upstream_password_file: Option<PathBuf>,
        /// Cache expiration in seconds (server default 86400).
        #[arg(long)]
        expiration_s: Option<u64>,
        /// Do not verify the upstream's TLS certificate.
        #[arg(long)]
        insecure: bool,
        /// Replace an existing configuration (delete, then create).
        #[arg(long)]
        overwrite: bool,
    },
    /// Remove an organization's proxy-cache configuration.
    Delete {
        /// Organization.
        org: String,
    },
}

#[derive(Debug, Args)]
struct InitArgs {
    /// User name of the first (super)user.
    #[arg(long)]
    username: String,
    /// File with the password (or set OMPS_QUAY_INIT_PASSWORD).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// E-mail address.
    #[arg(long)]
    email: Option<String>,
    /// Ask for an OAuth token with all scopes and write it to this file (`-` for stdout). The
    /// token is shown once; keep it safe.
    #[arg(long, value_name = "FILE")]
    token_output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// The desired state (YAML; see docs/quay-admin.md).
    #[arg(long, short = 'f', value_name = "FILE")]
    file: PathBuf,
    /// Print the plan, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Replace proxy caches whose configuration differs (delete, then create).
    #[arg(long)]
    overwrite_proxycache: bool,
}

fn split_repo(s: &str) -> Result<(&str, &str), CliError> {
    match s.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns, name))
        }
        _ => Err(CliError::usage(format!(
            "{s:?} is not <namespace>/<repository>"
        ))),
    }
}

fn org_json(o: &quay_client::Organization) -> Value {
    let mut v = Value::Object(o.extra.clone());
    v["name"] = o.name.clone().into();
    v["email"] = o.email.clone().into();
    v["is_admin"] = o.is_admin.into();
    v["is_member"] = o.is_member.into();
    v
}

fn repo_json(r: &Repository) -> Value {
    json!({
        "namespace": r.namespace, "name": r.name, "kind": r.kind,
        "description": r.description, "is_public": r.is_public, "state": r.state,
    })
}

fn robot_json(r: &Robot, show_token: bool) -> Value {
    let mut v = json!({"name": r.name, "description": r.description, "created": r.created});
    if show_token {
        v["token"] = r
            .token
            .as_ref()
            .map(|t| t.expose_secret().to_owned())
            .into();
    }
    v
}

fn proxy_json(p: Option<&ProxyCacheConfig>) -> Value {
    match p {
        Some(p) => json!({"configured": true, "upstream_registry": p.upstream_registry,
                          "expiration_s": p.expiration_s, "insecure": p.insecure}),
        None => json!({"configured": false}),
    }
}

/// What a command produced: a JSON document and its text rendering.
struct Done {
    json: Value,
    text: String,
    exit: Exit,
}

impl Done {
    fn ok(json: Value, text: impl Into<String>) -> Self {
        Self {
            json,
            text: text.into(),
            exit: Exit::Success,
        }
    }
}

impl QuayCmd {
    /// The output format asked for.
    pub fn output(&self) -> Output {
        self.output
    }
}

/// Runs `omps quay ...`.
pub async fn run(cmd: &QuayCmd) -> Result<Exit, CliError> {
    let done = dispatch(cmd).await?;
    match cmd.output {
        Output::Json | Output::Yaml => {
            let mut doc = done.json;
            if doc.get("result").is_none() {
                doc["result"] = "success".into();
            }
            output::print_document(cmd.output, &doc);
        }
        Output::Text => {
            if !done.text.is_empty() {
                println!("{}", done.text);
            }
        }
    }
    Ok(done.exit)
}

async fn dispatch(cmd: &QuayCmd) -> Result<Done, CliError> {
    match &cmd.command {
        QuaySub::Initialize(a) => return initialize(&cmd.quay, a).await,
        QuaySub::Apply(a) => return apply_cmd(&cmd.quay, a).await,
        _ => {}
    }
    let c = cmd.quay.client(true).await?;
    match &cmd.command {
        QuaySub::Org(o) => org(&c, o).await,
        QuaySub::Repo(r) => repo(&c, r).await,
        QuaySub::Robot(r) => robot(&c, r).await,
        QuaySub::ProxyCache(p) => proxy(&c, p).await,
        QuaySub::Initialize(_) | QuaySub::Apply(_) => unreachable!("handled above"),
    }
}

async fn org(c: &QuayRestClient, cmd: &OrgCmd) -> Result<Done, CliError> {
    match cmd {
        OrgCmd::Get { name } => {
            let o = c.get_organization(name).await?;
            let text = format!(
                "organization {}\n  email: {}\n  admin: {}\n  member: {}",
                o.name,
                o.email.as_deref().unwrap_or("-"),
                o.is_admin,
                o.is_member
            );
            Ok(Done::ok(json!({"organization": org_json(&o)}), text))
        }
        OrgCmd::Create { name, email } => {
            c.create_organization(name, email.as_deref()).await?;
            Ok(Done::ok(
                json!({"created": {"organization": name}}),
                format!("created organization {name}"),
            ))
        }
        OrgCmd::Delete { name } => {
            c.delete_organization(name).await?;
            Ok(Done::ok(
                json!({"deleted": {"organization": name}}),
                format!("deleted organization {name}"),
            ))
        }
    }
}

async fn repo(c: &QuayRestClient, cmd: &RepoCmd) -> Result<Done, CliError> {
    match cmd {
        RepoCmd::List { namespace } => {
            let q = RepositoryQuery {
                namespace: Some(namespace.clone()),
                ..RepositoryQuery::default()
            };
            let repos = c.list_repositories(&q).await?;
            let text = repos
                .iter()
                .map(|r| {
                    format!(
                        "{}/{}\t{}",
                        r.namespace,
                        r.name,
                        if r.is_public { "public" } else { "private" }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Done::ok(
                json!({"repositories": repos.iter().map(repo_json).collect::<Vec<_>>()}),
                text,
            ))
        }
        RepoCmd::Create {
            repository,
            visibility,
            description,
        } => {
            let (ns, name) = split_repo(repository)?;
            c.create_repository(&NewRepository {
                namespace: ns.to_owned(),
                repository: name.to_owned(),
                visibility: (*visibility).into(),
                description: description.clone(),
                repo_kind: None,
            })
            .await?;
            let vis: Visibility = (*visibility).into();
            Ok(Done::ok(
                json!({"created": {"repository": repository, "visibility": vis.as_str()}}),
                format!("created repository {repository} ({})", vis.as_str()),
            ))
        }
        RepoCmd::Visibility {
            repository,
            visibility,
        } => {
            let (ns, name) = split_repo(repository)?;
            let vis: Visibility = (*visibility).into();
            c.change_visibility(ns, name, vis).await?;
            Ok(Done::ok(
                json!({"changed": {"repository": repository, "visibility": vis.as_str()}}),
                format!("repository {repository} is now {}", vis.as_str()),
            ))
        }
        RepoCmd::Delete { repository } => {
            let (ns, name) = split_repo(repository)?;
            c.delete_repository(ns, name).await?;
            Ok(Done::ok(
                json!({"deleted": {"repository": repository}}),
                format!("deleted repository {repository}"),
            ))
        }
    }
}

/// `org+name` → (Some(org), name); `name` → (None, name).
fn split_robot(s: &str) -> Result<(Option<&str>, &str), CliError> {
    match s.split_once('+') {
        Some((o, n)) if !o.is_empty() && !n.is_empty() => Ok((Some(o), n)),
        Some(_) => Err(CliError::usage(format!("{s:?} is not <org>+<name>"))),
        None if !s.is_empty() => Ok((None, s)),
        None => Err(CliError::usage("robot name is empty")),
    }
}

fn robot_text(r: &Robot, show_token: bool) -> String {
    let mut t = format!(
        "robot {}\n  description: {}\n  created: {}",
        r.name,
        r.description.as_deref().unwrap_or(""),
        r.created.as_deref().unwrap_or("-")
    );
    if show_token {
        if let Some(tok) = &r.token {
            t.push_str("\n  token: ");
            t.push_str(tok.expose_secret());
        }
    }
    t
}

async fn robot(c: &QuayRestClient, cmd: &RobotCmd) -> Result<Done, CliError> {
    match cmd {
        RobotCmd::List { org, show_token } => {
            let robots = c.list_robots(org).await?;
            let text = robots
                .iter()
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Done::ok(
                json!({"robots": robots.iter().map(|r| robot_json(r, *show_token)).collect::<Vec<_>>()}),
                text,
            ))
        }
        RobotCmd::Get { robot, show_token } => {
            let r = match split_robot(robot)? {
                (Some(o), n) => c.get_robot(o, n).await?,
                (None, n) => c.get_user_robot(n).await?,
            };
            Ok(Done::ok(
                json!({"robot": robot_json(&r, *show_token)}),
                robot_text(&r, *show_token),
            ))
        }
        RobotCmd::Create {
            robot,
            description,
            show_token,
        } => {
            let r = match split_robot(robot)? {
                (Some(o), n) => c.create_robot(o, n, description.as_deref()).await?,
                (None, n) => c.create_user_robot(n, description.as_deref()).await?,
            };
            Ok(Done::ok(
                json!({"created": {"robot": robot_json(&r, *show_token)}}),
                format!("created {}", robot_text(&r, *show_token)),
            ))
        }
        RobotCmd::Delete { robot } => {
            match split_robot(robot)? {
                (Some(o), n) => c.delete_robot(o, n).await?,
                (None, n) => c.delete_user_robot(n).await?,
            }
            Ok(Done::ok(
                json!({"deleted": {"robot": robot}}),
                format!("deleted robot {robot}"),
            ))
        }
    }
}

async fn proxy(c: &QuayRestClient, cmd: &ProxyCmd) -> Result<Done, CliError> {
    match cmd {
        ProxyCmd::Get { org } => {
            let p = c.get_proxy_cache(org).await?;
            let text = match &p {
                Some(p) => format!(
                    "proxy cache of {org}: {} (expiration {} s, insecure {})",
                    p.upstream_registry,
                    p.expiration_s
                        .map_or_else(|| "default".to_owned(), |e| e.to_string()),
                    p.insecure
                ),
                None => format!("organization {org} has no proxy cache"),
            };
            Ok(Done::ok(
                json!({"org": org, "proxy_cache": proxy_json(p.as_ref())}),
                text,
            ))
        }
        ProxyCmd::Create {
            org,
            upstream,
            upstream_username,
            upstream_password_file,
            expiration_s,
            insecure,
            overwrite,
        } => {
            let password = match upstream_password_file {
                Some(f) => Some(output::secret_file(f)?),
                None => std::env::var("OMPS_UPSTREAM_PASSWORD")
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(SecretString::from),
            };
            let new = NewProxyCache {
                upstream_registry: upstream.clone(),
                username: upstream_username.clone(),
                password,
                expiration_s: *expiration_s,
                insecure: *insecure,
            };
            let mut replaced = false;
            if c.get_proxy_cache(org).await?.is_some() {
                if !*overwrite {
                    return Err(CliError::usage(format!(
                        "organization {org} already has a proxy cache; use --overwrite to replace it"
                    )));
                }
                c.delete_proxy_cache(org).await?;
                replaced = true;
            }
            c.create_proxy_cache(org, &new).await?;
            Ok(Done::ok(
                json!({"created": {"org": org, "upstream_registry": upstream, "replaced": replaced}}),
                format!(
                    "{} proxy cache of {org} -> {upstream}",
                    if replaced { "replaced" } else { "created" }
                ),
            ))
        }
        ProxyCmd::Delete { org } => {
            c.delete_proxy_cache(org).await?;
            Ok(Done::ok(
                json!({"deleted": {"proxy_cache": org}}),
                format!("deleted proxy cache of {org}"),
            ))
        }
    }
}

async fn initialize(q: &QuayArgs, a: &InitArgs) -> Result<Done, CliError> {
    let password = match &a.password_file {
        Some(f) => output::secret_file(f)?,
        None => std::env::var("OMPS_QUAY_INIT_PASSWORD")
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString::from)
            .ok_or_else(|| CliError::usage("give --password-file or OMPS_QUAY_INIT_PASSWORD"))?,
    };
    let c = q.client(false).await?;
    let want_token = a.token_output.is_some();
    let user = match c
        .initialize_user(&a.username, &password, a.email.as_deref(), want_token)
        .await
    {
        Ok(u) => u,
        Err(QuayError::InvalidRequest(r)) => {
            // Quay answers 400 when users exist already (or initialize is disabled).
            let msg = r.message_or_default().to_owned();
            return Ok(Done {
                json: json!({"result": "failure", "initialized": false,
                             "error": {"kind": "already_initialized", "message": msg,
                                       "status": r.status(), "quay_response": r.body()}}),
                text: format!("Quay is already initialized or refuses initialization: {msg}"),
                exit: Exit::Refused,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let mut token_note = Value::Null;
    if let (Some(out), Some(token)) = (&a.token_output, &user.access_token) {
        eprintln!("warning: the access token is shown once and grants every scope; keep it safe");
        if out.as_os_str() == "-" {
            println!("{}", token.expose_secret());
            token_note = "stdout".into();
        } else {
            write_private(out, token.expose_secret())?;
            token_note = out.display().to_string().into();
        }
    } else if want_token {
        eprintln!("warning: Quay returned no access token");
    }
    Ok(Done::ok(
        json!({"initialized": true, "username": user.username, "email": user.email,
               "token_written_to": token_note}),
        format!("initialized Quay with user {}", user.username),
    ))
}

/// Writes a secret file readable by its owner only (where the platform allows).
fn write_private(path: &std::path::Path, content: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
    writeln!(f, "{content}")
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))
}

fn apply_text(r: &ApplyReport, dry_run: bool) -> String {
    let mut lines = Vec::new();
    for c in &r.changes {
        match (&c.error, dry_run) {
            (_, true) => lines.push(format!("would {}", c.change)),
            (Some(e), false) => lines.push(format!("FAILED {}: {e}", c.change)),
            (None, false) => lines.push(format!("done: {}", c.change)),
        }
    }
    for d in &r.drift {
        lines.push(format!("drift: {d}"));
    }
    if r.no_changes {
        lines.push(format!(
            "no changes: Quay already matches the configuration ({} items checked)",
            r.unchanged.len()
        ));
    } else {
        let failed = r.changes.iter().filter(|c| c.error.is_some()).count();
        lines.push(format!(
            "{} {} change(s), {} failed, {} unchanged",
            if dry_run { "planned" } else { "applied" },
            r.changes.len(),
            failed,
            r.unchanged.len()
        ));
    }
    lines.join("\n")
}

async fn apply_cmd(q: &QuayArgs, a: &ApplyArgs) -> Result<Done, CliError> {
    let cfg = ApplyConfig::from_file(&a.file, &quay_tools::credentials::process_env)?;
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    let c = q.client(true).await?;
    let opts = ApplyOptions::default().overwrite_proxycache(a.overwrite_proxycache);
    let plan = apply::plan(&c, &cfg, opts).await?;
    let report = if a.dry_run {
        apply::dry_run_report(&plan)
    } else {
        apply::apply(&c, &cfg, &plan).await
    };
    let mut json = serde_json::to_value(&report).unwrap_or_else(|_| json!({}));
    json["dry_run"] = a.dry_run.into();
    let exit = if report.result == "success" {
        Exit::Success
    } else {
        Exit::Refused
    };
    Ok(Done {
        text: apply_text(&report, a.dry_run),
        json,
        exit,
    })
}
