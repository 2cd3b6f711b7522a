//! A bounded block cache (hashbrown) shared by the filesystem readers.
//!
//! Metadata blocks (inode blocks, indirect blocks) are read again and again while a path is
//! resolved or a big file is mapped; keeping the last few in memory turns those re-reads into
//! hash look-ups. The cache is bounded by total bytes: inserting past the budget evicts the
//! least recently used entries, so a hostile disk cannot make it grow.

use alloc::vec::Vec;

use hashbrown::HashMap;

/// A least-recently-used cache of byte blocks keyed by a `u64` (a disk address of the
/// caller's choosing), bounded by the total size of the blocks it holds.
#[derive(Debug)]
pub struct BlockCache {
    map: HashMap<u64, Entry>,
    max_bytes: usize,
    bytes: usize,
    tick: u64,
}

#[derive(Debug)]
struct Entry {
    data: Vec<u8>,
    last_used: u64,
}

/// Eviction scans the whole map, so the entry count is kept small as well.
const MAX_ENTRIES: usize = 512;

impl BlockCache {
    /// An empty cache that holds at most `max_bytes` bytes of blocks.
    pub fn new(max_bytes: usize) -> Self {
        Self { map: HashMap::new(), max_bytes, bytes: 0, tick: 0 }
    }

    /// The block stored under `key`, if any; marks it recently used.
    pub fn get(&mut self, key: u64) -> Option<&[u8]> {
        self.tick = self.tick.wrapping_add(1);
        let tick = self.tick;
        self.map.get_mut(&key).map(|e| {
            e.last_used = tick;
            e.data.as_slice()
        })
    }

    /// The block under `key`, loading and caching it with `load` on a miss. A loaded block
    /// larger than the whole budget cannot be kept, so that case is an error from `too_big`.
    ///
    /// # Errors
    /// Whatever `load` returns, or `too_big()` when the loaded block exceeds the budget.
    pub fn get_or_load<E>(
        &mut self,
        key: u64,
        load: impl FnOnce() -> Result<Vec<u8>, E>,
        too_big: impl FnOnce() -> E,
    ) -> Result<&[u8], E> {
        if !self.map.contains_key(&key) {
            let data = load()?;
            if data.len() > self.max_bytes {
                return Err(too_big());
            }
            self.insert(key, data);
        }
        self.get(key).ok_or_else(too_big)
    }

    /// Whether `key` is cached (does not touch its age).
    pub fn contains(&self, key: u64) -> bool {
        self.map.contains_key(&key)
    }

    /// Stores `data` under `key`, evicting old entries to stay within the budget. A block
    /// larger than the whole budget is not stored.
    pub fn insert(&mut self, key: u64, data: Vec<u8>) {
        if data.len() > self.max_bytes {
            return;
        }
        self.remove(key);
        while !self.map.is_empty()
            && (self.bytes.saturating_add(data.len()) > self.max_bytes || self.map.len() >= MAX_ENTRIES)
        {
            self.evict_one();
        }
        self.tick = self.tick.wrapping_add(1);
        self.bytes = self.bytes.saturating_add(data.len());
        self.map.insert(key, Entry { data, last_used: self.tick });
    }

    /// Drops the block under `key`, if any.
    pub fn remove(&mut self, key: u64) {
        if let Some(old) = self.map.remove(&key) {
            self.bytes = self.bytes.saturating_sub(old.data.len());
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }

    /// Number of blocks held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Total bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn evict_one(&mut self) {
        let oldest = self.map.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| *k);
        if let Some(k) = oldest {
            self.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let mut c = BlockCache::new(3 * 4);
        c.insert(1, vec![1; 4]);
        c.insert(2, vec![2; 4]);
        c.insert(3, vec![3; 4]);
        assert_eq!(c.get(1), Some(&[1u8; 4][..]));
        c.insert(4, vec![4; 4]);
        assert!(!c.contains(2), "2 was the least recently used");
        assert!(c.contains(1) && c.contains(3) && c.contains(4));
        assert_eq!(c.bytes(), 12);
        c.insert(5, vec![5; 100]);
        assert!(!c.contains(5), "larger than the whole budget");
        c.insert(3, vec![9; 8]);
        assert!(c.bytes() <= 12);
        assert_eq!(c.get(3), Some(&[9u8; 8][..]));
    }

    #[test]
    fn get_or_load_loads_once_and_refuses_oversized() {
        let mut c = BlockCache::new(8);
        let mut loads = 0;
        for _ in 0..3 {
            let got = c.get_or_load(
                7,
                || {
                    loads += 1;
                    Ok::<_, ()>(vec![7; 4])
                },
                || (),
            );
            assert_eq!(got, Ok(&[7u8; 4][..]));
        }
        assert_eq!(loads, 1);
        assert_eq!(c.get_or_load(8, || Ok(vec![0; 9]), || "too big"), Err("too big"));
        assert_eq!(c.get_or_load(9, || Err::<Vec<u8>, _>("io"), || "too big"), Err("io"));
    }
}
