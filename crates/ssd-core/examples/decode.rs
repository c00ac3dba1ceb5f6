//! Decodes a raw SSD output into boxes in source pixels: one prior is made to
//! see a person with an offset, everything else is background.
//! `cargo run -p ssd-core --example decode`.

use std::borrow::Cow;

use ssd_core::priors::ssd300_voc;
use ssd_core::{Decoder, InputMapping, PostParams, ScoreActivation};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = ssd300_voc();
    let table = spec.generate()?;
    let labels: Vec<String> = ["background", "person"].map(String::from).into();
    let manifest = ssd_core::manifest::ssd300_manifest("example", "", labels, spec, ScoreActivation::Softmax);

    // The raw outputs as a network gives them: offsets [P, 4], logits [P, C].
    let mut loc = vec![0.0f32; table.len() * 4];
    let mut conf: Vec<f32> = (0..table.len()).flat_map(|_| [6.0, 0.0]).collect(); // background
    let prior = 5000;
    loc[prior * 4] = 1.0; // shift right by 0.1 of the prior's width (variance 0.1)
    conf[prior * 2] = 0.0;
    conf[prior * 2 + 1] = 6.0; // person logit

    let params = PostParams { score_threshold: 0.5, ..PostParams::from(manifest.defaults) };
    let mut decoder = Decoder::new(&manifest, Cow::Owned(table), params);
    let mapping = InputMapping::stretch(1280, 720, 300, 300);
    let mut found = Vec::new();
    decoder.decode(&loc, &conf, &mapping, &mut found)?;
    for d in &found {
        println!("{} {:.4} {:?}", manifest.labels[d.class_id as usize], d.score, d.bbox);
    }
    Ok(())
}
