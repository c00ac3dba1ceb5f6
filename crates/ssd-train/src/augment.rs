//! The SSD paper's data augmentation: photometric distortion, zoom out
//! (expand onto a mean-filled canvas), random crop constrained by a minimum
//! IoU with the objects, and horizontal flip. Boxes are in pixels and follow
//! every geometric change. Each transform has a deterministic core (tested)
//! and a random wrapper driven by a seeded generator.

use image::RgbImage;

use ssd_core::boxes::BBox;
use ssd_core::rng::SplitMix;

/// An object being augmented: box in pixels and class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Labeled {
    /// Box in pixels.
    pub bbox: BBox,
    /// Class index.
    pub class: u32,
}

/// Mirrors the image left to right.
pub fn hflip(img: &RgbImage, objects: &mut [Labeled]) -> RgbImage {
    let w = img.width() as f32;
    for o in objects.iter_mut() {
        o.bbox = BBox::new(w - o.bbox.x2, o.bbox.y1, w - o.bbox.x1, o.bbox.y2);
    }
    image::imageops::flip_horizontal(img)
}

/// Places the image at (`left`, `top`) on a `canvas_w × canvas_h` canvas of
/// `fill` (zoom out: objects become smaller relative to the frame).
pub fn expand(img: &RgbImage, objects: &mut [Labeled], canvas: (u32, u32), at: (u32, u32), fill: [u8; 3]) -> RgbImage {
    let mut out = RgbImage::from_pixel(canvas.0, canvas.1, image::Rgb(fill));
    image::imageops::replace(&mut out, img, i64::from(at.0), i64::from(at.1));
    let (dx, dy) = (at.0 as f32, at.1 as f32);
    for o in objects.iter_mut() {
        o.bbox = BBox::new(o.bbox.x1 + dx, o.bbox.y1 + dy, o.bbox.x2 + dx, o.bbox.y2 + dy);
    }
    out
}

/// Crops to `rect` (pixels), keeping the objects whose centre lies inside it,
/// clipped to it and moved into its frame.
pub fn crop(img: &RgbImage, objects: &[Labeled], rect: BBox) -> (RgbImage, Vec<Labeled>) {
    let (x, y) = (rect.x1.max(0.0) as u32, rect.y1.max(0.0) as u32);
    let (w, h) = ((rect.width() as u32).max(1), (rect.height() as u32).max(1));
    let out = image::imageops::crop_imm(img, x, y, w, h).to_image();
    let (fx, fy) = (x as f32, y as f32);
    let kept = objects
        .iter()
        .filter(|o| {
            let [cx, cy, _, _] = o.bbox.to_center();
            cx > fx && cx < fx + w as f32 && cy > fy && cy < fy + h as f32
        })
        .map(|o| {
            let b = o.bbox;
            Labeled {
                bbox: BBox::new(b.x1 - fx, b.y1 - fy, b.x2 - fx, b.y2 - fy).clip(w as f32, h as f32),
                class: o.class,
            }
        })
        .collect();
    (out, kept)
}

/// Brightness, contrast, saturation and hue changes, each with probability
/// 1/2, contrast before or after the colour changes at random, as in
/// the reference implementation.
pub fn photometric(img: &mut RgbImage, rng: &mut SplitMix) {
    let coin = |rng: &mut SplitMix| rng.next_u64().is_multiple_of(2);
    let brightness = if coin(rng) { rng.range(-32.0, 32.0) } else { 0.0 };
    let contrast = if coin(rng) { rng.range(0.5, 1.5) } else { 1.0 };
    let saturation = if coin(rng) { rng.range(0.5, 1.5) } else { 1.0 };
    let hue = if coin(rng) { rng.range(-18.0, 18.0) } else { 0.0 };
    let contrast_first = coin(rng);
    for p in img.pixels_mut() {
        let mut c = p.0.map(f32::from);
        c = c.map(|v| v + brightness);
        if contrast_first {
            c = c.map(|v| v * contrast);
        }
        let (h, s, v) = rgb_to_hsv(c);
        c = hsv_to_rgb((h + hue).rem_euclid(360.0), (s * saturation).clamp(0.0, 1.0), v);
        if !contrast_first {
            c = c.map(|v| v * contrast);
        }
        p.0 = c.map(|v| v.clamp(0.0, 255.0) as u8);
    }
}

fn rgb_to_hsv([r, g, b]: [f32; 3]) -> (f32, f32, f32) {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let d = max - min;
    let h = if d <= 0.0 {
        0.0
    } else if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    let s = if max > 0.0 { d / max } else { 0.0 };
    (h, s, max)
}

fn hsv_to_rgb(h: f32, s: f32, v: f32) -> [f32; 3] {
    let c = v * s;
    let x = c * (1.0 - ((h / 60.0).rem_euclid(2.0) - 1.0).abs());
    let m = v - c;
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    [r + m, g + m, b + m]
}

/// Minimum IoU choices of the random crop; `None` keeps the whole image.
pub const CROP_MIN_IOU: [Option<f32>; 6] = [None, Some(0.1), Some(0.3), Some(0.5), Some(0.7), Some(0.9)];

/// Tries up to 50 random rectangles (sides 0.3–1 of the image, aspect
/// 1/2–2) for one that overlaps every object by at least `min_iou` and keeps
/// at least one object centre; returns it with the cropped image and objects.
pub fn crop_with_min_iou(
    img: &RgbImage,
    objects: &[Labeled],
    min_iou: f32,
    rng: &mut SplitMix,
) -> Option<(BBox, RgbImage, Vec<Labeled>)> {
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    for _ in 0..50 {
        let (w, h) = (rng.range(0.3 * iw, iw), rng.range(0.3 * ih, ih));
        if h / w < 0.5 || h / w > 2.0 {
            continue;
        }
        let (x, y) = (rng.range(0.0, iw - w), rng.range(0.0, ih - h));
        let rect = BBox::new(x.floor(), y.floor(), (x + w).floor(), (y + h).floor());
        if objects.iter().any(|o| o.bbox.iou(&rect) < min_iou) {
            continue;
        }
        let (out, kept) = crop(img, objects, rect);
        if !kept.is_empty() {
            return Some((rect, out, kept));
        }
    }
    None
}

/// The random crop: picks a minimum IoU from [`CROP_MIN_IOU`] (`None` keeps
/// the image) and crops with it; the input is returned unchanged when no
/// rectangle qualifies.
pub fn random_crop(img: &RgbImage, objects: &[Labeled], rng: &mut SplitMix) -> (RgbImage, Vec<Labeled>) {
    let choice = CROP_MIN_IOU[(rng.next_u64() % CROP_MIN_IOU.len() as u64) as usize];
    match choice.and_then(|min_iou| crop_with_min_iou(img, objects, min_iou, rng)) {
        Some((_, out, kept)) => (out, kept),
        None => (img.clone(), objects.to_vec()),
    }
}

/// The full training-time chain: photometric, zoom out (p = 1/2, up to 4×),
/// random crop, flip (p = 1/2).
pub fn augment(img: &RgbImage, objects: &[Labeled], mean: [u8; 3], rng: &mut SplitMix) -> (RgbImage, Vec<Labeled>) {
    let mut img = img.clone();
    let mut objects = objects.to_vec();
    photometric(&mut img, rng);
    if rng.next_u64().is_multiple_of(2) {
        let ratio = rng.range(1.0, 4.0);
        let (w, h) = ((img.width() as f32 * ratio) as u32, (img.height() as f32 * ratio) as u32);
        let at = (rng.range(0.0, (w - img.width()) as f32) as u32, rng.range(0.0, (h - img.height()) as f32) as u32);
        img = expand(&img, &mut objects, (w, h), at, mean);
    }
    let (mut img, mut objects) = random_crop(&img, &objects, rng);
    if rng.next_u64().is_multiple_of(2) {
        img = hflip(&img, &mut objects);
    }
    (img, objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 40x20 image, black, with a white 10x6 block at (5, 4) labelled as an object.
    fn scene() -> (RgbImage, Vec<Labeled>) {
        let mut img = RgbImage::new(40, 20);
        for y in 4..10 {
            for x in 5..15 {
                img.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        (img, vec![Labeled { bbox: BBox::new(5.0, 4.0, 15.0, 10.0), class: 1 }])
    }

    /// The box that tightly encloses the white pixels.
    fn white_extent(img: &RgbImage) -> BBox {
        let (mut x1, mut y1, mut x2, mut y2) = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, p) in img.enumerate_pixels() {
            if p.0 == [255, 255, 255] {
                (x1, y1, x2, y2) = (x1.min(x), y1.min(y), x2.max(x + 1), y2.max(y + 1));
            }
        }
        BBox::new(x1 as f32, y1 as f32, x2 as f32, y2 as f32)
    }

    #[test]
    fn flip_mirrors_boxes_with_the_pixels_and_twice_is_identity() {
        let (img, mut objs) = scene();
        let flipped = hflip(&img, &mut objs);
        assert_eq!(objs[0].bbox, BBox::new(25.0, 4.0, 35.0, 10.0));
        assert_eq!(white_extent(&flipped), objs[0].bbox);
        let back = hflip(&flipped, &mut objs);
        assert_eq!(back, img);
        assert_eq!(objs, scene().1);
    }

    #[test]
    fn expand_moves_boxes_by_the_placement_and_fills_with_the_mean() {
        let (img, mut objs) = scene();
        let out = expand(&img, &mut objs, (100, 60), (30, 17), [104, 117, 123]);
        assert_eq!(out.dimensions(), (100, 60));
        assert_eq!(objs[0].bbox, BBox::new(35.0, 21.0, 45.0, 27.0));
        assert_eq!(white_extent(&out), objs[0].bbox);
        assert_eq!(out.get_pixel(0, 0).0, [104, 117, 123]);
    }

    #[test]
    fn crop_keeps_objects_whose_centre_is_inside_clipped_to_the_crop() {
        let (img, _) = scene();
        let objs = vec![
            Labeled { bbox: BBox::new(5.0, 4.0, 15.0, 10.0), class: 1 }, // centre (10, 7)
            Labeled { bbox: BBox::new(30.0, 10.0, 38.0, 18.0), class: 2 }, // centre (34, 14)
        ];
        let (out, kept) = crop(&img, &objs, BBox::new(8.0, 2.0, 28.0, 16.0));
        assert_eq!(out.dimensions(), (20, 14));
        assert_eq!(kept, vec![Labeled { bbox: BBox::new(0.0, 2.0, 7.0, 8.0), class: 1 }]);
        assert_eq!(white_extent(&out), kept[0].bbox);
    }

    #[test]
    fn crops_overlap_every_object_by_the_minimum_iou() {
        // A large object so that every threshold is reachable.
        let img = RgbImage::new(100, 100);
        let objs = vec![Labeled { bbox: BBox::new(20.0, 20.0, 80.0, 80.0), class: 1 }];
        let mut rng = SplitMix::new(5);
        for min_iou in [0.1, 0.3, 0.5, 0.7, 0.9] {
            let mut found = 0;
            for _ in 0..40 {
                if let Some((rect, out, kept)) = crop_with_min_iou(&img, &objs, min_iou, &mut rng) {
                    assert!(objs[0].bbox.iou(&rect) >= min_iou, "{rect:?} at {min_iou}");
                    assert_eq!(out.dimensions(), (rect.width() as u32, rect.height() as u32));
                    assert_eq!(kept.len(), 1);
                    found += 1;
                }
            }
            // 0.9 is rare by design (the crop then falls back to the whole image).
            assert!(found > 0 || min_iou > 0.8, "no crop found at {min_iou}");
        }
    }

    #[test]
    fn random_crop_keeps_the_box_on_its_pixels() {
        let (img, objs) = scene();
        let mut rng = SplitMix::new(5);
        for _ in 0..200 {
            let (out, kept) = random_crop(&img, &objs, &mut rng);
            assert!(!kept.is_empty());
            assert_eq!(white_extent(&out), kept[0].bbox);
        }
    }

    #[test]
    fn photometric_changes_colours_not_geometry_and_is_seeded() {
        let (img, _) = scene();
        let (mut a, mut b) = (img.clone(), img.clone());
        photometric(&mut a, &mut SplitMix::new(9));
        photometric(&mut b, &mut SplitMix::new(9));
        assert_eq!(a, b);
        assert_eq!(a.dimensions(), img.dimensions());
        let changed = (0..20u64).any(|s| {
            let mut c = img.clone();
            photometric(&mut c, &mut SplitMix::new(s));
            c != img
        });
        assert!(changed);
    }

    #[test]
    fn hsv_round_trip_is_exact_enough() {
        for rgb in [[255.0, 0.0, 0.0], [12.0, 200.0, 90.0], [30.0, 30.0, 30.0], [0.0, 10.0, 250.0]] {
            let (h, s, v) = rgb_to_hsv(rgb);
            let back = hsv_to_rgb(h, s, v);
            for (x, y) in back.iter().zip(rgb) {
                assert!((x - y).abs() < 1e-3, "{rgb:?} -> {back:?}");
            }
        }
    }

    #[test]
    fn the_full_chain_keeps_boxes_on_their_pixels() {
        let (img, objs) = scene();
        let mut rng = SplitMix::new(11);
        for _ in 0..50 {
            let (out, kept) = augment(&img, &objs, [0, 0, 0], &mut rng);
            for o in &kept {
                assert!(o.bbox.x1 >= 0.0 && o.bbox.x2 <= out.width() as f32);
                assert!(o.bbox.y1 >= 0.0 && o.bbox.y2 <= out.height() as f32);
                assert!(o.bbox.area() > 0.0);
            }
        }
    }
}
