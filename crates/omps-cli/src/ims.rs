//! `omps ims …` and the `ims-helper` binary: the IMS Python Helper's command line.
//!
//! Parsing, running and the output document all live in `ims_client::cli` (one parser for
//! both binaries); this module adds what only a process has: logging on stderr at the
//! helper's level, a progress bar for large uploads when stderr is a terminal, and SIGINT /
//! SIGTERM handling. It depends on nothing else of the `omps` binary, so `ims-helper` includes
//! it as is.

use std::ffi::OsString;
use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ims_client::UploadProgress;
use ims_client::cli::{self, Hooks, ProcessEnv, Signal};

/// Uploads at least this large get a progress bar (smaller ones take a single request).
const BAR_THRESHOLD: u64 = ims_client::DEFAULT_PART_SIZE;

/// Runs the helper's command line (`args` without the program name) and returns the exit
/// status. `program` names the command in usage messages (`omps ims`, `ims-helper`). Prints
/// the JSON document on stdout, and a usage message on stderr; logs go to stderr.
pub async fn run(program: &str, args: Vec<OsString>) -> u8 {
    let args: Vec<OsString> = std::iter::once(OsString::from(program))
        .chain(args)
        .collect();
    init_logging(&cli::log_filter(&args, &ProcessEnv));
    tracing::debug!(args = ?cli::redacted_args(&args), "ims-helper");
    let hooks = Hooks {
        progress: std::io::stderr().is_terminal().then(progress_bars),
    };
    let out = cli::run_with(args, &ProcessEnv, termination_signal(), hooks).await;
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (`| head`) must not turn a finished upload into a panic.
    let _ = stdout.write_all(out.stdout.as_bytes());
    let _ = stdout.flush();
    if let Some(message) = out.stderr {
        eprintln!("{message}");
    }
    u8::try_from(out.exit_code).unwrap_or(1)
}

/// Logs to stderr through `tracing` with a filter directive (`info`, `debug`, …); no colours
/// unless stderr is a terminal.
pub fn init_logging(filter: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Completes with the first SIGINT or SIGTERM. Installing the handlers replaces the default
/// action (terminate at once), so the command can clean up and exit with 130 / 143.
pub async fn termination_signal() -> Signal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            },
            // No handler: the default action stays, so there is nothing to wait for.
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}

/// One bar per large file, shown while it uploads.
fn progress_bars() -> ims_client::ProgressFn {
    let current: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);
    Arc::new(move |p: &UploadProgress| {
        let mut current = current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if p.sent == 0 {
            if let Some(old) = current.take() {
                old.finish_and_clear();
            }
            if p.total >= BAR_THRESHOLD {
                *current = Some(new_bar(&p.key, p.total));
            }
            return;
        }
        if let Some(bar) = current.as_ref() {
            bar.set_position(p.sent);
            if p.sent >= p.total {
                bar.finish_and_clear();
                *current = None;
            }
        }
    })
}

fn new_bar(key: &str, total: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(format!("uploading {key}"));
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}
