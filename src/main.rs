//! The `ssd-cam` binary: parse, run, report.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = ssd_cam::cli::Args::parse();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            // Second signal: the user does not want to wait for the drain.
            std::process::exit(130);
        }
        log::warn!("stopping: finishing frames in flight (signal again to quit at once)");
    });
    if let Err(e) = installed {
        log::warn!("cannot install the Ctrl-C handler: {e}");
    }
    match ssd_cam::app::run(&args, stop) {
        Ok(stats) => {
            eprintln!("{}", stats.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
