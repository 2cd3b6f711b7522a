//! btrfs images made by btrfs-progs (and, for what its mkfs cannot do, by Linux itself).
//!
//! - `btrfs-rootdir`: `mkfs.btrfs --rootdir` of the common tree ([`crate::tree`]): regular
//!   and inline extents, symlinks, holes, long and non-ASCII names. No root needed.
//! - `btrfs-layout`: what a distribution installer leaves: subvolumes `@` and `@home` at the
//!   top level, `@` the default subvolume, `/boot` a directory inside `@` (so GRUB's paths
//!   read `/@/boot/…`), and files written by the kernel with zstd, zlib and LZO compression
//!   (`compress-force`), some small enough to be inline. mkfs.btrfs 6.2 (Debian 12) cannot
//!   make subvolumes or compress, so this one is written through a loop mount: it needs root
//!   and loop devices, and [`build_layout`] says so when it cannot.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ext::run;
use crate::tools::find_tool;
use crate::tree::{self, TreeSpec};

/// The UUID every image gets.
pub const UUID: &str = "9b2d6e4a-1c3f-4a5b-8d7e-0f1a2b3c4d5e";
/// Bumped when the recipes change.
const RECIPE_VERSION: u32 = 1;

/// A built image and the tree it holds (the test oracle).
#[derive(Clone, Debug)]
pub struct Image {
    /// The image file.
    pub path: PathBuf,
    /// The host tree that went into it (for the layout: what the top level holds).
    pub tree: PathBuf,
}

/// The tree of the `--rootdir` image.
pub fn rootdir_spec() -> TreeSpec {
    TreeSpec::unix(4096, 4096)
}

/// `mkfs.btrfs --rootdir` of the common tree.
///
/// # Errors
/// A tool is missing or fails.
pub fn build_rootdir(out_dir: &Path) -> Result<Image, String> {
    let spec = rootdir_spec();
    let tree = tree::cached_tree(out_dir, &spec).map_err(|e| format!("building the tree: {e}"))?;
    let fp = tree::fnv1a(format!("{RECIPE_VERSION}:rootdir:{}", spec.fingerprint()).as_bytes());
    let path = tree::cached_image(out_dir, "btrfs-rootdir", fp, |tmp| {
        let file = fs::File::create(tmp).map_err(|e| format!("create {}: {e}", tmp.display()))?;
        file.set_len(256 << 20).map_err(|e| format!("size: {e}"))?;
        drop(file);
        run(Command::new(find_tool("mkfs.btrfs")?)
            .args(["-q", "-f", "-U", UUID, "-L", "btrfs-rootdir", "--rootdir"])
            .arg(&tree)
            .arg(tmp))
    })?;
    Ok(Image { path, tree })
}

/// Compressible text of `len` bytes, a function of `seed` (the kernel only keeps compressed
/// extents that are smaller than the data).
pub fn text(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        let word = tree::fnv1a(format!("{seed}:{}", i / 7).as_bytes()) % 100_000;
        out.extend_from_slice(format!("line {i:06} of file {seed}: value {word}\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// Sizes of the compressed files: inline (below 2 KiB), one extent, several 128 KiB extents.
pub const COMPRESSED_SIZES: &[usize] = &[100, 1500, 4096, 70_000, 131_072, 300_001, 1_000_000];

/// The host tree of the layout image: `/@/boot/…`, `/@/etc/…`, `/@home/user/…`, `/zlib/…`,
/// `/lzo/…` (the directories compressed with each algorithm are listed by [`LAYOUT_ALGOS`]).
fn layout_tree(out_dir: &Path) -> Result<PathBuf, String> {
    let dest = out_dir.join(format!("tree-btrfs-layout-{RECIPE_VERSION}"));
    if dest.is_dir() {
        return Ok(dest);
    }
    let tmp = out_dir.join(format!(".tmp-btrfs-layout-{}", tree::unique_suffix()));
    let w = |rel: &str, data: &[u8]| -> Result<(), String> {
        let p = tmp.join(rel.trim_start_matches('/'));
        fs::create_dir_all(p.parent().unwrap_or(&tmp)).map_err(|e| format!("mkdir: {e}"))?;
        fs::write(&p, data).map_err(|e| format!("write {}: {e}", p.display()))
    };
    for (dir, _) in LAYOUT_ALGOS {
        for (i, &n) in COMPRESSED_SIZES.iter().enumerate() {
            w(&format!("{dir}/text-{n}"), &text(tree::fnv1a(format!("{dir}{i}").as_bytes()), n))?;
        }
    }
    w("/@/boot/grub/grub.cfg", b"# written by the layout recipe\n")?;
    w("/@/etc/hostname", b"layout\n")?;
    w("/@home/user/notes.txt", &text(7, 5000))?;
    // Incompressible data among the compressed: the kernel stores it plainly.
    let mut noise = vec![0u8; 200_000];
    tree::fill_content(99, 0, &mut noise);
    w("/@/boot/noise.bin", &noise)?;
    std::os::unix::fs::symlink("vmlinuz-6.1.0-test", tmp.join("@/boot/vmlinuz"))
        .map_err(|e| format!("symlink: {e}"))?;
    std::os::unix::fs::symlink("/@/boot/grub", tmp.join("@/grub-abs")).map_err(|e| format!("symlink: {e}"))?;
    w("/@/boot/vmlinuz-6.1.0-test", &text(61, 900_000))?;
    if fs::rename(&tmp, &dest).is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    Ok(dest)
}

/// Directories of the layout tree and the `compress-force` algorithm they are written with.
pub const LAYOUT_ALGOS: &[(&str, &str)] = &[("/@/boot", "zstd"), ("/zlib", "zlib"), ("/lzo", "lzo")];

/// The subvolume layout image (needs root and loop devices, see the module doc).
///
/// # Errors
/// A tool is missing or fails, or the image cannot be mounted.
pub fn build_layout(out_dir: &Path) -> Result<Image, String> {
    let tree = layout_tree(out_dir)?;
    let fp = tree::fnv1a(format!("{RECIPE_VERSION}:layout").as_bytes());
    let path = tree::cached_image(out_dir, "btrfs-layout", fp, |tmp| make_layout(tmp, &tree))?;
    Ok(Image { path, tree })
}

fn make_layout(img: &Path, tree: &Path) -> Result<(), String> {
    let file = fs::File::create(img).map_err(|e| format!("create {}: {e}", img.display()))?;
    file.set_len(160 << 20).map_err(|e| format!("size: {e}"))?;
    drop(file);
    run(Command::new(find_tool("mkfs.btrfs")?).args(["-q", "-f", "-U", UUID, "-L", "layout"]).arg(img))?;
    let mnt = img.with_extension("mnt");
    fs::create_dir_all(&mnt).map_err(|e| format!("mkdir {}: {e}", mnt.display()))?;
    let result = fill_layout(img, &mnt, tree);
    let _ = Command::new("umount").arg(&mnt).output();
    let _ = fs::remove_dir(&mnt);
    result
}

fn mount(img: &Path, mnt: &Path, algo: &str) -> Result<(), String> {
    run(Command::new("mount")
        .args(["-t", "btrfs", "-o", &format!("loop,subvolid=5,compress-force={algo}")])
        .arg(img)
        .arg(mnt))
    .map_err(|e| format!("cannot loop-mount (needs root and loop devices): {e}"))
}

fn fill_layout(img: &Path, mnt: &Path, tree: &Path) -> Result<(), String> {
    let btrfs = find_tool("btrfs")?;
    mount(img, mnt, "zstd")?;
    for sub in ["@", "@home"] {
        run(Command::new(&btrfs).args(["-q", "subvolume", "create"]).arg(mnt.join(sub)))?;
    }
    run(Command::new("cp").arg("-a").arg(tree.join("@/.")).arg(mnt.join("@")))?;
    run(Command::new("cp").arg("-a").arg(tree.join("@home/.")).arg(mnt.join("@home")))?;
    run(Command::new(&btrfs).args(["subvolume", "set-default"]).arg(mnt.join("@")))?;
    for (dir, algo) in LAYOUT_ALGOS.iter().skip(1) {
        run(Command::new("umount").arg(mnt))?;
        mount(img, mnt, algo)?;
        let rel = dir.trim_start_matches('/');
        run(Command::new("cp").arg("-a").arg(tree.join(rel)).arg(mnt.join(".")))?;
    }
    run(&mut Command::new("sync"))
}

/// `(logical, length, physical)` of every single-copy DATA chunk, from btrfs-progs' chunk tree.
fn data_chunks(img: &Path) -> Result<Vec<(u64, u64, u64)>, String> {
    let out = Command::new(find_tool("btrfs")?)
        .args(["inspect-internal", "dump-tree", "-t", "chunk"])
        .arg(img)
        .output()
        .map_err(|e| format!("dump-tree: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut chunks = Vec::new();
    let (mut logical, mut len, mut data) = (0u64, 0u64, false);
    for line in text.lines().map(str::trim) {
        let w: Vec<&str> = line.split_whitespace().collect();
        if line.contains("CHUNK_ITEM") {
            let at = w.iter().position(|x| *x == "CHUNK_ITEM");
            logical = at.and_then(|i| w.get(i + 1)?.trim_end_matches(')').parse().ok()).unwrap_or(0);
        } else if line.starts_with("length ") {
            len = w.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            data = line.contains("type DATA|single");
        } else if data && line.starts_with("stripe 0 ") {
            let phys = w.iter().position(|x| *x == "offset").and_then(|i| w.get(i + 1)?.parse().ok());
            chunks.extend(phys.map(|p| (logical, len, p)));
        }
    }
    Ok(chunks)
}

/// The layout image with the first regular zstd extent's frame header changed to ask for a
/// 64 MiB window (Window_Descriptor 0x80: 2^(10+16), under ruzstd's default 100 MiB limit),
/// the frame otherwise intact. ruzstd reserves the window up front; a small domU cannot give
/// 64 MiB.
///
/// # Errors
/// The layout image cannot be built (see [`build_layout`]) or holds no zstd extent.
pub fn zstd_window_64m(out_dir: &Path) -> Result<PathBuf, String> {
    let layout = build_layout(out_dir)?;
    let dump = Command::new(find_tool("btrfs")?)
        .args(["inspect-internal", "dump-tree"])
        .arg(&layout.path)
        .output()
        .map_err(|e| format!("dump-tree: {e}"))?;
    let text = String::from_utf8_lossy(&dump.stdout);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let disk_byte = lines
        .windows(3)
        .find(|w| w[2] == "extent compression 3 (zstd)" && w[0].starts_with("extent data disk byte "))
        .and_then(|w| w[0].split_whitespace().nth(4)?.parse::<u64>().ok())
        .ok_or("no regular zstd extent in the layout image")?;
    let (logical, _, phys) = data_chunks(&layout.path)?
        .into_iter()
        .find(|&(l, n, _)| disk_byte >= l && disk_byte < l + n)
        .ok_or("zstd extent outside the data chunks")?;
    let at = usize::try_from(phys + (disk_byte - logical)).map_err(|e| e.to_string())?;
    // Patched in a copy, without reading the image into memory (the hostile tests run under a
    // 32 MiB heap).
    use std::os::unix::fs::FileExt;
    let path = out_dir.join(format!("btrfs-zstd-window-64m-{RECIPE_VERSION}.img"));
    fs::copy(&layout.path, &path).map_err(|e| format!("copy: {e}"))?;
    let f = fs::OpenOptions::new().read(true).write(true).open(&path).map_err(|e| format!("open: {e}"))?;
    let mut head = [0u8; 6];
    f.read_exact_at(&mut head, at as u64).map_err(|e| format!("read: {e}"))?;
    if head[..4] != [0x28, 0xb5, 0x2f, 0xfd] {
        return Err(format!("no zstd frame at byte {at}"));
    }
    // Frame_Header_Descriptor 0: no single segment (so a Window_Descriptor follows), no
    // checksum, no dictionary, no content size.
    f.write_all_at(&[0x00, 0x80], at as u64 + 4).map_err(|e| format!("write: {e}"))?;
    Ok(path)
}
