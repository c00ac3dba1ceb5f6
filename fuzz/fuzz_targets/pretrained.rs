//! `ssd-train train --init`'s reader of a pretrained graph on arbitrary
//! bytes: decoding and looking up every SSDLite layer by TF scope either
//! fails with an error or gives weights whose sizes agree with their shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssd_onnx::pretrained::Pretrained;

fuzz_target!(|data: &[u8]| {
    let Ok(graph) = Pretrained::from_bytes(data) else { return };
    for layer in ssd_onnx::ssdlite::layout(2).layers.iter().take(8) {
        if let Ok(Some(w)) = graph.conv(&layer.name) {
            assert_eq!(Some(w.weight.len()), w.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)));
            assert_eq!(w.bias.len(), w.shape.first().copied().unwrap_or(0));
        }
    }
});
