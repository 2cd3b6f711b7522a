//! One sort for the whole image. Each `sort_by_key` on a new element type instantiates the
//! standard library's driftsort again (about 4 KB of code each in the PV kernel); these
//! helpers sort indices through a single non-generic `sort_unstable_by` with a `dyn`
//! comparator instead and only move the elements per type. The order is the stable sort's:
//! ties keep their original order.

use alloc::vec::Vec;
use core::cmp::Ordering;

/// Sorts `v` by `cmp`, stably (equal elements keep their order).
pub fn sort_by<T>(v: &mut Vec<T>, cmp: &dyn Fn(&T, &T) -> Ordering) {
    let order = sorted_indices(v.len(), &|a, b| match (v.get(a), v.get(b)) {
        (Some(x), Some(y)) => cmp(x, y),
        _ => Ordering::Equal,
    });
    let mut old: Vec<Option<T>> = v.drain(..).map(Some).collect();
    v.extend(order.iter().filter_map(|&i| old.get_mut(i).and_then(Option::take)));
}

/// Sorts `v` by a `u64` key, stably.
pub fn sort_by_key<T>(v: &mut Vec<T>, key: &dyn Fn(&T) -> u64) {
    sort_by(v, &|a, b| key(a).cmp(&key(b)));
}

/// `0..len` ordered by `cmp`, ties by index (so the result is the stable order).
fn sorted_indices(len: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_unstable_by(|&a, &b| cmp(a, b).then(a.cmp(&b)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;

    /// Against the standard library's stable sort on the same input, ties included.
    #[test]
    fn matches_std_stable_sort() {
        let mut seed = 0x1234_5678_u32;
        for len in [0usize, 1, 2, 3, 7, 20, 33, 100, 1000] {
            let v: Vec<(u64, usize)> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (u64::from(seed >> 28), i)
                })
                .collect();
            let mut ours = v.clone();
            sort_by_key(&mut ours, &|x| x.0);
            let mut std = v.clone();
            std.sort_by_key(|x| x.0);
            assert_eq!(ours, std, "len {len}");
        }
        let mut s: Vec<String> = ["b", "a", "c", "a"].iter().map(|x| String::from(*x)).collect();
        let mut want = s.clone();
        want.sort();
        sort_by(&mut s, &|a, b| a.cmp(b));
        assert_eq!(s, want);
        let mut e: Vec<u8> = vec![];
        sort_by(&mut e, &|a, b| a.cmp(b));
        assert!(e.is_empty());
    }
}
