//! The block-device abstraction every partition map and filesystem reads through.
//!
//! Callers ask for many sectors in one call (`read_blocks` with a large buffer) so that
//! blkfront can turn them into multi-segment requests; the sector size comes from the device
//! (512 or 4096), never from a constant.

use alloc::vec::Vec;

use crate::error::IoError;

/// A device sector number, in units of the device's own [`BlockDevice::block_size`].
///
/// Kept apart from filesystem block numbers and byte offsets so they cannot be mixed up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lba(pub u64);

/// A readable disk (or a window of one), which may take writes.
///
/// Reading is the job of every implementation; writing exists for one purpose, GRUB's
/// environment block rewritten in place ([`crate::envblock`]), and the defaults refuse it.
pub trait BlockDevice {
    /// Sector size in bytes: 512 or 4096 (from the backend's `sector-size`).
    fn block_size(&self) -> u32;
    /// Number of sectors of [`Self::block_size`] bytes.
    fn num_blocks(&self) -> u64;
    /// Fills `buf` with the sectors starting at `lba`.
    ///
    /// `buf.len()` must be a non-zero multiple of `block_size()`, and the range must lie inside
    /// the device; otherwise the call returns an error and reads nothing. Implementations should
    /// serve large buffers with as few device requests as they can.
    ///
    /// # Errors
    /// [`IoError::Misaligned`], [`IoError::OutOfRange`] or a device error.
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError>;

    /// Fills every `(lba, buf)` of `reqs`, each as [`Self::read_blocks`] would.
    ///
    /// For a file whose data lies in several runs on disk: a device with a request queue
    /// (blkfront) overrides this to keep requests for all the runs in flight at once instead
    /// of waiting for each run. The default reads them one after the other.
    ///
    /// # Errors
    /// The first error; buffers of other requests may then be partly filled.
    fn read_blocks_vectored(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        for (lba, buf) in reqs.iter_mut() {
            self.read_blocks(*lba, buf)?;
        }
        Ok(())
    }

    /// Why this device cannot be written, or `None` when [`Self::write_blocks`] may be tried
    /// (blkfront: the backend's `mode` is `w`). Asked before anything is planned, so that a
    /// read-only disk means "no write" with a message, not a failed write at the last moment.
    fn write_refusal(&self) -> Option<&'static str> {
        Some("the device takes no writes")
    }

    /// Writes `buf` to the sectors starting at `lba` (same rules as [`Self::read_blocks`]).
    ///
    /// # Errors
    /// [`IoError::ReadOnly`] by default; [`IoError::Misaligned`], [`IoError::OutOfRange`] or
    /// a device error.
    fn write_blocks(&mut self, lba: Lba, buf: &[u8]) -> Result<(), IoError> {
        let _ = (lba, buf);
        Err(IoError::ReadOnly)
    }

    /// Makes earlier writes durable (blkif's `BLKIF_OP_FLUSH_DISKCACHE` when the backend
    /// offers it); nothing to do by default.
    ///
    /// # Errors
    /// A device error.
    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
}

impl<D: BlockDevice + ?Sized> BlockDevice for alloc::boxed::Box<D> {
    fn block_size(&self) -> u32 {
        (**self).block_size()
    }
    fn num_blocks(&self) -> u64 {
        (**self).num_blocks()
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_blocks(lba, buf)
    }
    fn read_blocks_vectored(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        (**self).read_blocks_vectored(reqs)
    }
    fn write_refusal(&self) -> Option<&'static str> {
        (**self).write_refusal()
    }
    fn write_blocks(&mut self, lba: Lba, buf: &[u8]) -> Result<(), IoError> {
        (**self).write_blocks(lba, buf)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        (**self).flush()
    }
}

/// Checks a request against a device's geometry; shared by every implementation.
///
/// # Errors
/// [`IoError::Misaligned`] when `len` is zero or not a multiple of `block_size`;
/// [`IoError::OutOfRange`] when the range passes `num_blocks`.
pub fn check_request(block_size: u32, num_blocks: u64, lba: Lba, len: usize) -> Result<u64, IoError> {
    let bs = u64::from(block_size);
    let len = u64::try_from(len).map_err(|_| IoError::OutOfRange)?;
    if bs == 0 || len == 0 || len % bs != 0 {
        return Err(IoError::Misaligned);
    }
    let count = len / bs;
    match lba.0.checked_add(count) {
        Some(end) if end <= num_blocks => Ok(count),
        _ => Err(IoError::OutOfRange),
    }
}

/// A disk held in memory: for tests and fuzzing.
#[derive(Clone, Debug)]
pub struct MemDisk {
    data: Vec<u8>,
    block_size: u32,
}

impl MemDisk {
    /// Wraps `data` as a disk of `block_size`-byte sectors; a partial last sector is dropped.
    pub fn new(data: Vec<u8>, block_size: u32) -> Self {
        Self { data, block_size: block_size.max(1) }
    }
    /// The bytes behind the disk.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }
    /// The bytes behind the disk, to change (a fake backend's writes).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }
}

impl BlockDevice for MemDisk {
    fn block_size(&self) -> u32 {
        self.block_size
    }
    fn num_blocks(&self) -> u64 {
        u64::try_from(self.data.len()).unwrap_or(u64::MAX) / u64::from(self.block_size)
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        check_request(self.block_size, self.num_blocks(), lba, buf.len())?;
        let start = lba
            .0
            .checked_mul(u64::from(self.block_size))
            .and_then(|s| usize::try_from(s).ok())
            .ok_or(IoError::OutOfRange)?;
        let end = start.checked_add(buf.len()).ok_or(IoError::OutOfRange)?;
        let src = self.data.get(start..end).ok_or(IoError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write_refusal(&self) -> Option<&'static str> {
        None
    }
    fn write_blocks(&mut self, lba: Lba, buf: &[u8]) -> Result<(), IoError> {
        check_request(self.block_size, self.num_blocks(), lba, buf.len())?;
        let start = lba
            .0
            .checked_mul(u64::from(self.block_size))
            .and_then(|s| usize::try_from(s).ok())
            .ok_or(IoError::OutOfRange)?;
        let end = start.checked_add(buf.len()).ok_or(IoError::OutOfRange)?;
        self.data.get_mut(start..end).ok_or(IoError::OutOfRange)?.copy_from_slice(buf);
        Ok(())
    }
}

/// A disk image file or a block device on the host (rpvboot-inspect, tests), opened read-only.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct FileDisk {
    file: std::fs::File,
    block_size: u32,
    num_blocks: u64,
    block_device: bool,
}

#[cfg(feature = "std")]
impl FileDisk {
    /// Opens an image file or block device read-only with 512-byte sectors.
    ///
    /// # Errors
    /// The file cannot be opened or its size read.
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        Self::open_with_block_size(path, 512)
    }
    /// Opens an image file or block device read-only with the given sector size (512 or 4096).
    ///
    /// The size is where a seek to the end lands: a block device's metadata says 0 bytes (its
    /// size is the kernel's, not the inode's), and seeking to its end gives the device size
    /// without an ioctl. A partial last sector is not used.
    ///
    /// # Errors
    /// The file cannot be opened or its size read.
    pub fn open_with_block_size(path: &std::path::Path, block_size: u32) -> std::io::Result<Self> {
        use std::io::{Seek, SeekFrom};
        use std::os::unix::fs::FileTypeExt;
        let mut file = std::fs::File::open(path)?;
        let block_device = file.metadata()?.file_type().is_block_device();
        let len = file.seek(SeekFrom::End(0))?;
        let block_size = block_size.max(1);
        Ok(Self { file, block_size, num_blocks: len / u64::from(block_size), block_device })
    }
    /// Whether this is a block device (e.g. an LVM volume in dom0) rather than an image file.
    pub fn is_block_device(&self) -> bool {
        self.block_device
    }
}

#[cfg(feature = "std")]
impl BlockDevice for FileDisk {
    fn block_size(&self) -> u32 {
        self.block_size
    }
    fn num_blocks(&self) -> u64 {
        self.num_blocks
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        use std::os::unix::fs::FileExt;
        check_request(self.block_size, self.num_blocks, lba, buf.len())?;
        let offset = lba.0.checked_mul(u64::from(self.block_size)).ok_or(IoError::OutOfRange)?;
        self.file.read_exact_at(buf, offset).map_err(|_| IoError::Device)
    }
    /// An image stands for a disk xl attaches `w` (its default), so the dry run plans what
    /// rpvboot would write; the file itself is open for reading only and
    /// [`BlockDevice::write_blocks`] refuses.
    fn write_refusal(&self) -> Option<&'static str> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memdisk_rejects_misaligned_and_out_of_range() {
        let mut d = MemDisk::new(alloc::vec![7u8; 4096], 512);
        let mut buf = [0u8; 512];
        assert_eq!(d.read_blocks(Lba(7), &mut buf), Ok(()));
        assert_eq!(d.read_blocks(Lba(8), &mut buf), Err(IoError::OutOfRange));
        assert_eq!(d.read_blocks(Lba(u64::MAX), &mut buf), Err(IoError::OutOfRange));
        let mut odd = [0u8; 100];
        assert_eq!(d.read_blocks(Lba(0), &mut odd), Err(IoError::Misaligned));
        assert_eq!(d.read_blocks(Lba(0), &mut []), Err(IoError::Misaligned));
    }
}
