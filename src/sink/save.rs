//! `--save DIR`: every N-th frame as an image file, annotated with the
//! overlay (or raw with `--save-raw`, e.g. to collect calibration frames).
//! Files are written to a temporary name and renamed, so a reader never
//! sees half a file; existing files are kept unless `--overwrite`. A failing
//! disk is reported once and never stops the detection output.

use std::path::{Path, PathBuf};

use super::{FrameResult, Sink, SinkError};
use crate::overlay::annotate;

/// Image format of saved frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// Lossless PNG.
    Png,
    /// JPEG, quality 90.
    Jpeg,
}

impl SaveFormat {
    pub(crate) fn extension(self) -> &'static str {
        match self {
            SaveFormat::Png => "png",
            SaveFormat::Jpeg => "jpg",
        }
    }
}

/// Options of the save sink.
#[derive(Debug, Clone)]
pub struct SaveOptions {
    /// Folder the frames go to (created if missing).
    pub dir: PathBuf,
    /// Save frames whose index is a multiple of this.
    pub every: u64,
    /// Image format.
    pub format: SaveFormat,
    /// Frames without the overlay.
    pub raw: bool,
    /// Replace files that already exist.
    pub overwrite: bool,
    /// Draw where the model ran (`--show-regions`).
    pub regions: bool,
}

/// Writes frames as images.
pub struct SaveSink {
    options: SaveOptions,
    labels: Vec<String>,
    canvas: Vec<u8>,
    saved: u64,
    skipped_existing: u64,
    failed: u64,
    broken: bool,
    /// Frames handed to this sink so far (what --save-every counts).
    written: u64,
}

impl SaveSink {
    /// A sink saving into `options.dir` (created now: a folder that cannot
    /// be is an error at start, not a warning after the run); `labels` name
    /// the class axis.
    pub fn new(options: SaveOptions, labels: Vec<String>) -> std::io::Result<Self> {
        std::fs::create_dir_all(&options.dir)?;
        Ok(Self {
            options,
            labels,
            canvas: Vec::new(),
            saved: 0,
            skipped_existing: 0,
            failed: 0,
            broken: false,
            written: 0,
        })
    }

    /// The file frame `index` is saved as.
    pub fn path_of(&self, index: u64) -> PathBuf {
        self.options.dir.join(format!("frame_{index:08}.{}", self.options.format.extension()))
    }

    /// The file a frame is saved as: named after its input file when it has
    /// one (`shots/b.jpg` -> `DIR/b.jpg`), else by its frame number.
    fn path_for(&self, frame: &crate::source::Frame) -> PathBuf {
        let stem = frame.file.as_deref().and_then(|f| Path::new(f).file_stem()).and_then(|s| s.to_str());
        match stem {
            Some(stem) => self.options.dir.join(format!("{stem}.{}", self.options.format.extension())),
            None => self.path_of(frame.index),
        }
    }

    fn save(&mut self, r: &FrameResult<'_>, path: &Path) -> Result<(), String> {
        let (w, h) = (r.frame.width, r.frame.height);
        if self.options.raw {
            self.canvas.clear();
            self.canvas.extend_from_slice(&r.frame.rgb);
        } else {
            annotate(&mut self.canvas, r, &self.labels, self.options.regions);
        }
        write_image(path, &self.canvas, w, h, self.options.format)
    }
}

/// JPEG quality of saved frames and snapshots (with colour at full
/// resolution, so thin box lines keep their class colour).
const SAVED_JPEG_QUALITY: u8 = 85;

/// Writes an RGB image to a temporary name next to `path` and renames it,
/// so that a reader never sees half a file.
pub(crate) fn write_image(path: &Path, rgb: &[u8], w: u32, h: u32, format: SaveFormat) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let encoded = match format {
        SaveFormat::Png => {
            image::save_buffer_with_format(&tmp, rgb, w, h, image::ExtendedColorType::Rgb8, image::ImageFormat::Png)
                .map_err(|e| e.to_string())
        }
        SaveFormat::Jpeg => {
            let mut jpeg = Vec::new();
            crate::jpeg::encode_with(rgb, w, h, SAVED_JPEG_QUALITY, crate::jpeg::Chroma::Full, &mut jpeg)
                .and_then(|()| std::fs::write(&tmp, &jpeg).map_err(|e| e.to_string()))
        }
    };
    let written = encoded.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

impl Sink for SaveSink {
    fn write(&mut self, r: &FrameResult<'_>) -> Result<(), SinkError> {
        // Every N-th frame written, not every N-th source index: a live
        // source's dropped frames must not make --save-every skip more.
        let nth = self.written;
        self.written += 1;
        if self.broken || !nth.is_multiple_of(self.options.every.max(1)) {
            return Ok(());
        }
        let path = self.path_for(r.frame);
        if !self.options.overwrite && path.exists() {
            if self.skipped_existing == 0 {
                log::warn!("{} exists; not overwriting saved frames (use --overwrite)", path.display());
            }
            self.skipped_existing += 1;
            return Ok(());
        }
        match self.save(r, &path) {
            Ok(()) => self.saved += 1,
            Err(e) => {
                if self.failed == 0 {
                    log::warn!("--save: {}: {e}; detection output continues (reported once)", path.display());
                }
                self.failed += 1;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        if !self.broken {
            log::info!(
                "saved {} frame(s) to {} ({} kept as they existed, {} failed)",
                self.saved,
                self.options.dir.display(),
                self.skipped_existing,
                self.failed
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Latency;
    use crate::source::Frame;
    use ssd_core::boxes::BBox;
    use ssd_core::postprocess::Detection;

    fn frame(index: u64) -> Frame {
        Frame {
            index,
            captured_at: std::time::Instant::now(),
            timestamp_ms: 0.0,
            width: 64,
            height: 48,
            rgb: vec![100; 64 * 48 * 3],
            file: None,
            pts_ms: None,
            time_ms: 0.0,
        }
    }

    fn options(dir: &Path, raw: bool, overwrite: bool) -> SaveOptions {
        SaveOptions { dir: dir.join("out"), every: 2, format: SaveFormat::Png, raw, overwrite, regions: false }
    }

    fn write(sink: &mut SaveSink, f: &Frame, dets: &[Detection]) {
        let r = FrameResult {
            frame: f,
            gate: None,
            detections: dets,
            track_ids: &[],
            events: &[],
            latency: Latency::default(),
            dropped: 0,
            places: Default::default(),
            stationary: &[],
            fps: 0.0,
        };
        sink.write(&r).unwrap();
    }

    #[test]
    fn every_nth_frame_is_saved_annotated_or_raw() {
        let dir = tempfile::tempdir().unwrap();
        let dets =
            [Detection { class_id: 1, score: 0.9, bbox: BBox::new(10.0, 20.0, 40.0, 40.0), ..Default::default() }];
        let mut sink = SaveSink::new(options(dir.path(), false, false), vec!["bg".into(), "a".into()]).unwrap();
        for i in 0..5 {
            write(&mut sink, &frame(i), &dets);
        }
        sink.finish().unwrap();
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["frame_00000000.png", "frame_00000002.png", "frame_00000004.png"]);
        let img = image::open(sink.path_of(2)).unwrap().into_rgb8();
        assert_eq!(img.get_pixel(10, 30).0, crate::draw::class_color(1), "box outline drawn");

        let mut raw = SaveSink::new(options(&dir.path().join("raw"), true, false), vec![]).unwrap();
        write(&mut raw, &frame(0), &dets);
        let img = image::open(raw.path_of(0)).unwrap().into_rgb8();
        assert!(img.pixels().all(|p| p.0 == [100; 3]), "raw frames are the frame itself");
    }

    #[test]
    fn existing_files_are_kept_unless_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = SaveSink::new(options(dir.path(), true, false), vec![]).unwrap();
        std::fs::write(sink.path_of(0), b"keep me").unwrap();
        write(&mut sink, &frame(0), &[]);
        assert_eq!(std::fs::read(sink.path_of(0)).unwrap(), b"keep me");
        let mut sink = SaveSink::new(options(dir.path(), true, true), vec![]).unwrap();
        write(&mut sink, &frame(0), &[]);
        assert!(image::open(sink.path_of(0)).is_ok(), "replaced by a real image");
    }

    #[test]
    fn an_unusable_directory_is_an_error_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let opts = SaveOptions {
            dir: file.join("sub"),
            every: 1,
            format: SaveFormat::Jpeg,
            raw: false,
            overwrite: false,
            regions: false,
        };
        assert!(SaveSink::new(opts, vec![]).is_err());
        assert!(!file.join("sub").exists());
    }
}
