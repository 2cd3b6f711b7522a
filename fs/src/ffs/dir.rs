//! Directory blocks: `struct direct` records (NetBSD ufs/dir.h), walked by `d_reclen` inside
//! each `DIRBLKSIZ` chunk with every length checked, so a bad record ends in an error rather
//! than a loop or an out-of-bounds read.

use super::superblock::Superblock;
use super::{corrupt, Location};
use crate::error::Error;
use crate::vfs::FileType;

/// Directory records never cross a `DIRBLKSIZ` boundary.
pub(crate) const DIRBLKSIZ: usize = 512;
/// Longest name (`FFS_MAXNAMLEN`).
pub(crate) const MAXNAMLEN: usize = 255;
const HEADER: usize = 8;

/// One live directory record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawEntry<'a> {
    pub ino: u64,
    pub name: &'a [u8],
    /// From `d_type`; `None` when the directory does not record it.
    pub file_type: Option<FileType>,
}

/// Calls `f` on every live record of one `DIRBLKSIZ` chunk; stops early when `f` returns
/// `Some`. `base` is the chunk's byte offset in the directory (for error messages).
pub(crate) fn walk_chunk<'a, T>(
    sb: &Superblock,
    chunk: &'a [u8],
    dir_ino: u64,
    base: u64,
    mut f: impl FnMut(RawEntry<'a>) -> Option<T>,
) -> Result<Option<T>, Error> {
    let e = sb.endian;
    let mut off = 0usize;
    // Each record is at least HEADER bytes long, so this visits at most DIRBLKSIZ / 8.
    while off < chunk.len() {
        let pos = base.saturating_add(u64::try_from(off).unwrap_or(u64::MAX));
        let bad = |what: &str| {
            corrupt(
                alloc::format!("directory entry at byte {pos}: {what}"),
                Location::inode(dir_ino),
            )
        };
        let ino = e.u32(chunk, off).ok_or_else(|| bad("truncated"))?;
        let reclen = usize::from(e.u16(chunk, off + 4).ok_or_else(|| bad("truncated"))?);
        if reclen < HEADER || reclen % 4 != 0 || reclen > chunk.len() - off {
            return Err(bad("bad d_reclen"));
        }
        if ino != 0 {
            let (namlen, dtype) = if sb.old_format {
                (
                    usize::from(e.u16(chunk, off + 6).ok_or_else(|| bad("truncated"))?),
                    None,
                )
            } else {
                let t = chunk.get(off + 6).copied().unwrap_or(0);
                (
                    usize::from(chunk.get(off + 7).copied().unwrap_or(0)),
                    Some(t),
                )
            };
            // DIRSIZ: header, name, NUL, rounded up to 4.
            if namlen == 0
                || namlen > MAXNAMLEN
                || (HEADER + namlen + 1).next_multiple_of(4) > reclen
            {
                return Err(bad("bad d_namlen"));
            }
            if u64::from(ino) >= sb.inode_count() {
                return Err(bad("inode number out of range"));
            }
            let name = chunk
                .get(off + HEADER..off + HEADER + namlen)
                .ok_or_else(|| bad("truncated"))?;
            let file_type = dtype.and_then(|t| match t {
                4 => Some(FileType::Directory),
                8 => Some(FileType::File),
                10 => Some(FileType::Symlink),
                0 => None,
                _ => Some(FileType::Other),
            });
            if let Some(v) = f(RawEntry {
                ino: u64::from(ino),
                name,
                file_type,
            }) {
                return Ok(Some(v));
            }
        }
        off += reclen;
    }
    Ok(None)
}
