//! `cargo xtask openapi`: regenerate `docs/openapi.json` from the server's route table (a test
//! fails when the committed copy drifts).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::step::cargo;

pub fn openapi(root: &Path) -> Result<()> {
    let output = Command::new(cargo())
        .current_dir(root)
        .args([
            "run",
            "--quiet",
            "-p",
            "omps-server",
            "--example",
            "openapi",
        ])
        .output()
        .context("cannot run cargo")?;
    ensure!(
        output.status.success(),
        "generating the OpenAPI document failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out = root.join("docs/openapi.json");
    std::fs::write(&out, &output.stdout)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}
