//! The events database (`--clips DIR` keeps it in `DIR/ssd-cam.db`): one
//! row per object (camera, label, start, end, top score, zones, snapshot,
//! clip), in SQLite, for the review page and `/api/events` queries, read
//! back after a restart. Rows are written by a thread of their own from a
//! bounded queue: a slow SD card delays the rows, never detection; a full
//! queue drops rows (counted, warned about once).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use rusqlite::{params, Connection, OptionalExtension};

use crate::events::{Event, EventKind};
use crate::sink::{FrameResult, Sink, SinkError};

/// The database's file name in the clips folder.
pub const FILE_NAME: &str = "ssd-cam.db";

/// One object as the database keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventRow {
    /// Unique across cameras and runs: `CAMERA/FIRST-ID`.
    pub id: String,
    /// The camera's name.
    pub camera: String,
    /// What it is.
    pub label: String,
    /// When it was first seen (ms since the Unix epoch).
    pub start_ms: f64,
    /// When it was last seen, once it ended.
    pub end_ms: Option<f64>,
    /// Its best score.
    pub top_score: f64,
    /// The zones it entered.
    pub zones: Vec<String>,
    /// Its snapshot's file name in the camera's snapshots folder.
    pub snapshot: Option<String>,
    /// Its clip's file name in the camera's clips folder.
    pub clip: Option<String>,
}

impl EventRow {
    /// The row of `event` of camera `camera`.
    pub fn of(event: &Event, camera: &str, labels: &[String], snapshots: bool) -> Self {
        EventRow {
            id: format!("{camera}/{}-{}", event.first_ms.max(0.0) as u64, event.id),
            camera: camera.to_owned(),
            label: labels.get(event.class_id as usize).cloned().unwrap_or_else(|| "?".into()),
            start_ms: event.first_ms,
            end_ms: (event.kind == EventKind::End).then_some(event.last_ms),
            top_score: (f64::from(event.top_score) * 1e4).round() / 1e4,
            zones: event.entered_zones.clone(),
            snapshot: snapshots.then(|| crate::sink::snapshot::file_name(event)),
            clip: event.clip.map(|c| c.file_name()),
        }
    }
}

/// Which rows a query wants, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Only this camera's.
    pub camera: Option<String>,
    /// Only this label's.
    pub label: Option<String>,
    /// Started at or after (ms since the Unix epoch).
    pub after_ms: Option<f64>,
    /// Started before.
    pub before_ms: Option<f64>,
    /// At most this many (capped at [`MAX_LIMIT`]).
    pub limit: u32,
    /// Skipping this many.
    pub offset: u32,
}

/// The most rows one query returns.
pub const MAX_LIMIT: u32 = 500;

/// The schema's steps (`schema.sql`), step N taking a database from
/// version N-1 to N.
fn steps() -> Vec<String> {
    const SCHEMA: &str = include_str!("schema.sql");
    let mut steps: Vec<String> = Vec::new();
    for line in SCHEMA.lines() {
        let opens = line.strip_prefix("-- step ").is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
        if opens {
            steps.push(String::new());
        }
        if let Some(step) = steps.last_mut() {
            step.push_str(line);
            step.push('\n');
        }
    }
    steps
}

/// Brings the database to the newest schema version: the steps it has
/// not had, each in a transaction with its version. A file from before
/// versions (its `events` table there, version 0) is at version 1; a file
/// of a newer ssd-cam is an error, never changed.
fn upgrade(conn: &Connection) -> Result<(), String> {
    let steps = steps();
    let latest = steps.len() as i64;
    let mut version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| e.to_string())?;
    if version == 0 {
        let has_events = conn
            .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'", [], |_| Ok(()))
            .optional()
            .map_err(|e| e.to_string())?
            .is_some();
        if has_events {
            conn.pragma_update(None, "user_version", 1).map_err(|e| e.to_string())?;
            version = 1;
        }
    }
    if version > latest {
        return Err(format!(
            "written by a newer ssd-cam (schema version {version}; this one knows up to {latest}): use that version, or another --clips folder"
        ));
    }
    for (n, step) in steps.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
        let to = n as i64 + 1;
        let sql = format!("BEGIN;\n{step}PRAGMA user_version = {to};\nCOMMIT;");
        conn.execute_batch(&sql).map_err(|e| format!("schema step {to}: {e}"))?;
    }
    Ok(())
}

/// The database, opened (and created) at a path.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens or creates the database at `path`. A file that is not an
    /// ssd-cam database (or not SQLite) is an error naming it.
    pub fn open(path: &Path) -> Result<Self, String> {
        let fail = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let conn = Connection::open(path).map_err(fail)?;
        // WAL: readers (the review page) never wait for the writer, and a
        // power cut loses at most the last transaction.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(2)).map_err(fail)?;
        upgrade(&conn).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { conn })
    }

    /// Writes rows in one transaction: a new object's row, or what
    /// changed of a known one (its end, a better score, more zones).
    pub fn put(&mut self, rows: &[EventRow]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO events (id, camera, label, start_ms, end_ms, top_score, zones, snapshot, clip)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(id) DO UPDATE SET
                   end_ms = COALESCE(excluded.end_ms, end_ms),
                   top_score = MAX(top_score, excluded.top_score),
                   zones = excluded.zones,
                   snapshot = COALESCE(excluded.snapshot, snapshot),
                   clip = COALESCE(excluded.clip, clip)",
            )?;
            for r in rows {
                let zones = serde_json::to_string(&r.zones).unwrap_or_else(|_| "[]".into());
                put.execute(params![
                    r.id,
                    r.camera,
                    r.label,
                    r.start_ms,
                    r.end_ms,
                    r.top_score,
                    zones,
                    r.snapshot,
                    r.clip
                ])?;
            }
        }
        tx.commit()
    }

    /// A clip or snapshot file (its name, of `camera` when known) is gone
    /// (retention deleted it): no row names it any more. The number of
    /// rows changed.
    pub fn forget(&self, kind: Forget, file: &str, camera: Option<&str>) -> rusqlite::Result<usize> {
        let column = match kind {
            Forget::Clip => "clip",
            Forget::Snapshot => "snapshot",
        };
        self.conn.execute(
            &format!("UPDATE events SET {column} = NULL WHERE {column} = ?1 AND (?2 IS NULL OR camera = ?2)"),
            params![file, camera],
        )
    }

    /// The rows `q` asks for, newest first.
    pub fn query(&self, q: &Query) -> rusqlite::Result<Vec<EventRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events
             WHERE (?1 IS NULL OR camera = ?1) AND (?2 IS NULL OR label = ?2)
               AND (?3 IS NULL OR start_ms >= ?3) AND (?4 IS NULL OR start_ms < ?4)
             ORDER BY start_ms DESC, id DESC LIMIT ?5 OFFSET ?6"
        ))?;
        let rows = stmt
            .query_map(params![q.camera, q.label, q.after_ms, q.before_ms, q.limit.min(MAX_LIMIT), q.offset], row_of)?;
        rows.collect()
    }

    /// The labels and cameras that have rows (for the review page's
    /// filters).
    pub fn facets(&self) -> rusqlite::Result<(Vec<String>, Vec<String>)> {
        let distinct = |column: &str| -> rusqlite::Result<Vec<String>> {
            let mut stmt = self.conn.prepare(&format!("SELECT DISTINCT {column} FROM events ORDER BY {column}"))?;
            let names = stmt.query_map([], |row| row.get(0))?;
            names.collect()
        };
        Ok((distinct("camera")?, distinct("label")?))
    }

    /// The row with this id.
    pub fn get(&self, id: &str) -> rusqlite::Result<Option<EventRow>> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE id = ?1");
        self.conn.query_row(&sql, [id], row_of).optional()
    }
}

/// A row of `camera`'s object `N-1` (first seen at `n` ms, a person, its
/// clip `N-1.mp4`), for tests here and of what uses the database.
#[cfg(test)]
pub(crate) fn test_row(camera: &str, n: u64) -> EventRow {
    EventRow {
        id: format!("{camera}/{n}-1"),
        camera: camera.into(),
        label: "person".into(),
        start_ms: n as f64,
        end_ms: None,
        top_score: 0.5,
        zones: vec![],
        snapshot: None,
        clip: Some(format!("{n}-1.mp4")),
    }
}

/// Which file of its rows a database forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forget {
    /// A clip.
    Clip,
    /// A snapshot.
    Snapshot,
}

/// The columns [`row_of`] reads, in its order.
const COLUMNS: &str = "id, camera, label, start_ms, end_ms, top_score, zones, snapshot, clip";

/// A row of [`COLUMNS`].
fn row_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
    let zones: String = row.get(6)?;
    Ok(EventRow {
        id: row.get(0)?,
        camera: row.get(1)?,
        label: row.get(2)?,
        start_ms: row.get(3)?,
        end_ms: row.get(4)?,
        top_score: row.get(5)?,
        zones: serde_json::from_str(&zones).unwrap_or_default(),
        snapshot: row.get(7)?,
        clip: row.get(8)?,
    })
}

/// Rows waiting for the writer before more are dropped.
const QUEUE: usize = 1024;

/// The writer thread of a database, shared by every camera's
/// [`StoreSink`].
#[derive(Clone)]
pub struct StoreWriter {
    queue: Sender<EventRow>,
    dropped: Arc<AtomicU64>,
    worker: Arc<std::sync::Mutex<Option<JoinHandle<()>>>>,
    path: PathBuf,
}

impl StoreWriter {
    /// Opens the database at `path` (an error now if it cannot be) and
    /// starts its writer.
    pub fn start(path: PathBuf) -> Result<Self, String> {
        let store = Store::open(&path)?;
        let (queue, rows) = crossbeam_channel::bounded(QUEUE);
        let shown = path.display().to_string();
        let worker = std::thread::Builder::new()
            .name("events-db".into())
            .spawn(move || write_rows(store, &rows, &shown))
            .map_err(|e| format!("events database: cannot start a thread: {e}"))?;
        Ok(Self { queue, dropped: Arc::default(), worker: Arc::new(std::sync::Mutex::new(Some(worker))), path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a row; a full queue drops it (counted).
    fn send(&self, row: EventRow) {
        match self.queue.try_send(row) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    log::warn!("events database {}: the disk is not keeping up; rows dropped", self.path.display());
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// The writer's loop: rows in batches, one transaction each.
fn write_rows(mut store: Store, rows: &Receiver<EventRow>, path: &str) {
    let mut failed = false;
    while let Ok(first) = rows.recv() {
        let mut batch = vec![first];
        batch.extend(rows.try_iter().take(255));
        if let Err(e) = store.put(&batch) {
            if !failed {
                log::warn!("events database {path}: {e}; rows are not kept (reported once)");
            }
            failed = true;
        }
    }
}

/// A camera's events into the database.
pub struct StoreSink {
    writer: Option<StoreWriter>,
    camera: String,
    labels: Vec<String>,
    snapshots: bool,
}

impl StoreSink {
    /// Camera `camera`'s events into `writer`'s database; `snapshots`:
    /// the camera keeps snapshots.
    pub fn new(writer: StoreWriter, camera: String, labels: Vec<String>, snapshots: bool) -> Self {
        Self { writer: Some(writer), camera, labels, snapshots }
    }

    fn put(&self, events: &[Event]) {
        let Some(writer) = &self.writer else { return };
        for e in events {
            writer.send(EventRow::of(e, &self.camera, &self.labels, self.snapshots));
        }
    }
}

impl Sink for StoreSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        self.put(r.events);
        Ok(())
    }

    fn write_events(&mut self, events: &[Event]) -> Result<(), SinkError> {
        self.put(events);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        // The last camera to finish closes the queue and waits for the
        // rows to be written.
        if let Some(writer) = self.writer.take() {
            let StoreWriter { queue, worker, .. } = writer;
            drop(queue);
            if Arc::strong_count(&worker) == 1 {
                if let Some(handle) = worker.lock().ok().and_then(|mut w| w.take()) {
                    let _ = handle.join();
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(camera: &str, n: u64, label: &str) -> EventRow {
        EventRow { label: label.into(), ..test_row(camera, n) }
    }

    #[test]
    fn rows_are_kept_updated_and_read_back_after_a_reopen_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let mut store = Store::open(&path).unwrap();
            store.put(&[row("door", 1000, "person"), row("door", 2000, "car"), row("yard", 3000, "person")]).unwrap();
            // The end of the first: its end, a better score, its zones.
            let mut end = row("door", 1000, "person");
            end.end_ms = Some(1500.0);
            end.top_score = 0.9;
            end.zones = vec!["porch".into()];
            end.clip = None;
            store.put(&[end]).unwrap();
        }
        let store = Store::open(&path).unwrap();
        let all = store.query(&Query { limit: 10, ..Query::default() }).unwrap();
        let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["yard/3000-1", "door/2000-1", "door/1000-1"]);
        let first = &all[2];
        assert_eq!((first.end_ms, first.top_score), (Some(1500.0), 0.9));
        assert_eq!(first.zones, ["porch"]);
        assert_eq!(first.clip.as_deref(), Some("1000-1.mp4"), "a later row without a clip keeps it");
        let q = |camera: Option<&str>, label: Option<&str>, after, before, limit, offset| {
            let q = Query {
                camera: camera.map(Into::into),
                label: label.map(Into::into),
                after_ms: after,
                before_ms: before,
                limit,
                offset,
            };
            store.query(&q).unwrap().into_iter().map(|r| r.id).collect::<Vec<_>>()
        };
        assert_eq!(q(Some("door"), None, None, None, 10, 0), ["door/2000-1", "door/1000-1"]);
        assert_eq!(q(None, Some("person"), None, None, 10, 0), ["yard/3000-1", "door/1000-1"]);
        assert_eq!(q(None, None, Some(1500.0), Some(3000.0), 10, 0), ["door/2000-1"]);
        assert_eq!(q(None, None, None, None, 1, 1), ["door/2000-1"]);
        assert_eq!(store.facets().unwrap(), (vec!["door".into(), "yard".into()], vec!["car".into(), "person".into()]));
        assert_eq!(store.get("yard/3000-1").unwrap().map(|r| r.label), Some("person".into()));
        assert_eq!(store.get("nope").unwrap(), None);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
    }

    #[test]
    fn a_database_is_brought_to_the_newest_schema_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let version = |path: &Path| -> i64 {
            Connection::open(path).unwrap().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap()
        };
        let fresh = dir.path().join("fresh.db");
        Store::open(&fresh).unwrap();
        assert_eq!(version(&fresh), steps().len() as i64);
        // A database of the release before versions: its table, version 0.
        let old = dir.path().join("old.db");
        {
            let conn = Connection::open(&old).unwrap();
            conn.execute_batch(&steps()[0]).unwrap();
            conn.execute("INSERT INTO events (id, camera, label, start_ms, top_score, zones) VALUES ('a/1-1', 'a', 'person', 1, 0.5, '[]')", []).unwrap();
        }
        let store = Store::open(&old).unwrap();
        assert_eq!(store.get("a/1-1").unwrap().map(|r| r.label), Some("person".to_owned()), "its rows stay");
        drop(store);
        assert_eq!(version(&old), 1);
        // A newer ssd-cam's: left alone, one line saying so.
        Connection::open(&old).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let e = Store::open(&old).err().unwrap();
        assert!(e.contains("newer ssd-cam") && e.contains("99"), "{e}");
        assert_eq!(version(&old), 99);
    }

    #[test]
    fn a_deleted_clip_or_snapshot_is_forgotten_by_its_rows_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join(FILE_NAME)).unwrap();
        let mut a = row("door", 1000, "person");
        a.snapshot = Some("1000-1.jpg".into());
        store.put(&[a, row("yard", 1000, "person"), row("door", 2000, "person")]).unwrap();
        assert_eq!(store.forget(Forget::Clip, "1000-1.mp4", Some("door")).unwrap(), 1);
        let get = |id: &str| store.get(id).unwrap().unwrap();
        assert_eq!((get("door/1000-1").clip, get("door/1000-1").snapshot.as_deref()), (None, Some("1000-1.jpg")));
        assert_eq!(get("yard/1000-1").clip.as_deref(), Some("1000-1.mp4"), "another camera's file of that name");
        assert_eq!(store.forget(Forget::Snapshot, "1000-1.jpg", None).unwrap(), 1);
        assert_eq!(get("door/1000-1").snapshot, None);
        assert_eq!(get("door/2000-1").clip.as_deref(), Some("2000-1.mp4"));
    }
}
