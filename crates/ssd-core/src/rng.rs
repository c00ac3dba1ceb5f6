//! The one pseudo-random generator of the project: synthetic scenes, the demo
//! source, augmentation, batch order and test weights all draw from it, so a
//! seed means the same thing everywhere and on every machine.

/// A small deterministic PRNG (splitmix64), so scenes are the same everywhere.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * (hi - lo)
    }

    /// Uniform in `[0, 1)` with 24 bits of precision.
    pub fn unit(&mut self) -> f32 {
        self.range(0.0, 1.0)
    }
}
