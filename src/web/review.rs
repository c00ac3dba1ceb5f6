//! The review side of the viewer: the events database as JSON
//! (`/api/events?camera=&label=&after=&before=&limit=&offset=`), clips
//! served with HTTP range requests (`/clips/CAMERA/FILE`, so a video
//! element can seek), and the `/review` page that lists events with their
//! snapshots and plays their clips.

use crate::store::{Query, MAX_LIMIT};

/// Where clips are served: `/clips/CAMERA/FILE`.
pub const CLIPS: &str = "/clips/";

/// The longest query string taken: every filter fits well within it.
pub const MAX_QUERY: usize = 512;

/// The most bytes one answer to a range request carries: a browser asks
/// for the rest in further requests, and the server never holds a whole
/// long clip in memory.
pub const MAX_PART: u64 = 2 << 20;

/// Rows on a page when the query does not say.
pub const DEFAULT_LIMIT: u32 = 50;

/// What to send of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// No range asked: the first bytes (up to [`MAX_PART`]) as a range
    /// answer, when the file is longer.
    Whole,
    /// Bytes `start..=end`.
    Range(u64, u64),
    /// A range outside the file (416).
    Unsatisfiable,
}

/// Reads a `Range` header (`bytes=A-B`, `bytes=A-`, `bytes=-N`; only the
/// first of several ranges is served) for a file of `len` bytes. Anything
/// else than bytes is ignored (the whole file), as RFC 9110 allows.
pub fn parse_range(header: &str, len: u64) -> Part {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return Part::Whole };
    let first = spec.split(',').next().unwrap_or_default().trim();
    let Some((a, b)) = first.split_once('-') else { return Part::Unsatisfiable };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.len() <= 19 && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => match number(n) {
            Some(0) | None => return Part::Unsatisfiable,
            Some(n) => (len.saturating_sub(n), len.saturating_sub(1)),
        },
        (a, "") => match number(a) {
            Some(a) => (a, len.saturating_sub(1)),
            None => return Part::Unsatisfiable,
        },
        (a, b) => match (number(a), number(b)) {
            (Some(a), Some(b)) if a <= b => (a, b.min(len.saturating_sub(1))),
            _ => return Part::Unsatisfiable,
        },
    };
    if len == 0 || start >= len {
        return Part::Unsatisfiable;
    }
    Part::Range(start, end.min(start.saturating_add(MAX_PART - 1)))
}

/// Reads `/api/events`' query string. Unknown keys are refused, so a typo
/// is not a silently ignored filter.
pub fn parse_query(query: &str) -> Result<Query, String> {
    if query.len() > MAX_QUERY {
        return Err(format!("the query is longer than {MAX_QUERY} bytes"));
    }
    let mut q = Query { limit: DEFAULT_LIMIT, ..Query::default() };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        let value = super::auth::form_value(pair.as_bytes(), key)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        let ms = |v: &str| -> Result<f64, String> {
            v.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("{key}={v}: a time in ms since 1970"))
        };
        let count = |v: &str, max: u32| -> Result<u32, String> {
            v.parse::<u32>().ok().filter(|n| *n <= max).ok_or_else(|| format!("{key}={v}: a number up to {max}"))
        };
        let name = |v: String| -> Result<Option<String>, String> {
            if v.is_empty() {
                return Ok(None);
            }
            crate::config::check_name(&v).map(|()| Some(v)).map_err(|e| format!("{key}: {e}"))
        };
        match key {
            "camera" => q.camera = name(value)?,
            "label" => q.label = name(value)?,
            "after" => q.after_ms = Some(ms(&value)?),
            "before" => q.before_ms = Some(ms(&value)?),
            "limit" => q.limit = count(&value, MAX_LIMIT)?,
            "offset" => q.offset = count(&value, 10_000_000)?,
            other => return Err(format!("unknown parameter '{other}' (camera, label, after, before, limit, offset)")),
        }
    }
    Ok(q)
}

/// Whether `file` is a name the clip output writes (`<ms>-<id>.mp4`): the
/// only files served, so no path can reach outside the folder.
pub fn is_clip_name(file: &str) -> bool {
    crate::records::is_object_file(file, "mp4")
}

/// One event as `/api/events` gives it: the row, with where the viewer
/// serves its snapshot and clip.
#[derive(Debug, serde::Serialize)]
pub struct EventJson {
    /// The row.
    #[serde(flatten)]
    pub row: crate::store::EventRow,
    /// How long it was there (ms), once it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// `/snapshots/CAMERA/FILE`, when the camera keeps snapshots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_url: Option<String>,
    /// `/clips/CAMERA/FILE`, once the clip is on disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_browsers_send_them_and_capped() {
        assert_eq!(parse_range("bytes=0-", 1000), Part::Range(0, 999));
        assert_eq!(parse_range("bytes=100-199", 1000), Part::Range(100, 199));
        assert_eq!(parse_range("bytes=900-5000", 1000), Part::Range(900, 999));
        assert_eq!(parse_range("bytes=-100", 1000), Part::Range(900, 999));
        assert_eq!(parse_range("bytes=-5000", 1000), Part::Range(0, 999));
        assert_eq!(parse_range("bytes=10-20, 30-40", 1000), Part::Range(10, 20));
        assert_eq!(parse_range("items=0-1", 1000), Part::Whole);
        let big = 100 << 20;
        assert_eq!(parse_range("bytes=0-", big), Part::Range(0, MAX_PART - 1), "one part at a time");
        for bad in
            ["bytes=1000-", "bytes=5-2", "bytes=-0", "bytes=x-1", "bytes=", "bytes=--1", "bytes=99999999999999999999-"]
        {
            assert_eq!(parse_range(bad, 1000), Part::Unsatisfiable, "{bad}");
        }
        assert_eq!(parse_range("bytes=0-", 0), Part::Unsatisfiable);
    }

    #[test]
    fn queries_are_read_and_wrong_ones_refused_in_one_line() {
        let q = parse_query("camera=door&label=person&after=1000&before=2000.5&limit=20&offset=40").unwrap();
        assert_eq!(
            q,
            Query {
                camera: Some("door".into()),
                label: Some("person".into()),
                after_ms: Some(1000.0),
                before_ms: Some(2000.5),
                limit: 20,
                offset: 40
            }
        );
        assert_eq!(parse_query("").unwrap(), Query { limit: DEFAULT_LIMIT, ..Query::default() });
        assert_eq!(parse_query("camera=&label=").unwrap().camera, None, "an empty filter is no filter");
        for (bad, says) in [
            ("limit=501", "limit=501"),
            ("limit=-1", "limit"),
            ("after=nan", "after=nan"),
            ("camera=..%2Fetc", "camera"),
            ("color=red", "unknown parameter 'color'"),
        ] {
            let err = parse_query(bad).unwrap_err();
            assert!(err.contains(says) && !err.contains('\n'), "{bad}: {err}");
        }
        assert!(parse_query(&"a".repeat(MAX_QUERY + 1)).unwrap_err().contains("longer"));
    }

    #[test]
    fn only_clip_names_are_served() {
        assert!(is_clip_name("1796596911709-1.mp4"));
        for bad in ["../x.mp4", "1-2.mp4/..", "1-.mp4", "-1.mp4", "1-2.jpg", "a-1.mp4", ".1-2.mp4.partial"] {
            assert!(!is_clip_name(bad), "{bad}");
        }
    }
}
