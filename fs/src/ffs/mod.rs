//! FFSv1 and FFSv2 (UFS1/UFS2, and NetBSD 10's UFS2 with extended attributes), both byte
//! orders: hand-written, after NetBSD `sys/ufs/ffs/fs.h`, `ufs/dinode.h` and `ufs/dir.h`.
//!
//! Every number read from the disk is checked before it is used as an offset, a length or
//! a loop bound; inode numbers, block pointers and sizes must fit the validated superblock.
//! File data is read in physically contiguous runs straight into the caller's buffer;
//! indirect and inode blocks go through a bounded cache.

mod bmap;
mod dir;
mod endian;
mod inode;
mod io;
mod superblock;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::block::BlockDevice;
use crate::error::Location;
use crate::error::{Error, IoError};
use crate::vfs::{DirEntry, FileType, Filesystem, FsInfo, Metadata, NodeId, MAX_SYMLINK_HOPS};

use dir::DIRBLKSIZ;
use inode::Inode;
use io::Disk;
use superblock::{Superblock, SBLOCKSEARCH, SBLOCKSIZE};

/// The root directory's inode number (`UFS_ROOTINO`).
pub const ROOT_INO: u64 = 2;
/// Longest symlink target followed or returned (NetBSD's `MAXPATHLEN` is 1024).
const MAX_LINK_LEN: u64 = 4096;
/// Largest directory scanned or listed (FFS directories this big do not occur in practice).
const MAX_DIR_SIZE: u64 = 64 * 1024 * 1024;

pub(crate) fn corrupt(what: impl Into<String>, location: Location) -> Error {
    Error::corrupt("ffs", what, location)
}

/// A mounted (read-only) FFS.
pub struct Ffs {
    sb: Superblock,
    disk: Disk,
}

impl core::fmt::Debug for Ffs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ffs").field("sb", &self.sb).finish_non_exhaustive()
    }
}

impl Ffs {
    /// Finds and checks the superblock (at 64 KiB, 8 KiB, 0 and 256 KiB, in that order).
    ///
    /// # Errors
    /// [`Error::NotRecognized`] when no location holds an FFS superblock; a corruption
    /// error when one does but its geometry is impossible; I/O errors.
    pub fn open(dev: Box<dyn BlockDevice>) -> Result<Self, Error> {
        let mut disk = Disk::new(dev)?;
        let mut first_err = None;
        for loc in SBLOCKSEARCH {
            let mut buf = vec![0u8; SBLOCKSIZE];
            match disk.read_bytes(loc, &mut buf) {
                Ok(()) => {}
                Err(Error::Io(IoError::OutOfRange)) => continue,
                Err(e) => return Err(e),
            }
            match Superblock::parse(&buf, loc) {
                Ok(sb) => {
                    if sb.size_bytes() > disk.len() {
                        first_err.get_or_insert(corrupt(
                            format!("filesystem of {} bytes on a device of {}", sb.size_bytes(), disk.len()),
                            Location::offset(loc),
                        ));
                        continue;
                    }
                    let mut fs = Self { sb, disk };
                    let root = fs.inode(ROOT_INO)?;
                    if root.file_type() != FileType::Directory {
                        return Err(corrupt("root inode is not a directory", Location::inode(ROOT_INO)));
                    }
                    return Ok(fs);
                }
                Err(Error::NotRecognized) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or(Error::NotRecognized))
    }

    /// Byte offset at which the superblock was found.
    pub fn superblock_offset(&self) -> u64 {
        self.sb.location
    }

    fn inode(&mut self, ino: u64) -> Result<Inode, Error> {
        if ino < ROOT_INO || ino >= self.sb.inode_count() {
            return Err(corrupt(format!("inode number {ino} out of range"), Location::inode(ino)));
        }
        let off = self.sb.inode_offset(ino).ok_or_else(|| corrupt("inode offset overflows", Location::inode(ino)))?;
        let bsize = u64::from(self.sb.bsize);
        let block_off = off / bsize * bsize;
        let in_block = usize::try_from(off - block_off).unwrap_or(usize::MAX);
        if block_off.checked_add(bsize).is_none_or(|end| end > self.sb.size_bytes()) {
            return Err(corrupt("inode block past the end of the filesystem", Location::inode(ino)));
        }
        let sb = &self.sb;
        let block = self.disk.meta(block_off, usize::try_from(bsize).unwrap_or(usize::MAX))?;
        let size = usize::try_from(sb.dinode_size).unwrap_or(usize::MAX);
        let raw = block
            .get(in_block..in_block.saturating_add(size))
            .ok_or_else(|| corrupt("inode outside its block", Location::inode(ino)))?;
        let inode = Inode::parse(sb, raw, ino)?;
        if inode.mode == 0 {
            return Err(corrupt("reference to a free inode", Location::inode(ino)));
        }
        if inode.size > max_file_size(sb) {
            return Err(corrupt(
                format!("size {} beyond what the block pointers can address", inode.size),
                Location::inode(ino),
            ));
        }
        Ok(inode)
    }

    /// Reads file bytes from `offset` into `buf`, up to the end of the file; holes read as
    /// zeros. Contiguous blocks are coalesced into one device read.
    fn read_data(&mut self, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        if offset >= inode.size {
            return Ok(0);
        }
        // A file holds at most the filesystem's bytes of data; the rest of a larger size can
        // only be holes. A size field of 1 TiB on a small disk would otherwise stream zeros
        // for ever, so reads stop at the filesystem size with an error.
        let fs_size = self.sb.size_bytes();
        if inode.size > fs_size && offset >= fs_size {
            return Err(Error::Unsupported(format!(
                "ffs: inode {} claims {} bytes on a filesystem of {fs_size}: nothing past {fs_size} is read",
                inode.ino, inode.size
            )));
        }
        let avail = inode.size.min(fs_size.max(offset)) - offset;
        let len = usize::try_from(avail).map_or(buf.len(), |a| a.min(buf.len()));
        let buf = buf.get_mut(..len).unwrap_or_default();
        let bshift = self.sb.bshift;
        let bsize = u64::from(self.sb.bsize);
        let fsize = u64::from(self.sb.fsize);
        let fs_bytes = self.sb.size_bytes();
        // Invariants for the plain arithmetic below: offset < end <= inode.size, every extent
        // covers at least one byte (so the loop advances), and run offsets stay below
        // fs_bytes, which the superblock check keeps from overflowing.
        let end = offset + len as u64;
        let mut pos = offset;
        // Runs found so far: (disk byte offset, buffer start, length), in buffer order; all
        // read together at the end so the device can keep them in flight at once.
        let mut runs: Vec<(u64, usize, usize)> = Vec::new();
        while pos < end {
            let lbn = pos >> bshift;
            let in_blk = pos & (bsize - 1);
            let last_lbn = (end - 1) >> bshift;
            let ext = bmap::map(&self.sb, &mut self.disk, inode, lbn, last_lbn - lbn + 1)?;
            let ext_bytes = ext.blocks.saturating_mul(bsize).saturating_sub(in_blk).min(end - pos);
            let dst = usize::try_from(pos - offset).map_err(|_| IoError::OutOfRange)?;
            let n = usize::try_from(ext_bytes).map_err(|_| IoError::OutOfRange)?;
            match ext.start {
                None => {
                    buf.get_mut(dst..dst + n).ok_or(IoError::OutOfRange)?.fill(0);
                }
                Some(frag) => {
                    let disk_off = frag
                        .checked_mul(fsize)
                        .and_then(|o| o.checked_add(in_blk))
                        .ok_or_else(|| corrupt("block address overflows", Location::inode(inode.ino)))?;
                    if disk_off.checked_add(ext_bytes).is_none_or(|e| e > fs_bytes) {
                        return Err(corrupt(
                            format!("data block {frag} past the end of the filesystem"),
                            Location::inode(inode.ino).with_block(frag),
                        ));
                    }
                    match runs.last_mut() {
                        Some((start, rdst, rlen)) if *start + *rlen as u64 == disk_off && *rdst + *rlen == dst => {
                            *rlen += n
                        }
                        _ => runs.push((disk_off, dst, n)),
                    }
                }
            }
            pos += ext_bytes;
        }
        self.disk.read_runs(&runs, buf).map_err(|e| match e {
            Error::Io(IoError::OutOfRange) => corrupt("data past the end of the device", Location::inode(inode.ino)),
            other => other,
        })?;
        Ok(len)
    }

    /// Calls `f` on each entry of directory `dirino`, one filesystem block at a time, until it
    /// returns `Some`.
    fn scan_dir<T>(
        &mut self,
        dir: &Inode,
        mut f: impl FnMut(dir::RawEntry<'_>) -> Option<T>,
    ) -> Result<Option<T>, Error> {
        if dir.file_type() != FileType::Directory {
            return Err(Error::NotADirectory);
        }
        // Without a cap, a directory whose pointers repeat one valid block could be scanned
        // for as long as its claimed size.
        if dir.size > MAX_DIR_SIZE {
            return Err(Error::TooLarge { requested: dir.size, limit: MAX_DIR_SIZE });
        }
        let bsize = u64::from(self.sb.bsize);
        let mut block = vec![0u8; usize::try_from(bsize).unwrap_or(usize::MAX)];
        let mut off = 0u64;
        // Bounded by the directory size (checked against the filesystem's addressing).
        while off < dir.size {
            let n = self.read_data(dir, off, &mut block)?;
            let data = block.get(..n).unwrap_or_default();
            for (i, chunk) in data.chunks_exact(DIRBLKSIZ).enumerate() {
                let base = off + (i * DIRBLKSIZ) as u64;
                if let Some(v) = dir::walk_chunk(&self.sb, chunk, dir.ino, base, &mut f)? {
                    return Ok(Some(v));
                }
            }
            if n == 0 {
                break;
            }
            off += n as u64;
        }
        Ok(None)
    }

    fn dir_lookup(&mut self, dir: &Inode, name: &[u8]) -> Result<u64, Error> {
        if name.len() > dir::MAXNAMLEN {
            return Err(Error::NotFound);
        }
        self.scan_dir(dir, |e| (e.name == name).then_some(e.ino))?.ok_or(Error::NotFound)
    }

    fn link_target(&mut self, inode: &Inode) -> Result<Vec<u8>, Error> {
        if inode.file_type() != FileType::Symlink {
            return Err(Error::Unsupported(String::from("not a symbolic link")));
        }
        let loc = Location::inode(inode.ino);
        if inode.size > MAX_LINK_LEN {
            return Err(corrupt(format!("symlink of {} bytes", inode.size), loc));
        }
        let len = usize::try_from(inode.size).unwrap_or(usize::MAX);
        if inode.is_fast_link(&self.sb) {
            return inode
                .shortlink
                .get(..len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| corrupt("fast symlink longer than the inode", loc));
        }
        let mut out = vec![0u8; len];
        let n = self.read_data(inode, 0, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// Resolves `path` to an inode number, following symlinks (also the last component
    /// when `follow_last`).
    fn resolve(&mut self, path: &str, follow_last: bool) -> Result<Inode, Error> {
        // Components still to walk, last one first.
        let mut todo: Vec<Vec<u8>> = path.split('/').rev().map(|c| c.as_bytes().to_vec()).collect();
        let mut cur = self.inode(ROOT_INO)?;
        let mut hops = 0u32;
        while let Some(comp) = todo.pop() {
            if comp.is_empty() || comp == b"." {
                if cur.file_type() != FileType::Directory {
                    return Err(Error::NotADirectory);
                }
                continue;
            }
            if cur.file_type() != FileType::Directory {
                return Err(Error::NotADirectory);
            }
            let child_ino = self.dir_lookup(&cur, &comp)?;
            let child = self.inode(child_ino)?;
            let more = todo.iter().any(|c| !c.is_empty() && c != b".");
            if child.file_type() == FileType::Symlink && (more || follow_last) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Error::SymlinkLoop);
                }
                let target = self.link_target(&child)?;
                if target.is_empty() {
                    return Err(Error::NotFound);
                }
                if target.first() == Some(&b'/') {
                    cur = self.inode(ROOT_INO)?;
                }
                // A trailing slash after the link keeps demanding a directory.
                todo.extend(target.split(|&b| b == b'/').rev().map(<[u8]>::to_vec));
                continue;
            }
            cur = child;
        }
        Ok(cur)
    }

    fn meta_of(&self, inode: &Inode) -> Metadata {
        Metadata { id: NodeId(inode.ino), file_type: inode.file_type(), size: inode.size }
    }
}

/// The largest size the inode's pointers can address (capped to `u64`).
fn max_file_size(sb: &Superblock) -> u64 {
    let n = sb.nindir;
    let blocks = (superblock::NDADDR as u64)
        .saturating_add(n)
        .saturating_add(n.saturating_mul(n))
        .saturating_add(n.saturating_mul(n).saturating_mul(n));
    blocks.saturating_mul(u64::from(sb.bsize))
}

impl Filesystem for Ffs {
    fn info(&self) -> FsInfo {
        let uuid = (self.sb.id != [0, 0]).then(|| format!("{:08x}{:08x}", self.sb.id[0], self.sb.id[1]));
        FsInfo {
            kind: String::from("ffs"),
            version: format!("{} {}", self.sb.flavor.name(), self.sb.endian.name()),
            block_size: self.sb.bsize,
            fragment_size: self.sb.fsize,
            label: self.sb.volname.clone(),
            uuid,
        }
    }

    fn root(&self) -> NodeId {
        NodeId(ROOT_INO)
    }

    fn lookup(&mut self, path: &str) -> Result<Metadata, Error> {
        let inode = self.resolve(path, true)?;
        Ok(self.meta_of(&inode))
    }

    fn lookup_nofollow(&mut self, path: &str) -> Result<Metadata, Error> {
        let inode = self.resolve(path, false)?;
        Ok(self.meta_of(&inode))
    }

    fn metadata(&mut self, id: NodeId) -> Result<Metadata, Error> {
        let inode = self.inode(id.0)?;
        Ok(self.meta_of(&inode))
    }

    fn read_at(&mut self, id: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let inode = self.inode(id.0)?;
        if inode.file_type() == FileType::Directory {
            return Err(Error::IsADirectory);
        }
        if inode.file_type() == FileType::Symlink && inode.is_fast_link(&self.sb) {
            // The "data" of a fast symlink is its target, kept in the inode.
            let target = self.link_target(&inode)?;
            let rest = usize::try_from(offset).ok().and_then(|o| target.get(o..)).unwrap_or_default();
            let n = rest.len().min(buf.len());
            buf.get_mut(..n).ok_or(Error::Io(IoError::OutOfRange))?.copy_from_slice(rest.get(..n).unwrap_or_default());
            return Ok(n);
        }
        self.read_data(&inode, offset, buf)
    }

    fn read_dir_limit(&mut self, id: NodeId, max: usize) -> Result<Vec<DirEntry>, Error> {
        let dir = self.inode(id.0)?;
        if dir.file_type() != FileType::Directory {
            return Err(Error::NotADirectory);
        }
        if dir.size > MAX_DIR_SIZE {
            return Err(Error::TooLarge { requested: dir.size, limit: MAX_DIR_SIZE });
        }
        let mut raw: Vec<(u64, Vec<u8>, Option<FileType>)> = Vec::new();
        if max > 0 {
            // The scan stops at `max` entries: a directory's on-disk size does not decide
            // how much is held here.
            self.scan_dir(&dir, |e| {
                raw.push((e.ino, e.name.to_vec(), e.file_type));
                (raw.len() >= max).then_some(())
            })?;
        }
        let mut out = Vec::with_capacity(raw.len());
        for (ino, name, ft) in raw {
            let file_type = match ft {
                Some(t) => t,
                None => self.inode(ino)?.file_type(),
            };
            out.push(DirEntry { name: String::from_utf8_lossy(&name).into_owned(), id: NodeId(ino), file_type });
        }
        Ok(out)
    }

    /// A file's data blocks hold its bytes as they are (no data checksums, no compression).
    fn in_place_writes(&self) -> bool {
        true
    }
    fn read_link(&mut self, id: NodeId) -> Result<String, Error> {
        let inode = self.inode(id.0)?;
        let target = self.link_target(&inode)?;
        Ok(String::from_utf8_lossy(&target).into_owned())
    }
}
