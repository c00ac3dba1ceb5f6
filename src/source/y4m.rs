//! YUV4MPEG2 (Y4M) video from a file or stdin: 8-bit 4:2:0, 4:2:2, 4:4:4 and
//! mono, converted to RGB with BT.601 coefficients (limited range unless the
//! header says `XCOLORRANGE=FULL`).

use std::io::{BufRead, Read};

use super::convert::{planar_to_rgb, Bt601, Planar as Chroma};
use super::{Source, SourceError};

/// Largest accepted frame side, so a hostile header cannot ask for gigabytes.
const MAX_SIDE: u32 = 16384;
/// Longest accepted header or FRAME line.
const MAX_LINE: usize = 4096;

/// Reads Y4M frames from any buffered reader.
pub struct Y4mSource<R: BufRead> {
    reader: R,
    name: String,
    width: u32,
    height: u32,
    chroma: Chroma,
    full_range: bool,
    yuv: Vec<u8>,
    frame: u64,
    /// Frame rate from the `F` header field, `(numerator, denominator)`.
    rate: Option<(u64, u64)>,
}

impl<R: BufRead> std::fmt::Debug for Y4mSource<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Y4mSource")
            .field("name", &self.name)
            .field("size", &(self.width, self.height))
            .field("chroma", &self.chroma)
            .finish_non_exhaustive()
    }
}

/// Reads one `\n`-terminated line of at most `MAX_LINE` bytes. `Ok(None)` at
/// a clean end of input.
fn read_line<R: BufRead>(r: &mut R, what: &str) -> Result<Option<Vec<u8>>, SourceError> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)
        .map_err(|source| SourceError::Io { what: what.into(), source })?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        line.clear();
        line.extend_from_slice(b"\x00");
    } else {
        line.pop();
    }
    Ok(Some(line))
}

impl<R: BufRead> Y4mSource<R> {
    /// Reads and checks the stream header.
    pub fn new(mut reader: R, name: String) -> Result<Self, SourceError> {
        let bad = |message: String| SourceError::Y4m { what: name.clone(), frame: 0, message };
        let line = read_line(&mut reader, &name)?.ok_or_else(|| bad("empty input, no Y4M header".into()))?;
        let text = String::from_utf8_lossy(&line);
        let mut tokens = text.split(' ');
        if tokens.next() != Some("YUV4MPEG2") {
            return Err(bad("not a Y4M stream (no YUV4MPEG2 header)".into()));
        }
        let (mut width, mut height, mut chroma, mut full_range) = (0u32, 0u32, Chroma::C420, false);
        let mut rate = None;
        for t in tokens.filter(|t| !t.is_empty()) {
            // The first character is the tag; it may be any UTF-8 (or a
            // replacement character from a damaged header).
            let Some(tag) = t.chars().next() else { continue };
            let value = &t[tag.len_utf8()..];
            match tag {
                'W' => width = value.parse().map_err(|_| bad(format!("bad width '{value}'")))?,
                'H' => height = value.parse().map_err(|_| bad(format!("bad height '{value}'")))?,
                'C' => {
                    chroma = match value {
                        "420" | "420jpeg" | "420paldv" | "420mpeg2" => Chroma::C420,
                        "422" => Chroma::C422,
                        "444" => Chroma::C444,
                        "mono" => Chroma::Mono,
                        other => {
                            return Err(bad(format!(
                                "colour space C{other} is not supported (8-bit 420, 422, 444 or mono; convert with ffmpeg -pix_fmt yuv420p)"
                            )))
                        }
                    }
                }
                'X' if value == "COLORRANGE=FULL" => full_range = true,
                // A rate that does not parse or is zero leaves the frames
                // without media time rather than failing the stream.
                'F' => {
                    rate = value
                        .split_once(':')
                        .and_then(|(n, d)| Some((n.parse::<u64>().ok()?, d.parse::<u64>().ok()?)))
                        .filter(|&(n, d)| n > 0 && d > 0);
                }
                _ => {}
            }
        }
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(bad(format!("frame size {width}x{height} is outside 1..={MAX_SIDE} per side")));
        }
        ssd_runtime::source::check_frame_size(width, height).map_err(bad)?;
        Ok(Self { reader, name, width, height, chroma, full_range, yuv: Vec::new(), frame: 0, rate })
    }

    /// Frame width and height from the header.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Frames per second from the header's `F` field, when it has one.
    pub fn header_rate(&self) -> Option<f64> {
        self.rate.map(|(n, d)| n as f64 / d as f64)
    }

    fn frame_bytes(&self) -> usize {
        self.chroma.frame_bytes(self.width, self.height)
    }
}

impl<R: BufRead + Send> Source for Y4mSource<R> {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_live(&self) -> bool {
        false
    }

    fn next_frame(&mut self, rgb: &mut Vec<u8>) -> Result<Option<(u32, u32)>, SourceError> {
        let bad = |frame: u64, message: String| SourceError::Y4m { what: self.name.clone(), frame, message };
        let Some(line) = read_line(&mut self.reader, &self.name)? else {
            return Ok(None);
        };
        if !line.starts_with(b"FRAME") {
            return Err(bad(self.frame, "expected a FRAME marker (stream damaged or truncated)".into()));
        }
        let need = self.frame_bytes();
        // Grow with the bytes that arrive, not with what the header claims:
        // a lying header must not cost hundreds of megabytes up front.
        self.yuv.clear();
        (&mut self.reader)
            .take(need as u64)
            .read_to_end(&mut self.yuv)
            .map_err(|source| SourceError::Io { what: self.name.clone(), source })?;
        if self.yuv.len() < need {
            return Err(bad(self.frame, format!("truncated: {} of {need} bytes", self.yuv.len())));
        }
        planar_to_rgb(&self.yuv, self.width, self.height, self.chroma, Bt601::new(self.full_range), rgb)
            .map_err(|e| bad(self.frame, e.to_string()))?;
        self.frame += 1;
        Ok(Some((self.width, self.height)))
    }

    fn frame_rate(&self) -> Option<f64> {
        self.header_rate()
    }

    fn frame_pts_ms(&self) -> Option<f64> {
        let (num, den) = self.rate?;
        let index = self.frame.checked_sub(1)?;
        Some(index as f64 * 1000.0 * den as f64 / num as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(header: &str, frames: &[Vec<u8>]) -> Vec<u8> {
        let mut s = format!("{header}\n").into_bytes();
        for f in frames {
            s.extend_from_slice(b"FRAME\n");
            s.extend_from_slice(f);
        }
        s
    }

    #[test]
    fn a_header_announcing_more_pixels_than_allowed_is_refused_before_reading() {
        // 16384 × 16384 is 805 MB as RGB: over the 8K UHD default.
        let s = stream("YUV4MPEG2 W16384 H16384 F30:1 C420", &[]);
        let e = Y4mSource::new(std::io::Cursor::new(s), "big".into()).unwrap_err().to_string();
        assert!(e.contains("16384x16384") && e.contains("--max-pixels") && !e.contains('\n'), "{e}");
        let s = stream("YUV4MPEG2 W7680 H4320 F30:1 C420", &[]);
        assert!(Y4mSource::new(std::io::Cursor::new(s), "8k".into()).is_ok());
    }

    #[test]
    fn a_header_token_starting_with_a_multibyte_character_is_ignored() {
        // Found by fuzz/fuzz_targets/y4m.rs: slicing the tag off at byte 1
        // split a replacement character and panicked.
        let mut s = b"YUV4MPEG2 W2 H2 Cmono \x81\x00 \xc3\xa9t\n".to_vec();
        s.extend_from_slice(b"FRAME\n");
        s.extend_from_slice(&[0, 64, 128, 255]);
        let mut src = Y4mSource::new(std::io::Cursor::new(s), "t".into()).unwrap();
        let mut rgb = Vec::new();
        assert_eq!(src.next_frame(&mut rgb).unwrap(), Some((2, 2)));
        assert_eq!(rgb.len(), 12);
    }

    #[test]
    fn grey_420_frame_converts_to_grey_rgb() {
        // 4x2 frame: Y = 126 everywhere, chroma neutral. Limited range: (126-16)·1.164 = 128.
        let frame = [vec![126u8; 8], vec![128u8; 4]].concat();
        let data = stream("YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C420jpeg", &[frame.clone(), frame]);
        let mut s = Y4mSource::new(&data[..], "t".into()).unwrap();
        let mut rgb = Vec::new();
        assert_eq!(s.next_frame(&mut rgb).unwrap(), Some((4, 2)));
        assert!(rgb.iter().all(|&v| v == 128), "{rgb:?}");
        assert_eq!(s.next_frame(&mut rgb).unwrap(), Some((4, 2)));
        assert_eq!(s.next_frame(&mut rgb).unwrap(), None);
    }

    #[test]
    fn full_range_444_red_matches_bt601() {
        // Pure red in full-range BT.601: Y 76, U 85, V 255.
        let frame = vec![76u8, 85, 255];
        let data = stream("YUV4MPEG2 W1 H1 C444 XCOLORRANGE=FULL", &[frame]);
        let mut s = Y4mSource::new(&data[..], "t".into()).unwrap();
        let mut rgb = Vec::new();
        s.next_frame(&mut rgb).unwrap();
        assert!(rgb[0] >= 253 && rgb[1] <= 2 && rgb[2] <= 2, "{rgb:?}");
    }

    #[test]
    fn truncated_frame_is_an_error_after_the_complete_ones() {
        let frame = vec![16u8; 6];
        let mut data = stream("YUV4MPEG2 W2 H2 C420", &[frame]);
        data.extend_from_slice(b"FRAME\n\x10\x10");
        let mut s = Y4mSource::new(&data[..], "clip.y4m".into()).unwrap();
        let mut rgb = Vec::new();
        assert!(s.next_frame(&mut rgb).unwrap().is_some());
        let err = s.next_frame(&mut rgb).unwrap_err().to_string();
        assert_eq!(err, "clip.y4m: frame 1: truncated: 2 of 6 bytes");
    }

    #[test]
    fn bad_headers_are_rejected_with_the_reason() {
        for (header, needle) in [
            ("P6 1 1 255", "not a Y4M"),
            ("YUV4MPEG2 W0 H2", "frame size"),
            ("YUV4MPEG2 W99999 H2", "frame size"),
            ("YUV4MPEG2 W2 H2 C420p10", "not supported"),
            ("YUV4MPEG2 Wx H2", "bad width"),
        ] {
            let data = format!("{header}\n");
            let err = Y4mSource::new(data.as_bytes(), "t".into()).unwrap_err().to_string();
            assert!(err.contains(needle), "{header}: {err}");
        }
        assert!(Y4mSource::new(&b""[..], "t".into()).unwrap_err().to_string().contains("empty"));
    }
}
