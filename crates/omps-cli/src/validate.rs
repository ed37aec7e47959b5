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

/// Validates and prints the report: 0 valid, 1 invalid; unreadable input is an error (2).
pub fn run(path: &Path, repository: Option<&str>, output: Output) -> Result<Exit, CliError> {
    let limits = Limits::default();
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
