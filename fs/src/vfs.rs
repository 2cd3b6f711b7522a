//! One read-only filesystem interface over FFS, ext2/3/4 and FAT.
//!
//! Paths are `/`-separated and absolute within the filesystem. Lookups follow symbolic links
//! (at most [`MAX_SYMLINK_HOPS`] of them) and understand `.` and `..`.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Error;

/// How many symbolic links one path resolution may follow before it is called a loop.
pub const MAX_SYMLINK_HOPS: u32 = 32;

/// Most entries [`Filesystem::read_dir`] returns; a bigger directory is an
/// [`Error::Unsupported`] (a listing holds every name in memory: at this count a few MiB, while a
/// 64 MiB FFS directory of short names would be millions). Use
/// [`Filesystem::read_dir_limit`] for the first entries of any directory.
pub const MAX_DIR_LIST: usize = 65_536;

/// A file's identity inside one filesystem (an inode number for FFS and ext; an
/// implementation-defined handle for FAT). Only meaningful to the filesystem that returned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u64);

/// The kind of a directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, fifo, socket, whiteout).
    Other,
}

/// What the filesystem knows about a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// The file's identity.
    pub id: NodeId,
    /// Its kind.
    pub file_type: FileType,
    /// Its length in bytes.
    pub size: u64,
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name, without any path.
    pub name: String,
    /// The entry's identity.
    pub id: NodeId,
    /// The entry's kind (as the directory records it, or looked up).
    pub file_type: FileType,
}

/// A short description of a mounted filesystem, for `probe` output.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FsInfo {
    /// "ffs", "ext2", "ext3", "ext4", "fat12", "fat16", "fat32".
    pub kind: String,
    /// Format details: "FFSv2 le", "revision 1", ...
    pub version: String,
    /// Block (FFS/ext) or cluster (FAT) size in bytes.
    pub block_size: u32,
    /// FFS fragment size; 0 elsewhere.
    pub fragment_size: u32,
    /// Volume label, if any.
    pub label: Option<String>,
    /// Volume UUID or serial, printed, if any.
    pub uuid: Option<String>,
}

/// A read-only filesystem.
pub trait Filesystem {
    /// What this filesystem is.
    fn info(&self) -> FsInfo;

    /// The root directory.
    fn root(&self) -> NodeId;

    /// Resolves an absolute path, following symbolic links (also in the last component).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::NotADirectory`], [`Error::SymlinkLoop`], or corruption.
    fn lookup(&mut self, path: &str) -> Result<Metadata, Error>;

    /// Like [`Self::lookup`] but does not follow a symbolic link in the last component.
    ///
    /// # Errors
    /// As [`Self::lookup`].
    fn lookup_nofollow(&mut self, path: &str) -> Result<Metadata, Error>;

    /// Metadata of a node returned earlier.
    ///
    /// # Errors
    /// Corruption or I/O.
    fn metadata(&mut self, id: NodeId) -> Result<Metadata, Error>;

    /// Reads up to `buf.len()` bytes at `offset`; returns the count, 0 at end of file.
    ///
    /// Holes read as zeros. Implementations serve a large `buf` with large contiguous device
    /// reads where the file's blocks are contiguous, so callers should pass big buffers.
    ///
    /// # Errors
    /// [`Error::IsADirectory`], corruption or I/O.
    fn read_at(&mut self, id: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize, Error>;

    /// Lists a directory (including `.` and `..` where the format stores them).
    ///
    /// # Errors
    /// [`Error::NotADirectory`], [`Error::Unsupported`] past [`MAX_DIR_LIST`] entries,
    /// corruption or I/O.
    fn read_dir(&mut self, id: NodeId) -> Result<Vec<DirEntry>, Error> {
        let list = self.read_dir_limit(id, MAX_DIR_LIST.saturating_add(1))?;
        if list.len() > MAX_DIR_LIST {
            return Err(Error::Unsupported(alloc::format!(
                "directory of more than {MAX_DIR_LIST} entries: too many to list at once"
            )));
        }
        Ok(list)
    }

    /// The first `max` entries of a directory in on-disk order (including `.` and `..` where
    /// the format stores them): the scan stops there, so memory is bounded by `max`, not by
    /// the directory's size on disk.
    ///
    /// # Errors
    /// [`Error::NotADirectory`], corruption or I/O.
    fn read_dir_limit(&mut self, id: NodeId, max: usize) -> Result<Vec<DirEntry>, Error>;

    /// Whether a file's bytes may be rewritten in place on the device, the way GRUB's
    /// `save_env` rewrites its environment block ([`crate::envblock`]): true only where a
    /// file's data sectors hold its bytes as they are, with no checksum or compression over
    /// them that a rewrite would leave stale. FFS, ext2/3/4 and FAT say so; a filesystem that
    /// does not (btrfs checksums data) keeps this default.
    fn in_place_writes(&self) -> bool {
        false
    }

    /// The target of a symbolic link.
    ///
    /// # Errors
    /// Not a link, corruption or I/O.
    fn read_link(&mut self, id: NodeId) -> Result<String, Error>;
}

/// Reads a whole file, refusing files longer than `limit` bytes.
///
/// # Errors
/// [`Error::TooLarge`] past `limit`, or whatever the filesystem reports.
pub fn read_to_vec(fs: &mut dyn Filesystem, path: &str, limit: u64) -> Result<Vec<u8>, Error> {
    let meta = fs.lookup(path)?;
    if meta.file_type == FileType::Directory {
        return Err(Error::IsADirectory);
    }
    if meta.size > limit {
        return Err(Error::TooLarge { requested: meta.size, limit });
    }
    let len = usize::try_from(meta.size).map_err(|_| Error::TooLarge { requested: meta.size, limit })?;
    let mut out = alloc::vec![0u8; len];
    let mut done = 0usize;
    while done < len {
        let rest = out.get_mut(done..).unwrap_or_default();
        let n = fs.read_at(meta.id, done as u64, rest)?;
        if n == 0 {
            break;
        }
        done = done.saturating_add(n);
    }
    out.truncate(done);
    Ok(out)
}
