//! Synthetic detection scenes: shapes of several classes from 2% to 90% of
//! the image side, varied aspect ratios, colours and rotations, partly
//! occluding each other, over textured or noisy backgrounds, with blur and
//! uneven lighting. Deterministic by seed. Boxes are the extent of each
//! shape's visible pixels, so occlusion and rotation are accounted for.

use std::path::Path;

use ssd_core::boxes::BBox;
use ssd_core::dataset::voc::{to_xml, write_split, VocAnnotation, VocObject};
use ssd_core::rng::SplitMix;
use ssd_core::scene::{background, distinct_color, Shape};

pub use ssd_core::scene::CLASSES;

/// One object in a generated scene.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SceneObject {
    /// Index into [`CLASSES`].
    pub class: usize,
    /// Tight box around the visible pixels, in pixels (x2, y2 exclusive).
    pub bbox: BBox,
}

/// A rendered scene.
#[derive(Debug, Clone)]
pub struct Scene {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGB8 pixels.
    pub rgb: Vec<u8>,
    /// Visible objects.
    pub objects: Vec<SceneObject>,
}

/// Knobs of the generator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthParams {
    /// Most objects drawn per scene (at least one is drawn).
    pub max_objects: usize,
    /// Smallest and largest shape side as a fraction of the image side.
    pub size_range: (f32, f32),
    /// An object keeps its box only if this fraction of it stays visible.
    pub min_visible: f32,
}

impl Default for SynthParams {
    fn default() -> Self {
        Self { max_objects: 6, size_range: (0.02, 0.9), min_visible: 0.35 }
    }
}

/// Writes scenes `0..count` of seed `seed` (`size`×`size`) as a Pascal VOC
/// dataset under `out`, listed in `ImageSets/Main/SPLIT.txt`; returns the ids.
pub fn write_dataset(
    out: &Path,
    split: &str,
    seed: u64,
    count: u64,
    size: u32,
    params: &SynthParams,
) -> std::io::Result<Vec<String>> {
    let digits = count.to_string().len().max(6);
    let mut ids = Vec::new();
    for i in 0..count {
        let s = scene(seed, i, size, size, params);
        let img = image::RgbImage::from_raw(s.width, s.height, s.rgb)
            .ok_or_else(|| std::io::Error::other("scene buffer size"))?;
        let objects = s
            .objects
            .iter()
            .map(|o| VocObject { name: CLASSES[o.class].to_owned(), bbox: o.bbox, difficult: false })
            .collect();
        let id = format!("{split}_{i:0digits$}");
        write_sample(out, &id, &img, objects)?;
        ids.push(id);
    }
    write_split(out, split, &ids)?;
    Ok(ids)
}

/// Renders scene number `index` of the stream seeded by `seed`.
pub fn scene(seed: u64, index: u64, width: u32, height: u32, params: &SynthParams) -> Scene {
    let mut rng = SplitMix::new(seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let (w, h) = (width as usize, height as usize);
    let mut rgb = background(&mut rng, w, h);
    // Which object owns each pixel (u16::MAX = background), for visible boxes.
    let mut owner = vec![u16::MAX; w * h];
    let count = 1 + (rng.next_u64() % params.max_objects.max(1) as u64) as usize;
    let side = width.min(height) as f32;
    let mut drawn: Vec<(usize, usize)> = Vec::new(); // (class, full pixel area)
    for id in 0..count {
        let class = (rng.next_u64() % CLASSES.len() as u64) as usize;
        // Log-uniform size so small objects are as common as large ones.
        let (lo, hi) = params.size_range;
        let size = (lo.ln() + rng.range(0.0, 1.0) * (hi.ln() - lo.ln())).exp() * side;
        let aspect = rng.range(0.6, 1.6f32).sqrt();
        let (sw, sh) = (size * aspect, size / aspect);
        let angle = if class == 0 { 0.0 } else { rng.range(0.0, std::f32::consts::TAU) };
        let cx = rng.range(0.0, width as f32);
        let cy = rng.range(0.0, height as f32);
        let shape = Shape { class, center: [cx, cy], size: [sw, sh], angle, color: distinct_color(&mut rng) };
        let mut area = 0usize;
        shape.paint(&mut rgb, w, h, |o| {
            area += 1;
            owner[o] = id as u16;
        });
        drawn.push((class, area));
    }
    let mut extents = vec![(usize::MAX, usize::MAX, 0usize, 0usize, 0usize); count];
    for y in 0..h {
        for x in 0..w {
            let id = owner[y * w + x];
            if let Some(e) = extents.get_mut(id as usize) {
                e.0 = e.0.min(x);
                e.1 = e.1.min(y);
                e.2 = e.2.max(x + 1);
                e.3 = e.3.max(y + 1);
                e.4 += 1;
            }
        }
    }
    let objects = drawn
        .iter()
        .zip(&extents)
        .filter(|((_, area), e)| *area > 0 && e.4 >= 4 && e.4 as f32 >= params.min_visible * *area as f32)
        .map(|(&(class, _), e)| SceneObject { class, bbox: BBox::new(e.0 as f32, e.1 as f32, e.2 as f32, e.3 as f32) })
        .collect();
    finish(&mut rng, &mut rgb, w, h);
    Scene { width, height, rgb, objects }
}

/// Uneven lighting and, sometimes, a light blur over the whole image.
fn finish(rng: &mut SplitMix, rgb: &mut [u8], w: usize, h: usize) {
    let (gain, slope) = (rng.range(0.7, 1.2), rng.range(-0.3, 0.3));
    for y in 0..h {
        for x in 0..w {
            let light = gain + slope * (x as f32 / w as f32 - 0.5);
            let o = (y * w + x) * 3;
            for c in 0..3 {
                rgb[o + c] = (f32::from(rgb[o + c]) * light).clamp(0.0, 255.0) as u8;
            }
        }
    }
    if rng.next_u64().is_multiple_of(3) {
        let src = rgb.to_vec();
        for y in 1..h.saturating_sub(1) {
            for x in 1..w.saturating_sub(1) {
                for c in 0..3 {
                    let mut sum = 0u32;
                    for (dy, dx) in [(0, 1), (1, 0), (1, 1), (1, 2), (2, 1)] {
                        sum += u32::from(src[((y + dy - 1) * w + x + dx - 1) * 3 + c]);
                    }
                    rgb[(y * w + x) * 3 + c] = (sum / 5) as u8;
                }
            }
        }
    }
}

/// Writes one image and its annotation into the VOC layout under `root`
/// (creating the folders).
pub fn write_sample(root: &Path, id: &str, rgb: &image::RgbImage, objects: Vec<VocObject>) -> std::io::Result<()> {
    let images = root.join("JPEGImages");
    let annotations = root.join("Annotations");
    std::fs::create_dir_all(&images)?;
    std::fs::create_dir_all(&annotations)?;
    let filename = format!("{id}.jpg");
    let file = std::fs::File::create(images.join(&filename))?;
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 95);
    encoder.encode_image(rgb).map_err(std::io::Error::other)?;
    // VOC files hold whole pixels: boxes are rounded here, where the data is made.
    let objects = objects
        .into_iter()
        .map(|o| VocObject {
            bbox: BBox::new(o.bbox.x1.round(), o.bbox.y1.round(), o.bbox.x2.round(), o.bbox.y2.round()),
            ..o
        })
        .collect();
    let a = VocAnnotation { filename, width: rgb.width(), height: rgb.height(), objects };
    std::fs::write(annotations.join(format!("{id}.xml")), to_xml(&a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_are_deterministic_by_seed_and_index() {
        let p = SynthParams::default();
        let a = scene(7, 3, 96, 64, &p);
        let b = scene(7, 3, 96, 64, &p);
        assert_eq!(a.rgb, b.rgb);
        assert_eq!(a.objects, b.objects);
        assert_ne!(scene(7, 4, 96, 64, &p).rgb, a.rgb);
        assert_ne!(scene(8, 3, 96, 64, &p).rgb, a.rgb);
    }

    #[test]
    fn boxes_lie_inside_the_image_and_cover_their_shape() {
        let p = SynthParams::default();
        let mut sizes = Vec::new();
        for i in 0..40 {
            let s = scene(1, i, 160, 120, &p);
            for o in &s.objects {
                let b = o.bbox;
                assert!(b.x1 >= 0.0 && b.y1 >= 0.0 && b.x2 <= 160.0 && b.y2 <= 120.0, "{b:?}");
                assert!(b.x2 > b.x1 && b.y2 > b.y1);
                assert!(o.class < CLASSES.len());
                sizes.push(b.width().max(b.height()) / 120.0);
            }
        }
        assert!(sizes.len() > 40, "several objects per scene on average");
        // The size range reaches both ends: small and large objects occur.
        assert!(sizes.iter().any(|&s| s < 0.1) && sizes.iter().any(|&s| s > 0.5), "{sizes:?}");
    }

    #[test]
    fn a_lone_square_gets_a_tight_box() {
        // A single large object with no occluder: its box must hug its pixels,
        // so the pixels just inside the box edges differ from those outside.
        let p = SynthParams { max_objects: 1, size_range: (0.3, 0.3), min_visible: 0.0 };
        let found = (0..50)
            .map(|i| scene(3, i, 100, 100, &p))
            .find(|s| s.objects.first().is_some_and(|o| o.class == 1 && o.bbox.x1 > 2.0 && o.bbox.x2 < 98.0));
        let s = found.expect("a fully visible square within 50 scenes");
        let b = s.objects[0].bbox;
        // Sides 30·√ar and 30/√ar with ar in 0.6..1.6 (23 to 38 px), rotated:
        // the box spans at least the shorter side and at most the diagonal (45 px).
        for extent in [b.width(), b.height()] {
            assert!((22.0..=46.0).contains(&extent), "{b:?}");
        }
    }
}
