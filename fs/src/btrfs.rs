//! btrfs (one device) through the `lambutter` crate (vendored, see docs/fs-xfs-btrfs.md),
//! read-only.
//!
//! lambutter maps chunks, walks the trees, crosses into subvolumes where a directory entry
//! names one, and decodes inline, regular, zstd, zlib and LZO extents. Around it
//! ([`crate::lam`]): a probe of our own (the `_BHRfS_M` magic of the primary superblock), a
//! reader that bounds what every call may read, and path resolution with symbolic links.
//!
//! Paths start at the top-level subvolume (id 5), whatever the default subvolume is: that is
//! what GRUB 2.06 does, so the `/@/boot/vmlinuz-…` paths `grub-mkconfig` writes on a
//! subvolume layout name the same files here (docs/fs-xfs-btrfs.md).

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use lambutter::{Btrfs as LamBtrfs, Inode, Path};

use crate::block::BlockDevice;
use crate::error::{Error, Location};
use crate::lam::{kind_from_byte, label_string, read_raw, uuid_string, Backend, Budget, LamReader, PathFs};
use crate::lam::{DATA_FACTOR, META_BUDGET};
use crate::vfs::{FileType, FsInfo};

/// Byte offset of the primary superblock.
const SUPERBLOCK_AT: u64 = 64 << 10;
/// The top-level subvolume (`BTRFS_FS_TREE_OBJECTID`), where GRUB starts every path.
pub const TOP_LEVEL: u64 = 5;
/// Most bytes opening may read: superblock copies, the chunk tree, the root tree lookup.
pub const OPEN_BUDGET: u64 = 8 << 20;

/// Reads the primary superblock: [`Error::NotRecognized`] without the magic.
fn probe(dev: &mut dyn BlockDevice) -> Result<FsInfo, Error> {
    let sb = read_raw(dev, SUPERBLOCK_AT, 4096)?;
    if sb.get(0x40..0x48) != Some(b"_BHRfS_M".as_slice()) {
        return Err(Error::NotRecognized);
    }
    let le32 = |i: usize| sb.get(i..i + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    Ok(FsInfo {
        kind: String::from("btrfs"),
        version: format!("nodesize {}", le32(0x94)),
        block_size: le32(0x90),
        fragment_size: 0,
        label: label_string(sb.get(0x12b..0x22b).unwrap_or_default()),
        uuid: uuid_string(sb.get(0x20..0x30).unwrap_or_default()),
    })
}

/// Our error for a lambutter one: the reader's reason first (see [`Budget::error`]).
fn map_err(budget: &Budget, e: lambutter::Error) -> Error {
    use lambutter::Error as E;
    let other = match e {
        E::NotFound => Error::NotFound,
        E::NotARegularFile => Error::IsADirectory,
        E::UnsupportedFeature(t) => Error::Unsupported(format!("btrfs: feature {t}")),
        E::UnsupportedProfile(t) => Error::Unsupported(format!("btrfs: chunk profile {t}")),
        E::UnsupportedChecksum(t) => Error::Unsupported(format!("btrfs: checksum {t}")),
        E::OutOfMemory { .. } => Error::NoMemory { requested: 0 },
        E::CorruptBtree { token, logical } => {
            Error::corrupt("btrfs", format!("{token} (tree block at logical {logical:#x})"), Location::default())
        }
        e => Error::corrupt("btrfs", format!("{e}"), Location::default()),
    };
    budget.error("btrfs", other)
}

/// lambutter behind [`Backend`].
pub(crate) struct BtrfsBackend {
    fs: LamBtrfs<LamReader>,
    budget: Rc<Budget>,
}

impl BtrfsBackend {
    fn path(p: &str) -> Result<Path<'_>, Error> {
        Path::new(p.as_bytes()).ok_or_else(|| Error::InvalidPath(format!("btrfs: {p}")))
    }
}

impl Backend for BtrfsBackend {
    type Handle = Inode;

    fn resolve(&mut self, path: &str) -> Result<Inode, Error> {
        self.budget.start(META_BUDGET);
        self.fs.resolve(Self::path(path)?).map_err(|e| map_err(&self.budget, e))
    }

    fn stat(&mut self, h: Inode) -> Result<(FileType, u64), Error> {
        self.budget.start(META_BUDGET);
        let m = self.fs.metadata(&h).map_err(|e| map_err(&self.budget, e))?;
        let kind = if m.is_file() {
            FileType::File
        } else if m.is_dir() {
            FileType::Directory
        } else if m.is_symlink() {
            FileType::Symlink
        } else {
            FileType::Other
        };
        Ok((kind, m.size))
    }

    fn list(&mut self, path: &str, max: usize) -> Result<Vec<(String, FileType)>, Error> {
        self.budget.start(META_BUDGET);
        let entries = self.fs.read_dir(Self::path(path)?).map_err(|e| map_err(&self.budget, e))?;
        let mut out = Vec::new();
        crate::mem::reserve(&mut out, entries.len().min(max))?;
        for e in entries.into_iter().take(max) {
            out.push((String::from_utf8_lossy(&e.name).into_owned(), kind_from_byte(e.kind_byte)));
        }
        Ok(out)
    }

    fn link(&mut self, path: &str) -> Result<Vec<u8>, Error> {
        self.budget.start(META_BUDGET);
        self.fs.read_link(Self::path(path)?).map_err(|e| map_err(&self.budget, e))
    }

    fn read(&mut self, h: Inode, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        self.budget.start(META_BUDGET.saturating_add((buf.len() as u64).saturating_mul(DATA_FACTOR)));
        self.fs.read_file_at(&h, offset, buf).map_err(|e| map_err(&self.budget, e))
    }
}

/// A btrfs filesystem on a block device, read from its top-level subvolume.
pub struct Btrfs(PathFs<BtrfsBackend>);

impl core::fmt::Debug for Btrfs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Btrfs").field("info", &self.0.info).finish_non_exhaustive()
    }
}

impl Btrfs {
    /// Opens the btrfs filesystem on `dev` at its top-level subvolume.
    ///
    /// # Errors
    /// [`Error::NotRecognized`] without the btrfs magic; [`Error::Unsupported`] for what
    /// lambutter refuses (RAID0/10/5/6 chunks, a chunk with no copy on this device, checksums
    /// other than crc32c, unknown incompatible features); corruption or I/O.
    pub fn open(mut dev: Box<dyn BlockDevice>) -> Result<Self, Error> {
        let info = probe(&mut *dev)?;
        let budget = Rc::new(Budget::default());
        let reader = LamReader::new(dev, Rc::clone(&budget));
        let len = reader.len();
        budget.start(OPEN_BUDGET);
        let fs = LamBtrfs::open_subvol_id(reader, len, TOP_LEVEL).map_err(|e| map_err(&budget, e))?;
        Ok(Self(PathFs::new(BtrfsBackend { fs, budget }, info)))
    }
}

crate::lam::filesystem_via_pathfs!(Btrfs);
