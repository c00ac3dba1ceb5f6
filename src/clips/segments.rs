//! The rolling segments clips are cut from: short MPEG-TS files an ffmpeg
//! writes into a buffer folder with a CSV list of them (ffmpeg's segment
//! muxer, `-segment_list_type csv`: `NAME,START,END` per finished segment,
//! seconds on the run's timeline). Each ffmpeg run (a reconnect starts a
//! new one) has its own list and file prefix, so no run overwrites
//! another's segments.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The segments' format: MPEG-TS whose timestamps start at 0 with their
/// first packet's decoding time (with `-reset_timestamps 1`), not at the
/// muxer's default 1.4 s, so that a cut's `outpoint` can be reckoned from
/// the list's times alone.
pub const SEGMENT_FORMAT: [&str; 4] = ["-segment_format", "mpegts", "-segment_format_options", "mpegts_copyts=1"];

/// One finished segment of a run, on that run's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// The segment file.
    pub path: PathBuf,
    /// Which run wrote it ([`SegmentFeed::start_run`]'s number).
    pub run: u32,
    /// Its first and last moments, seconds on the run's timeline.
    pub start_s: f64,
    /// See `start_s`.
    pub end_s: f64,
}

/// One line of a segment list: the file name and its start and end times.
/// `None` for anything else (a torn last line, a foreign file).
pub fn parse_list_line(line: &str) -> Option<(&str, f64, f64)> {
    let mut fields = line.trim_end_matches(['\r', '\n']).rsplitn(3, ',');
    let end: f64 = fields.next()?.parse().ok()?;
    let start: f64 = fields.next()?.parse().ok()?;
    let name = fields.next()?;
    let plain = !name.is_empty() && !name.contains(['/', '\\', '"']) && name != "." && name != "..";
    (plain && start.is_finite() && end.is_finite() && start >= 0.0 && end >= start).then_some((name, start, end))
}

/// The files of one ffmpeg run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFiles {
    /// The run's number.
    pub run: u32,
    /// The segment list ffmpeg writes (`-segment_list`).
    pub list: PathBuf,
    /// The segment file pattern (`%06d` for the segment number).
    pub pattern: PathBuf,
}

#[derive(Debug)]
struct Run {
    files: RunFiles,
    /// Bytes of the list already read.
    read: u64,
    /// When the run's timeline starts on the event clock (ms), once known.
    base: Option<Base>,
}

/// How long a window of a live run's offsets lasts (ms of event time).
const OFFSET_WINDOW_MS: f64 = 30_000.0;

/// Where a run's timeline lies on the event clock, from its frames'
/// (event time − stream time) offsets. A file's frames are on the event
/// clock exactly, but the clock may slide back while it runs
/// ([`crate::clock::EventClock`]): each offset holds from its frame on. A
/// live stream's frames are timed when they are read, late by however long
/// ffmpeg held them (a burst of frames after its stream probe, a stall):
/// the smallest offset of the last one or two windows is the least delayed,
/// and windows let it follow a camera clock that drifts from ours.
#[derive(Debug, Clone, PartialEq)]
enum Base {
    Live {
        current: f64,
        previous: f64,
        window_from_ms: f64,
    },
    /// (stream time, offset) where the offset changed, in stream order.
    File(VecDeque<(f64, f64)>),
}

/// The most offset changes a file run keeps (a clock sliding every frame
/// changes it every frame: minutes of them).
const OFFSETS_KEPT: usize = 8192;

impl Base {
    fn new(live: bool, pts_ms: f64, time_ms: f64) -> Self {
        let offset = time_ms - pts_ms;
        if live {
            Base::Live { current: offset, previous: offset, window_from_ms: time_ms }
        } else {
            Base::File(VecDeque::from([(pts_ms, offset)]))
        }
    }

    fn offer(&mut self, pts_ms: f64, time_ms: f64) {
        let offset = time_ms - pts_ms;
        match self {
            Base::Live { current, previous, window_from_ms } => {
                if time_ms - *window_from_ms > OFFSET_WINDOW_MS {
                    (*previous, *current, *window_from_ms) = (*current, offset, time_ms);
                } else {
                    *current = current.min(offset);
                }
            }
            Base::File(changes) => {
                if changes.back().is_some_and(|&(at, _)| pts_ms < at) {
                    changes.clear();
                }
                if changes.back().is_none_or(|&(_, o)| (o - offset).abs() > 0.5) {
                    if changes.len() == OFFSETS_KEPT {
                        changes.pop_front();
                    }
                    changes.push_back((pts_ms, offset));
                }
            }
        }
    }

    /// Stream time `pts_ms` on the event clock.
    fn time_ms(&self, pts_ms: f64) -> f64 {
        match self {
            Base::Live { current, previous, .. } => pts_ms + current.min(*previous),
            Base::File(changes) => {
                let i = changes.partition_point(|&(at, _)| at <= pts_ms).saturating_sub(1);
                pts_ms + changes.get(i).map_or(0.0, |&(_, o)| o)
            }
        }
    }
}

#[derive(Debug, Default)]
struct Feed {
    runs: Vec<Run>,
    /// The source could not copy its stream: the clip output encodes.
    failed: bool,
}

/// The buffer folder of one camera's segments, shared by the ffmpeg that
/// writes them (a source's stream copy, or the clip output's own encoder)
/// and the clip output that reads them.
#[derive(Debug, Clone)]
pub struct SegmentFeed {
    dir: PathBuf,
    /// Unique per process, so that two runs of ssd-cam on one folder never
    /// share file names.
    tag: u64,
    feed: Arc<Mutex<Feed>>,
}

impl PartialEq for SegmentFeed {
    fn eq(&self, other: &Self) -> bool {
        self.dir == other.dir && self.tag == other.tag
    }
}

impl SegmentFeed {
    /// The buffer in `dir` (created; segments an earlier run left there,
    /// only ever pre-roll, are deleted).
    pub fn new(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "ts" || e == "csv" || e == "txt") {
                let _ = std::fs::remove_file(&path);
            }
        }
        let tag = crate::clock::now_unix_ms() as u64;
        Ok(Self { dir, tag, feed: Arc::default() })
    }

    /// The buffer folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new ffmpeg run: the list and segment names to give it.
    pub fn start_run(&self) -> RunFiles {
        let Ok(mut feed) = self.feed.lock() else {
            return RunFiles {
                run: 0,
                list: self.dir.join("poisoned.csv"),
                pattern: self.dir.join("poisoned-%06d.ts"),
            };
        };
        let run = feed.runs.len() as u32;
        let prefix = format!("{}-{run}", self.tag);
        let files = RunFiles {
            run,
            list: self.dir.join(format!("{prefix}.csv")),
            pattern: self.dir.join(format!("{prefix}-%06d.ts")),
        };
        feed.runs.push(Run { files: files.clone(), read: 0, base: None });
        files
    }

    /// A frame of run `run` at `pts_ms` on the run's timeline was given
    /// `time_ms` on the event clock, by a `live` source or a file's.
    pub fn place(&self, run: u32, pts_ms: f64, time_ms: f64, live: bool) {
        if !(pts_ms.is_finite() && time_ms.is_finite()) {
            return;
        }
        if let Ok(mut feed) = self.feed.lock() {
            if let Some(r) = feed.runs.get_mut(run as usize) {
                match &mut r.base {
                    Some(base) => base.offer(pts_ms, time_ms),
                    None => r.base = Some(Base::new(live, pts_ms, time_ms)),
                }
            }
        }
    }

    /// Where `pts_ms` on run `run`'s timeline is on the event clock, once
    /// a frame of the run placed it.
    pub fn time_ms(&self, run: u32, pts_ms: f64) -> Option<f64> {
        Some(self.feed.lock().ok()?.runs.get(run as usize)?.base.as_ref()?.time_ms(pts_ms))
    }

    /// The stream cannot be copied into segments (the source's ffmpeg
    /// failed at it): whoever reads them encodes instead.
    pub fn fail(&self) {
        if let Ok(mut feed) = self.feed.lock() {
            feed.failed = true;
        }
    }

    /// Whether [`SegmentFeed::fail`] was called.
    pub fn failed(&self) -> bool {
        self.feed.lock().is_ok_and(|f| f.failed)
    }

    /// Deletes the runs' lists (the run is over).
    pub fn remove_lists(&self) {
        if let Ok(feed) = self.feed.lock() {
            for r in &feed.runs {
                let _ = std::fs::remove_file(&r.files.list);
            }
        }
    }

    /// The segments finished since the last call, in order. A list that
    /// cannot be read yet (ffmpeg has not finished a segment) gives none.
    pub fn poll(&self) -> Vec<Listed> {
        let mut out = Vec::new();
        let Ok(mut feed) = self.feed.lock() else { return out };
        for r in &mut feed.runs {
            let Ok(mut file) = std::fs::File::open(&r.files.list) else { continue };
            if file.seek(SeekFrom::Start(r.read)).is_err() {
                continue;
            }
            let mut reader = BufReader::new(file);
            let mut line = String::new();
            // Whole lines only: ffmpeg may be writing the next one.
            while matches!(reader.read_line(&mut line), Ok(n) if n > 0) && line.ends_with('\n') {
                r.read += line.len() as u64;
                if let Some((name, start_s, end_s)) = parse_list_line(&line) {
                    out.push(Listed { path: self.dir.join(name), run: r.files.run, start_s, end_s });
                }
                line.clear();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_lines_are_read_and_anything_else_is_refused() {
        assert_eq!(parse_list_line("1-0-000003.ts,3.000000,4.000000\n"), Some(("1-0-000003.ts", 3.0, 4.0)));
        assert_eq!(parse_list_line("a,b.ts,0.5,1\r\n"), Some(("a,b.ts", 0.5, 1.0)));
        for bad in
            ["", "x.ts,1", "x.ts,2,1", "x.ts,nan,1", "../x.ts,0,1", "/etc/passwd,0,1", "..,0,1", ",0,1", "x.ts,-1,0"]
        {
            assert_eq!(parse_list_line(bad), None, "{bad}");
        }
    }

    #[test]
    fn finished_lines_are_read_once_and_runs_keep_their_own_lists() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.ts"), b"x").unwrap();
        let feed = SegmentFeed::new(dir.path().join("buf")).unwrap();
        std::fs::write(dir.path().join("buf/left.ts"), b"x").unwrap();
        let feed = SegmentFeed::new(feed.dir().to_path_buf()).unwrap();
        assert!(!feed.dir().join("left.ts").exists(), "an earlier run's pre-roll is deleted");
        assert!(dir.path().join("old.ts").exists(), "only the buffer folder is touched");
        let a = feed.start_run();
        let b = feed.start_run();
        assert_ne!(a.list, b.list);
        assert_ne!(a.pattern, b.pattern);
        assert!(feed.poll().is_empty(), "no list yet");
        std::fs::write(&a.list, "s0.ts,0.0,1.0\ns1.ts,1.0,2.0\ns2.ts,2.0").unwrap();
        let got = feed.poll();
        assert_eq!(got.len(), 2, "the torn last line waits: {got:?}");
        assert_eq!(got[1], Listed { path: feed.dir().join("s1.ts"), run: a.run, start_s: 1.0, end_s: 2.0 });
        std::fs::write(&a.list, "s0.ts,0.0,1.0\ns1.ts,1.0,2.0\ns2.ts,2.0,3.0\n").unwrap();
        std::fs::write(&b.list, "t0.ts,0.0,1.5\n").unwrap();
        let got = feed.poll();
        let names: Vec<_> = got.iter().map(|l| (l.run, l.path.file_name().unwrap().to_owned())).collect();
        assert_eq!(names, [(a.run, "s2.ts".into()), (b.run, "t0.ts".into())]);
        assert!(feed.poll().is_empty());
        assert_eq!(feed.time_ms(b.run, 0.0), None);
    }

    #[test]
    fn a_file_run_is_placed_by_its_frames_and_a_live_one_by_its_least_delayed() {
        let dir = tempfile::tempdir().unwrap();
        let feed = SegmentFeed::new(dir.path().to_path_buf()).unwrap();
        let (file, live) = (feed.start_run().run, feed.start_run().run);
        feed.place(file, 0.0, 1000.0, false);
        feed.place(file, 100.0, 1100.0, false);
        assert_eq!(feed.time_ms(file, 0.0), Some(1000.0));
        // A file whose clock slid back from its third frame on: what came
        // before stays where it was.
        feed.place(file, 200.0, 1150.0, false);
        feed.place(file, 300.0, 1250.0, false);
        assert_eq!(feed.time_ms(file, 100.0), Some(1100.0));
        assert_eq!(feed.time_ms(file, 250.0), Some(1200.0));
        // ffmpeg held the first 2.3 s of a camera while it probed the
        // stream, then let them go at once: read at 12.3 s.
        let at = |pts: f64| feed.time_ms(live, pts).unwrap();
        for i in 0..23 {
            feed.place(live, f64::from(i) * 100.0, 12_300.0 + f64::from(i), true);
        }
        assert_eq!(at(0.0), 12_300.0 + 22.0 - 2_200.0);
        // From then on frames come as they happen, 5 ms after...
        for i in 23..100 {
            feed.place(live, f64::from(i) * 100.0, 10_000.0 + f64::from(i) * 100.0 + 5.0, true);
        }
        assert_eq!(at(0.0), 10_005.0);
        // ...and a stall later does not move it.
        feed.place(live, 10_000.0, 24_000.0, true);
        assert_eq!(at(0.0), 10_005.0);
        // A camera clock slower than ours by 1 %: followed within two windows.
        for i in 0..1000 {
            let pts = 10_000.0 + f64::from(i) * 100.0;
            feed.place(live, pts, 10_005.0 + pts * 1.01, true);
        }
        let (pts, now) = (109_900.0, 10_005.0 + 109_900.0 * 1.01);
        assert!((at(pts) - now).abs() < 700.0, "{} vs {now}", at(pts));
        assert!(feed.time_ms(2, 0.0).is_none());
    }
}
