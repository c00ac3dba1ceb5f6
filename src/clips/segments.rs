//! The rolling segments clips are cut from: short MPEG-TS files an ffmpeg
//! writes into a buffer folder with a CSV list of them (ffmpeg's segment
//! muxer, `-segment_list_type csv`: `NAME,START,END` per finished segment,
//! seconds on the run's timeline). Each ffmpeg run (a reconnect starts a
//! new one) has its own list and file prefix, so no run overwrites
//! another's segments.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    base_ms: Option<f64>,
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
        feed.runs.push(Run { files: files.clone(), read: 0, base_ms: None });
        files
    }

    /// Run `run`'s timeline starts at `base_ms` on the event clock (its
    /// first frame's time); later calls keep the first.
    pub fn set_base(&self, run: u32, base_ms: f64) {
        if let Ok(mut feed) = self.feed.lock() {
            if let Some(r) = feed.runs.get_mut(run as usize) {
                r.base_ms.get_or_insert(base_ms);
            }
        }
    }

    /// Where run `run`'s timeline starts on the event clock.
    pub fn base_ms(&self, run: u32) -> Option<f64> {
        self.feed.lock().ok()?.runs.get(run as usize)?.base_ms
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
        assert_eq!(feed.base_ms(b.run), None);
        feed.set_base(b.run, 1000.0);
        feed.set_base(b.run, 2000.0);
        assert_eq!(feed.base_ms(b.run), Some(1000.0));
    }
}
