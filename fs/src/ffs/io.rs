//! Byte-addressed reads over a sector device, with a cache for metadata blocks.
//!
//! File data goes straight into the caller's buffer in as few `read_blocks` calls as the
//! on-disk layout allows; only unaligned head and tail sectors go through a bounce buffer.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use crate::block::{BlockDevice, Lba};
use crate::cache::BlockCache;
use crate::error::{Error, IoError};

/// Bytes of metadata blocks (inode and indirect blocks) kept in memory.
const META_CACHE_BYTES: usize = 1024 * 1024;

/// The device and its geometry in bytes.
struct Device {
    dev: Box<dyn BlockDevice>,
    sector: u64,
    len: u64,
}

pub(crate) struct Disk {
    dev: Device,
    cache: BlockCache,
}

impl Disk {
    pub(crate) fn new(dev: Box<dyn BlockDevice>) -> Result<Self, Error> {
        let sector = u64::from(dev.block_size());
        if !sector.is_power_of_two() || !(512..=65536).contains(&sector) {
            return Err(Error::Io(IoError::Misaligned));
        }
        let len = dev.num_blocks().saturating_mul(sector);
        Ok(Self { dev: Device { dev, sector, len }, cache: BlockCache::new(META_CACHE_BYTES) })
    }

    /// Device size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.dev.len
    }

    /// Fills `buf` from byte offset `off` (see [`Device::read_bytes`]).
    pub(crate) fn read_bytes(&mut self, off: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.dev.read_bytes(off, buf)
    }

    /// Fills `buf` from `runs` (disk byte offset, start in `buf`, length; in buffer order,
    /// not overlapping): the sector-aligned middles of all runs in one vectored device call,
    /// so that blkfront keeps them in flight together; unaligned ends through a bounce buffer.
    pub(crate) fn read_runs(&mut self, runs: &[(u64, usize, usize)], buf: &mut [u8]) -> Result<(), Error> {
        self.dev.read_runs(runs, buf)
    }

    /// A metadata block of `len` bytes at byte offset `off`, through the cache.
    pub(crate) fn meta(&mut self, off: u64, len: usize) -> Result<&[u8], Error> {
        if self.cache.get(off).is_some_and(|b| b.len() != len) {
            self.cache.remove(off);
        }
        let dev = &mut self.dev;
        self.cache.get_or_load(
            off,
            || {
                let mut block = vec![0u8; len];
                dev.read_bytes(off, &mut block).map(|()| block)
            },
            || Error::Unsupported(alloc::string::String::from("metadata block larger than the cache")),
        )
    }
}

impl Device {
    /// Fills `buf` from byte offset `off`: one device read for the aligned middle, plus one
    /// bounce read for each unaligned end.
    fn read_bytes(&mut self, off: u64, buf: &mut [u8]) -> Result<(), Error> {
        if buf.is_empty() {
            return Ok(());
        }
        let ss = self.sector;
        let len = u64::try_from(buf.len()).map_err(|_| IoError::OutOfRange)?;
        let end = off.checked_add(len).ok_or(IoError::OutOfRange)?;
        if end > self.len {
            return Err(IoError::OutOfRange.into());
        }
        let a_start = off.div_ceil(ss).checked_mul(ss).ok_or(IoError::OutOfRange)?;
        let a_end = end / ss * ss;
        if a_start >= a_end {
            return self.bounce(off, buf);
        }
        let head = usize::try_from(a_start - off).map_err(|_| IoError::OutOfRange)?;
        let mid = usize::try_from(a_end - off).map_err(|_| IoError::OutOfRange)?;
        let (head_buf, rest) = buf.split_at_mut(head);
        let (mid_buf, tail_buf) = rest.split_at_mut(mid - head);
        if !head_buf.is_empty() {
            self.bounce(off, head_buf)?;
        }
        self.dev.read_blocks(Lba(a_start / ss), mid_buf)?;
        if !tail_buf.is_empty() {
            self.bounce(a_end, tail_buf)?;
        }
        Ok(())
    }

    /// See [`Disk::read_runs`].
    fn read_runs(&mut self, runs: &[(u64, usize, usize)], buf: &mut [u8]) -> Result<(), Error> {
        let ss = self.sector;
        let mut rest: &mut [u8] = buf;
        let mut consumed = 0usize;
        let mut middles: Vec<(Lba, &mut [u8])> = Vec::with_capacity(runs.len());
        for &(off, dst, n) in runs {
            let skip = dst.checked_sub(consumed).ok_or(IoError::OutOfRange)?;
            let r = core::mem::take(&mut rest);
            if skip.checked_add(n).is_none_or(|e| e > r.len()) {
                return Err(IoError::OutOfRange.into());
            }
            let (piece, tail) = r.split_at_mut(skip).1.split_at_mut(n);
            rest = tail;
            consumed = dst + n;
            if piece.is_empty() {
                continue;
            }
            let len = u64::try_from(n).map_err(|_| IoError::OutOfRange)?;
            let end = off.checked_add(len).ok_or(IoError::OutOfRange)?;
            if end > self.len {
                return Err(IoError::OutOfRange.into());
            }
            let a_start = off.div_ceil(ss).checked_mul(ss).ok_or(IoError::OutOfRange)?;
            let a_end = end / ss * ss;
            if a_start >= a_end {
                self.bounce(off, piece)?;
                continue;
            }
            let head = usize::try_from(a_start - off).map_err(|_| IoError::OutOfRange)?;
            let mid = usize::try_from(a_end - off).map_err(|_| IoError::OutOfRange)?;
            let (head_buf, r) = piece.split_at_mut(head);
            let (mid_buf, tail_buf) = r.split_at_mut(mid - head);
            if !head_buf.is_empty() {
                self.bounce(off, head_buf)?;
            }
            if !tail_buf.is_empty() {
                self.bounce(a_end, tail_buf)?;
            }
            middles.push((Lba(a_start / ss), mid_buf));
        }
        self.dev.read_blocks_vectored(&mut middles)?;
        Ok(())
    }

    /// Reads the whole sectors around `[off, off + buf.len())` and copies the wanted part.
    fn bounce(&mut self, off: u64, buf: &mut [u8]) -> Result<(), Error> {
        let ss = self.sector;
        let len = u64::try_from(buf.len()).map_err(|_| IoError::OutOfRange)?;
        let start = off / ss * ss;
        let end = off.checked_add(len).and_then(|e| e.div_ceil(ss).checked_mul(ss)).ok_or(IoError::OutOfRange)?;
        let tmp_len = usize::try_from(end - start).map_err(|_| IoError::OutOfRange)?;
        let mut tmp = vec![0u8; tmp_len];
        self.dev.read_blocks(Lba(start / ss), &mut tmp)?;
        let skip = usize::try_from(off - start).map_err(|_| IoError::OutOfRange)?;
        let src = tmp.get(skip..skip.saturating_add(buf.len())).ok_or(IoError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}
