//! The `omps` command line.
//!
//! Thin by design: the logic lives in the library crates; this binary parses arguments, calls them
//! and formats the result for people and scripts. Every command returns `Result<Exit, CliError>`;
//! the exit status of a failure is decided in one place ([`error`]), and one tokio runtime, built
//! here, runs every command that talks to the network.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

mod bundle;
mod catalog;
mod cluster;
mod error;
mod hints;
mod ims;
mod mirror;
mod output;
mod quay;
mod registry;
mod registry_args;
mod service;
mod validate;

use error::{CliError, Exit};
use output::Output;

/// Validate and publish Kubernetes operator manifests.
#[derive(Debug, Parser)]
#[command(name = "omps", version, about, long_about = None)]
// The exit-status table is added to the help at run time, from `error::EXIT_TABLE`.
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate an operator package (directory or zip) with operator-courier's rules.
    ///
    /// Exit status: 0 valid, 1 invalid, 2 unreadable input or usage error.
    #[command(
        after_help = "Examples:\n  omps validate ./etcd\n  omps validate manifests.zip --repository etcd --output json"
    )]
    Validate {
        /// A directory, or a zip archive with the manifests at its root.
        path: PathBuf,
        /// Check that the package name equals this repository name (as a push does).
        #[arg(long)]
        repository: Option<String>,
        /// Output format: text (`ERROR: ...` then `WARNING: ...` lines, each message once with
        /// its files, and a summary line), json (courier's `validation_info`, plus the file of
        /// each message in `warning_files` / `error_files`) or yaml (the same document).
        #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
        output: Output,
        /// Hide warnings (text output; the summary line still counts them).
        #[arg(short, long)]
        quiet: bool,
        #[command(flatten)]
        limits: validate::DirLimits,
    },
    /// Run the OMPS server (same as the `omps-server` binary, same configuration).
    ///
    /// With no configuration it serves the embedded local store on 127.0.0.1:8080 with data in
    /// ./omps-data.
    #[command(
        after_help = "Examples:\n  omps serve\n  omps serve --listen 127.0.0.1:0 --data-dir /tmp/omps\n  OMPS_CONFIG=omps.toml omps serve"
    )]
    Serve(omps_server::serve::ServeArgs),
    /// Operator bundles: convert package manifests, push bundle images to any OCI registry.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// File-based catalogs: render bundles, migrate package manifests, validate, expand
    /// templates, add bundles, push and pull catalog images, draw upgrade graphs.
    #[command(after_help = catalog::CATALOG_HELP)]
    Catalog(Box<catalog::CatalogCmd>),
    /// Push operator manifests (a directory, a zip or a Koji build) to an OMPS service, or
    /// in-process with `--direct`.
    #[command(
        after_help = "Exit status (the table of `omps --help`): 0 pushed, 1 refused (validation, auth, conflict),\n2 usage or unreadable input, 3 service or upstream failure (5xx), 4 service unreachable.\n\nExamples:\n  export OMPS_URL=https://omps.example.com OMPS_AUTH='basic <token>'\n  omps push ./etcd --org myorg\n  omps push manifests.zip --org myorg --repo etcd --version 2.0.0\n  omps push --koji etcd-operator-1.0-1 --org myorg --auth-file ~/.omps-auth\n  omps push ./etcd --org myorg --direct --data-dir ./omps-data --output json"
    )]
    Push(service::PushArgs),
    /// Delete one release (`--version`) or all releases of a repository.
    #[command(
        after_help = "Examples:\n  omps delete --org myorg --repo etcd --version 1.0.0\n  omps delete --org myorg --repo etcd"
    )]
    Delete(service::DeleteArgs),
    /// List an organization's repositories, or a repository's releases (`--repo`).
    #[command(
        after_help = "Examples:\n  omps list --org myorg\n  omps list --org myorg --repo etcd --output json"
    )]
    List(service::ListArgs),
    /// Administer Quay: organizations, repositories, robots, proxy caches, first user,
    /// declarative apply.
    #[command(after_help = QUAY_HELP)]
    Quay(Box<quay::QuayCmd>),
    /// Copy images between registries, digests preserved (replaces quay_sync).
    #[command(after_help = MIRROR_HELP)]
    Mirror(Box<mirror::MirrorArgs>),
    /// Apply manifest directories to OpenShift/Kubernetes in order with readiness waits; a
    /// secret from files; the infrastructure name.
    #[command(after_help = cluster::cluster_help())]
    Cluster(Box<cluster::ClusterCmd>),
    /// The IMS artifact helper (the IMS Python Helper's command line): upload boot-image
    /// artifacts to S3 and record them in IMS, set job status, upload recipes.
    #[command(
        disable_help_flag = true,
        after_help = "Everything after `ims` is the helper's command line, parsed as `ims-helper` parses it
(see `omps ims --help`). One JSON document on stdout; exit 0 success, 1 failure, 2 usage
error, 130 / 143 after SIGINT / SIGTERM (what this run created is cleaned up first).

Examples:
  omps ims image upload_artifacts \"my new image\" $IMS_JOB_ID -r rootfs.sqsh -k vmlinuz -i initrd
  omps ims image set_job_status $IMS_JOB_ID packaging_artifacts
  omps ims recipe upload cos-2.5 recipe.tgz --distro sles15 --template CSM_RELEASE=1.6"
    )]
    Ims(ImsArgs),
    /// Print shell completions for omps.
    #[command(
        after_help = "Examples:\n  omps completions bash > /etc/bash_completion.d/omps\n  omps completions zsh > \"${fpath[1]}/_omps\""
    )]
    Completions {
        /// Shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

/// `omps ims`: the helper's arguments, handed unparsed to `ims_client::cli` (its one parser).
#[derive(Debug, Args)]
struct ImsArgs {
    /// The helper's arguments: `[COMMON] image upload_artifacts …`, `image set_job_status …`,
    /// `recipe upload …`, or `--help`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        value_name = "ARGS"
    )]
    args: Vec<OsString>,
}

const QUAY_HELP: &str =
    "Credentials: --token-file, OMPS_QUAY_TOKEN, --token, or OAuth2 client credentials
(--oauth-token-url, --oauth-client-id, --oauth-client-secret-file). Never printed.

Exit status (the table of `omps --help`): 0 done, 1 refused by Quay (4xx) or a change failed,
2 usage or configuration error, 3 Quay failed (5xx, unreadable answer), 4 unreachable.

Examples:
  export OMPS_QUAY_URL=https://quay.example.com OMPS_QUAY_TOKEN_FILE=~/.quay-token
  omps quay org create team-a --email team-a@example.com
  omps quay repo list team-a --output json
  omps quay repo visibility team-a/app public
  omps quay robot create team-a+builder --description 'CI builds' --show-token
  omps quay proxy-cache create cache-org --upstream registry.example.com --expiration-s 86400
  omps quay apply -f quay.yaml --dry-run";

const MIRROR_HELP: &str = "Exit status (the table of `omps --help`): 0 all images copied or unchanged,
1 an image or namespace failed or a server refused (4xx), 2 usage or configuration error,
3 a server failed (5xx, unreadable answer), 4 unreachable (preflight, DNS, TCP, TLS, timeout).

Examples:
  omps mirror --config-file sample_config.yaml --skip-tls-verify --skip-broken-images
  omps mirror --source quay-a.example.com --destination quay-b.example.com -r team/app:1.0 -r team/db
  OMPS_MIRROR_SOURCE_TOKEN=... omps mirror -c sync.yaml --auto-discovery --org team --tags 'v*' -j 8
  omps mirror -c sync.yaml --authfile ~/.docker/config.json --dest-creds 'team+robot:TOKEN'
  omps mirror --source 127.0.0.1:5000 --destination 127.0.0.1:5001 -r team/app --tls-verify=false
  omps mirror -c sync.yaml --dry-run --output json";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let command = Cli::command().after_help(error::exit_table_help());
    let cli = match command
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            // clap's own usage errors exit 2, like every usage error; --help and --version 0.
            if !e.use_stderr() {
                let _ = e.print();
                return Exit::Success.into();
            }
            // A script that asked for a document gets one, usage errors included (`omps ims`
            // parses its own arguments and is never refused here).
            let output = Output::from_raw_args(&args[1..]);
            if output.is_document() {
                // clap's message without its usage block: the text up to the first blank line.
                let text = e.to_string();
                let head = text.split("\n\n").next().unwrap_or_default();
                let message = head
                    .trim_start_matches("error: ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                CliError::usage(message).print_document(output);
            } else {
                let _ = e.print();
            }
            return Exit::Usage.into();
        }
    };
    let output = cli.command.output().unwrap_or(Output::Text);
    match run(cli.command) {
        Ok(exit) => exit.into(),
        Err(e) => {
            e.print_document(output);
            e.exit().into()
        }
    }
}

impl Command {
    /// The output format the command was asked for, when it has one.
    fn output(&self) -> Option<Output> {
        match self {
            Command::Validate { output, .. } => Some(*output),
            Command::Bundle(b) => Some(b.output()),
            Command::Catalog(c) => Some(c.output()),
            Command::Push(a) => Some(a.connection.output),
            Command::Delete(a) => Some(a.connection.output),
            Command::List(a) => Some(a.connection.output),
            Command::Quay(q) => Some(q.output()),
            Command::Mirror(m) => Some(m.output),
            Command::Cluster(c) => Some(c.output()),
            // The helper prints its own documents, failures included.
            Command::Serve(_) | Command::Ims(_) | Command::Completions { .. } => None,
        }
    }
}

/// Runs a command. Commands that only read local files run without a runtime; the others share
/// the one runtime built here.
fn run(command: Command) -> Result<Exit, CliError> {
    match command {
        Command::Validate {
            path,
            repository,
            output,
            quiet,
            limits,
        } => validate::run(&path, repository.as_deref(), output, quiet, &limits),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "omps", &mut std::io::stdout());
            Ok(Exit::Success)
        }
        Command::Bundle(bundle::BundleCommand::Convert(args)) => bundle::convert(&args),
        other => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::internal(format!("cannot start the runtime: {e}")))?;
            let result = runtime.block_on(run_async(other));
            // A command interrupted while a blocking task still runs (hashing a large file)
            // exits now instead of waiting for it.
            runtime.shutdown_background();
            result
        }
    }
}

async fn run_async(command: Command) -> Result<Exit, CliError> {
    match command {
        Command::Serve(args) => omps_server::serve::serve(args)
            .await
            .map(|()| Exit::Success)
            .map_err(|e| match e {
                omps_server::serve::ServeError::Config(e) => CliError::config(e.to_string()),
                other => CliError::internal(format!("{other:#}")),
            }),
        Command::Bundle(bundle::BundleCommand::Push(args)) => bundle::push(args).await,
        Command::Catalog(cmd) => catalog::run(*cmd).await,
        Command::Push(args) => service::push(&args).await,
        Command::Delete(args) => service::delete(&args).await,
        Command::List(args) => service::list(&args).await,
        Command::Quay(cmd) => quay::run(&cmd).await,
        Command::Mirror(args) => mirror::run(&args).await,
        Command::Cluster(cmd) => cluster::run(&cmd).await,
        Command::Ims(args) => Ok(match ims::run("omps ims", args.args).await {
            0 => Exit::Success,
            code => Exit::Own(code),
        }),
        Command::Validate { .. } | Command::Completions { .. } | Command::Bundle(_) => {
            unreachable!("run() handles the commands that need no runtime")
        }
    }
}
