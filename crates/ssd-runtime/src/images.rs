//! Still images as a stream: one file, a directory or a glob, in sorted order.
//! An image that cannot be decoded is skipped with a warning.

use std::io::{BufRead, Seek};
use std::path::{Path, PathBuf};

use crate::source::{Source, SourceError};

const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "bmp", "ppm", "pgm", "pnm"];

/// Largest image side accepted, so a hostile header cannot ask for gigabytes.
const MAX_SIDE: u32 = 16384;

/// Whether the path has an image file extension.
pub fn is_image_path(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Image formats people keep beside their JPEGs that this build does not
/// decode: warned about rather than passed over in silence.
fn is_unsupported_image(p: &Path) -> bool {
    const OTHERS: &[&str] = &["webp", "gif", "tif", "tiff", "avif", "heic", "heif", "jxl", "dng", "raw"];
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| OTHERS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Decodes a list of image files one by one.
#[derive(Debug)]
pub struct ImageSource {
    name: String,
    files: Vec<PathBuf>,
    next: usize,
    skipped: u64,
    current: Option<(u64, std::sync::Arc<str>)>,
}

impl ImageSource {
    /// A source over the given files, in the given order.
    pub fn from_files(name: String, files: Vec<PathBuf>) -> Self {
        Self { name, files, next: 0, skipped: 0, current: None }
    }

    /// All images directly inside `dir`, sorted by name.
    pub fn from_dir(dir: &Path) -> Result<Self, SourceError> {
        let what = dir.display().to_string();
        let read =
            std::fs::read_dir(dir).map_err(|e| SourceError::Open { what: what.clone(), message: e.to_string() })?;
        let (mut files, others): (Vec<PathBuf>, Vec<PathBuf>) =
            read.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).partition(|p| is_image_path(p));
        let mut unread: Vec<&PathBuf> = others.iter().filter(|p| is_unsupported_image(p)).collect();
        unread.sort();
        for p in &unread {
            log::warn!("skipping {}: this image format is not read (only {})", p.display(), EXTENSIONS.join(", "));
        }
        files.sort();
        if files.is_empty() {
            return Err(SourceError::Open {
                what,
                message: format!("no images ({}) in this directory", EXTENSIONS.join(", ")),
            });
        }
        let mut source = Self::from_files(dir.display().to_string(), files);
        // Skipped as surely as a file that fails to decode, and counted so.
        source.skipped = unread.len() as u64;
        Ok(source)
    }

    /// Every file matching `pattern`, sorted.
    pub fn from_glob(pattern: &str) -> Result<Self, SourceError> {
        let open = |message: String| SourceError::Open { what: pattern.into(), message };
        let paths = glob::glob(pattern).map_err(|e| open(format!("invalid glob: {e}")))?;
        let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
        files.sort();
        if files.is_empty() {
            return Err(open("the pattern matches no files".into()));
        }
        Ok(Self::from_files(pattern.into(), files))
    }

    fn decode(path: &Path, rgb: &mut Vec<u8>) -> Result<(u32, u32), String> {
        // Streamed, not read whole: the decoder's limits bound the memory an
        // image costs, and a huge file (a video dropped in a watched
        // directory, say) must not be loaded before it is found wanting.
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        decode_image(std::io::BufReader::new(file), rgb)
    }
}

/// Decodes an encoded image (format guessed from its first bytes) from
/// `input` into packed RGB in `rgb` and returns its size; sides above
/// 16384 px and more pixels than `--max-pixels` are refused before any pixel
/// memory is allocated.
pub fn decode_image<R: BufRead + Seek>(input: R, rgb: &mut Vec<u8>) -> Result<(u32, u32), String> {
    use image::ImageDecoder;
    let mut reader = image::ImageReader::new(input).with_guessed_format().map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => format!("the image is over {MAX_SIDE} pixels on a side"),
        e => e.to_string(),
    })?;
    let (w, h) = decoder.dimensions();
    crate::source::check_frame_size(w, h)?;
    let img = image::DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?.into_rgb8();
    let (w, h) = img.dimensions();
    rgb.clear();
    rgb.extend_from_slice(img.as_raw());
    Ok((w, h))
}

impl Source for ImageSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_live(&self) -> bool {
        false
    }

    fn next_frame(&mut self, rgb: &mut Vec<u8>) -> Result<Option<(u32, u32)>, SourceError> {
        while let Some(path) = self.files.get(self.next) {
            self.next += 1;
            match Self::decode(path, rgb) {
                Ok(size) => {
                    self.current = Some(((self.next - 1) as u64, path.display().to_string().into()));
                    return Ok(Some(size));
                }
                Err(e) => {
                    self.skipped += 1;
                    log::warn!("skipping {}: {e}", path.display());
                }
            }
        }
        Ok(None)
    }

    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn frame_origin(&self) -> Option<(u64, std::sync::Arc<str>)> {
        self.current.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_is_read_in_name_order_and_bad_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        image::RgbImage::from_pixel(4, 2, image::Rgb([1, 2, 3])).save(dir.path().join("b.png")).unwrap();
        image::RgbImage::from_pixel(3, 5, image::Rgb([9, 9, 9])).save(dir.path().join("a.png")).unwrap();
        std::fs::write(dir.path().join("c.jpg"), b"not a jpeg").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
        // Issue 51, point 16: a format not read counts as skipped too.
        std::fs::write(dir.path().join("d.webp"), b"RIFF").unwrap();
        let mut s = ImageSource::from_dir(dir.path()).unwrap();
        let mut buf = Vec::new();
        assert_eq!(s.next_frame(&mut buf).unwrap(), Some((3, 5)));
        assert_eq!(&buf[..3], &[9, 9, 9]);
        assert_eq!(s.next_frame(&mut buf).unwrap(), Some((4, 2)));
        assert_eq!(buf.len(), 4 * 2 * 3);
        assert_eq!(s.next_frame(&mut buf).unwrap(), None);
        assert_eq!(s.skipped(), 2);
    }

    #[test]
    fn a_file_is_decoded_without_reading_it_whole() {
        // A small PNG followed by a 64 GiB sparse tail: reading the file into
        // memory first would need 64 GiB (and fail); the PNG decoder stops at
        // the image's end.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.png");
        image::RgbImage::from_pixel(6, 4, image::Rgb([10, 20, 30])).save(&path).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(64 << 30).unwrap();
        drop(file);
        let mut s = ImageSource::from_files("big".into(), vec![path]);
        let mut buf = Vec::new();
        assert_eq!(s.next_frame(&mut buf).unwrap(), Some((6, 4)));
        assert_eq!(&buf[..3], &[10, 20, 30]);
        assert_eq!(s.skipped(), 0);
    }

    #[test]
    fn empty_directory_and_empty_glob_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ImageSource::from_dir(dir.path()).unwrap_err().to_string().contains("no images"));
        let pattern = format!("{}/*.png", dir.path().display());
        assert!(ImageSource::from_glob(&pattern).unwrap_err().to_string().contains("matches no files"));
    }
}
