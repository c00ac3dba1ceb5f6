//! `--headless`: one JSON object per frame per line; with `--events`, one
//! per object event instead (schema in [`crate::events`]).

use std::io::Write;

use serde::Serialize;

use super::{FrameResult, Sink, SinkError};
use crate::records::{event_record, frame_record};

/// Standard output shared by several cameras' output threads: each
/// writer collects what it is given and writes it in one piece when
/// flushed (the JSON sink flushes after every line), so lines from
/// different cameras never mix.
#[derive(Clone)]
pub struct SharedLines {
    out: std::sync::Arc<std::sync::Mutex<std::io::Stdout>>,
}

impl SharedLines {
    /// Shares stdout.
    pub fn stdout() -> Self {
        Self { out: std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout())) }
    }

    /// A writer for one camera.
    pub fn writer(&self) -> SharedLinesWriter {
        SharedLinesWriter { out: std::sync::Arc::clone(&self.out), buf: Vec::new() }
    }
}

/// One camera's writer into [`SharedLines`].
pub struct SharedLinesWriter {
    out: std::sync::Arc<std::sync::Mutex<std::io::Stdout>>,
    buf: Vec<u8>,
}

impl Write for SharedLinesWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let written = out.write_all(&self.buf).and_then(|()| out.flush());
        self.buf.clear();
        written
    }
}

/// Writes JSON lines to any writer (stdout in the binary), flushing every
/// line so that a reader sees each frame as soon as it is done.
pub struct JsonSink<W: Write + Send> {
    out: W,
    source: String,
    labels: Vec<String>,
    events_only: bool,
    snapshots: crate::records::SnapshotLink,
}

impl<W: Write + Send> JsonSink<W> {
    /// A sink writing to `out`; `source` and `labels` name things in records.
    pub fn new(out: W, source: String, labels: Vec<String>) -> Self {
        Self { out, source, labels, events_only: false, snapshots: crate::records::SnapshotLink::None }
    }

    /// Object events only, instead of a line per frame (`--events`).
    pub fn events_only(mut self, on: bool) -> Self {
        self.events_only = on;
        self
    }

    /// Events name their snapshot file (`--snapshots`).
    pub fn with_snapshots(mut self, link: crate::records::SnapshotLink) -> Self {
        self.snapshots = link;
        self
    }

    /// One record and its newline.
    fn line<T: Serialize>(out: &mut W, record: &T) -> Result<(), SinkError> {
        serde_json::to_writer(&mut *out, record).map_err(|e| match e.io_error_kind() {
            Some(std::io::ErrorKind::BrokenPipe) => SinkError::Closed,
            _ => SinkError::Io { what: "stdout".into(), source: std::io::Error::other(e) },
        })?;
        out.write_all(b"\n").map_err(Self::io)
    }

    fn events(&mut self, events: &[crate::events::Event]) -> Result<(), SinkError> {
        for e in events {
            let record = event_record(e, &self.source, &self.labels, self.snapshots);
            Self::line(&mut self.out, &record)?;
        }
        self.out.flush().map_err(Self::io)
    }

    fn io(e: std::io::Error) -> SinkError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            SinkError::Closed
        } else {
            SinkError::Io { what: "stdout".into(), source: e }
        }
    }
}

impl<W: Write + Send> Sink for JsonSink<W> {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        if self.events_only {
            return self.events(r.events);
        }
        frame_record(r, &self.source, &self.labels, |record| Self::line(&mut self.out, record))?;
        self.out.flush().map_err(Self::io)
    }

    fn write_events(&mut self, events: &[crate::events::Event]) -> Result<(), SinkError> {
        if self.events_only {
            self.events(events)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(Self::io)
    }
}
