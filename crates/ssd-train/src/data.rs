//! Training batches: images read from a dataset, augmented, preprocessed
//! exactly as ssd-cam does at run time, and matched against the priors.
//! Batch `i` depends only on the seed and `i`, so a resumed run sees the
//! same batches as an uninterrupted one.

use std::path::PathBuf;

use anyhow::{bail, Result};
use image::RgbImage;

use super::augment::{augment, Labeled};
use super::loss::BatchTargets;
use super::matching::{match_priors, Target};
use ssd_core::boxes::{BBox, BoxCoder};
use ssd_core::dataset::voc::VocSample;
use ssd_core::manifest::Manifest;
use ssd_core::preprocess::Preprocessor;
use ssd_core::rng::SplitMix;

/// IoU above which a prior is matched to an object.
pub const MATCH_THRESHOLD: f32 = 0.5;

/// One training image and its objects (class indices on the model's axis).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSample {
    /// Image file.
    pub image: PathBuf,
    /// Objects in image pixels.
    pub objects: Vec<Labeled>,
}

/// A batch ready for the network: NCHW input values and matching targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Iteration this batch belongs to.
    pub iteration: u64,
    /// `[B, 3, H, W]` input values.
    pub images: Vec<f32>,
    /// Matching targets.
    pub targets: BatchTargets,
}

/// Builds batches from a sample list.
pub struct BatchMaker {
    samples: Vec<TrainSample>,
    batch: usize,
    seed: u64,
    augment: bool,
    mean: [u8; 3],
    preprocessor: Preprocessor,
    input: (usize, usize),
    priors: Vec<[f32; 4]>,
    coder: BoxCoder,
}

impl BatchMaker {
    /// Batches of `batch` samples for the model described by `manifest`
    /// (its input, normalization, priors and box coding).
    pub fn new(
        samples: Vec<TrainSample>,
        manifest: &Manifest,
        priors: Vec<[f32; 4]>,
        batch: usize,
        seed: u64,
        augment: bool,
    ) -> Result<Self> {
        if samples.is_empty() {
            bail!("the training set has no images");
        }
        if batch == 0 {
            bail!("batch size must be at least 1");
        }
        let mean = match manifest.input.normalize {
            ssd_core::manifest::Normalize::MeanStd { mean, .. } => mean.map(|m| m.clamp(0.0, 255.0) as u8),
            ssd_core::manifest::Normalize::ScaleOffset { .. } => [128; 3],
        };
        Ok(Self {
            samples,
            batch,
            seed,
            augment,
            mean,
            preprocessor: Preprocessor::new(manifest, false),
            input: (manifest.input.width as usize, manifest.input.height as usize),
            priors,
            coder: manifest.box_coding,
        })
    }

    /// Images in the set.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the set is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The sample at `position` of the endless sequence of shuffled epochs.
    fn sample_at(&self, position: u64) -> usize {
        let n = self.samples.len() as u64;
        let (epoch, k) = (position / n, position % n);
        epoch_order(n as usize, self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15))[k as usize]
    }

    /// Batch number `iteration`. Unreadable images are skipped with a warning
    /// (the next sample of the sequence takes their place).
    pub fn batch(&mut self, iteration: u64) -> Result<Batch> {
        let (w, h) = self.input;
        let plane = w * h * 3;
        let p = self.priors.len();
        let mut images = vec![0f32; self.batch * plane];
        let mut labels = Vec::with_capacity(self.batch * p);
        let mut offsets = Vec::with_capacity(self.batch * p);
        let mut position = iteration * self.batch as u64;
        let mut failures = 0;
        for slot in 0..self.batch {
            let (img, objects) = loop {
                let sample = &self.samples[self.sample_at(position)];
                position += 1;
                match image::open(&sample.image) {
                    Ok(img) => break (img.into_rgb8(), sample.objects.clone()),
                    Err(e) => {
                        log::warn!("{}: {e}; skipped", sample.image.display());
                        failures += 1;
                        if failures > self.samples.len().min(1000) {
                            bail!("no readable image among {failures} tried");
                        }
                    }
                }
            };
            let mut rng = SplitMix::new(self.seed ^ iteration.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ slot as u64);
            let (img, objects) =
                if self.augment { augment(&img, &objects, self.mean, &mut rng) } else { (img, objects) };
            let targets = normalized_targets(&img, &objects);
            self.preprocessor.run(img.as_raw(), img.width(), img.height(), &mut images[slot * plane..][..plane])?;
            let m = match_priors(&self.priors, &targets, MATCH_THRESHOLD, &self.coder, 0);
            labels.extend(m.labels);
            offsets.extend(m.offsets);
        }
        Ok(Batch { iteration, images, targets: BatchTargets { batch: self.batch, priors: p, labels, offsets } })
    }
}

/// Class labels for a dataset: background first, then every object name in
/// sorted order.
pub fn labels_of(samples: &[VocSample]) -> Vec<String> {
    let names: std::collections::BTreeSet<&str> =
        samples.iter().flat_map(|s| s.annotation.objects.iter().map(|o| o.name.as_str())).collect();
    std::iter::once("background").chain(names).map(str::to_owned).collect()
}

/// The dataset's samples with class names mapped onto `labels` (difficult
/// objects left out, as in the reference trainers).
pub fn train_samples(samples: &[VocSample], labels: &[String]) -> Result<Vec<TrainSample>> {
    samples
        .iter()
        .map(|s| {
            let objects = s
                .annotation
                .objects
                .iter()
                .filter(|o| !o.difficult)
                .map(|o| match labels.iter().position(|l| *l == o.name) {
                    Some(class) if class > 0 => Ok(Labeled { bbox: o.bbox, class: class as u32 }),
                    _ => bail!("{}: class '{}' is not among the labels", s.image.display(), o.name),
                })
                .collect::<Result<_>>()?;
            Ok(TrainSample { image: s.image.clone(), objects })
        })
        .collect()
}

/// Objects as matching targets: boxes divided by the image size, degenerate
/// ones (thinner than a pixel after cropping) dropped.
fn normalized_targets(img: &RgbImage, objects: &[Labeled]) -> Vec<Target> {
    let (w, h) = (img.width() as f32, img.height() as f32);
    objects
        .iter()
        .filter(|o| o.bbox.width() >= 1.0 && o.bbox.height() >= 1.0)
        .map(|o| Target { bbox: BBox::new(o.bbox.x1 / w, o.bbox.y1 / h, o.bbox.x2 / w, o.bbox.y2 / h), class: o.class })
        .collect()
}

/// A permutation of `0..n` determined by `seed` (Fisher–Yates).
pub fn epoch_order(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix::new(seed);
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_order_is_a_seeded_permutation() {
        let a = epoch_order(50, 7);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(50, 7));
        assert_ne!(a, epoch_order(50, 8));
    }

    #[test]
    fn degenerate_boxes_are_not_targets() {
        let img = RgbImage::new(100, 50);
        let objects = [
            Labeled { bbox: BBox::new(10.0, 5.0, 60.0, 30.0), class: 2 },
            Labeled { bbox: BBox::new(99.5, 5.0, 100.0, 30.0), class: 1 },
        ];
        let t = normalized_targets(&img, &objects);
        assert_eq!(t, vec![Target { bbox: BBox::new(0.1, 0.1, 0.6, 0.6), class: 2 }]);
    }
}
