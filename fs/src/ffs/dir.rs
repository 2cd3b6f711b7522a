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
        let bad =
            |what: &str| corrupt(alloc::format!("directory entry at byte {pos}: {what}"), Location::inode(dir_ino));
        let ino = e.u32(chunk, off).ok_or_else(|| bad("truncated"))?;
        let reclen = usize::from(e.u16(chunk, off + 4).ok_or_else(|| bad("truncated"))?);
        if reclen < HEADER || reclen % 4 != 0 || reclen > chunk.len() - off {
            return Err(bad("bad d_reclen"));
        }
        if ino != 0 {
            let (namlen, dtype) = if sb.old_format {
                (usize::from(e.u16(chunk, off + 6).ok_or_else(|| bad("truncated"))?), None)
            } else {
                let t = chunk.get(off + 6).copied().unwrap_or(0);
                (usize::from(chunk.get(off + 7).copied().unwrap_or(0)), Some(t))
            };
            // DIRSIZ: header, name, NUL, rounded up to 4.
            if namlen == 0 || namlen > MAXNAMLEN || (HEADER + namlen + 1).next_multiple_of(4) > reclen {
                return Err(bad("bad d_namlen"));
            }
            if u64::from(ino) >= sb.inode_count() {
                return Err(bad("inode number out of range"));
            }
            let name = chunk.get(off + HEADER..off + HEADER + namlen).ok_or_else(|| bad("truncated"))?;
            let file_type = dtype.and_then(|t| match t {
                4 => Some(FileType::Directory),
                8 => Some(FileType::File),
                10 => Some(FileType::Symlink),
                0 => None,
                _ => Some(FileType::Other),
            });
            if let Some(v) = f(RawEntry { ino: u64::from(ino), name, file_type }) {
                return Ok(Some(v));
            }
        }
        off += reclen;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffs::endian::Endian;
    use crate::ffs::superblock::tests::synthetic;
    use alloc::vec;
    use alloc::vec::Vec;

    fn entry(chunk: &mut [u8], off: usize, ino: u32, reclen: u16, dtype: u8, name: &[u8]) {
        chunk[off..off + 4].copy_from_slice(&ino.to_le_bytes());
        chunk[off + 4..off + 6].copy_from_slice(&reclen.to_le_bytes());
        chunk[off + 6] = dtype;
        chunk[off + 7] = name.len() as u8;
        chunk[off + 8..off + 8 + name.len()].copy_from_slice(name);
    }

    fn names(chunk: &[u8]) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        let sb = Superblock::parse(&synthetic(Endian::Little), 65536).unwrap();
        let mut out = Vec::new();
        walk_chunk(&sb, chunk, 2, 0, |e| {
            out.push((e.ino, e.name.to_vec()));
            None::<()>
        })?;
        Ok(out)
    }

    #[test]
    fn walks_records_and_skips_free_ones() {
        let mut c = vec![0u8; DIRBLKSIZ];
        entry(&mut c, 0, 2, 12, 4, b".");
        entry(&mut c, 12, 0, 20, 0, b"gone");
        entry(&mut c, 32, 5, 480, 8, b"file");
        assert_eq!(names(&c).unwrap(), vec![(2, b".".to_vec()), (5, b"file".to_vec())]);
    }

    #[test]
    fn bad_records_are_errors_not_loops() {
        let bad_reclens: [u16; 4] = [0, 6, 13, 600];
        for reclen in bad_reclens {
            let mut c = vec![0u8; DIRBLKSIZ];
            entry(&mut c, 0, 2, reclen, 4, b".");
            assert!(matches!(names(&c), Err(Error::Corrupt(_))), "reclen {reclen}");
        }
        let mut c = vec![0u8; DIRBLKSIZ];
        entry(&mut c, 0, 2, 12, 4, b"toolongforrecord");
        assert!(matches!(names(&c), Err(Error::Corrupt(_))));
        let mut c = vec![0u8; DIRBLKSIZ];
        entry(&mut c, 0, 1_000_000, 512, 4, b"x");
        assert!(matches!(names(&c), Err(Error::Corrupt(_))), "inode out of range");
    }
}
