//! How fast a source delivers frames, alone: every frame of `--source SPEC`
//! read into the same buffer, wall time per frame printed. For comparing
//! the Y4M reader with the ffmpeg child on the same video.
//!
//!     cargo run --release --example source_speed -- clip.mp4

use std::time::Instant;

fn main() {
    let Some(spec) = std::env::args().nth(1) else {
        eprintln!("usage: source_speed SPEC");
        std::process::exit(2);
    };
    let started = Instant::now();
    let mut source = match ssd_cam::source::open(&spec) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let opened = started.elapsed();
    let (mut rgb, mut frames, mut size) = (Vec::new(), 0u64, (0, 0));
    let reading = Instant::now();
    loop {
        match source.next_frame(&mut rgb) {
            Ok(Some(s)) => {
                size = s;
                frames += 1;
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    let per_frame = reading.elapsed().as_secs_f64() * 1000.0 / frames.max(1) as f64;
    println!(
        "{spec}: {frames} frames {}x{}, {per_frame:.3} ms per frame, opened in {:.0} ms",
        size.0,
        size.1,
        opened.as_secs_f64() * 1000.0
    );
}
