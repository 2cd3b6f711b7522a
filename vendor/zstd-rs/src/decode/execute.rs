//! Sequence execution: literal copies and matches into the output, with the
//! caller's output limit and history bounds (frame output plus dictionary) enforced.
//!
//! The output vector is pre-sized with `SLACK` spare bytes past the logical end,
//! so short copies can move fixed 16-byte chunks ("wild copies") without per-byte
//! bounds logic; the caller truncates it to the logical length afterwards.
use crate::error::{Error, Result};
#[cfg(test)]
use crate::frame::BLOCK_MAX;
use alloc::vec::Vec;

/// Spare bytes kept past the logical end of the output (and of literal buffers).
pub const SLACK: usize = 32;

/// Execution context for one block.
pub struct Exec<'a> {
    /// rpvboot: the output as a slice, room for the whole block made in [`Exec::new`]
    /// (`max_end + SLACK` bytes at least), so the sequence loop never grows it.
    pub(super) buf: &'a mut [u8],
    /// Logical end of the output (next write position).
    pub pos: usize,
    pub(super) frame_start: usize,
    pub(super) dict: &'a [u8],
    /// Largest `pos` the caller allows.
    limit: usize,
    /// rpvboot: the smaller of `limit` and `block_end`, so that the hot path checks one bound.
    pub(super) max_end: usize,
    /// Literals consumed so far in this block.
    pub(super) lit_pos: usize,
}

impl<'a> Exec<'a> {
    /// Starts a block at `pos`. rpvboot: `buf` is grown here, once per block, to the largest
    /// end the block may reach plus `SLACK` (zero-filling only what it did not hold yet:
    /// the fill is then still in the cache when the block is written over it, and bytes are
    /// filled once, not twice as when the whole content size was filled up front).
    pub fn new(buf: &'a mut Vec<u8>, pos: usize, frame_start: usize, dict: &'a [u8], limit: usize, block_max: usize) -> Self {
        let block_end = pos + block_max;
        let max_end = limit.min(block_end);
        if buf.len() < max_end + SLACK {
            buf.resize(max_end + SLACK, 0);
        }
        Exec { buf: buf.as_mut_slice(), pos, frame_start, dict, limit, max_end, lit_pos: 0 }
    }

    #[inline(always)]
    fn room(&mut self, n: usize) -> Result<()> {
        let end = self.pos + n;
        if end > self.max_end {
            return Err(self.past_end(end));
        }
        Ok(())
    }

    /// Why `end`, past `max_end`, is refused: the caller's limit first, as before rpvboot's change.
    #[cold]
    pub(super) fn past_end(&self, end: usize) -> Error {
        if end > self.limit {
            Error::OutputLimit
        } else {
            Error::Corrupt("block regenerates more than Block_Maximum_Size")
        }
    }

    /// Executes one sequence. `lits` may be longer than `lits_len` (spare bytes).
    /// (The block decoder runs its own copy of this in `sequences::run`; this one serves the
    /// tests.)
    #[cfg(test)]
    pub fn sequence(&mut self, lits: &[u8], lits_len: usize, ll: usize, ml: usize, offset: usize) -> Result<()> {
        self.room(ll + ml)?;
        let lit_end = self.lit_pos + ll;
        if lit_end > lits_len {
            return Err(Error::Corrupt("sequence uses more literals than decoded"));
        }
        let (p, lp) = (self.pos, self.lit_pos);
        self.buf[p..p + ll].copy_from_slice(&lits[lp..lit_end]);
        self.pos += ll;
        self.lit_pos = lit_end;
        short_or_dict_match(self.buf, self.pos, self.frame_start, self.dict, offset, ml)?;
        self.pos += ml;
        Ok(())
    }

    /// Appends the literals left after the last sequence.
    pub fn finish(&mut self, lits: &[u8], lits_len: usize) -> Result<()> {
        let rest = lits_len.checked_sub(self.lit_pos).ok_or(Error::Corrupt("literal cursor past end"))?;
        self.room(rest)?;
        let (p, lp) = (self.pos, self.lit_pos);
        self.buf[p..p + rest].copy_from_slice(&lits[lp..lits_len]);
        self.pos += rest;
        self.lit_pos = lits_len;
        Ok(())
    }
}

/// rpvboot: the match of a sequence (at `pos`, its literals copied) when it is not the block
/// decoder's fast case: from the dictionary, or from less than 16 bytes back.
#[cold]
#[inline(never)]
pub(super) fn short_or_dict_match(buf: &mut [u8], pos: usize, frame_start: usize, dict: &[u8], offset: usize, ml: usize) -> Result<()> {
    let produced = pos - frame_start;
    let (pos, ml) = if offset > produced { dict_match(buf, pos, dict, offset, ml, produced)? } else { (pos, ml) };
    copy_match(buf, pos, offset, ml);
    Ok(())
}

/// Copies the part of a match of `ml` bytes at `pos` that lies in the dictionary, `offset`
/// back where `produced` bytes of the frame are before `pos`; returns where the rest goes and
/// its length (one `copy_match` call site for both, for the image's size).
fn dict_match(buf: &mut [u8], pos: usize, dict: &[u8], offset: usize, ml: usize, produced: usize) -> Result<(usize, usize)> {
    let back = offset - produced;
    if back > dict.len() {
        return Err(Error::Corrupt("match offset beyond history"));
    }
    let start = dict.len() - back;
    let take = back.min(ml);
    buf[pos..pos + take].copy_from_slice(&dict[start..start + take]);
    Ok((pos + take, ml - take))
}

/// Copies `len` bytes from `offset` back to `pos` (overlap repeats the pattern).
/// Requires `SLACK` writable bytes past `pos + len`.
#[inline(always)]
fn copy_match(buf: &mut [u8], pos: usize, offset: usize, len: usize) {
    let src = pos - offset;
    if offset >= 16 {
        let mut i = 0;
        while i < len {
            buf.copy_within(src + i..src + i + 16, pos + i);
            i += 16;
        }
    } else if offset >= 8 {
        let mut i = 0;
        while i < len {
            buf.copy_within(src + i..src + i + 8, pos + i);
            i += 8;
        }
    } else {
        // Seed 8 bytes (they overlap the source), then copy 8-byte chunks from `d` back, the
        // smallest multiple of `offset` that is >= 8: the output is periodic, so the chunks
        // repeat the pattern exactly. rpvboot: the seed is built in a local array from the
        // `offset` bytes before `pos` and stored at once (into the slack if `len` < 8),
        // instead of byte by byte with two bound checks each.
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&buf[src..src + 8]);
        for k in offset..8 {
            seed[k] = seed[k - offset];
        }
        buf[pos..pos + 8].copy_from_slice(&seed);
        let d = offset * 8usize.div_ceil(offset);
        let mut i = 8;
        while i < len {
            buf.copy_within(pos + i - d..pos + i - d + 8, pos + i);
            i += 8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dict: &[u8], lits: &[u8], seqs: &[(usize, usize, usize)], limit: usize) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        let mut ex = Exec::new(&mut buf, 0, 0, dict, limit, BLOCK_MAX);
        for &(ll, ml, off) in seqs {
            ex.sequence(lits, lits.len(), ll, ml, off)?;
        }
        ex.finish(lits, lits.len())?;
        let end = ex.pos;
        buf.truncate(end);
        Ok(buf)
    }

    #[test]
    fn overlapping_and_dictionary_matches() {
        assert_eq!(run(b"", b"ab", &[(2, 5, 2)], 100).unwrap(), b"abababa");
        assert_eq!(run(b"XYZ", b"q", &[(1, 4, 3)], 100).unwrap(), b"qYZqY");
        let long: Vec<u8> = (0..40u8).collect();
        let out = run(b"", &long, &[(40, 50, 17), (0, 30, 9)], 1000).unwrap();
        let mut want = long.clone();
        for _ in 0..50 {
            want.push(want[want.len() - 17]);
        }
        for _ in 0..30 {
            want.push(want[want.len() - 9]);
        }
        assert_eq!(out, want);
    }

    #[test]
    fn limits_enforced() {
        assert_eq!(run(b"", b"abcd", &[(2, 3, 1)], 4), Err(Error::OutputLimit));
        assert!(run(b"", b"ab", &[(2, 3, 3)], 100).is_err());
        assert!(run(b"", b"ab", &[(3, 3, 1)], 100).is_err());
    }
}
