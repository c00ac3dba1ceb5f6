//! Faults injected on purpose, for the tests that show what a run does when
//! one of its stages panics (every thread and child process still ends, the
//! run reports it). Compiled only with the `failpoints` feature, which the
//! tests enable (`--all-features`) and builds for boards leave off.
//!
//! `SSD_CAM_FAILPOINT=STAGE:N` panics the `STAGE` thread (`capture`,
//! `inference`, `output`) at its `N`th frame.

/// Panics when `SSD_CAM_FAILPOINT` names `stage` and its `frame`.
#[allow(clippy::panic)] // the panic is the point: this is the fault injected
pub fn hit(stage: &str, frame: u64) {
    let Ok(wanted) = std::env::var("SSD_CAM_FAILPOINT") else { return };
    let Some((at_stage, at_frame)) = wanted.split_once(':') else { return };
    if at_stage == stage && at_frame.parse() == Ok(frame) {
        panic!("failpoint: {stage} stage at frame {frame}");
    }
}
