//! Lists the releases of an App Registry package.
//!
//! `cargo run -p quay-client --example appr_releases -- https://quay.example.com myorg mypkg`
//!
//! Set `APPR_AUTHORIZATION` to send an `Authorization` value (e.g. `basic <base64>`).

use quay_client::{AppRegistryClient, QuayError, SecretString};

#[tokio::main]
async fn main() -> Result<(), QuayError> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, namespace, package] = args.as_slice() else {
        eprintln!("usage: appr_releases <base-url> <namespace> <package>");
        std::process::exit(2);
    };
    let auth = std::env::var("APPR_AUTHORIZATION")
        .ok()
        .map(SecretString::from);
    let client = AppRegistryClient::builder(url.as_str()).build()?;
    match client
        .list_releases(auth.as_ref(), namespace, package, Some("helm"))
        .await
    {
        Ok(releases) => {
            for r in releases {
                println!("{} {}", r.release, r.content.digest);
            }
            Ok(())
        }
        Err(QuayError::NotFound(_)) => {
            println!("no releases");
            Ok(())
        }
        Err(e) => Err(e),
    }
}
