//! XFS (v4 and v5) through the `lamxfs` crate, read-only.
//!
//! lamxfs parses the superblock, inodes, extent lists and B+trees, every directory form and
//! symbolic links, and replays a v5 log left dirty by a crash in memory (as Linux does at
//! mount). Around it ([`crate::lam`]): a probe of our own (the `XFSB` magic) so that a
//! partition of another kind is [`Error::NotRecognized`], a reader that bounds what every
//! call may read (so what lamxfs allocates and how long it loops), and path resolution with
//! symbolic links, `.` and `..`, which lamxfs leaves to its caller.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use lamxfs::{EntryKind, Inode, Path, Xfs as LamXfs};

use crate::block::BlockDevice;
use crate::error::{Error, Location};
use crate::lam::{label_string, read_raw, uuid_string, Backend, Budget, LamReader, PathFs};
use crate::lam::{DATA_FACTOR, META_BUDGET};
use crate::vfs::{FileType, FsInfo};

/// Most bytes opening may read: the superblock and, for a v5 log left dirty, the part of the
/// log that holds changes plus the blocks they change (kept in memory until the filesystem is
/// closed). A clean log is found with a few reads.
pub const OPEN_BUDGET: u64 = 8 << 20;

/// The superblock facts `probe` prints, read without lamxfs.
struct Probe {
    info: FsInfo,
}

/// Reads the primary superblock: [`Error::NotRecognized`] without the `XFSB` magic.
fn probe(dev: &mut dyn BlockDevice) -> Result<Probe, Error> {
    let sb = read_raw(dev, 0, 512)?;
    if sb.get(..4) != Some(b"XFSB".as_slice()) {
        return Err(Error::NotRecognized);
    }
    let be32 = |i: usize| sb.get(i..i + 4).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let be16 = |i: usize| sb.get(i..i + 2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let version = be16(100) & 0xf;
    Ok(Probe {
        info: FsInfo {
            kind: String::from("xfs"),
            version: format!("v{version}"),
            block_size: be32(4),
            fragment_size: 0,
            label: label_string(sb.get(108..120).unwrap_or_default()),
            uuid: uuid_string(sb.get(32..48).unwrap_or_default()),
        },
    })
}

/// lamxfs behind [`Backend`].
pub(crate) struct XfsBackend {
    fs: LamXfs<LamReader>,
    budget: Rc<Budget>,
}

/// Our error for a lamxfs one: the reader's reason first (see [`Budget::error`]).
fn map_err(budget: &Budget, e: lamxfs::Error) -> Error {
    let other = match e {
        lamxfs::Error::NotFound { .. } => Error::NotFound,
        lamxfs::Error::NotARegularFile => Error::IsADirectory,
        lamxfs::Error::UnsupportedFeature(f) => Error::Unsupported(format!("xfs: feature {f}")),
        lamxfs::Error::BadSuperblock(lamxfs::SuperblockReason::DirtyLog) => Error::Unsupported(String::from(
            "xfs: the log holds changes that cannot be replayed (mount and unmount it once under Linux)",
        )),
        lamxfs::Error::BadSuperblock(
            r @ (lamxfs::SuperblockReason::ExternalLog
            | lamxfs::SuperblockReason::RealtimeDevice
            | lamxfs::SuperblockReason::UnsupportedVersion),
        ) => Error::Unsupported(format!("xfs: superblock: {r:?}")),
        lamxfs::Error::Inconsistent { token, where_ } => Error::corrupt("xfs", token, location(where_)),
        e => Error::corrupt("xfs", format!("{e}"), Location::default()),
    };
    budget.error("xfs", other)
}

fn location(l: lamxfs::Location) -> Location {
    match l {
        lamxfs::Location::Inode { ino } => Location::inode(ino),
        lamxfs::Location::Bmbt { ino, block } | lamxfs::Location::Dir { ino, block } => {
            Location::inode(ino).with_block(u64::from(block))
        }
        _ => Location::default(),
    }
}

impl Backend for XfsBackend {
    type Handle = Inode;

    fn resolve(&mut self, path: &str) -> Result<Inode, Error> {
        self.budget.start(META_BUDGET);
        self.fs.resolve(Path::new(path.as_bytes())).map_err(|e| map_err(&self.budget, e))
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
        Ok((kind, m.size()))
    }

    fn list(&mut self, path: &str, max: usize) -> Result<Vec<(String, FileType)>, Error> {
        self.budget.start(META_BUDGET);
        let entries = self.fs.read_dir(Path::new(path.as_bytes())).map_err(|e| map_err(&self.budget, e))?;
        let mut out = Vec::new();
        crate::mem::reserve(&mut out, entries.len().min(max))?;
        for e in entries.into_iter().take(max) {
            let kind = match e.kind {
                EntryKind::Regular => FileType::File,
                EntryKind::Directory => FileType::Directory,
                EntryKind::Symlink => FileType::Symlink,
                EntryKind::Other => FileType::Other,
            };
            out.push((String::from_utf8_lossy(&e.name).into_owned(), kind));
        }
        Ok(out)
    }

    fn link(&mut self, path: &str) -> Result<Vec<u8>, Error> {
        self.budget.start(META_BUDGET);
        self.fs.read_link(Path::new(path.as_bytes())).map_err(|e| map_err(&self.budget, e))
    }

    fn read(&mut self, h: Inode, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        self.budget.start(META_BUDGET.saturating_add((buf.len() as u64).saturating_mul(DATA_FACTOR)));
        self.fs.read_file_at(&h, offset, buf).map_err(|e| map_err(&self.budget, e))
    }
}

/// An XFS filesystem on a block device.
pub struct Xfs(PathFs<XfsBackend>);

impl core::fmt::Debug for Xfs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Xfs").field("info", &self.0.info).finish_non_exhaustive()
    }
}

impl Xfs {
    /// Opens the XFS filesystem on `dev`.
    ///
    /// # Errors
    /// [`Error::NotRecognized`] without the XFS magic; [`Error::Unsupported`] for what lamxfs
    /// refuses (realtime or external log devices, a log it cannot replay, unknown
    /// incompatible features); corruption or I/O.
    pub fn open(mut dev: Box<dyn BlockDevice>) -> Result<Self, Error> {
        let Probe { info } = probe(&mut *dev)?;
        let budget = Rc::new(Budget::default());
        let reader = LamReader::new(dev, Rc::clone(&budget));
        let len = reader.len();
        budget.start(OPEN_BUDGET);
        let fs = LamXfs::open(reader, len).map_err(|e| map_err(&budget, e))?;
        Ok(Self(PathFs::new(XfsBackend { fs, budget }, info)))
    }
}

crate::lam::filesystem_via_pathfs!(Xfs);
