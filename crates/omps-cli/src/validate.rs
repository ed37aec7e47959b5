//! `omps validate`.

use std::io::Write as _;
use std::path::Path;

use manifest_bundle::{Error, Limits, ManifestTree, validate_tree};

use crate::error::{CliError, Exit};
use crate::output::Output;

/// Reads a directory or a zip archive within the default limits.
pub fn read_tree(path: &Path, limits: &Limits) -> Result<ManifestTree, CliError> {
    let tree = if path.is_dir() {
        ManifestTree::from_dir(path, limits)
    } else {
        ManifestTree::from_zip_file(path, limits)
    };
    tree.map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

/// Limits for a directory input (a zip keeps the upload limits).
#[derive(Debug, Clone, Default, clap::Args)]
#[allow(clippy::struct_field_names)] // the flags are --max-*
pub struct DirLimits {
    /// Most files and directories read from a directory [default: 100000].
    #[arg(long, value_name = "N")]
    max_entries: Option<usize>,
    /// Most bytes read from a directory in total [default: 1 GiB].
    #[arg(long, value_name = "BYTES")]
    max_total_bytes: Option<u64>,
    /// Most bytes of one file of a directory [default: 256 MiB].
    #[arg(long, value_name = "BYTES")]
    max_file_bytes: Option<u64>,
}

impl DirLimits {
    fn limits(&self) -> Limits {
        let d = Limits::for_directories();
        Limits {
            max_entries: self.max_entries.unwrap_or(d.max_entries),
            max_total_bytes: self.max_total_bytes.unwrap_or(d.max_total_bytes),
            max_entry_bytes: self.max_file_bytes.unwrap_or(d.max_entry_bytes),
            ..d
        }
    }
}

/// Validates and prints the report: 0 valid, 1 invalid; unreadable input is an error (2).
pub fn run(
    path: &Path,
    repository: Option<&str>,
    output: Output,
    dir: &DirLimits,
) -> Result<Exit, CliError> {
    let limits = if path.is_dir() {
        dir.limits()
    } else {
        Limits::default()
    };
    let tree = read_tree(path, &limits)?;
    let mut stdout = std::io::stdout().lock();
    match validate_tree(&tree, repository, &limits.yaml) {
        Ok((_, report)) => {
            match output {
                Output::Json => {
                    let _ = writeln!(stdout, "{}", report.to_courier_json());
                }
                Output::Text => {
                    for (message, file) in report.warnings_with_files() {
                        let _ = writeln!(stdout, "WARNING: {message} [{file}]");
                    }
                    for (message, file) in report.errors_with_files() {
                        let _ = writeln!(stdout, "ERROR: {message} [{file}]");
                    }
                }
            }
            if report.is_valid() {
                Ok(Exit::Success)
            } else {
                eprintln!("{}", Error::Invalid(Box::new(report)));
                Ok(Exit::Refused)
            }
        }
        Err(e @ (Error::Structural(_) | Error::YamlFile { .. } | Error::PackageNameNotFound)) => {
            // courier prints an empty validation_info for a package it cannot even load.
            if output == Output::Json {
                let _ = writeln!(stdout, "{{}}");
            }
            eprintln!("{e}");
            Ok(Exit::Refused)
        }
        Err(e) => Err(CliError::input(format!("{}: {e}", path.display()))),
    }
}
