//! The `omps` command line.
//!
//! Thin by design: the logic lives in the library crates; this binary parses arguments, calls them
//! and formats the result for people and scripts.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod bundle;
mod mirror;
mod output;
mod quay;
mod service;
mod validate;

/// Validate and publish Kubernetes operator manifests.
#[derive(Debug, Parser)]
#[command(name = "omps", version, about, long_about = None)]
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
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
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
    /// Push operator manifests (a directory, a zip or a Koji build) to an OMPS service, or
    /// in-process with `--direct`.
    #[command(
        after_help = "Exit status: 0 pushed, 1 refused (validation, auth, conflict), 2 usage or unreadable input,\n3 service or upstream failure, 4 service unreachable.\n\nExamples:\n  omps push ./etcd --org myorg\n  omps push manifests.zip --org myorg --repo etcd --version 2.0.0 --url https://omps.example.com\n  omps push --koji etcd-operator-1.0-1 --org myorg\n  omps push ./etcd --org myorg --direct --data-dir ./omps-data --output json"
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
    /// Print shell completions for omps.
    #[command(
        after_help = "Examples:\n  omps completions bash > /etc/bash_completion.d/omps\n  omps completions zsh > \"${fpath[1]}/_omps\""
    )]
    Completions {
        /// Shell to generate completions for.
        shell: clap_complete::Shell,
    },
}

const QUAY_HELP: &str =
    "Credentials: --token-file, OMPS_QUAY_TOKEN, --token, or OAuth2 client credentials
(--oauth-token-url, --oauth-client-id, --oauth-client-secret-file). Never printed.

Exit status: 0 done, 1 refused (401/403, 404, 400, conflict) or a change failed,
2 usage or configuration error, 3 remote server failure, 4 unreachable.

Examples:
  export OMPS_QUAY_URL=https://quay.example.com OMPS_QUAY_TOKEN_FILE=~/.quay-token
  omps quay org create team-a --email team-a@example.com
  omps quay repo list team-a --output json
  omps quay repo visibility team-a/app public
  omps quay robot create team-a+builder --description 'CI builds' --show-token
  omps quay proxy-cache create cache-org --upstream registry.example.com --expiration-s 86400
  omps quay apply -f quay.yaml --dry-run";

const MIRROR_HELP: &str = "Exit status: 0 all images copied or unchanged, 1 an image or namespace failed,
2 usage or configuration error, 3 remote server failure, 4 unreachable (preflight).

Examples:
  omps mirror --config-file sample_config.yaml --skip-tls-verify --skip-broken-images
  omps mirror --source quay-a.example.com --destination quay-b.example.com -r team/app:1.0 -r team/db
  OMPS_MIRROR_SOURCE_TOKEN=... omps mirror -c sync.yaml --auto-discovery --org team --tags 'v*' -j 8
  omps mirror -c sync.yaml --dry-run --output json";

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// Lines for people (`validate`: courier-like `WARNING: ...` / `ERROR: ...`).
    Text,
    /// One JSON document on stdout (`validate`: exactly courier's `validation_info`; API
    /// commands: the service's JSON answer or error envelope).
    Json,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Validate {
            path,
            repository,
            output,
        } => validate::run(&path, repository.as_deref(), output),
        Command::Serve(args) => serve(args),
        Command::Bundle(command) => bundle::run(command),
        Command::Push(args) => service::push(&args),
        Command::Delete(args) => service::delete(&args),
        Command::List(args) => service::list(&args),
        Command::Quay(cmd) => quay::run(&cmd),
        Command::Mirror(args) => mirror::run(&args),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(shell, &mut Cli::command(), "omps", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}

fn serve(args: omps_server::serve::ServeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(omps_server::serve::serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
