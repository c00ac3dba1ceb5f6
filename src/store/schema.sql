-- The events database (`--clips DIR` keeps it in DIR/ssd-cam.db): a
-- numbered step per schema version takes a database from N-1 to N,
-- and `PRAGMA user_version` says which version a file is at. A step is
-- only ever added, never changed: databases in the field went through
-- the old ones. src/store/mod.rs runs the steps a file has not had, each
-- in one transaction with its version.

-- step 1: one row per object.
CREATE TABLE events (
    -- CAMERA/FIRST-ID: unique across cameras and runs.
    id TEXT PRIMARY KEY,
    camera TEXT NOT NULL,
    label TEXT NOT NULL,
    -- First and last seen, ms since the Unix epoch; end_ms NULL until it ends.
    start_ms REAL NOT NULL,
    end_ms REAL,
    top_score REAL NOT NULL,
    -- The zones it entered, a JSON array of names.
    zones TEXT NOT NULL,
    -- File names in the camera's snapshots and clips folders; NULL when
    -- there is none, or once retention deleted it.
    snapshot TEXT,
    clip TEXT
);
-- The review page lists the newest first, of one camera or all.
CREATE INDEX events_start ON events (start_ms DESC);
CREATE INDEX events_camera_start ON events (camera, start_ms DESC);
