//! The `omps-server` binary: configuration, logging and the listener; everything else is the
//! library.

use clap::Parser;

// glibc's malloc keeps memory freed by one push's threads in per-thread arenas, so a burst of
// large pushes left hundreds of MB resident; jemalloc's background threads return freed pages
// to the system within seconds (measured in docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
