//! GRUB's environment block (`grubenv`) found on the disk and rewritten in place, the way GRUB
//! 2's `save_env` does it (grub-core/commands/loadenv.c): the file is read through the
//! filesystem while a hook records the disk sectors the data came from, those sectors are
//! checked to hold the bytes read, and the new 1024-byte block is written straight to them.
//! No filesystem metadata is touched: the file keeps its size, its blocks and its inode.
//!
//! rpvboot is stricter than GRUB, which accepts a block spread over several runs:
//! - the file must be exactly one block, [`BLOCK_SIZE`] bytes starting with [`SIGNATURE`];
//! - it is read through a fresh mount over a wrapper that records every sector the
//!   filesystem read while reading the file's data ([`locate`]); the block's bytes must appear
//!   contiguously, starting on a sector boundary, at exactly one place among them (two places
//!   holding the same bytes, or none, is a refusal: the wrong sectors could be written);
//! - the filesystem must declare that its data may be rewritten in place
//!   ([`crate::Filesystem::in_place_writes`]: FFS, ext2/3/4 unless its journal needs replaying,
//!   FAT), and the device that it takes writes ([`BlockDevice::write_refusal`]);
//! - [`rewrite`] reads the sectors again just before writing and writes only when they still
//!   hold the block found, flushes, and reads them back to check.
//!
//! With sectors larger than the block (4096 bytes) the block is the start of its sector and
//! the rest of that sector (the file's slack) is written back as it was read.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::block::{BlockDevice, Lba};
use crate::error::IoError;
use crate::probe::{open_fs_with, PartitionDevice};
use crate::vfs::FileType;

/// The size of GRUB's environment block (grub-editenv's `DEFAULT_ENVBLK_SIZE`).
pub const BLOCK_SIZE: usize = 1024;
/// Its first line (`GRUB_ENVBLK_SIGNATURE`).
pub const SIGNATURE: &[u8] = b"# GRUB Environment Block\n";
/// Most bytes recorded while the file is read: reading a 1024-byte file touches a few
/// sectors, any more (a hostile filesystem's huge reads) is a refusal.
const MAX_RECORDED: usize = 1 << 20;

/// Where an environment block lies on its partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    /// Its first sector, counted from the start of the partition.
    pub lba: Lba,
    /// Sectors it occupies: `ceil(1024 / block_size)`.
    pub sectors: u64,
    /// The device's sector size.
    pub block_size: u32,
}

impl Place {
    fn len(&self) -> Option<usize> {
        usize::try_from(self.sectors.checked_mul(u64::from(self.block_size))?).ok()
    }
}

/// What the filesystem read while the recorder was on: (sector, bytes) per read.
#[derive(Default)]
struct Log {
    on: bool,
    reads: Vec<(u64, Vec<u8>)>,
    bytes: usize,
    overflow: bool,
}

impl Log {
    fn record(&mut self, lba: Lba, buf: &[u8]) {
        if !self.on {
            return;
        }
        self.bytes = self.bytes.saturating_add(buf.len());
        if self.bytes > MAX_RECORDED {
            self.overflow = true;
            return;
        }
        self.reads.push((lba.0, buf.to_vec()));
    }
}

/// A partition that logs what is read from it (GRUB's `read_hook`).
#[derive(Clone)]
struct Recorder {
    dev: PartitionDevice,
    log: Rc<RefCell<Log>>,
}

impl BlockDevice for Recorder {
    fn block_size(&self) -> u32 {
        self.dev.block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.dev.num_blocks()
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        self.dev.read_blocks(lba, buf)?;
        self.log.try_borrow_mut().map_err(|_| IoError::Device)?.record(lba, buf);
        Ok(())
    }
    fn read_blocks_vectored(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        self.dev.read_blocks_vectored(reqs)?;
        let mut log = self.log.try_borrow_mut().map_err(|_| IoError::Device)?;
        for (lba, buf) in reqs.iter() {
            log.record(*lba, buf);
        }
        Ok(())
    }
}

/// Finds the environment block `path` on the partition `dev`: where it lies and its bytes.
///
/// # Errors
/// Why it cannot be rewritten in place, in words: the device takes no writes, the filesystem
/// cannot be opened or does not allow it, the file is missing, not exactly one block or not
/// an environment block, or its bytes are at no single sector-aligned place among the sectors
/// read.
pub fn locate(dev: &PartitionDevice, path: &str) -> Result<(Place, Vec<u8>), String> {
    if let Some(why) = dev.write_refusal() {
        return Err(String::from(why));
    }
    let log = Rc::new(RefCell::new(Log::default()));
    let make = || -> Box<dyn BlockDevice> { Box::new(Recorder { dev: dev.clone(), log: Rc::clone(&log) }) };
    let mut fs = open_fs_with(&make).map_err(|e| format!("cannot open its filesystem: {e}"))?;
    if !fs.in_place_writes() {
        return Err(format!("its filesystem ({}) does not allow rewriting a file in place", fs.info().kind));
    }
    let meta = fs.lookup(path).map_err(|e| format!("{path}: {e}"))?;
    if meta.file_type != FileType::File || meta.size != BLOCK_SIZE as u64 {
        return Err(format!("{path} is {} bytes, not one {BLOCK_SIZE}-byte environment block", meta.size));
    }
    let mut data = alloc::vec![0u8; BLOCK_SIZE];
    log.try_borrow_mut().map_err(|_| String::from("busy"))?.on = true;
    let mut done = 0usize;
    // Each round reads at least one byte or stops: at most BLOCK_SIZE rounds.
    while done < BLOCK_SIZE {
        let rest = data.get_mut(done..).unwrap_or_default();
        match fs.read_at(meta.id, done as u64, rest) {
            Ok(0) => break,
            Ok(n) => done = done.saturating_add(n),
            Err(e) => return Err(format!("{path}: {e}")),
        }
    }
    drop(fs);
    let log = log.take();
    if done != BLOCK_SIZE {
        return Err(format!("{path}: only {done} of {BLOCK_SIZE} bytes could be read"));
    }
    if !data.starts_with(SIGNATURE) {
        return Err(format!("{path} does not start with GRUB's environment block signature"));
    }
    if log.overflow {
        return Err(format!("reading {path} read more than {MAX_RECORDED} bytes from the disk"));
    }
    let place = find(&log.reads, &data, dev.block_size())
        .map_err(|why| format!("{path}: its {BLOCK_SIZE} bytes are {why} among the sectors read"))?;
    Ok((place, data))
}

/// The one sector-aligned place among `reads` where `data` lies contiguously.
fn find(reads: &[(u64, Vec<u8>)], data: &[u8], block_size: u32) -> Result<Place, &'static str> {
    let bs = usize::try_from(block_size).map_err(|_| "at no place")?;
    if bs == 0 {
        return Err("at no place");
    }
    // Every sector read, by number; a sector read twice with different bytes is a refusal.
    let mut sectors: Vec<(u64, &[u8])> = Vec::new();
    for (lba, buf) in reads {
        for (i, s) in buf.chunks_exact(bs).enumerate() {
            if let Some(n) = lba.checked_add(i as u64) {
                sectors.push((n, s));
            }
        }
    }
    crate::order::sort_by_key(&mut sectors, &|s: &(u64, &[u8])| s.0);
    if sectors.windows(2).any(|w| matches!(w, [a, b] if a.0 == b.0 && a.1 != b.1)) {
        return Err("in sectors that changed while read");
    }
    sectors.dedup_by_key(|s| s.0);
    let get = |n: u64| sectors.binary_search_by_key(&n, |s| s.0).ok().and_then(|i| sectors.get(i)).map(|s| s.1);
    let count = data.len().div_ceil(bs) as u64;
    let at = |first: u64| -> bool {
        let mut joined = Vec::with_capacity(data.len().saturating_add(bs));
        for k in 0..count {
            match first.checked_add(k).and_then(get) {
                Some(s) => joined.extend_from_slice(s),
                None => return false,
            }
        }
        joined.get(..data.len()) == Some(data)
    };
    let mut found = sectors.iter().map(|s| s.0).filter(|&first| at(first));
    match (found.next(), found.next()) {
        (Some(lba), None) => Ok(Place { lba: Lba(lba), sectors: count, block_size }),
        (None, _) => Err("at no single sector-aligned place"),
        (Some(_), Some(_)) => Err("at more than one place"),
    }
}

/// Replaces the block at `place` on `dev` (the partition's sectors) by `new`: reads the
/// sectors again and writes only when they still begin with `old`, then flushes and reads
/// them back.
///
/// # Errors
/// Why nothing (or something unverified) was written, in words.
pub fn rewrite(dev: &mut dyn BlockDevice, place: &Place, old: &[u8], new: &[u8]) -> Result<(), String> {
    if old.len() != BLOCK_SIZE || new.len() != BLOCK_SIZE || !new.starts_with(SIGNATURE) {
        return Err(format!("the new environment block is not {BLOCK_SIZE} bytes with GRUB's signature"));
    }
    if let Some(why) = dev.write_refusal() {
        return Err(String::from(why));
    }
    if dev.block_size() != place.block_size {
        return Err(String::from("the disk's sector size changed"));
    }
    let len = place.len().filter(|&l| l >= BLOCK_SIZE).ok_or("bad place")?;
    let mut sectors = alloc::vec![0u8; len];
    dev.read_blocks(place.lba, &mut sectors).map_err(|e| format!("reading sector {} again: {e}", place.lba.0))?;
    if sectors.get(..BLOCK_SIZE) != Some(old) {
        return Err(format!(
            "sector {} no longer holds the environment block read before: nothing written",
            place.lba.0
        ));
    }
    if let Some(head) = sectors.get_mut(..BLOCK_SIZE) {
        head.copy_from_slice(new);
    }
    dev.write_blocks(place.lba, &sectors).map_err(|e| format!("writing sector {}: {e}", place.lba.0))?;
    dev.flush().map_err(|e| format!("flushing the disk's cache: {e}"))?;
    let mut back = alloc::vec![0u8; len];
    dev.read_blocks(place.lba, &mut back).map_err(|e| format!("reading sector {} back: {e}", place.lba.0))?;
    if back != sectors {
        return Err(format!("sector {} read back differs from what was written", place.lba.0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(fill: u8) -> Vec<u8> {
        let mut b = SIGNATURE.to_vec();
        b.resize(BLOCK_SIZE, fill);
        b
    }

    #[test]
    fn find_needs_one_aligned_contiguous_place() {
        let data = block(b'#');
        // Across two reads of adjacent sectors (512-byte sectors).
        let reads = alloc::vec![(10u64, data[..512].to_vec()), (11u64, data[512..].to_vec())];
        assert_eq!(find(&reads, &data, 512), Ok(Place { lba: Lba(10), sectors: 2, block_size: 512 }));
        // Twice: refused.
        let mut twice = reads.clone();
        twice.push((40, data.clone()));
        assert_eq!(find(&twice, &data, 512), Err("at more than one place"));
        // Not sector-aligned: refused.
        let mut shifted = alloc::vec![0u8; 100];
        shifted.extend_from_slice(&data);
        shifted.resize(1536, 0);
        assert_eq!(find(&[(3, shifted)], &data, 512), Err("at no single sector-aligned place"));
        // 4096-byte sectors: the block starts its sector, the slack follows.
        let mut sector = data.clone();
        sector.resize(4096, 0x55);
        assert_eq!(find(&[(7, sector)], &data, 4096), Ok(Place { lba: Lba(7), sectors: 1, block_size: 4096 }));
    }

    #[test]
    fn rewrite_checks_before_and_after() {
        let old = block(b'#');
        let new = block(b'x');
        let mut img = alloc::vec![0u8; 8192];
        img[1024..2048].copy_from_slice(&old);
        let mut d = crate::MemDisk::new(img, 512);
        let place = Place { lba: Lba(2), sectors: 2, block_size: 512 };
        assert!(rewrite(&mut d, &place, &new, &old).unwrap_err().contains("no longer holds"));
        assert_eq!(&d.bytes()[1024..2048], &old[..], "nothing written when the old block is not there");
        assert_eq!(rewrite(&mut d, &place, &old, &new), Ok(()));
        assert_eq!(&d.bytes()[1024..2048], &new[..]);
        assert!(d.bytes()[..1024].iter().chain(&d.bytes()[2048..]).all(|&b| b == 0), "only the block changed");
    }
}
