//! The deterministic file tree every filesystem image is made of.
//!
//! [`build_tree`] writes real files whose sizes sit on every edge that matters to a block-mapped
//! filesystem (sector, fragment and block boundaries, the end of the direct blocks and of each
//! indirect level), plus long names, deep paths, a crowded directory, holes and symlinks. File
//! contents are pseudo-random but a pure function of the file's path and byte offset
//! ([`fill_content`]), so two builds are identical and a test can check a huge file without
//! keeping a copy. [`walk`] lists the tree as the host sees it: that listing, not our code, is
//! the oracle the filesystem tests compare against.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What to put into a tree. Build one with [`TreeSpec::unix`] or [`TreeSpec::fat`] and adjust.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TreeSpec {
    /// Filesystem block (FAT: cluster) size whose edges the file sizes straddle.
    pub block_size: u32,
    /// FFS fragment size (its edges are covered too); use the sector size elsewhere.
    pub fragment_size: u32,
    /// Direct block pointers in an inode (12 for FFS and ext2/3).
    pub direct_blocks: u32,
    /// Size of one block pointer in an indirect block: 4 (ext, FFSv1) or 8 (FFSv2).
    pub ptr_bytes: u32,
    /// Add files on the direct/single/double-indirect boundaries (those not above `size_cap`).
    pub indirect_sizes: bool,
    /// Edge files larger than this are left out (except the triple-indirect file).
    pub size_cap: u64,
    /// Add `/big/triple`: a file that reaches 1 MiB into the triple-indirect range.
    pub triple_indirect: bool,
    /// Make `/big/triple` mostly holes: data only around each boundary and in its last MiB
    /// (the triple-indirect blocks then still exist, only the double-indirect range is empty).
    pub triple_sparse: bool,
    /// Add `/links`: relative, absolute, chained, looping, dangling, fast and slow symlinks.
    pub symlinks: bool,
    /// Add `/names` with names of [`Self::long_name_lengths`] bytes and a few odd names.
    pub long_names: bool,
    /// Lengths of the generated names in `/names` (255 is the limit everywhere).
    pub long_name_lengths: Vec<usize>,
    /// Add non-ASCII (UTF-8) names.
    pub unicode_names: bool,
    /// Add `/holes` with sparse files.
    pub holes: bool,
    /// Number of files in `/many`.
    pub many_entries: u32,
    /// Depth of `/deep/d01/d02/...`.
    pub deep_levels: u32,
    /// More file sizes (as `/sizes/s-<size>`), e.g. FFS-specific edges.
    pub extra_sizes: Vec<u64>,
}

impl TreeSpec {
    /// A tree for a Unix filesystem (FFS, ext) with the given block and fragment size:
    /// everything on, 32-bit block pointers, 12 direct blocks, edge files up to 16 MiB.
    pub fn unix(block_size: u32, fragment_size: u32) -> Self {
        Self {
            block_size,
            fragment_size,
            direct_blocks: 12,
            ptr_bytes: 4,
            indirect_sizes: true,
            size_cap: 16 << 20,
            triple_indirect: false,
            triple_sparse: false,
            symlinks: true,
            long_names: true,
            long_name_lengths: vec![1, 8, 12, 13, 64, 254, 255],
            unicode_names: true,
            holes: true,
            many_entries: 300,
            deep_levels: 20,
            extra_sizes: Vec::new(),
        }
    }

    /// A tree for FAT with the given cluster size: no symlinks, no indirect edges, ASCII
    /// names that stay distinct when case is ignored, small enough for FAT12.
    pub fn fat(cluster_size: u32) -> Self {
        Self {
            block_size: cluster_size,
            fragment_size: 512,
            direct_blocks: 12,
            ptr_bytes: 4,
            indirect_sizes: false,
            size_cap: 1 << 20,
            triple_indirect: false,
            triple_sparse: false,
            symlinks: false,
            long_names: true,
            // mtools 4.0.32 refuses some lengths near the limit (254: "No directory slots").
            long_name_lengths: vec![1, 8, 12, 13, 64, 200, 255],
            unicode_names: false,
            holes: true,
            many_entries: 300,
            deep_levels: 20,
            extra_sizes: Vec::new(),
        }
    }

    /// A short stable hash of the spec, for cache directory names.
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", fnv1a(format!("{TREE_VERSION}:{self:?}").as_bytes()))
    }

    /// Block pointers per indirect block.
    fn ptrs_per_block(&self) -> u64 {
        u64::from(self.block_size) / u64::from(self.ptr_bytes.max(1))
    }

    /// First byte offset of each indirect level: [single, double, triple].
    pub fn indirect_starts(&self) -> [u64; 3] {
        let bs = u64::from(self.block_size);
        let n = self.ptrs_per_block();
        let d = u64::from(self.direct_blocks);
        let single = d * bs;
        let double = (d + n) * bs;
        let triple = (d + n + n * n) * bs;
        [single, double, triple]
    }

    /// Size of `/big/triple`: 1 MiB past the first triple-indirect byte (and > 65 MiB with
    /// 1 KiB ext2 blocks).
    pub fn triple_size(&self) -> u64 {
        self.indirect_starts()[2] + (1 << 20) + 1
    }

    /// The sizes of the files in `/sizes`, sorted and without duplicates.
    pub fn sizes(&self) -> Vec<u64> {
        let bs = u64::from(self.block_size);
        let fs = u64::from(self.fragment_size);
        let mut v: Vec<u64> = vec![0, 1, 2, 100, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097];
        for edge in [fs, 2 * fs, bs, 2 * bs, bs + fs, bs + 3 * fs, 3 * bs] {
            v.extend([edge.saturating_sub(1), edge, edge + 1]);
        }
        if self.indirect_sizes {
            for edge in &self.indirect_starts()[..2] {
                v.extend([edge - 1, *edge, edge + 1, edge + bs + 1]);
            }
            let triple = self.indirect_starts()[2];
            v.extend([triple - 1, triple]);
        }
        v.extend(&self.extra_sizes);
        v.retain(|&s| s <= self.size_cap);
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Bumped whenever the tree's layout changes, so cached trees and images are rebuilt.
pub const TREE_VERSION: u32 = 1;

/// The fixed modification time of every file and directory (2024-01-01T00:00:00Z).
pub const FIXED_MTIME: u64 = 1_704_067_200;

/// FNV-1a 64: a stable hash for seeds and fingerprints (not for security).
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of a file's contents: a hash of its path inside the tree (e.g. `/sizes/s-1`).
pub fn seed_for(rel_path: &str) -> u64 {
    fnv1a(rel_path.as_bytes())
}

/// Fills `buf` with the file contents for `seed` starting at byte `offset`.
///
/// Random access: the byte at offset `o` depends only on `seed` and `o`, so any slice of a
/// file can be regenerated without the rest.
pub fn fill_content(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut pos = offset;
    let mut i = 0usize;
    while i < buf.len() {
        let word = splitmix64(seed ^ (pos / 8).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let bytes = word.to_le_bytes();
        let start = (pos % 8) as usize;
        let n = (8 - start).min(buf.len() - i);
        buf[i..i + n].copy_from_slice(&bytes[start..start + n]);
        i += n;
        pos += n as u64;
    }
}

/// Writes `len` bytes of [`fill_content`] data for `seed` at `offset` of an open file.
fn write_content(f: &mut File, seed: u64, offset: u64, len: u64) -> io::Result<()> {
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        fill_content(seed, offset + done, &mut buf[..n]);
        f.write_all(&buf[..n])?;
        done += n as u64;
    }
    Ok(())
}

/// Creates a file at `root` + `rel` (a `/`-rooted path) filled with `len` content bytes.
fn make_file(root: &Path, rel: &str, len: u64) -> io::Result<()> {
    let mut f = File::create(host_path(root, rel))?;
    write_content(&mut f, seed_for(rel), 0, len)
}

/// Creates a sparse file of `size` bytes with content only in `extents` (offset, length).
fn make_sparse(root: &Path, rel: &str, size: u64, extents: &[(u64, u64)]) -> io::Result<()> {
    let mut f = File::create(host_path(root, rel))?;
    for &(off, len) in extents {
        let len = len.min(size.saturating_sub(off));
        write_content(&mut f, seed_for(rel), off, len)?;
    }
    f.set_len(size)
}

/// `root` joined with a `/`-rooted tree path.
pub fn host_path(root: &Path, rel: &str) -> PathBuf {
    root.join(rel.trim_start_matches('/'))
}

/// Builds the tree described by `spec` at `dest`, which must not exist yet.
///
/// # Errors
/// `dest` exists, or any file operation fails.
pub fn build_tree(dest: &Path, spec: &TreeSpec) -> io::Result<()> {
    fs::create_dir(dest)?;
    let root = dest;
    let mkdir = |rel: &str| fs::create_dir(host_path(root, rel));

    mkdir("/sizes")?;
    for size in spec.sizes() {
        make_file(root, &format!("/sizes/s-{size}"), size)?;
    }

    mkdir("/empty-dir")?;
    fs::write(host_path(root, "/readme.txt"), b"rpvboot test tree\n")?;

    mkdir("/many")?;
    for i in 0..spec.many_entries {
        make_file(root, &format!("/many/entry-{i:04}"), u64::from(i % 97))?;
    }

    let mut deep = String::from("/deep");
    mkdir(&deep)?;
    for level in 1..=spec.deep_levels {
        deep.push_str(&format!("/d{level:02}"));
        mkdir(&deep)?;
        make_file(root, &format!("{deep}/at-{level:02}"), u64::from(level) * 37)?;
    }

    if spec.long_names {
        mkdir("/names")?;
        for &len in &spec.long_name_lengths {
            let stem = format!("n{len}-");
            let mut name = stem.clone();
            while name.len() < len {
                name.push((b'a' + (name.len() % 26) as u8) as char);
            }
            name.truncate(len.max(1));
            make_file(root, &format!("/names/{name}"), len as u64)?;
        }
        // Names with spaces, dots and mixed case (distinct when case is ignored).
        for name in ["With Space.txt", "many.dots.in.name", "MixedCase.TXT", ".hidden"] {
            make_file(root, &format!("/names/{name}"), 33)?;
        }
        if spec.unicode_names {
            make_file(root, "/names/ünïcødé-ファイル", 77)?;
        }
    }

    if spec.holes {
        let bs = u64::from(spec.block_size);
        mkdir("/holes")?;
        make_sparse(root, "/holes/all-hole", 5 * bs, &[])?;
        make_sparse(root, "/holes/head-hole", 3 * bs + 100, &[(3 * bs, 100)])?;
        make_sparse(root, "/holes/tail-hole", 10 * bs, &[(0, 100)])?;
        make_sparse(root, "/holes/middle", 20 * bs + bs / 2, &[(0, bs), (7 * bs + 5, 10), (20 * bs, bs / 2)])?;
        if spec.indirect_sizes {
            let [single, double, _] = spec.indirect_starts();
            // Data in the first direct block and past the whole single-indirect range.
            make_sparse(root, "/holes/indirect-hole", double + 5 * bs + 1, &[(0, 10), (double + 5 * bs, 1)])?;
            // A hole exactly where the single-indirect range starts.
            make_sparse(root, "/holes/single-start-hole", single + 3 * bs, &[(0, single), (single + 2 * bs, bs)])?;
        }
    }

    if spec.triple_indirect {
        mkdir("/big")?;
        let size = spec.triple_size();
        if spec.triple_sparse {
            let mib = 1u64 << 20;
            let [single, double, triple] = spec.indirect_starts();
            let extents = [
                (0, single + mib),
                (double.saturating_sub(mib), 2 * mib),
                (triple.saturating_sub(mib), size - triple.saturating_sub(mib)),
            ];
            make_sparse(root, "/big/triple", size, &extents)?;
        } else {
            make_file(root, "/big/triple", size)?;
        }
    }

    if spec.symlinks {
        use std::os::unix::fs::symlink;
        mkdir("/links")?;
        let l = |target: &str, name: &str| symlink(target, host_path(root, &format!("/links/{name}")));
        l("../sizes/s-513", "rel-file")?;
        l("/sizes/s-1", "abs-file")?;
        l("../deep", "rel-dir")?;
        l("/deep/d01", "abs-dir")?;
        l("rel-dir/d01/d02", "through-dir")?;
        l("chain2", "chain1")?;
        l("chain3", "chain2")?;
        l("rel-file", "chain3")?;
        l("loop-b", "loop-a")?;
        l("loop-a", "loop-b")?;
        l("self", "self")?;
        l("does-not-exist", "dangling")?;
        l("/", "root")?;
        l(".", "dot")?;
        // Fast/slow symlink edges: ext keeps targets < 60 bytes in the inode, FFSv1 < 60,
        // FFSv2 < 120. Every target resolves to /sizes/s-513.
        for len in [59usize, 60, 61, 119, 120, 121, 255, 1000] {
            let tail = "../sizes/s-513";
            let mut target = String::new();
            if (len - tail.len()) % 2 == 1 {
                target.push_str("../links/");
            }
            while target.len() + tail.len() < len {
                target.push_str("./");
            }
            target.push_str(tail);
            assert_eq!(target.len(), len, "symlink target length");
            l(&target, &format!("len-{len}"))?;
        }
        // A link deep down pointing back up to the root.
        symlink("../../../..", host_path(root, "/deep/d01/d02/d03/to-root"))?;
    }

    normalize_metadata(root)
}

/// Fixed permissions and access/modification times (symlinks too), so images do not depend
/// on umask or the clock.
fn normalize_metadata(dir: &Path) -> io::Result<()> {
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(FIXED_MTIME);
    let times = fs::FileTimes::new().set_accessed(mtime).set_modified(mtime);
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let path = entry.path();
        if ft.is_dir() {
            normalize_metadata(&path)?;
        } else if ft.is_file() {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
            OpenOptions::new().write(true).open(&path)?.set_times(times)?;
        } else if ft.is_symlink() {
            // std cannot set a symlink's own times; coreutils `touch -h` can (best effort:
            // only image bytes, never contents, depend on it).
            let _ = std::process::Command::new("touch")
                .arg("-h")
                .arg("-d")
                .arg(format!("@{FIXED_MTIME}"))
                .arg(&path)
                .status();
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    File::open(dir)?.set_times(times)
}

/// Builds (once) the tree for `spec` under `base` and returns its path.
///
/// The directory name carries [`TreeSpec::fingerprint`], so a changed spec gets a new tree.
/// Safe against concurrent builders: each builds in a private temporary directory and renames
/// it into place; the loser throws its copy away.
///
/// # Errors
/// Building fails.
pub fn cached_tree(base: &Path, spec: &TreeSpec) -> io::Result<PathBuf> {
    let dest = base.join(format!("tree-{}", spec.fingerprint()));
    if dest.is_dir() {
        return Ok(dest);
    }
    fs::create_dir_all(base)?;
    let tmp = base.join(format!(".tmp-tree-{}-{}", spec.fingerprint(), unique_suffix()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    build_tree(&tmp, spec)?;
    if fs::rename(&tmp, &dest).is_err() {
        // Someone else finished first (rename onto a non-empty directory fails).
        fs::remove_dir_all(&tmp)?;
        if !dest.is_dir() {
            return Err(io::Error::other(format!("cannot create {}", dest.display())));
        }
    }
    Ok(dest)
}

/// Makes the image `<dir>/<name>-<fingerprint>.img` unless it exists: `make` writes a private
/// temporary file that is renamed into place, so parallel builders never see half an image;
/// a failed build leaves nothing behind, and images of older fingerprints of `name` are removed.
///
/// # Errors
/// What `make` returns, or the rename failing.
pub fn cached_image(
    dir: &Path,
    name: &str,
    fingerprint: u64,
    make: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let path = dir.join(format!("{name}-{fingerprint:016x}.img"));
    if path.is_file() {
        return Ok(path);
    }
    let tmp = dir.join(format!(".tmp-{name}-{}.img", unique_suffix()));
    if let Err(e) = make(&tmp) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, &path).map_err(|e| format!("rename {}: {e}", tmp.display()))?;
    remove_stale(dir, name, &path);
    Ok(path)
}

/// Removes older builds of the same recipe (other fingerprints); failures are harmless.
fn remove_stale(out_dir: &Path, name: &str, keep: &Path) {
    let Ok(entries) = fs::read_dir(out_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        let Some(fname) = p.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(rest) = fname.strip_prefix(name).and_then(|r| r.strip_prefix('-')) else {
            continue;
        };
        // Only `<name>-<16 hex>.img`, so "ext2-1k" never removes "ext2-1k-foo-….img".
        let is_ours = rest.len() == 20 && rest.ends_with(".img") && rest[..16].bytes().all(|b| b.is_ascii_hexdigit());
        if is_ours && p != keep {
            let _ = fs::remove_file(&p);
        }
    }
}

/// A name part unique to this process and call, for temporary files next to their target.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Where generated images go: `$RPV_TESTIMAGES_DIR`, else `<workspace>/target/testimages`.
pub fn images_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RPV_TESTIMAGES_DIR") {
        return PathBuf::from(dir);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(&here).join("target").join("testimages")
}

/// The SHA-256 of a file, in lower-case hex (for the image manifest).
///
/// # Errors
/// The file cannot be read.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The kind of a tree entry, as the host sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link with its target, verbatim.
    Symlink(String),
}

/// One entry of a tree: the oracle for filesystem tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the tree, `/`-rooted (`/sizes/s-1`); the root itself is `/`.
    pub path: String,
    /// What it is.
    pub kind: Kind,
    /// Length in bytes (files; 0 otherwise).
    pub size: u64,
    /// Where it is on the host.
    pub host: PathBuf,
}

impl Entry {
    /// The file's bytes, read from the host.
    ///
    /// # Errors
    /// Not a file, or the read fails.
    pub fn bytes(&self) -> io::Result<Vec<u8>> {
        if self.kind != Kind::File {
            return Err(io::Error::other(format!("{} is not a file", self.path)));
        }
        fs::read(&self.host)
    }

    /// Opens the host file for streaming comparison of large files.
    ///
    /// # Errors
    /// The open fails.
    pub fn open(&self) -> io::Result<impl Read> {
        File::open(&self.host)
    }

    /// The last path component (`""` for the root).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }
}

/// Lists the tree at `root` (not following symlinks), sorted by path, root first.
///
/// # Errors
/// A directory cannot be read, or a name or link target is not UTF-8.
pub fn walk(root: &Path) -> io::Result<Vec<Entry>> {
    let mut out = vec![Entry { path: "/".into(), kind: Kind::Dir, size: 0, host: root.to_path_buf() }];
    walk_into(root, "", &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk_into(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().into_string().map_err(|n| io::Error::other(format!("non-UTF-8 name {n:?}")))?;
        let path = format!("{prefix}/{name}");
        let host = entry.path();
        let meta = fs::symlink_metadata(&host)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&host)?
                .into_os_string()
                .into_string()
                .map_err(|t| io::Error::other(format!("non-UTF-8 link target {t:?}")))?;
            out.push(Entry { path, kind: Kind::Symlink(target), size: 0, host });
        } else if ft.is_dir() {
            out.push(Entry { path: path.clone(), kind: Kind::Dir, size: 0, host: host.clone() });
            walk_into(&host, &path, out)?;
        } else {
            out.push(Entry { path, kind: Kind::File, size: meta.len(), host });
        }
    }
    Ok(())
}

/// Why [`resolve`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// A component does not exist.
    NotFound,
    /// A non-final component is not a directory.
    NotADirectory,
    /// More than `max_hops` symlinks.
    Loop,
}

/// Resolves `path` inside the tree as a filesystem mounted at `/` would: absolute symlink
/// targets are taken relative to the tree root, `..` at the root stays at the root, at most
/// `max_hops` links are followed. Returns the resolved `/`-rooted tree path.
///
/// # Errors
/// [`ResolveError`].
pub fn resolve(root: &Path, path: &str, follow_last: bool, max_hops: u32) -> Result<String, ResolveError> {
    // Components still to walk, in reverse order (top of stack = next).
    let mut todo: Vec<String> = path.split('/').filter(|c| !c.is_empty()).rev().map(String::from).collect();
    let mut cur: Vec<String> = Vec::new();
    let mut hops = 0u32;
    while let Some(comp) = todo.pop() {
        match comp.as_str() {
            "." => continue,
            ".." => {
                cur.pop();
                continue;
            }
            _ => {}
        }
        let is_last = todo.is_empty();
        let mut candidate = cur.clone();
        candidate.push(comp);
        let rel = format!("/{}", candidate.join("/"));
        let host = host_path(root, &rel);
        let meta = fs::symlink_metadata(&host).map_err(|_| ResolveError::NotFound)?;
        if meta.file_type().is_symlink() && (follow_last || !is_last) {
            hops += 1;
            if hops > max_hops {
                return Err(ResolveError::Loop);
            }
            let target = fs::read_link(&host).map_err(|_| ResolveError::NotFound)?;
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                cur.clear();
            }
            todo.extend(target.split('/').filter(|c| !c.is_empty()).rev().map(String::from));
            continue;
        }
        if !is_last && !meta.is_dir() {
            return Err(ResolveError::NotADirectory);
        }
        cur = candidate;
    }
    Ok(format!("/{}", cur.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_random_access() {
        let seed = seed_for("/x");
        let mut whole = vec![0u8; 100];
        fill_content(seed, 0, &mut whole);
        let mut part = vec![0u8; 37];
        fill_content(seed, 13, &mut part);
        assert_eq!(&whole[13..50], &part[..]);
        assert_ne!(whole[..8], whole[8..16]);
    }

    #[test]
    fn sizes_cover_indirect_edges() {
        let spec = TreeSpec::unix(1024, 1024);
        let s = spec.sizes();
        assert!(s.contains(&(12 * 1024)));
        assert!(s.contains(&(12 * 1024 + 1)));
        assert!(s.contains(&((12 + 256) * 1024 - 1)));
        assert_eq!(spec.indirect_starts()[2], (12 + 256 + 65536) * 1024);
        assert!(spec.triple_size() > 65 << 20);
        let v2 = TreeSpec { ptr_bytes: 8, ..TreeSpec::unix(4096, 512) };
        assert_eq!(v2.indirect_starts()[1], (12 + 512) * 4096);
    }

    #[test]
    fn build_is_deterministic_and_resolvable() {
        let base = std::env::temp_dir().join(format!("rpv-tree-test-{}", unique_suffix()));
        let spec = TreeSpec { many_entries: 5, deep_levels: 4, ..TreeSpec::unix(1024, 1024) };
        let a = base.join("a");
        let b = base.join("b");
        fs::create_dir_all(&base).unwrap();
        build_tree(&a, &spec).unwrap();
        build_tree(&b, &spec).unwrap();
        let wa = walk(&a).unwrap();
        let wb = walk(&b).unwrap();
        assert_eq!(wa.len(), wb.len());
        for (x, y) in wa.iter().zip(&wb) {
            assert_eq!((&x.path, &x.kind, x.size), (&y.path, &y.kind, y.size));
            if x.kind == Kind::File {
                assert_eq!(x.bytes().unwrap(), y.bytes().unwrap(), "{}", x.path);
            }
        }
        assert_eq!(resolve(&a, "/links/chain1", true, 32), Ok("/sizes/s-513".into()));
        assert_eq!(resolve(&a, "/links/len-1000", true, 32), Ok("/sizes/s-513".into()));
        assert_eq!(resolve(&a, "/links/len-61", true, 32), Ok("/sizes/s-513".into()));
        assert_eq!(resolve(&a, "/links/abs-dir/d02", true, 32), Ok("/deep/d01/d02".into()));
        assert_eq!(resolve(&a, "/links/loop-a", true, 32), Err(ResolveError::Loop));
        assert_eq!(resolve(&a, "/links/loop-a", false, 32), Ok("/links/loop-a".into()));
        assert_eq!(resolve(&a, "/deep/d01/d02/d03/to-root/readme.txt", true, 32), Ok("/readme.txt".into()));
        let hole = wa.iter().find(|e| e.path == "/holes/tail-hole").unwrap();
        let data = hole.bytes().unwrap();
        assert_eq!(data.len(), 10 * 1024);
        assert!(data[100..].iter().all(|&b| b == 0));
        fs::remove_dir_all(&base).unwrap();
    }
}
