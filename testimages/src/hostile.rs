//! Hostile disk images (issue 20): real file systems made by the real tools, then patched by
//! hand so that one on-disk number asks rpvboot for far more memory or time than a domU has.
//!
//! Each recipe writes a well-formed image first (mkfs.fat + mtools, mke2fs, makefs), then
//! changes the few bytes the attack needs, found by what the tool wrote (a directory entry's
//! 8.3 name, an inode's modification time set on the host tree), never by offsets copied from
//! our own parser. The images are cached under `target/testimages/hostile/`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use crate::ext::{find_tool, run};
use crate::tree;

/// Bumped when a recipe changes (part of every file name).
const RECIPE_VERSION: u32 = 1;

/// The menu.lst every hostile image carries where a configuration is searched for: a sane
/// entry, so that only the attack stops it.
pub const MENU_LST: &str = "default 0\ntimeout 0\ntitle hostile\nkernel /netbsd\n";

/// `di_mtime` markers that find our inodes in a makefs image.
const MARK_DIR: u32 = 1_100_000_001;
const MARK_FILLER: u32 = 1_100_000_002;
const MARK_HUGE: u32 = 1_100_000_003;

/// Size the FAT `menu.lst` claims after patching.
pub const FAT_LOOP_SIZE: u32 = 0xFFFF_FFFF;
/// Bytes of the FFS directory made of repeated directory blocks.
pub const FFS_BIG_DIR_BYTES: u64 = 32 << 20;
/// Entries per 512-byte directory chunk of that directory (12-byte entries, the last one
/// stretched to the chunk end).
pub const FFS_BIG_DIR_PER_CHUNK: u64 = 42;
/// Size the FFSv1 `/huge` file claims after patching.
pub const FFS_HUGE_SIZE: u64 = 1 << 40;
/// Size of the ext image with `s_blocks_per_group` = 1.
pub const EXT_BPG1_BYTES: u64 = 1 << 30;

/// Where the hostile images go.
pub fn dir() -> PathBuf {
    tree::images_dir().join("hostile")
}

/// Builds `name` with `make` unless a finished copy exists; returns its path.
fn cached(name: &str, make: impl FnOnce(&Path, &Path) -> Result<(), String>) -> Result<PathBuf, String> {
    let dir = dir();
    let path = dir.join(format!("{name}-v{RECIPE_VERSION}.img"));
    if path.is_file() {
        return Ok(path);
    }
    let work = dir.join(format!("work-{name}-{}", tree::unique_suffix()));
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let tmp = dir.join(format!(".{name}-{}.tmp", tree::unique_suffix()));
    let made = make(&tmp, &work);
    let _ = fs::remove_dir_all(&work);
    if let Err(e) = made {
        let _ = fs::remove_file(&tmp);
        return Err(format!("{name}: {e}"));
    }
    fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn io<T>(what: &Path, r: std::io::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("{}: {e}", what.display()))
}

fn write_file(path: &Path, data: &[u8], mtime: Option<u32>) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        io(parent, fs::create_dir_all(parent))?;
    }
    let mut f = io(path, fs::File::create(path))?;
    io(path, f.write_all(data))?;
    if let Some(t) = mtime {
        io(path, f.set_modified(UNIX_EPOCH + Duration::from_secs(u64::from(t))))?;
    }
    Ok(())
}

fn set_mtime(path: &Path, t: u32) -> Result<(), String> {
    let f = io(path, fs::File::open(path))?;
    io(path, f.set_modified(UNIX_EPOCH + Duration::from_secs(u64::from(t))))
}

/// Calls `f(offset, record)` for every `rec`-byte record of the file, reading 1 MiB at a time
/// (the tests that build these images run under a capped allocator); collects what it returns.
fn scan<T>(path: &Path, rec: usize, mut f: impl FnMut(u64, &[u8]) -> Option<T>) -> Result<Vec<T>, String> {
    use std::io::Read;
    let mut file = io(path, fs::File::open(path))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut base = 0u64;
    let mut out = Vec::new();
    loop {
        let mut got = 0;
        while got < buf.len() {
            let n = io(path, file.read(&mut buf[got..]))?;
            if n == 0 {
                break;
            }
            got += n;
        }
        for (i, r) in buf[..got].chunks_exact(rec).enumerate() {
            out.extend(f(base + (i * rec) as u64, r));
        }
        if got < buf.len() {
            return Ok(out);
        }
        base += got as u64;
    }
}

/// Reads `n` bytes at `at`.
fn read_at(path: &Path, at: u64, n: usize) -> Result<Vec<u8>, String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = io(path, fs::File::open(path))?;
    io(path, f.seek(SeekFrom::Start(at)))?;
    let mut b = vec![0u8; n];
    io(path, f.read_exact(&mut b))?;
    Ok(b)
}

/// Writes `data` at `at`.
fn patch(path: &Path, at: u64, data: &[u8]) -> Result<(), String> {
    use std::io::{Seek, SeekFrom};
    let mut f = io(path, fs::OpenOptions::new().write(true).open(path))?;
    io(path, f.seek(SeekFrom::Start(at)))?;
    io(path, f.write_all(data))
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// FAT16 (mkfs.fat, 16 MiB, 2 KiB clusters) with `/boot/grub/menu.lst` copied in by mcopy,
/// then patched: its directory entry claims [`FAT_LOOP_SIZE`] bytes and its first cluster's
/// FAT entry (in every FAT copy) points back at itself, a chain that never ends.
///
/// # Errors
/// A tool is missing or fails; the entry is not where mtools puts it.
pub fn fat_looping_menu() -> Result<PathBuf, String> {
    cached("fat16-loop-menu", |img, work| {
        let src = work.join("menu.lst");
        write_file(&src, MENU_LST.as_bytes(), None)?;
        let _ = fs::remove_file(img);
        run(Command::new(find_tool("mkfs.fat")?)
            .args(["-F", "16", "-s", "4", "-S", "512", "-i", "20202020", "-C"])
            .arg(img)
            .arg("16384"))?;
        let image = img.to_str().ok_or("image path is not UTF-8")?;
        for d in ["::/boot", "::/boot/grub"] {
            run(Command::new(find_tool("mmd")?).args(["-i", image, d]))?;
        }
        run(Command::new(find_tool("mcopy")?).args(["-i", image]).arg(&src).arg("::/boot/grub/menu.lst"))?;
        let b = read_at(img, 0, 512)?;
        let bps = u64::from(le16(&b, 11));
        let reserved = u64::from(le16(&b, 14));
        let fats = u64::from(b[16]);
        let fat_sectors = u64::from(le16(&b, 22));
        let found = scan(img, 32, |o, e| (&e[..11] == b"MENU    LST").then(|| (o, le16(e, 26))))?;
        let [(at, cluster)] = found.as_slice() else {
            return Err(format!("{} MENU.LST directory entries", found.len()));
        };
        if *cluster < 2 {
            return Err(format!("MENU.LST starts at cluster {cluster}"));
        }
        patch(img, at + 28, &FAT_LOOP_SIZE.to_le_bytes())?;
        for f in 0..fats {
            patch(img, (reserved + f * fat_sectors) * bps + 2 * u64::from(*cluster), &cluster.to_le_bytes())?;
        }
        Ok(())
    })
}

/// ext2 on [`EXT_BPG1_BYTES`] (mke2fs, 1 KiB blocks, `/boot/grub/menu.lst` put in with `-d`),
/// then `s_blocks_per_group` (and `s_clusters_per_group`) set to `per_group`: with 1, over a
/// million block groups, each with a descriptor a loader would hold in memory; with 8 (the
/// least e2fsck accepts), 131072. The image is sparse on the host.
///
/// # Errors
/// mke2fs is missing or fails.
pub fn ext_blocks_per_group(per_group: u32) -> Result<PathBuf, String> {
    cached(&format!("ext2-1g-bpg{per_group}"), |img, work| {
        let root = work.join("root");
        write_file(&root.join("boot/grub/menu.lst"), MENU_LST.as_bytes(), None)?;
        let _ = fs::remove_file(img);
        let blocks = EXT_BPG1_BYTES / 1024;
        run(Command::new(find_tool("mke2fs")?)
            .args(["-q", "-F", "-t", "ext2", "-b", "1024", "-N", "2048", "-m", "0"])
            .args(["-E", "root_owner=0:0", "-U", "2a2a2a2a-2a2a-2a2a-2a2a-2a2a2a2a2a2a", "-d"])
            .arg(&root)
            .arg(img)
            .arg(blocks.to_string()))?;
        let sb = read_at(img, 1024, 1024)?;
        if le16(&sb, 0x38) != 0xEF53 {
            return Err("no ext magic where mke2fs writes it".into());
        }
        // s_blocks_per_group and s_clusters_per_group (equal without bigalloc).
        let n = per_group.to_le_bytes();
        patch(img, 1024 + 0x20, &[n, n].concat())
    })
}

/// One 512-byte FFS directory chunk (4.4BSD format, little-endian): 12-byte entries named
/// `a0`, `a1`, ... for inode 2, the last one stretched to the end of the chunk.
fn dir_chunk(chunk_no: u64) -> Vec<u8> {
    let mut c = vec![0u8; 512];
    for i in 0..FFS_BIG_DIR_PER_CHUNK {
        let o = usize::try_from(i * 12).unwrap_or(0);
        let last = i + 1 == FFS_BIG_DIR_PER_CHUNK;
        let reclen: u16 = if last { 512 - 12 * 41 } else { 12 };
        let name = [b'a' + u8::try_from(chunk_no % 26).unwrap_or(0), b'0' + u8::try_from(i % 10).unwrap_or(0)];
        c[o..o + 4].copy_from_slice(&2u32.to_le_bytes());
        c[o + 4..o + 6].copy_from_slice(&reclen.to_le_bytes());
        c[o + 6] = 4; // DT_DIR
        c[o + 7] = 2;
        c[o + 8..o + 10].copy_from_slice(&name);
    }
    c
}

/// makefs, FFSv1 little-endian, 8 KiB blocks, of `size` (its own estimate fails on small trees
/// with "map corrupted").
fn ufs1_image(img: &Path, tree: &Path, size: &str) -> Result<(), String> {
    run(Command::new(find_tool("makefs")?)
        .args(["-t", "ffs", "-B", "le", "-s", size, "-o", "version=1,bsize=8192,fsize=1024"])
        .arg(img)
        .arg(tree))
}

/// The FFSv1 (UFS1: 128-byte, little-endian) inode whose `di_mtime` is `mark`: its offset
/// and bytes.
fn one_marked(img: &Path, mark: u32, what: &str) -> Result<(u64, Vec<u8>), String> {
    let mut found = scan(img, 128, |o, d| (le32(d, 24) == mark && le16(d, 0) != 0).then(|| (o, d.to_vec())))?;
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(format!("{n} inodes marked as {what}")),
    }
}

/// FFSv1 (makefs) whose `/big` directory is [`FFS_BIG_DIR_BYTES`] of valid entries: makefs
/// stores a regular file of directory chunks (`/filler`), and `/big`'s inode is then given
/// that file's size and block pointers. Also holds `/boot/grub/menu.lst`.
///
/// # Errors
/// makefs is missing or fails; the marked inodes are not found exactly once.
pub fn ffs_big_dir() -> Result<PathBuf, String> {
    cached("ffs1-big-dir", |img, work| {
        let tree = work.join("tree");
        write_file(&tree.join("boot/grub/menu.lst"), MENU_LST.as_bytes(), None)?;
        write_file(&tree.join("big/x"), b"x\n", None)?;
        let filler = tree.join("filler");
        {
            let mut f = io(&filler, fs::File::create(&filler))?;
            for n in 0..FFS_BIG_DIR_BYTES / 512 {
                io(&filler, f.write_all(&dir_chunk(n)))?;
            }
        }
        set_mtime(&filler, MARK_FILLER)?;
        set_mtime(&tree.join("big"), MARK_DIR)?;
        ufs1_image(img, &tree, "48m")?;
        let (dir, d) = one_marked(img, MARK_DIR, "the directory")?;
        let (_, f) = one_marked(img, MARK_FILLER, "the filler")?;
        if le16(&d, 0) & 0xF000 != 0x4000 {
            return Err("the marked directory inode is not a directory".into());
        }
        // di_size (8..16), di_db + di_ib (40..100), di_blocks (104..108).
        for r in [8..16, 40..100, 104..108] {
            patch(img, dir + r.start as u64, &f[r])?;
        }
        Ok(())
    })
}

/// FFSv1 (makefs) whose `/huge` file (a few KiB of data) claims [`FFS_HUGE_SIZE`] bytes:
/// everything past its blocks reads as a hole. Also holds `/boot/grub/menu.lst`.
///
/// # Errors
/// makefs is missing or fails; the marked inode is not found exactly once.
pub fn ffs_huge_file() -> Result<PathBuf, String> {
    cached("ffs1-huge-file", |img, work| {
        let tree = work.join("tree");
        write_file(&tree.join("boot/grub/menu.lst"), MENU_LST.as_bytes(), None)?;
        write_file(&tree.join("huge"), &[0x5a; 5000], Some(MARK_HUGE))?;
        ufs1_image(img, &tree, "8m")?;
        let (at, _) = one_marked(img, MARK_HUGE, "the huge file")?;
        patch(img, at + 8, &FFS_HUGE_SIZE.to_le_bytes())
    })
}

/// Entries of the GPT made by [`gpt_repeating_one_ext2`].
pub const GPT_ENTRIES: u32 = 8192;
/// First sector and sectors of its ext2 (and of every entry).
pub const GPT_EXT2_START: u64 = 4096;
/// Sectors of the ext2.
pub const GPT_EXT2_SECTORS: u64 = 8192;

/// CRC-32 (IEEE 802.3, reflected, as UEFI's GPT uses).
fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
        }
    }
    !c
}

/// Makes every entry of the GPT whose header is at sector `hdr_lba` a copy of entry 0 (each
/// with its own unique GUID) and rewrites both CRCs, as the UEFI specification defines them.
fn repeat_gpt_entry(img: &Path, hdr_lba: u64) -> Result<(), String> {
    let mut h = read_at(img, hdr_lba * 512, 512)?;
    if &h[..8] != b"EFI PART" {
        return Err(format!("no GPT header at sector {hdr_lba}"));
    }
    let hsize = le32(&h, 12) as usize;
    let entries_lba = u64::from(le32(&h, 72)) | u64::from(le32(&h, 76)) << 32;
    let (count, esize) = (le32(&h, 80) as usize, le32(&h, 84) as usize);
    let mut arr = read_at(img, entries_lba * 512, count * esize)?;
    let first = arr[..esize].to_vec();
    for i in 1..count {
        let e = &mut arr[i * esize..(i + 1) * esize];
        e.copy_from_slice(&first);
        e[28..32].copy_from_slice(&u32::try_from(i).map_err(|e| e.to_string())?.to_le_bytes());
    }
    patch(img, entries_lba * 512, &arr)?;
    h[88..92].copy_from_slice(&crc32(&arr).to_le_bytes());
    h[16..20].copy_from_slice(&[0; 4]);
    let crc = crc32(&h[..hsize]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    patch(img, hdr_lba * 512, &h)
}

/// An 8 MiB disk (sfdisk: a GPT of [`GPT_ENTRIES`] entries, one partition) whose one ext2
/// (mke2fs, 4 MiB, no configuration) every entry then points at: thousands of partitions a
/// configuration search would open, all the same bytes.
///
/// # Errors
/// A tool is missing or fails.
pub fn gpt_repeating_one_ext2() -> Result<PathBuf, String> {
    cached("gpt8192-one-ext2", |img, work| {
        let root = work.join("root");
        write_file(&root.join("README"), b"no configuration here\n", None)?;
        let ext = work.join("ext2.img");
        run(Command::new(find_tool("mke2fs")?)
            .args(["-q", "-F", "-t", "ext2", "-b", "1024", "-d"])
            .arg(&root)
            .arg(&ext)
            .arg((GPT_EXT2_SECTORS / 2).to_string()))?;
        let f = io(img, fs::File::create(img))?;
        io(img, f.set_len(16384 * 512))?;
        let script = format!(
            "label: gpt\ntable-length: {GPT_ENTRIES}\nstart={GPT_EXT2_START}, size={GPT_EXT2_SECTORS}, type=L\n"
        );
        let mut child = io(
            img,
            Command::new(find_tool("sfdisk")?)
                .arg("-q")
                .arg(img)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn(),
        )?;
        io(img, child.stdin.take().ok_or("no stdin")?.write_all(script.as_bytes()))?;
        let out = io(img, child.wait_with_output())?;
        if !out.status.success() {
            return Err(format!("sfdisk: {}", String::from_utf8_lossy(&out.stderr)));
        }
        patch(img, GPT_EXT2_START * 512, &io(&ext, fs::read(&ext))?)?;
        repeat_gpt_entry(img, 1)?;
        let backup = {
            let h = read_at(img, 512, 512)?;
            u64::from(le32(&h, 32)) | u64::from(le32(&h, 36)) << 32
        };
        repeat_gpt_entry(img, backup)
    })
}

/// The ELF64 little-endian word of `n` bytes at `at`.
fn elf_word(b: &[u8], at: usize, n: usize) -> u64 {
    b[at..at + n].iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x))
}

/// The test kernel of [`crate::kernels`] (linked at NetBSD's KERNBASE, in the top 2 GiB of
/// the address space) moved to VA 0, as a kernel linked there would be: every address-sized
/// word of its Xen notes (VIRT_BASE, PADDR_OFFSET, ENTRY, HYPERCALL_PAGE) and of its program
/// headers (`p_vaddr`, `p_paddr`) at KERNBASE or above, and `e_entry`, minus KERNBASE. With
/// `memsz`, its first `PT_LOAD` then claims that many bytes (the 1 TiB).
///
/// ELF64 offsets: `e_entry` 0x18, `e_phoff` 0x20, `e_phentsize` 0x36, `e_phnum` 0x38; in a
/// program header `p_type` 0, `p_offset` 8, `p_vaddr` 0x10, `p_paddr` 0x18, `p_filesz` 0x20,
/// `p_memsz` 0x28 (System V gABI).
pub fn kernel_at_va0(netbsd_like: &[u8], memsz: Option<u64>) -> Vec<u8> {
    let kernbase = crate::kernels::KERNBASE;
    let mut elf = netbsd_like.to_vec();
    let lower = |b: &mut [u8], at: usize| {
        let v = elf_word(b, at, 8);
        if (kernbase..kernbase + (1 << 30)).contains(&v) {
            b[at..at + 8].copy_from_slice(&(v - kernbase).to_le_bytes());
        }
    };
    let phoff = elf_word(&elf, 0x20, 8) as usize;
    let (phent, phnum) = (elf_word(&elf, 0x36, 2) as usize, elf_word(&elf, 0x38, 2) as usize);
    lower(&mut elf, 0x18);
    let phdrs: Vec<usize> = (0..phnum).map(|i| phoff + i * phent).collect();
    for &ph in &phdrs {
        lower(&mut elf, ph + 0x10);
        lower(&mut elf, ph + 0x18);
        if elf_word(&elf, ph, 4) == 4 {
            // PT_NOTE: descriptors are 4-aligned, so the quads sit at 4-byte steps.
            let (off, len) = (elf_word(&elf, ph + 8, 8) as usize, elf_word(&elf, ph + 0x20, 8) as usize);
            for at in (off..(off + len).saturating_sub(7)).step_by(4) {
                lower(&mut elf, at);
            }
        }
    }
    if let Some(m) = memsz {
        if let Some(&ph) = phdrs.iter().find(|&&p| elf_word(&elf, p, 4) == 1) {
            elf[ph + 0x28..ph + 0x30].copy_from_slice(&m.to_le_bytes());
        }
    }
    elf
}

/// Two zstd frames (RFC 8878) of nothing: magic, frame header descriptor 0 (no content size,
/// not single-segment), window descriptor 0x88 (2^(10+17) = 128 MiB), one empty last raw
/// block. Valid (`zstd -t` accepts it), and a decoder that believes the header reserves a
/// 128 MiB window per frame.
pub fn zstd_128m_window() -> Vec<u8> {
    let frame = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x88, 0x01, 0x00, 0x00];
    [frame, frame].concat()
}
