//! Running the server: configuration, logging, listener and graceful shutdown. Shared by the
//! `omps-server` binary and `omps serve`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Config, LogFormat, Overrides};
use crate::state::AppState;

/// Command-line arguments of the server.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file (env `OMPS_CONFIG`, alias `OMPS_CONF_FILE`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:8080 (env `OMPS_LISTEN`).
    #[arg(long)]
    pub listen: Option<String>,
    /// Data directory of the local store (env `OMPS_DATA_DIR`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print the effective configuration as TOML (secrets redacted) and exit: 0 when it is
    /// valid, 2 when it is not.
    #[arg(long)]
    pub check_config: bool,
}

/// Why the server did not run. A configuration error is the operator's to fix (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration is invalid; the message names the source and the key.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    /// The server could not start or failed while running.
    #[error(transparent)]
    Run(#[from] anyhow::Error),
}

impl ServeError {
    /// The process exit code: 2 for configuration errors, 1 otherwise.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            ServeError::Config(_) => 2,
            ServeError::Run(_) => 1,
        }
    }
}

/// Loads the configuration the way the binary does (flags > environment > file > defaults).
pub fn load_config(args: &ServeArgs) -> Result<(Config, Vec<String>), crate::ConfigError> {
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("OMPS_"))
        .collect();
    let file = args.config.clone().or_else(|| {
        env.get("OMPS_CONFIG")
            .or_else(|| env.get("OMPS_CONF_FILE"))
            .map(PathBuf::from)
    });
    Config::load(
        file.as_deref(),
        &env,
        &Overrides {
            listen: args.listen.clone(),
            data_dir: args.data_dir.clone(),
        },
    )
}

fn init_tracing(config: &Config) {
    let level = match config.log_level.as_str() {
        "DEBUG" => "debug",
        "WARNING" => "warn",
        "ERROR" | "CRITICAL" => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OMPS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(move || EscapingWriter {
            inner: std::io::stderr(),
            ansi,
        });
    // A second initialisation (tests, `omps serve` after another subscriber) is harmless.
    let _ = match config.log_format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs the server until SIGTERM or Ctrl-C, then finishes in-flight pushes (bounded wait).
/// With `--check-config`, prints the effective configuration instead and returns.
pub async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let (config, warnings) = load_config(&args)?;
    let effective = config.to_toml()?;
    if args.check_config {
        print!("{effective}");
        return Ok(());
    }
    init_tracing(&config);
    for w in warnings {
        tracing::warn!("{w}");
    }
    tracing::info!("effective configuration:\n{effective}");
    let listen = config.listen.clone();
    let state = AppState::from_config(config)?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(anyhow::Error::from)?;
    tracing::info!(address = %local, "omps-server listening");
    // Scripts that ask for port 0 learn the real port from this line.
    println!("listening on http://{local}");
    let limits = crate::listener::InboundLimits::from_config(state.config());
    if let Some(files) = crate::listener::open_files_limit() {
        let needed = limits.max_connections as u64 + 64;
        if files < needed {
            tracing::warn!(
                open_files = files,
                max_connections = limits.max_connections,
                "the open-file limit is below max_connections + 64: raise it (ulimit -n) or lower max_connections"
            );
        }
    }
    let tasks = state.tasks().clone();
    crate::listener::serve(
        listener,
        crate::app(state),
        limits,
        shutdown_signal(),
        Duration::from_secs(60),
    )
    .await
    .map_err(anyhow::Error::from)?;
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(60), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("in-flight pushes did not finish within 60 s");
    }
    tracing::info!("omps-server stopped");
    Ok(())
}

/// One text log line per event: control characters inside it (a caller-supplied name holding a
/// newline, a carriage return or a terminal escape) are written escaped, so they can neither
/// split a line nor forge one. JSON lines are escaped by the encoder already; escaping twice
/// changes nothing there, as they hold no raw control characters.
struct EscapingWriter<W> {
    inner: W,
    /// Colours are on: the formatter's own escape sequences are kept.
    ansi: bool,
}

impl<W: std::io::Write> std::io::Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter writes each event with one `write_all`, ending in its newline.
        let (line, newline) = match buf.strip_suffix(b"\n") {
            Some(line) => (line, true),
            None => (buf, false),
        };
        match escape_control(line, self.ansi) {
            std::borrow::Cow::Borrowed(_) => self.inner.write_all(buf)?,
            // One write per line, so lines of concurrent events never interleave.
            std::borrow::Cow::Owned(mut escaped) => {
                if newline {
                    escaped.push(b'\n');
                }
                self.inner.write_all(&escaped)?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `line` with every control character but tab (and, with `keep_escape`, ESC) escaped.
fn escape_control(line: &[u8], keep_escape: bool) -> std::borrow::Cow<'_, [u8]> {
    let is_control = |b: u8| (b < 0x20 && b != b'\t' && !(keep_escape && b == 0x1b)) || b == 0x7f;
    if !line.iter().any(|&b| is_control(b)) {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = Vec::with_capacity(line.len() + 16);
    for &b in line {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b if is_control(b) => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            b => out.push(b),
        }
    }
    std::borrow::Cow::Owned(out)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn log_lines_escape_control_characters() {
        let mut writer = EscapingWriter {
            inner: Vec::new(),
            ansi: false,
        };
        writer
            .write_all(b"WARN name=evil\nINFO forged line\r\x1b[2J\x00 end\tok\n")
            .unwrap();
        let text = String::from_utf8(writer.inner).unwrap();
        assert_eq!(
            text,
            "WARN name=evil\\nINFO forged line\\r\\x1b[2J\\x00 end\tok\n"
        );
        assert_eq!(text.lines().count(), 1);
        let mut coloured = EscapingWriter {
            inner: Vec::new(),
            ansi: true,
        };
        coloured.write_all(b"\x1b[32mINFO\x1b[0m a\nb\n").unwrap();
        assert_eq!(coloured.inner, b"\x1b[32mINFO\x1b[0m a\\nb\n");
    }
}
