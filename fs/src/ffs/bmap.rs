//! Logical → physical block mapping through direct and single/double/triple indirect blocks.
//!
//! One call maps a whole run: it walks down to the leaf pointer array once and then scans it
//! for physically contiguous blocks (or a stretch of holes), so mapping a big file costs one
//! cached indirect-block look-up per run, not per block. Work per call is bounded by
//! `NINDIR` (at most 16384) pointer reads and three levels of indirection.

use alloc::format;

use super::inode::Inode;
use super::io::Disk;
use super::superblock::{Superblock, NDADDR};
use super::{corrupt, Location};
use crate::error::Error;

/// A run of logical blocks: either physically contiguous from `start` (in fragments) or a
/// hole (`start` is `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extent {
    pub start: Option<u64>,
    pub blocks: u64,
}

/// Maps logical block `lbn` of `inode` and up to `want - 1` following blocks.
pub(crate) fn map(sb: &Superblock, disk: &mut Disk, inode: &Inode, lbn: u64, want: u64) -> Result<Extent, Error> {
    let want = want.max(1);
    let loc = Location::inode(inode.ino);
    if let Some(rel) = usize::try_from(lbn).ok().filter(|&l| l < NDADDR) {
        let rest = inode.db.get(rel..).unwrap_or_default();
        return scan(sb, rest.len(), |i| rest.get(i).copied(), want, loc);
    }
    let n = sb.nindir;
    let mut rel = lbn - NDADDR as u64;
    let mut cover = n;
    for (depth, &top) in inode.ib.iter().enumerate() {
        if rel < cover {
            return walk(sb, disk, top, depth, cover, rel, want, loc);
        }
        rel -= cover;
        cover = cover.saturating_mul(n);
    }
    Err(corrupt(format!("logical block {lbn} beyond triple indirect"), loc))
}

/// Descends from the indirect block `ptr` at `depth` (0 = leaf) covering `cover` blocks.
#[allow(clippy::too_many_arguments)]
fn walk(
    sb: &Superblock,
    disk: &mut Disk,
    mut ptr: u64,
    depth: usize,
    mut cover: u64,
    mut rel: u64,
    want: u64,
    loc: Location,
) -> Result<Extent, Error> {
    let n = sb.nindir;
    let bsize = usize::try_from(sb.bsize).unwrap_or(usize::MAX);
    let wide = !sb.flavor.is_ufs1();
    let e = sb.endian;
    for level in (0..=depth).rev() {
        if ptr == 0 {
            return Ok(Extent { start: None, blocks: (cover - rel).min(want) });
        }
        if ptr.checked_add(u64::from(sb.frag)).is_none_or(|end| end > sb.size) {
            return Err(corrupt(format!("indirect block {ptr} past the end of the filesystem"), loc));
        }
        let block = disk.meta(ptr * u64::from(sb.fsize), bsize).map_err(|err| with_block(err, ptr))?;
        let get = |i: u64| -> Option<u64> {
            let i = usize::try_from(i).ok()?;
            if wide {
                e.i64(block, i.checked_mul(8)?).and_then(|v| u64::try_from(v).ok())
            } else {
                e.i32(block, i.checked_mul(4)?).and_then(|v| u64::try_from(v).ok())
            }
        };
        let iloc = loc.with_block(ptr);
        if level == 0 {
            let count = usize::try_from(n - rel).unwrap_or(usize::MAX);
            return scan(sb, count, |i| get(rel.checked_add(u64::try_from(i).ok()?)?), want, iloc);
        }
        let per = cover / n;
        let idx = rel / per;
        ptr = get(idx).ok_or_else(|| corrupt("negative block pointer in indirect block", iloc))?;
        rel %= per;
        cover = per;
    }
    Err(corrupt("indirect walk ended early", loc))
}

/// Counts, from the first of `count` pointers, how many are contiguous (or all zero).
fn scan(
    sb: &Superblock,
    count: usize,
    get: impl Fn(usize) -> Option<u64>,
    want: u64,
    loc: Location,
) -> Result<Extent, Error> {
    let bad = || corrupt("bad block pointer", loc);
    let first = get(0).ok_or_else(bad)?;
    if first != 0 && first >= sb.size {
        return Err(corrupt(format!("block pointer {first} past the end of the filesystem"), loc));
    }
    let frag = u64::from(sb.frag);
    let limit = usize::try_from(want).unwrap_or(usize::MAX).min(count);
    let mut blocks = 1usize;
    while blocks < limit {
        let next = get(blocks).ok_or_else(bad)?;
        let expect = if first == 0 {
            Some(0)
        } else {
            u64::try_from(blocks).ok().and_then(|b| b.checked_mul(frag)).and_then(|o| first.checked_add(o))
        };
        if Some(next) != expect {
            break;
        }
        blocks += 1;
    }
    Ok(Extent { start: (first != 0).then_some(first), blocks: u64::try_from(blocks).unwrap_or(1) })
}

fn with_block(err: Error, block: u64) -> Error {
    match err {
        Error::Corrupt(mut c) => {
            c.location.block.get_or_insert(block);
            Error::Corrupt(c)
        }
        other => other,
    }
}
