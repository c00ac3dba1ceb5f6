//! `--retain-days` and `--retain-size`: what clips, snapshots and
//! recordings may keep on disk. A sweep deletes the oldest files first
//! until every limit holds, at start and every few minutes, on a thread of
//! its own. Only files ssd-cam itself names are touched (a clip's
//! `FIRST-ID.mp4`, a snapshot's `FIRST-ID.jpg`, a recording's segments),
//! never hidden files (a clip being cut, the segment buffer) and never a
//! file written to in the last minute (one being written).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What a sweep looks after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `--clips` folders.
    Clips,
    /// `--snapshots` folders.
    Snapshots,
    /// `--record` segments.
    Recordings,
}

impl Kind {
    /// Its name in the flags and messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Clips => "clips",
            Kind::Snapshots => "snapshots",
            Kind::Recordings => "recordings",
        }
    }

    const ALL: [Kind; 3] = [Kind::Clips, Kind::Snapshots, Kind::Recordings];
}

/// How much one kind may keep.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    /// Files older than this go.
    pub max_age: Option<Duration>,
    /// The oldest files go while the kind holds more bytes than this.
    pub max_bytes: Option<u64>,
}

/// The budgets per kind, from `--retain-days [KIND=]DAYS` and
/// `--retain-size [KIND=]SIZE` (no kind: every kind).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retention {
    budgets: [Budget; 3],
}

impl Retention {
    /// Reads the flags' values.
    pub fn parse(days: &[String], sizes: &[String]) -> Result<Self, String> {
        let mut r = Retention::default();
        for value in days {
            let (kinds, v) = kinds_of(value, "--retain-days")?;
            let d: f64 = v
                .parse()
                .ok()
                .filter(|d: &f64| d.is_finite() && *d > 0.0 && *d <= 36_500.0)
                .ok_or_else(|| format!("--retain-days {value}: a number of days above 0"))?;
            for k in kinds {
                r.budgets[k as usize].max_age = Some(Duration::from_secs_f64(d * 86_400.0));
            }
        }
        for value in sizes {
            let (kinds, v) = kinds_of(value, "--retain-size")?;
            let bytes = parse_size(v).map_err(|e| format!("--retain-size {value}: {e}"))?;
            for k in kinds {
                r.budgets[k as usize].max_bytes = Some(bytes);
            }
        }
        Ok(r)
    }

    /// The budget of `kind`.
    pub fn budget(&self, kind: Kind) -> Budget {
        self.budgets[kind as usize]
    }

    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.budgets.iter().any(|b| b.max_age.is_some() || b.max_bytes.is_some())
    }
}

/// `clips=7` → ([Clips], "7"); `7` → (every kind, "7").
fn kinds_of<'a>(value: &'a str, flag: &str) -> Result<(Vec<Kind>, &'a str), String> {
    match value.split_once('=') {
        None => Ok((Kind::ALL.to_vec(), value)),
        Some((name, v)) => Kind::ALL
            .iter()
            .find(|k| k.name() == name)
            .map(|k| (vec![*k], v))
            .ok_or_else(|| format!("{flag} {value}: '{name}' is not clips, snapshots or recordings")),
    }
}

/// A size: bytes, or with a unit K, M, G or T (powers of 1024; `GB`,
/// `GiB` read the same).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("'{s}' is not a size such as 500M or 20G"))?;
    let scale: u64 = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("'{s}' is not a size such as 500M or 20G")),
    };
    let bytes = n * scale as f64;
    if !(1.0..=1e18).contains(&bytes) {
        return Err(format!("'{s}' is not a size such as 500M or 20G"));
    }
    Ok(bytes as u64)
}

/// A folder a sweep looks after, and which of its files are ssd-cam's.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// What is kept there.
    pub kind: Kind,
    /// The folder (its camera subfolders too, one level down).
    pub dir: PathBuf,
    /// For recordings: the file stem and extension of `--record`'s path.
    pub stem: Option<(String, String)>,
}

impl Place {
    /// Whether `name` is a file ssd-cam wrote there.
    fn owns(&self, name: &str) -> bool {
        match (self.kind, &self.stem) {
            (Kind::Clips, _) => crate::records::is_object_file(name, "mp4"),
            (Kind::Snapshots, _) => crate::records::is_object_file(name, "jpg"),
            (Kind::Recordings, Some((stem, ext))) => name.strip_suffix(&format!(".{ext}")).is_some_and(|rest| {
                rest.strip_prefix(&format!("{stem}-"))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
                    || rest.strip_prefix(&format!("{stem}.earlier-")).is_some()
            }),
            (Kind::Recordings, None) => false,
        }
    }
}

/// A file written to this recently may still be being written.
pub const IN_USE: Duration = Duration::from_secs(60);

/// What a sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Freed {
    /// Files.
    pub files: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Deletes the oldest of `places`' files (all of one kind) until `budget`
/// holds at `now`, telling `deleted` each file it deleted (with its place).
pub fn sweep(places: &[Place], budget: Budget, now: SystemTime, deleted: &mut dyn FnMut(&Place, &Path)) -> Freed {
    let mut files: Vec<(SystemTime, u64, PathBuf, &Place)> = Vec::new();
    for place in places {
        let mut dirs = vec![place.dir.clone()];
        if let Ok(entries) = std::fs::read_dir(&place.dir) {
            // Camera subfolders (several cameras), not hidden ones.
            dirs.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| e.path()),
            );
        }
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Ok(meta) = e.metadata() else { continue };
                if meta.is_file() && place.owns(&name) {
                    files.push((meta.modified().unwrap_or(now), meta.len(), e.path(), place));
                }
            }
        }
    }
    files.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    files.dedup_by(|a, b| a.2 == b.2);
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    let mut freed = Freed::default();
    for (modified, len, path, place) in files {
        let age = now.duration_since(modified).unwrap_or_default();
        let too_old = budget.max_age.is_some_and(|max| age > max);
        let too_much = budget.max_bytes.is_some_and(|max| total > max);
        if !too_old && !too_much {
            break;
        }
        if age < IN_USE {
            continue;
        }
        if std::fs::remove_file(&path).is_ok() {
            deleted(place, &path);
            total = total.saturating_sub(len);
            freed.files += 1;
            freed.bytes += len;
        }
    }
    freed
}

/// Forgets a deleted clip or snapshot in the events database: its file
/// name, of the camera whose subfolder held it (several cameras).
fn forget_in(store: &crate::store::Store, place: &Place, path: &Path) {
    let kind = match place.kind {
        Kind::Clips => crate::store::Forget::Clip,
        Kind::Snapshots => crate::store::Forget::Snapshot,
        Kind::Recordings => return,
    };
    let Some(file) = path.file_name().and_then(|n| n.to_str()) else { return };
    let parent = path.parent().filter(|p| *p != place.dir);
    let camera = parent.and_then(|p| p.file_name()).and_then(|n| n.to_str());
    if let Err(e) = store.forget(kind, file, camera) {
        log::warn!("retention: events database: {e}");
    }
}

/// How often a sweep runs.
pub const EVERY: Duration = Duration::from_secs(300);

/// Sweeps `places` now, then every [`EVERY`] until `stop` on a thread of
/// its own; one info line per sweep that freed anything. With the events
/// database at `store`, a clip or snapshot deleted is forgotten there too:
/// no row names a file that is gone.
pub fn start(
    retention: Retention,
    places: Vec<Place>,
    store: Option<PathBuf>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    if !retention.any() || places.is_empty() {
        return None;
    }
    let store = store.and_then(|path| match crate::store::Store::open(&path) {
        Ok(store) => Some(store),
        Err(e) => {
            log::warn!("retention: events database {e}; its rows keep the names of deleted files");
            None
        }
    });
    // The first sweep before the run starts: a full disk is freed before
    // anything is written to it.
    sweep_all(&retention, &places, store.as_ref());
    let run = move || loop {
        let until = std::time::Instant::now() + EVERY;
        while std::time::Instant::now() < until {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        sweep_all(&retention, &places, store.as_ref());
    };
    std::thread::Builder::new().name("retention".into()).spawn(run).ok()
}

/// One sweep of every kind with a budget.
fn sweep_all(retention: &Retention, places: &[Place], store: Option<&crate::store::Store>) {
    for kind in Kind::ALL {
        let budget = retention.budget(kind);
        if budget.max_age.is_none() && budget.max_bytes.is_none() {
            continue;
        }
        let mine: Vec<Place> = places.iter().filter(|p| p.kind == kind).cloned().collect();
        if mine.is_empty() {
            continue;
        }
        let mut forget = |place: &Place, path: &Path| {
            if let Some(store) = store {
                forget_in(store, place, path);
            }
        };
        let freed = sweep(&mine, budget, SystemTime::now(), &mut forget);
        if freed.files > 0 {
            log::info!(
                "retention: deleted {} {} file(s), {:.1} MB",
                freed.files,
                kind.name(),
                freed.bytes as f64 / 1e6
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn sizes_and_flags_are_read_and_wrong_ones_refused() {
        assert_eq!(parse_size("20G"), Ok(20 << 30));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2tb"), Ok(2 << 40));
        for bad in ["", "G", "20X", "-1G", "0", "1e30T", "nanG"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        let r = Retention::parse(&["7".into(), "snapshots=30".into()], &["clips=20G".into()]).unwrap();
        assert_eq!(r.budget(Kind::Clips).max_age, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(r.budget(Kind::Snapshots).max_age, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(r.budget(Kind::Clips).max_bytes, Some(20 << 30));
        assert_eq!(r.budget(Kind::Recordings).max_bytes, None);
        assert!(r.any());
        assert!(!Retention::default().any());
        let err = Retention::parse(&["movies=3".into()], &[]).unwrap_err();
        assert!(err.contains("'movies' is not clips, snapshots or recordings"), "{err}");
        assert!(Retention::parse(&["0".into()], &[]).is_err());
        assert!(Retention::parse(&[], &["clips=lots".into()]).is_err());
    }

    /// A file of `len` bytes modified `age` ago.
    fn file(path: &Path, len: usize, age: Duration) {
        std::fs::write(path, vec![0u8; len]).unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn the_oldest_of_our_files_go_first_and_nothing_else_or_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("door")).unwrap();
        std::fs::create_dir_all(d.join(".buffer")).unwrap();
        let hour = Duration::from_secs(3600);
        file(&d.join("1000-1.mp4"), 100, hour * 50);
        file(&d.join("door/2000-1.mp4"), 100, hour * 30);
        file(&d.join("3000-1.mp4"), 100, hour * 10);
        file(&d.join("4000-1.mp4"), 100, Duration::from_secs(5));
        file(&d.join("holiday.mp4"), 100, hour * 100);
        file(&d.join(".5000-1.mp4.partial"), 100, hour * 100);
        file(&d.join(".buffer/1-0-000001.ts"), 100, hour * 100);
        file(&d.join("ssd-cam.db"), 100, hour * 100);
        let places = [Place { kind: Kind::Clips, dir: d.to_path_buf(), stem: None }];
        // Two days: the 50-hour-old clip goes.
        let budget = Budget { max_age: Some(hour * 48), max_bytes: None };
        assert_eq!(sweep(&places, budget, SystemTime::now(), &mut |_, _| ()), Freed { files: 1, bytes: 100 });
        assert!(!d.join("1000-1.mp4").exists() && d.join("door/2000-1.mp4").exists());
        // 150 bytes: the oldest go until it fits, but not the one just written.
        let budget = Budget { max_age: None, max_bytes: Some(150) };
        assert_eq!(sweep(&places, budget, SystemTime::now(), &mut |_, _| ()), Freed { files: 2, bytes: 200 });
        assert!(d.join("4000-1.mp4").exists(), "a file in use stays");
        for kept in ["holiday.mp4", ".5000-1.mp4.partial", ".buffer/1-0-000001.ts", "ssd-cam.db"] {
            assert!(d.join(kept).exists(), "{kept} is not ours to delete");
        }
        // Recordings: only the segments of --record's name.
        file(&d.join("rec-000.mp4"), 10, hour * 100);
        file(&d.join("rec.earlier-17.mp4"), 10, hour * 100);
        file(&d.join("record-000.mp4"), 10, hour * 100);
        let rec = [Place { kind: Kind::Recordings, dir: d.to_path_buf(), stem: Some(("rec".into(), "mp4".into())) }];
        let budget = Budget { max_age: Some(hour), max_bytes: None };
        assert_eq!(sweep(&rec, budget, SystemTime::now(), &mut |_, _| ()).files, 2);
        assert!(d.join("record-000.mp4").exists());
    }

    #[test]
    fn a_sweep_through_the_events_database_leaves_no_row_naming_a_deleted_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("clips");
        std::fs::create_dir_all(d.join("door")).unwrap();
        let hour = Duration::from_secs(3600);
        file(&d.join("1000-1.mp4"), 100, hour * 50);
        file(&d.join("door/2000-1.mp4"), 100, hour * 50);
        file(&d.join("3000-1.mp4"), 100, hour);
        let path = d.join(crate::store::FILE_NAME);
        let mut store = crate::store::Store::open(&path).unwrap();
        let row = crate::store::test_row;
        store.put(&[row("yard", 1000), row("door", 2000), row("yard", 3000)]).unwrap();
        let places = vec![Place { kind: Kind::Clips, dir: d.clone(), stem: None }];
        let budget = Budget { max_age: Some(hour * 24), max_bytes: None };
        let freed = sweep(&places, budget, SystemTime::now(), &mut |place, path| forget_in(&store, place, path));
        assert_eq!(freed.files, 2);
        let clip = |id: &str| store.get(id).unwrap().unwrap().clip;
        assert_eq!((clip("yard/1000-1"), clip("door/2000-1")), (None, None));
        assert_eq!(clip("yard/3000-1").as_deref(), Some("3000-1.mp4"));
    }
}
