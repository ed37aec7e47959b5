//! Finds (and optionally downloads) the operator-manifests archive of a Koji build.
//!
//! Usage: `cargo run -p koji-client --example find_manifests -- <hub-url> <topurl> <nvr> [out.zip]`

use koji_client::Client;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: find_manifests <hub-url> <topurl> <nvr> [out.zip]");
        std::process::exit(2);
    }
    let client = match Client::builder(&args[0]).topurl(&args[1]).build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    match client.get_api_version().await {
        Ok(v) => println!("hub API version {v}"),
        Err(e) => eprintln!("getAPIVersion failed: {e}"),
    }
    let archive = match client.find_operator_manifests(&args[2]).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "build {} (id {}, state {})",
        archive.build.nvr, archive.build.id, archive.build.state
    );
    println!("archive {} at {}", archive.filename(), archive.url);
    if let Some(sum) = &archive.checksum {
        println!("checksum {:?} {}", sum.kind, sum.hex);
    }
    if let Some(out) = args.get(3) {
        match client
            .download_to_file(&archive, 20 * 1024 * 1024, std::path::Path::new(out))
            .await
        {
            Ok(n) => println!("wrote {n} bytes to {out}"),
            Err(e) => {
                eprintln!("download failed: {e}");
                std::process::exit(1);
            }
        }
    }
}
