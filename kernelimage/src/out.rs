//! A growable output buffer with a hard memory limit: decompressors never trust a size from a
//! header beyond it, and allocation failure becomes an error instead of an abort.

use super::error::{Error, Result};
use alloc::vec::Vec;

/// Decompressed bytes: `buf[..len]` are valid; the tail is zeroed scratch space.
pub(crate) struct OutBuf {
    pub buf: Vec<u8>,
    pub len: usize,
    limit: usize,
    format: &'static str,
}

impl OutBuf {
    /// `hint` is a size announced by the stream (untrusted): used only below `limit`.
    pub fn new(format: &'static str, limit: usize, hint: usize) -> Result<Self> {
        let mut o = OutBuf { buf: Vec::new(), len: 0, limit, format };
        // Not `clamp`: it panics when `limit` is below the 64 KiB floor.
        let floor = (64 * 1024).min(limit.max(1));
        // A hint that does not fit in memory (a truncated gzip's ISIZE is whatever bytes end
        // the file) is only a hint: start small, and let the real data say what it needs.
        if o.resize(hint.max(floor).min(limit.max(1))).is_err() {
            o.resize(floor)?;
        }
        Ok(o)
    }

    /// Exactly `n` bytes (at least one) from the start, or `OutOfMemory`: for a size the
    /// stream itself declares and the decoder verifies (xz's index), where starting smaller
    /// would only postpone the same failure.
    pub fn exact(format: &'static str, limit: usize, n: usize) -> Result<Self> {
        let mut o = OutBuf { buf: Vec::new(), len: 0, limit, format };
        o.resize(n.clamp(1, limit.max(1)))?;
        Ok(o)
    }

    /// Room for a stream that is decoded again from its start: twice the buffer (at least
    /// 64 KiB after `len`, at most the limit), keeping only `buf[..len]` (earlier streams). The bytes after `len` are dropped
    /// before the new room is reserved, so the old and the new buffer are not both held as
    /// `grow` (a `realloc` copying all of it) would.
    pub fn regrow(&mut self) -> Result<()> {
        if self.buf.len() >= self.limit {
            return Err(Error::TooLarge { format: self.format, limit: self.limit as u64 });
        }
        let target = self.buf.len().saturating_mul(2).max(self.len + 64 * 1024).min(self.limit);
        self.buf.truncate(self.len);
        self.buf.shrink_to_fit();
        self.resize(target)
    }

    fn resize(&mut self, n: usize) -> Result<()> {
        let extra = n.saturating_sub(self.buf.len());
        self.buf.try_reserve_exact(extra).map_err(|_| Error::OutOfMemory { bytes: n as u64 })?;
        zero_extend(&mut self.buf, n);
        Ok(())
    }

    /// Make room for at least `min_free` more bytes after `len` (doubling, capped at the limit).
    pub fn grow(&mut self, min_free: usize) -> Result<()> {
        let need =
            self.len.checked_add(min_free).ok_or(Error::TooLarge { format: self.format, limit: self.limit as u64 })?;
        if need <= self.buf.len() {
            return Ok(());
        }
        if self.buf.len() >= self.limit || need > self.limit {
            return Err(Error::TooLarge { format: self.format, limit: self.limit as u64 });
        }
        let target = self.buf.len().saturating_mul(2).max(need).min(self.limit);
        // Doubling may not fit where the bytes really needed still do.
        self.resize(target).or_else(|_| self.resize(need))
    }

    /// Free space after `len`.
    pub fn free(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.len..).unwrap_or_default()
    }

    /// Commit `n` bytes written into `free()`.
    pub fn advance(&mut self, n: usize) {
        self.len = self.len.saturating_add(n).min(self.buf.len());
    }

    /// The output, trimmed.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.truncate(self.len);
        // Give back large slack only: shrinking copies, and an exact size hint leaves none.
        if self.buf.capacity() - self.len > self.len / 8 {
            self.buf.shrink_to_fit();
        }
        self.buf
    }
}

/// `v.resize(n, 0)` as a few `memcpy`s: the new bytes are copied from the zeros already
/// appended, doubling each time. `Vec::resize` stores byte by byte when built at opt-level
/// "z" (rpvboot's), which cost more than lz4's whole decode of a kernel (callgrind, issue 23).
/// The capacity must already be reserved.
fn zero_extend(v: &mut Vec<u8>, n: usize) {
    if n <= v.len() {
        v.truncate(n);
        return;
    }
    let start = v.len();
    v.push(0);
    while v.len() < n {
        let k = (v.len() - start).min(n - v.len());
        v.extend_from_within(start..start + k);
    }
}

#[cfg(test)]
mod tests {
    use super::{zero_extend, OutBuf};

    #[test]
    fn zero_extend_is_resize() {
        for (from, to) in [(0, 0), (0, 1), (0, 5), (3, 4), (3, 1000), (7, 3), (1, 65536 + 17)] {
            let mut a: Vec<u8> = (1..=from as u8).collect();
            let mut b = a.clone();
            zero_extend(&mut a, to);
            b.resize(to, 0);
            assert_eq!(a, b, "{from} -> {to}");
        }
    }

    #[test]
    fn a_hint_that_cannot_be_allocated_starts_small() {
        // More than any allocator can give (Vec capacity overflow): not an error by itself.
        let mut o = OutBuf::new("test", usize::MAX, usize::MAX).map_err(|e| e.to_string()).unwrap();
        assert_eq!(o.buf.len(), 64 * 1024);
        o.grow(100 * 1024).map_err(|e| e.to_string()).unwrap();
        assert!(o.buf.len() >= 100 * 1024);
        // Growth past the limit is still refused.
        let mut o = OutBuf::new("test", 128 * 1024, usize::MAX).map_err(|e| e.to_string()).unwrap();
        assert!(o.grow(256 * 1024).is_err());
    }

    #[test]
    fn regrow_doubles_keeps_earlier_bytes_and_stops_at_the_limit() {
        let mut o = OutBuf::exact("test", 300 * 1024, 100 * 1024).map_err(|e| e.to_string()).unwrap();
        assert_eq!(o.buf.len(), 100 * 1024);
        o.buf[..3].copy_from_slice(b"abc");
        o.buf[3] = 9;
        o.len = 3;
        o.regrow().map_err(|e| e.to_string()).unwrap();
        assert_eq!(o.buf.len(), 200 * 1024);
        assert_eq!(&o.buf[..4], b"abc\0", "earlier bytes kept, the scratch after them zeroed");
        o.regrow().map_err(|e| e.to_string()).unwrap();
        assert_eq!(o.buf.len(), 300 * 1024);
        assert!(o.regrow().is_err());
        // A declared size that cannot be had is an error, not a small start.
        assert!(OutBuf::exact("test", usize::MAX, usize::MAX).is_err());
    }
}
