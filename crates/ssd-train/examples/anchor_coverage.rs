//! How well each architecture's priors can cover a dataset's objects: per
//! COCO size range, the share of objects whose best prior overlaps them by
//! IoU 0.5 (the matching threshold) and the mean of that best IoU. An
//! object no prior reaches is trained only through its one forced match
//! and is hard to detect at all.
//!
//!     cargo run --release -p ssd-train --example anchor_coverage -- data/shapes-test test

use ssd_core::boxes::BBox;
use ssd_core::dataset::voc::{load_split, OnBadAnnotation};
use ssd_core::metrics::SIZES;
use ssd_train::detector::Arch;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = args.first().map_or("data/shapes-test", String::as_str);
    let split = args.get(1).map_or("test", String::as_str);
    let samples = load_split(std::path::Path::new(root), split, OnBadAnnotation::Fail)?;
    println!("{root} ({split}): {} images", samples.len());
    println!("{:<26} {:<7} {:>7} {:>10} {:>13}", "architecture", "size", "objects", "IoU >= 0.5", "mean best IoU");
    for arch in [Arch::Ssd300Vgg16, Arch::SsdliteMobilenetv2] {
        let manifest = arch.manifest("coverage", "", vec!["background".into()], arch.default_scores());
        let priors: Vec<BBox> =
            manifest.priors.generate()?.iter().map(|p| BBox::from_center(p[0], p[1], p[2], p[3])).collect();
        for &(size, lo, hi) in SIZES.iter() {
            let (mut n, mut reached, mut sum) = (0usize, 0usize, 0f64);
            for s in &samples {
                let (w, h) = (s.annotation.width as f32, s.annotation.height as f32);
                for o in s.annotation.objects.iter().filter(|o| !o.difficult) {
                    let area = o.bbox.width() * o.bbox.height();
                    if area < lo || area >= hi {
                        continue;
                    }
                    let b = BBox::new(o.bbox.x1 / w, o.bbox.y1 / h, o.bbox.x2 / w, o.bbox.y2 / h);
                    let best = priors.iter().map(|p| p.iou(&b)).fold(0f32, f32::max);
                    n += 1;
                    reached += usize::from(best >= 0.5);
                    sum += f64::from(best);
                }
            }
            let share = 100.0 * reached as f64 / n.max(1) as f64;
            let mean = sum / n.max(1) as f64;
            println!("{:<26} {size:<7} {n:>7} {share:>9.1}% {mean:>13.3}", format!("{arch:?} ({})", priors.len()));
        }
    }
    Ok(())
}
