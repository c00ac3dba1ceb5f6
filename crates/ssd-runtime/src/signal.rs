//! Ctrl-C and SIGTERM as a flag, for the detector and the trainer alike.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag raised by the first SIGINT/SIGTERM (logging `message`); a second
/// signal exits at once with status 130, for a user who will not wait.
pub fn stop_on_signal(message: &'static str) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let installed = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        log::warn!("{message}");
    });
    if let Err(e) = installed {
        log::warn!("cannot install the Ctrl-C handler: {e}");
    }
    stop
}
