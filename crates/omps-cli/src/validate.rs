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
    tree.map_err(|e| {
        // Some errors name the path themselves (`I/O error on <path>`).
        let message = e.to_string();
        let shown = path.display().to_string();
        if message.contains(&shown) {
            CliError::input(message)
        } else {
            CliError::input(format!("{shown}: {message}"))
        }
    })
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

/// Messages folded by text, in first-seen order, each with the files it was found in.
fn folded<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, Vec<&'a str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for (message, file) in items {
        match out.iter_mut().find(|(m, _)| *m == message) {
            Some((_, files)) => {
                if !file.is_empty() && !files.contains(&file) {
                    files.push(file);
                }
            }
            None => out.push((message, if file.is_empty() { vec![] } else { vec![file] })),
        }
    }
    out
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The report for people: errors first, then warnings (unless `quiet`), each message once with
/// the list of files it was found in.
pub fn report_lines(report: &manifest_bundle::ValidationReport, quiet: bool) -> Vec<String> {
    let line = |level: &str, (message, files): (&str, Vec<&str>)| {
        if files.is_empty() {
            format!("{level}: {message}")
        } else {
            format!("{level}: {message} [{}]", files.join(", "))
        }
    };
    let mut lines: Vec<String> = folded(report.errors_with_files())
        .into_iter()
        .map(|m| line("ERROR", m))
        .collect();
    if !quiet {
        lines.extend(
            folded(report.warnings_with_files())
                .into_iter()
                .map(|m| line("WARNING", m)),
        );
    }
    lines
}

/// The final line: `<path>: valid (0 errors, 22 warnings)`.
pub fn summary_line(path: &Path, report: &manifest_bundle::ValidationReport) -> String {
    format!(
        "{}: {} ({}, {})",
        path.display(),
        if report.is_valid() {
            "valid"
        } else {
            "invalid"
        },
        plural(report.errors.len(), "error"),
        plural(report.warnings.len(), "warning")
    )
}

/// courier's `validation_info` exactly, followed by two fields of ours: the file of each
/// warning and of each error (same order as courier's lists).
pub fn report_json(report: &manifest_bundle::ValidationReport) -> String {
    let courier = report.to_courier_json();
    let files = |items: Vec<(&str, &str)>| {
        items
            .iter()
            .map(|(_, f)| manifest_bundle::validate::python_json_string(f))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{}, \"warning_files\": [{}], \"error_files\": [{}]}}",
        courier.strip_suffix('}').unwrap_or(&courier),
        files(report.warnings_with_files().collect()),
        files(report.errors_with_files().collect())
    )
}

/// Validates and prints the report: 0 valid, 1 invalid; unreadable input is an error (2).
pub fn run(
    path: &Path,
    repository: Option<&str>,
    output: Output,
    quiet: bool,
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
                    let _ = writeln!(stdout, "{}", report_json(&report));
                }
                Output::Yaml => {
                    let doc: serde_json::Value =
                        serde_json::from_str(&report_json(&report)).unwrap_or_default();
                    let _ = write!(stdout, "{}", crate::output::to_yaml(&doc));
                }
                Output::Text => {
                    for line in report_lines(&report, quiet) {
                        let _ = writeln!(stdout, "{line}");
                    }
                    let _ = writeln!(stdout, "{}", summary_line(path, &report));
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
            match output {
                // `{}` is the same empty mapping in YAML.
                Output::Json | Output::Yaml => {
                    let _ = writeln!(stdout, "{{}}");
                }
                Output::Text => {}
            }
            eprintln!("{e}");
            if let Some(hint) = crate::hints::unloadable(path, &tree, &e) {
                eprintln!("hint: {hint}");
            }
            Ok(Exit::Refused)
        }
        Err(e) => Err(CliError::input(format!("{}: {e}", path.display()))),
    }
}
