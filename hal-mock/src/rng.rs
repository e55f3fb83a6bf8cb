//! A small seeded pseudo-random generator, so every run of a scenario is repeatable.

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014):
/// one 64-bit state, good enough statistics for jitter and noise, and no dependency.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Starts a generator from `seed`; equal seeds give equal sequences.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a value spread evenly over `-span..=span`.
    pub fn symmetric(&mut self, span: i64) -> i64 {
        if span <= 0 {
            return 0;
        }
        let width = (2 * span + 1) as u64;
        (self.next_u64() % width) as i64 - span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_seeds_repeat_the_sequence() {
        let mut first = SplitMix64::new(7);
        let mut second = SplitMix64::new(7);
        for _ in 0..100 {
            assert_eq!(first.next_u64(), second.next_u64());
        }
    }

    #[test]
    fn symmetric_stays_within_span() {
        let mut rng = SplitMix64::new(1);
        let values: Vec<i64> = (0..10_000).map(|_| rng.symmetric(20)).collect();
        assert!(values.iter().all(|v| (-20..=20).contains(v)));
        assert!(values.contains(&-20));
        assert!(values.contains(&20));
    }
}
