//! Generates the paper's SSD300 (VOC) default boxes and prints a summary per
//! feature map: `cargo run -p ssd-core --example priors`.

use ssd_core::priors::ssd300_voc;

fn main() -> Result<(), ssd_core::PriorSpecError> {
    let spec = ssd300_voc();
    let boxes = spec.generate()?;
    println!("{} priors", boxes.len());
    for (i, b) in boxes.iter().take(6).enumerate() {
        println!("prior {i}: cx {:.4} cy {:.4} w {:.4} h {:.4}", b[0], b[1], b[2], b[3]);
    }
    Ok(())
}
