//! The tests' one pseudo-random generator: xorshift64* (Vigna), seeded, so every run of a
//! "random input never breaks it" test feeds the same inputs and a failure reproduces.

/// xorshift64*: the state is the seed (0 counts as 1, the all-zero state would stay zero).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 for `n` = 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    /// An index into something `len` long (0 when it is empty).
    pub fn index(&mut self, len: usize) -> usize {
        // usize is at most 64 bits on every host the tests run on.
        self.below(len as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    /// The published xorshift64* sequence for seed 1 (x ^= x>>12, x<<25, x>>27; times
    /// 2685821657736338717), computed here with u128 arithmetic as the independent oracle.
    #[test]
    fn matches_the_definition() {
        let mut r = Rng(1);
        let mut x: u64 = 1;
        for _ in 0..100 {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let want = ((u128::from(x) * 2_685_821_657_736_338_717u128) & u128::from(u64::MAX)) as u64;
            assert_eq!(r.next(), want);
        }
        assert_eq!(Rng(0).next(), Rng(1).next());
        let mut r = Rng(7);
        assert!((0..1000).all(|_| r.below(10) < 10) && r.below(0) == 0 && r.index(0) == 0);
    }
}
