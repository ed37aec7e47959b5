//! Asks Greenwave for a decision about a Koji build.
//!
//! Usage: `cargo run -p greenwave-client --example decide -- <greenwave-url> <nvr> [context] [product-version]`

use greenwave_client::{Client, DecisionRequest};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(nvr)) = (args.next(), args.next()) else {
        eprintln!("usage: decide <greenwave-url> <nvr> [context] [product-version]");
        std::process::exit(2);
    };
    let context = args.next().unwrap_or_else(|| "omps_push".to_owned());
    let product_version = args.next().unwrap_or_else(|| "cvp".to_owned());

    let client = match Client::builder(url).build() {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    match client.about().await {
        Ok(about) => println!("Greenwave {}", about.version),
        Err(e) => eprintln!("about failed: {e}"),
    }
    let request = DecisionRequest::koji_build(context, product_version, nvr);
    match client.decision(&request).await {
        Ok(decision) => {
            println!("policies_satisfied: {}", decision.policies_satisfied);
            println!("summary: {}", decision.summary);
            for req in &decision.unsatisfied_requirements {
                println!("unsatisfied: {} {:?}", req.kind, req.testcase);
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(body) = e.response_body() {
                eprintln!("greenwave_response: {body}");
            }
            std::process::exit(1);
        }
    }
}
