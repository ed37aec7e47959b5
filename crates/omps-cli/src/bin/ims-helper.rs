//! `ims-helper`: the IMS Python Helper's command line, for pods and scripts written for it.
//!
//! The same code as `omps ims …` (the module is shared, and the parser lives in
//! `ims_client::cli`): `ims-helper [COMMON] image upload_artifacts …`, `image set_job_status …`,
//! `recipe upload …`; one JSON document on stdout, logs on stderr, exit 0 / 1, usage errors 2,
//! 130 / 143 after SIGINT / SIGTERM.

use std::process::ExitCode;

#[path = "../ims.rs"]
mod ims;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(ims::run(
        "ims-helper",
        std::env::args_os().skip(1).collect(),
    ));
    // An interrupt can leave a file being hashed on a blocking thread: do not wait for it.
    runtime.shutdown_background();
    ExitCode::from(code)
}
