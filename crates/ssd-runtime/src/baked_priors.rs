//! Looks up a model's priors in the tables baked in by `build.rs`, and
//! generates them (once, with the same code) when the spec is not baked in.

use std::borrow::Cow;

use ssd_core::priors::{PriorSpec, PriorSpecError};

/// One prior table computed at build time.
#[derive(Debug)]
pub struct BuiltinPriors {
    /// Where the spec came from (a canonical layout or a manifest path).
    pub origin: &'static str,
    /// The spec as canonical JSON, the key a model's spec is matched by.
    pub spec_json: &'static str,
    /// The priors, `[cx, cy, w, h]` normalized.
    pub boxes: &'static [[f32; 4]],
}

include!(concat!(env!("OUT_DIR"), "/prior_tables.rs"));

/// The baked-in table for `spec`, if build.rs computed one.
pub fn builtin(spec: &PriorSpec) -> Option<&'static BuiltinPriors> {
    let key = serde_json::to_string(spec).ok()?;
    BUILTIN_PRIORS.iter().find(|b| b.spec_json == key)
}

/// The priors for `spec`: the baked-in table when there is one, otherwise
/// generated now.
pub fn priors_for(spec: &PriorSpec) -> Result<Cow<'static, [[f32; 4]]>, PriorSpecError> {
    match builtin(spec) {
        Some(b) => Ok(Cow::Borrowed(b.boxes)),
        None => {
            log::info!("prior spec not baked in at build time; generating {} priors", spec.count());
            spec.generate().map(Cow::Owned)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssd_core::priors::{ssd300_torchvision, ssd300_voc};

    #[test]
    fn builtin_tables_equal_runtime_generation_bit_for_bit() {
        assert!(BUILTIN_PRIORS.len() >= 2);
        for table in BUILTIN_PRIORS {
            let spec: PriorSpec = serde_json::from_str(table.spec_json).unwrap();
            let generated = spec.generate().unwrap();
            assert_eq!(generated.len(), table.boxes.len(), "{}", table.origin);
            for (a, b) in generated.iter().zip(table.boxes) {
                assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits), "{}", table.origin);
            }
        }
    }

    #[test]
    fn canonical_layouts_are_baked_in_and_others_are_generated() {
        for spec in [ssd300_voc(), ssd300_torchvision()] {
            assert_eq!(builtin(&spec).map(|b| b.boxes.len()), Some(8732));
            assert!(matches!(priors_for(&spec).unwrap(), Cow::Borrowed(_)));
        }
        let mut other = ssd300_voc();
        if let PriorSpec::Caffe(c) = &mut other {
            c.min_sizes[0] = 31.0;
        }
        assert!(builtin(&other).is_none());
        let generated = priors_for(&other).unwrap();
        assert!(matches!(generated, Cow::Owned(_)));
        assert_eq!(generated[0][2], 31.0 / 300.0);
    }

    #[test]
    fn every_shipped_manifest_has_its_priors_baked_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let m = ssd_core::manifest::Manifest::from_path(&path).unwrap();
                assert!(builtin(&m.priors).is_some(), "{}", path.display());
                checked += 1;
            }
        }
        assert!(checked > 0, "models/ has no manifest");
    }
}
