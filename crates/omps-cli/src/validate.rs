//! `omps validate`.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use manifest_bundle::{Error, Limits, ManifestTree, validate_tree};

use crate::Output;

/// Runs the command and returns its exit status: 0 valid, 1 invalid, 2 unreadable input.
pub fn run(path: &Path, repository: Option<&str>, output: Output) -> ExitCode {
    let limits = Limits::default();
    let tree = if path.is_dir() {
        ManifestTree::from_dir(path, &limits)
    } else {
        ManifestTree::from_zip_file(path, &limits)
    };
    let tree = match tree {
        Ok(tree) => tree,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
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
                ExitCode::SUCCESS
            } else {
                eprintln!("{}", Error::Invalid(Box::new(report)));
                ExitCode::from(1)
            }
        }
        Err(e @ (Error::Structural(_) | Error::YamlFile { .. } | Error::PackageNameNotFound)) => {
            if output == Output::Json {
                let _ = writeln!(stdout, "{{}}");
            }
            eprintln!("{e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            ExitCode::from(2)
        }
    }
}
