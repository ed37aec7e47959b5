//! Copies an image between two registries, keeping its digests.
//!
//! `cargo run -p quay-client --example copy_image -- http://127.0.0.1:5000 team/app:v1 http://127.0.0.1:5001 mirror/app:v1`
//!
//! Credentials, when needed, come from `SRC_USER`/`SRC_PASSWORD` and `DST_USER`/`DST_PASSWORD`.

use quay_client::{CopyOptions, QuayError, RegistryAuth, RegistryClient, SecretString, copy_image};

fn auth(prefix: &str) -> RegistryAuth {
    match (
        std::env::var(format!("{prefix}_USER")),
        std::env::var(format!("{prefix}_PASSWORD")),
    ) {
        (Ok(u), Ok(p)) => RegistryAuth::basic(u, SecretString::from(p)),
        _ => RegistryAuth::Anonymous,
    }
}

fn split(reference: &str) -> (&str, &str) {
    match reference
        .rsplit_once('@')
        .or_else(|| reference.rsplit_once(':'))
    {
        Some((repo, r)) if !repo.is_empty() => (repo, r),
        _ => (reference, "latest"),
    }
}

#[tokio::main]
async fn main() -> Result<(), QuayError> {
    let args: Vec<String> = std::env::args().collect();
    let [_, src_url, src_ref, dst_url, dst_ref] = args.as_slice() else {
        eprintln!("usage: copy_image <src-url> <repo:ref> <dst-url> <repo:tag>");
        std::process::exit(2);
    };
    let src = RegistryClient::builder(src_url.as_str())
        .auth(auth("SRC"))
        .build()?;
    let dst = RegistryClient::builder(dst_url.as_str())
        .auth(auth("DST"))
        .build()?;
    let (src_repo, src_reference) = split(src_ref);
    let (dst_repo, dst_tag) = split(dst_ref);
    let report = copy_image(
        &src,
        src_repo,
        src_reference,
        &dst,
        dst_repo,
        dst_tag,
        &CopyOptions::default(),
    )
    .await?;
    println!("{report:#?}");
    Ok(())
}
