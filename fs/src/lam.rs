//! What the XFS and btrfs readers share: a byte reader for the lamxfs / lambutter crates that
//! bounds every call into them, and a path walker over their path-based interfaces.
//!
//! Both crates own their reader and report its failures only as a token ("io_dir"), so the
//! reader records why it refused in a shared [`Budget`], which the caller reads back when the
//! crate returns an error. Before each call the caller gives the budget a number of bytes the
//! call may read ([`META_BUDGET`] for metadata, more for file data): both crates allocate in
//! proportion to what they read (directory listings, extent lists, the XFS log overlay), so
//! the budget bounds their memory as well as any loop over on-disk pointers
//! (docs/fs-xfs-btrfs.md has the reasoning).
//!
//! Neither crate follows symbolic links, and lamxfs refuses `..`, so paths are resolved here,
//! component by component, into canonical paths (no `.`, `..` or links), as the ext reader
//! does over ext4-view.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

use crate::block::BlockDevice;
use crate::cache::BlockCache;
use crate::error::{Error, IoError, Location};
use crate::ext::{join, parent_of, read_bytes, NodeTable, ROOT};
use crate::vfs::{DirEntry, FileType, Filesystem, FsInfo, Metadata, NodeId, MAX_SYMLINK_HOPS};

/// Bytes one metadata call (a path lookup, a listing, a link) may read. A lookup through
/// lamxfs reads every directory on the path whole: 2 MiB is some 40,000 entries, far beyond a
/// `/boot`, while what the crates keep in memory for it stays a few MiB.
pub(crate) const META_BUDGET: u64 = 2 << 20;
/// File data reads may read this many times the caller's buffer (plus [`META_BUDGET`]): a
/// compressed btrfs extent (at most 128 KiB) is read whole however little of it the read
/// needs, at each end of the range.
pub(crate) const DATA_FACTOR: u64 = 4;
/// Reads up to this size are kept in [`LamReader`]'s cache: tree nodes (btrfs, at most
/// 64 KiB), inodes and directory blocks (XFS). Neither crate caches anything, and every path
/// lookup descends from the root again.
const CACHED_READ_MAX: usize = 64 << 10;
/// What the budget is charged for a read, at least.
const READ_MIN_COST: u64 = 512;
/// Bytes of that cache.
const CACHE_BYTES: usize = 512 << 10;
/// Longest path or link target followed (as Linux's PATH_MAX).
const MAX_PATH: usize = 4096;

/// Why the reader refused a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadFail {
    /// The device failed.
    Device(IoError),
    /// The call has read all it may: a loop or an oversized structure on disk.
    Budget,
    /// The read reaches past the end of the volume.
    Range,
}

/// The bytes the current call may still read, and why the last read failed.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    left: Cell<u64>,
    failed: Cell<Option<ReadFail>>,
}

impl Budget {
    /// Starts a call that may read `bytes`.
    pub(crate) fn start(&self, bytes: u64) {
        self.left.set(bytes);
        self.failed.set(None);
    }

    /// Turns a crate's error into ours: the reader's own reason when it refused a read,
    /// otherwise `other` (the crate's verdict).
    pub(crate) fn error(&self, format: &'static str, other: Error) -> Error {
        match self.failed.get() {
            Some(ReadFail::Device(e)) => Error::Io(e),
            Some(ReadFail::Budget) => Error::corrupt(
                format,
                "too many reads for one operation (a loop or an oversized structure)",
                Location::default(),
            ),
            Some(ReadFail::Range) => {
                Error::corrupt(format, "structure reaches past the end of the volume", Location::default())
            }
            None => other,
        }
    }
}

/// The byte reader handed to lamxfs and lambutter.
pub(crate) struct LamReader {
    dev: Box<dyn BlockDevice>,
    bounce: Vec<u8>,
    len: u64,
    budget: Rc<Budget>,
    cache: BlockCache,
}

impl LamReader {
    /// A reader over `dev`, charging `budget`.
    pub(crate) fn new(dev: Box<dyn BlockDevice>, budget: Rc<Budget>) -> Self {
        let len = dev.num_blocks().saturating_mul(u64::from(dev.block_size()));
        Self { dev, bounce: Vec::new(), len, budget, cache: BlockCache::new(CACHE_BYTES) }
    }

    /// Volume size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadFail> {
        let fail = |why| {
            self.budget.failed.set(Some(why));
            Err(why)
        };
        let n = buf.len() as u64;
        // Empty reads cost something too, so a loop of them still ends.
        let cost = n.max(READ_MIN_COST);
        let left = self.budget.left.get();
        if cost > left {
            return fail(ReadFail::Budget);
        }
        self.budget.left.set(left - cost);
        if offset.checked_add(n).is_none_or(|end| end > self.len) {
            return fail(ReadFail::Range);
        }
        if buf.len() <= CACHED_READ_MAX {
            if let Some(hit) = self.cache.get(offset).filter(|d| d.len() == buf.len()) {
                buf.copy_from_slice(hit);
                return Ok(());
            }
        }
        match read_bytes(&mut *self.dev, &mut self.bounce, offset, buf) {
            Ok(()) => {
                if buf.len() <= CACHED_READ_MAX {
                    // The copy is allocated fallibly; without memory the read is simply not kept.
                    let mut copy = Vec::new();
                    if copy.try_reserve_exact(buf.len()).is_ok() {
                        copy.extend_from_slice(buf);
                        self.cache.insert(offset, copy);
                    }
                }
                Ok(())
            }
            Err(e) => fail(ReadFail::Device(e)),
        }
    }
}

impl lamxfs::BlockRead for LamReader {
    type Error = ReadFail;
    fn read_at(&mut self, offset_bytes: u64, buf: &mut [u8]) -> Result<(), ReadFail> {
        self.read(offset_bytes, buf)
    }
}

impl lambutter::BlockRead for LamReader {
    type Error = ReadFail;
    fn read_at(&mut self, offset_bytes: u64, buf: &mut [u8]) -> Result<(), ReadFail> {
        self.read(offset_bytes, buf)
    }
}

/// Reads `len` bytes at `offset` of `dev` (superblock probes, before a crate is involved).
pub(crate) fn read_raw(dev: &mut dyn BlockDevice, offset: u64, len: usize) -> Result<Vec<u8>, Error> {
    let size = dev.num_blocks().saturating_mul(u64::from(dev.block_size()));
    if offset.checked_add(len as u64).is_none_or(|end| end > size) {
        return Err(Error::NotRecognized);
    }
    let mut buf = crate::mem::zeroed(len)?;
    read_bytes(dev, &mut Vec::new(), offset, &mut buf)?;
    Ok(buf)
}

/// A 16-byte UUID printed as GRUB and blkid print it (8-4-4-4-12 lowercase hex).
pub(crate) fn uuid_string(u: &[u8]) -> Option<String> {
    if u.len() != 16 || u.iter().all(|&b| b == 0) {
        return None;
    }
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    Some(s)
}

/// A NUL-padded label field, `None` when empty.
pub(crate) fn label_string(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let s = String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned();
    (!s.is_empty()).then_some(s)
}

/// The kind byte directory entries carry in both XFS (`ftype`) and btrfs: 1 file, 2
/// directory, 7 symbolic link.
pub(crate) fn kind_from_byte(b: u8) -> FileType {
    match b {
        1 => FileType::File,
        2 => FileType::Directory,
        7 => FileType::Symlink,
        _ => FileType::Other,
    }
}

/// What one filesystem crate offers, by canonical path (no links, `.` or `..`).
pub(crate) trait Backend {
    /// The crate's handle of a resolved file.
    type Handle: Copy;
    /// Resolves a canonical path without following anything.
    fn resolve(&mut self, path: &str) -> Result<Self::Handle, Error>;
    /// Kind and size of a resolved file.
    fn stat(&mut self, h: Self::Handle) -> Result<(FileType, u64), Error>;
    /// The entries of the directory at `path` (without `.` and `..`), at most `max`.
    fn list(&mut self, path: &str, max: usize) -> Result<Vec<(String, FileType)>, Error>;
    /// The target of the link at `path`.
    fn link(&mut self, path: &str) -> Result<Vec<u8>, Error>;
    /// Reads file data (0 at end of file).
    fn read(&mut self, h: Self::Handle, offset: u64, buf: &mut [u8]) -> Result<usize, Error>;
}

/// A [`Filesystem`] over a [`Backend`]: symbolic links, `.` and `..` resolved here.
pub(crate) struct PathFs<B: Backend> {
    pub(crate) backend: B,
    pub(crate) info: FsInfo,
    nodes: NodeTable,
    /// The file last resolved for reading.
    last: Option<(NodeId, B::Handle)>,
}

impl<B: Backend> PathFs<B> {
    pub(crate) fn new(backend: B, info: FsInfo) -> Self {
        Self { backend, info, nodes: NodeTable::new(), last: None }
    }

    /// Resolves `path` to a canonical path, its handle, kind and size; follows links except,
    /// with `follow_last` false, in the last component.
    fn walk(&mut self, path: &str, follow_last: bool) -> Result<(String, B::Handle, FileType, u64), Error> {
        if path.len() > MAX_PATH {
            return Err(Error::InvalidPath(format!("{}: path longer than {MAX_PATH} bytes", self.info.kind)));
        }
        let mut todo: Vec<String> = path.split('/').filter(|c| !c.is_empty()).rev().map(String::from).collect();
        let mut cur = String::from("/");
        let mut h = self.backend.resolve("/")?;
        let (mut kind, mut size) = self.backend.stat(h)?;
        let mut hops = 0u32;
        while let Some(comp) = todo.pop() {
            if comp == "." {
                continue;
            }
            if kind != FileType::Directory {
                return Err(Error::NotADirectory);
            }
            let candidate = if comp == ".." { String::from(parent_of(&cur)) } else { join(&cur, &comp) };
            let ch = self.backend.resolve(&candidate)?;
            let (ck, cs) = self.backend.stat(ch)?;
            if ck == FileType::Symlink && (follow_last || !todo.is_empty()) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Error::SymlinkLoop);
                }
                let target = self.backend.link(&candidate)?;
                let target = String::from_utf8(target).map_err(|_| {
                    Error::Unsupported(format!("{}: symlink {candidate} target is not UTF-8", self.info.kind))
                })?;
                if target.is_empty() {
                    return Err(Error::NotFound);
                }
                if target.starts_with('/') {
                    cur = String::from("/");
                    h = self.backend.resolve("/")?;
                    (kind, size) = self.backend.stat(h)?;
                }
                todo.extend(target.split('/').filter(|c| !c.is_empty()).rev().map(String::from));
                if todo.len() > MAX_PATH {
                    return Err(Error::InvalidPath(format!(
                        "{}: path grows too long through symlinks",
                        self.info.kind
                    )));
                }
                continue;
            }
            cur = candidate;
            (h, kind, size) = (ch, ck, cs);
        }
        Ok((cur, h, kind, size))
    }

    fn lookup_with(&mut self, path: &str, follow: bool) -> Result<Metadata, Error> {
        let (canon, h, file_type, size) = self.walk(path, follow)?;
        let id = self.nodes.id_for(&canon);
        self.last = Some((id, h));
        Ok(Metadata { id, file_type, size })
    }

    fn handle(&mut self, id: NodeId) -> Result<(String, B::Handle), Error> {
        let path = self.nodes.path(id)?;
        if let Some((last, h)) = self.last {
            if last == id {
                return Ok((path, h));
            }
        }
        let h = self.backend.resolve(&path)?;
        self.last = Some((id, h));
        Ok((path, h))
    }
}

/// `impl Filesystem` for a public newtype over a [`PathFs`] (`pub struct Xfs(PathFs<…>)`):
/// every call goes to the [`PathFs`], which does the work for both XFS and btrfs. The newtypes
/// exist so that the backends stay private.
macro_rules! filesystem_via_pathfs {
    ($t:ty) => {
        impl $crate::vfs::Filesystem for $t {
            fn info(&self) -> $crate::vfs::FsInfo {
                self.0.info()
            }
            fn root(&self) -> $crate::vfs::NodeId {
                self.0.root()
            }
            fn lookup(&mut self, path: &str) -> Result<$crate::vfs::Metadata, $crate::error::Error> {
                self.0.lookup(path)
            }
            fn lookup_nofollow(&mut self, path: &str) -> Result<$crate::vfs::Metadata, $crate::error::Error> {
                self.0.lookup_nofollow(path)
            }
            fn metadata(&mut self, id: $crate::vfs::NodeId) -> Result<$crate::vfs::Metadata, $crate::error::Error> {
                self.0.metadata(id)
            }
            fn read_at(
                &mut self,
                id: $crate::vfs::NodeId,
                offset: u64,
                buf: &mut [u8],
            ) -> Result<usize, $crate::error::Error> {
                self.0.read_at(id, offset, buf)
            }
            fn read_dir_limit(
                &mut self,
                id: $crate::vfs::NodeId,
                max: usize,
            ) -> Result<alloc::vec::Vec<$crate::vfs::DirEntry>, $crate::error::Error> {
                self.0.read_dir_limit(id, max)
            }
            fn read_link(&mut self, id: $crate::vfs::NodeId) -> Result<alloc::string::String, $crate::error::Error> {
                self.0.read_link(id)
            }
        }
    };
}
pub(crate) use filesystem_via_pathfs;

impl<B: Backend> Filesystem for PathFs<B> {
    fn info(&self) -> FsInfo {
        self.info.clone()
    }

    fn root(&self) -> NodeId {
        ROOT
    }

    fn lookup(&mut self, path: &str) -> Result<Metadata, Error> {
        self.lookup_with(path, true)
    }

    fn lookup_nofollow(&mut self, path: &str) -> Result<Metadata, Error> {
        self.lookup_with(path, false)
    }

    fn metadata(&mut self, id: NodeId) -> Result<Metadata, Error> {
        let (_, h) = self.handle(id)?;
        let (file_type, size) = self.backend.stat(h)?;
        Ok(Metadata { id, file_type, size })
    }

    fn read_at(&mut self, id: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let (_, h) = self.handle(id)?;
        let (kind, _) = self.backend.stat(h)?;
        match kind {
            FileType::Directory => Err(Error::IsADirectory),
            FileType::File => self.backend.read(h, offset, buf),
            _ => Err(Error::Unsupported(format!("{}: not a regular file", self.info.kind))),
        }
    }

    fn read_dir_limit(&mut self, id: NodeId, max: usize) -> Result<Vec<DirEntry>, Error> {
        let (path, h) = self.handle(id)?;
        if self.backend.stat(h)?.0 != FileType::Directory {
            return Err(Error::NotADirectory);
        }
        let list = self.backend.list(&path, max)?;
        let mut out = Vec::new();
        crate::mem::reserve(&mut out, list.len())?;
        for (name, file_type) in list {
            let id = self.nodes.id_for(&join(&path, &name));
            out.push(DirEntry { name, id, file_type });
        }
        Ok(out)
    }

    fn read_link(&mut self, id: NodeId) -> Result<String, Error> {
        let (path, h) = self.handle(id)?;
        if self.backend.stat(h)?.0 != FileType::Symlink {
            return Err(Error::Unsupported(format!("{}: {path} is not a symbolic link", self.info.kind)));
        }
        let target = self.backend.link(&path)?;
        String::from_utf8(target)
            .map_err(|_| Error::Unsupported(format!("{}: symlink {path} target is not UTF-8", self.info.kind)))
    }
}
