//! Fills an events database with N made-up objects (two cameras, three
//! labels, one every 30 s going back from now), for measuring the review
//! page on a database of a busy month: benches/review-load.sh.
//!   cargo run --example fill_events_db -- DIR/ssd-cam.db [N]

use ssd_cam::store::{EventRow, Store};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: fill_events_db DB [N]")?;
    let n: u64 = args.next().map_or(Ok(10_000), |s| s.parse().map_err(|e| format!("N: {e}")))?;
    let mut store = Store::open(std::path::Path::new(&path))?;
    let now = ssd_cam::clock::now_unix_ms();
    let rows: Vec<EventRow> = (0..n)
        .map(|i| {
            let camera = if i % 3 == 0 { "yard" } else { "door" };
            let start_ms = (now - i as f64 * 30_000.0).floor();
            EventRow {
                id: format!("{camera}/{}-{}", start_ms as u64, i),
                camera: camera.into(),
                label: ["person", "car", "dog"][(i % 7 % 3) as usize].into(),
                start_ms,
                end_ms: Some(start_ms + 8_000.0),
                top_score: 0.9,
                zones: if i % 2 == 0 { vec!["porch".into()] } else { vec![] },
                snapshot: Some(format!("{}-{i}.jpg", start_ms as u64)),
                clip: Some(format!("{}-{i}.mp4", start_ms as u64)),
            }
        })
        .collect();
    for chunk in rows.chunks(1000) {
        store.put(chunk).map_err(|e| e.to_string())?;
    }
    eprintln!("{n} events in {path}");
    Ok(())
}
