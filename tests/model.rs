//! Model loading and running details: the input tensor is reused between
//! frames, and the oracle's raw outputs are what the writer put in.

mod common;

#[test]
fn input_tensor_is_reused_from_frame_to_frame() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = common::load_oracle(dir.path());
    let first = model.input_mut().unwrap().as_ptr();
    for _ in 0..3 {
        let out = model.run().unwrap();
        let (boxes, scores) = out.slices().unwrap();
        assert_eq!((boxes.len(), scores.len()), (8732 * 4, 8732 * 4));
        drop(out);
        assert_eq!(model.input_mut().unwrap().as_ptr(), first, "same buffer every frame");
    }
    assert_eq!(model.fresh_input_allocations(), 0);
}

#[test]
fn oracle_outputs_carry_the_targets() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = common::load_oracle(dir.path());
    let out = model.run().unwrap();
    let (boxes, scores) = out.slices().unwrap();
    let t = common::targets()[0];
    assert_eq!(&boxes[t.prior * 4..t.prior * 4 + 4], &t.offsets);
    assert_eq!(scores[t.prior * 4 + t.class], t.logit);
    assert_eq!(scores[0], 8.0, "background logit elsewhere");
}
