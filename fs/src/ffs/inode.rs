//! On-disk inodes (`struct ufs1_dinode` / `struct ufs2_dinode`, NetBSD ufs/dinode.h).

use alloc::format;

use super::superblock::{Superblock, NDADDR, NIADDR};
use super::{corrupt, Location};
use crate::error::Error;
use crate::vfs::FileType;

const IFMT: u16 = 0o170000;
const IFDIR: u16 = 0o040000;
const IFREG: u16 = 0o100000;
const IFLNK: u16 = 0o120000;

/// Bytes of the pointer area (`di_db` + `di_ib`) that holds a fast symlink's target.
pub(crate) const SHORTLINK_MAX: usize = 120;

/// The fields of an inode this reader uses, in host order.
#[derive(Clone, Debug)]
pub(crate) struct Inode {
    pub ino: u64,
    pub mode: u16,
    pub size: u64,
    pub blocks: u64,
    /// Direct block pointers, in fragments.
    pub db: [u64; NDADDR],
    /// Single, double and triple indirect block pointers, in fragments.
    pub ib: [u64; NIADDR],
    /// The raw pointer area, for fast symlinks (stored unswapped: it is a string).
    pub shortlink: [u8; SHORTLINK_MAX],
}

impl Inode {
    /// Parses the `sb.dinode_size` bytes of inode `ino`.
    pub(crate) fn parse(sb: &Superblock, raw: &[u8], ino: u64) -> Result<Self, Error> {
        let e = sb.endian;
        let loc = Location::inode(ino);
        let short = || corrupt("inode truncated", loc);
        let mode = e.u16(raw, 0).ok_or_else(short)?;
        let (size, blocks, db_off, ptr) = if sb.flavor.is_ufs1() {
            let blocks = u64::try_from(e.i32(raw, 104).ok_or_else(short)?).unwrap_or(0);
            (e.u64(raw, 8).ok_or_else(short)?, blocks, 40usize, 4usize)
        } else {
            (e.u64(raw, 16).ok_or_else(short)?, e.u64(raw, 24).ok_or_else(short)?, 112, 8)
        };
        let pointer = |i: usize| -> Result<u64, Error> {
            let off = db_off + i * ptr;
            let v = if ptr == 4 { e.i32(raw, off).map(i64::from) } else { e.i64(raw, off) }.ok_or_else(short)?;
            u64::try_from(v).map_err(|_| corrupt(format!("negative block pointer {v}"), loc))
        };
        let is_short_link = mode & IFMT == IFLNK && is_fast_link(sb, size, blocks);
        let mut db = [0u64; NDADDR];
        let mut ib = [0u64; NIADDR];
        if !is_short_link {
            for (i, slot) in db.iter_mut().enumerate() {
                *slot = pointer(i)?;
            }
            for (i, slot) in ib.iter_mut().enumerate() {
                *slot = pointer(NDADDR + i)?;
            }
        }
        let mut shortlink = [0u8; SHORTLINK_MAX];
        let area = (NDADDR + NIADDR) * ptr;
        if let (Some(dst), Some(src)) = (shortlink.get_mut(..area), raw.get(db_off..db_off + area)) {
            dst.copy_from_slice(src);
        }
        Ok(Self { ino, mode, size, blocks, db, ib, shortlink })
    }

    pub(crate) fn file_type(&self) -> FileType {
        match self.mode & IFMT {
            IFDIR => FileType::Directory,
            IFREG => FileType::File,
            IFLNK => FileType::Symlink,
            _ => FileType::Other,
        }
    }

    /// Whether a symlink's target lives in the inode itself (`ufs_readlink`).
    pub(crate) fn is_fast_link(&self, sb: &Superblock) -> bool {
        is_fast_link(sb, self.size, self.blocks)
    }
}

fn is_fast_link(sb: &Superblock, size: u64, blocks: u64) -> bool {
    size < u64::from(sb.maxsymlinklen) || (sb.maxsymlinklen == 0 && blocks == 0)
}
