//! The `omps-server` binary: configuration, logging and the listener; everything else is the
//! library.

use clap::Parser;

/// Operators Manifests Push Service.
#[derive(Debug, Parser)]
// `about` is written out: the crate's description speaks of the library, not this program.
#[command(
    name = "omps-server",
    version,
    about = "The Operators Manifests Push Service: an HTTP server that validates operator manifests and publishes them to the configured store"
)]
struct Cli {
    #[command(flatten)]
    serve: omps_server::serve::ServeArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match omps_server::serve::serve(cli.serve).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("omps-server: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
