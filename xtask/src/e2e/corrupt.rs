//! Disk recipes for the device and corruption scenarios (issues 7 and 11): several disks, a
//! disk without configuration, a disk of random bytes, and images made by the real tools
//! (mke2fs, makefs, debugfs) then damaged in one place that is located by reading the image
//! (debugfs output, the FFS magic), never at a hard-coded offset.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use crate::util::run;

/// Deterministic pseudo-random bytes (xorshift64*), so every run builds the same images.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(len);
    v
}

fn images_dir() -> Result<PathBuf> {
    let d = crate::util::e2e_dir().join("images");
    fs::create_dir_all(&d)?;
    Ok(d)
}

/// The probe's kernel arguments with the module check, as on the `ho-*` disks.
fn probe_args() -> String {
    crate::probe::module_word()
}

/// A `menu.lst` with `timeout 0`, entry 0 the default and every other entry its fallback.
fn menu(entries: &[(&str, &str)]) -> String {
    let fb: Vec<String> = (1..entries.len()).map(|i| i.to_string()).collect();
    let mut s = String::from("default 0\ntimeout 0\n");
    if !fb.is_empty() {
        s.push_str(&format!("fallback {}\n", fb.join(" ")));
    }
    let w = probe_args();
    for (title, kernel) in entries {
        s.push_str(&format!("title {title}\n  kernel {kernel} {w}\n  module /module.bin\n"));
    }
    s
}

/// A 16 MiB bare ext2 image (1 KiB blocks, so a 29 KiB kernel has an indirect block) from
/// `files` (path relative to the root, contents); empty directories end in `/`.
fn ext2(name: &str, files: &[(&str, Vec<u8>)]) -> Result<PathBuf> {
    ext2_with(name, files, |_| Ok(()))
}

/// [`ext2`], with `extra` run on the tree before mke2fs.
fn ext2_with(name: &str, files: &[(&str, Vec<u8>)], extra: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    let dir = images_dir()?;
    let tree = dir.join(format!("corrupt-{name}.tree"));
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(&tree)?;
    for (p, data) in files {
        let at = tree.join(p.trim_end_matches('/'));
        if p.ends_with('/') {
            fs::create_dir_all(&at)?;
            continue;
        }
        if let Some(parent) = at.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&at, data)?;
    }
    extra(&tree)?;
    let img = dir.join(format!("corrupt-{name}.img"));
    let _ = fs::remove_file(&img);
    run(Command::new("mke2fs").args(["-q", "-F", "-t", "ext2", "-b", "1024", "-d"]).arg(&tree).arg(&img).arg("16M"))?;
    Ok(img)
}

/// The probe files every bootable disk here carries: `/probe`, `/probe.gz`, `/module.bin`.
fn probe_files() -> Result<Vec<(&'static str, Vec<u8>)>> {
    let (plain, gz) = crate::probe::build_probe()?;
    Ok(vec![("probe", fs::read(&plain)?), ("probe.gz", fs::read(&gz)?), ("module.bin", crate::probe::module_bytes())])
}

/// `debugfs [-w] -R cmd img`, its stdout.
fn debugfs(img: &Path, write: bool, cmd: &str) -> Result<String> {
    let mut c = Command::new("debugfs");
    if write {
        c.arg("-w");
    }
    let o = c.args(["-R", cmd]).arg(img).output().context("running debugfs")?;
    ensure!(o.status.success(), "debugfs -R {cmd:?} {} failed: {}", img.display(), o.status);
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// A filesystem without any configuration file or kernel: one text file.
pub fn disk_no_config() -> Result<PathBuf> {
    ext2("no-config", &[("hello.txt", b"no configuration here\n".to_vec())])
}

/// 16 MiB of random bytes (checked to carry neither an MBR signature nor a known magic by
/// luck: the seed is fixed).
pub fn disk_garbage() -> Result<PathBuf> {
    let data = noise(0x5eed_0bad_d15c, 16 << 20);
    ensure!(data.get(510..512) != Some(&[0x55, 0xaa][..]), "the noise has an MBR signature");
    let img = images_dir()?.join("corrupt-garbage.img");
    fs::write(&img, data)?;
    Ok(img)
}

/// Good ext2 disk whose menu boots `(hd1)/probe.gz` first (the broken second disk), then its
/// own `/probe.gz` as the fallback.
pub fn disk_menu_hd1_then_own() -> Result<PathBuf> {
    let mut f = probe_files()?;
    f.push((
        "grub/menu.lst",
        menu(&[("probe on hd1", "(hd1)/probe.gz"), ("probe on hd0", "(hd0)/probe.gz")]).into_bytes(),
    ));
    ext2("menu-hd1-then-own", &f)
}

/// FFSv2 (makefs) with the probe files, whose primary superblock is overwritten with random
/// bytes. The superblock is found by its magic (`fs_magic` at byte 1372 of the superblock,
/// `FS_UFS2_MAGIC`) at the standard locations, not assumed.
pub fn disk_bad_superblock() -> Result<PathBuf> {
    let dir = images_dir()?;
    let tree = dir.join("corrupt-bad-sb.tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(tree.join("grub"))?;
    for (p, d) in probe_files()? {
        fs::write(tree.join(p), d)?;
    }
    fs::write(tree.join("grub/menu.lst"), menu(&[("probe", "/probe.gz")]))?;
    let img = dir.join("corrupt-bad-sb.img");
    let _ = fs::remove_file(&img);
    run(Command::new("makefs").args(["-t", "ffs", "-B", "le", "-o", "version=2", "-s", "16m"]).arg(&img).arg(&tree))?;
    let mut data = fs::read(&img)?;
    const SBSIZE: usize = 8192;
    const MAGIC_AT: usize = 1372;
    const UFS2_MAGIC: u32 = 0x1954_0119;
    let sb = [65536usize, 8192, 0, 262_144]
        .into_iter()
        .find(|&o| {
            data.get(o + MAGIC_AT..o + MAGIC_AT + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .is_some_and(|b| u32::from_le_bytes(b) == UFS2_MAGIC)
        })
        .context("makefs image has no UFS2 superblock at the standard locations")?;
    let junk = noise(0x5b5b_5b5b, SBSIZE);
    data.get_mut(sb..sb + SBSIZE).context("superblock past the image")?.copy_from_slice(&junk);
    fs::write(&img, &data)?;
    Ok(img)
}

/// ext2 with `/d/up` a directory entry that points back at the root (inode 2): `/d/up/d/up/…`
/// loops. Entry 0 follows the loop to a missing file, entry 1 through it to the probe.
pub fn disk_dirloop() -> Result<PathBuf> {
    let mut f = probe_files()?;
    f.push(("d/", Vec::new()));
    let lost = format!("/{}missing.gz", "d/up/".repeat(12));
    let good = format!("/{}probe.gz", "d/up/".repeat(3));
    f.push(("grub/menu.lst", menu(&[("loop to nothing", &lost), ("probe through the loop", &good)]).into_bytes()));
    let img = ext2("dirloop", &f)?;
    debugfs(&img, true, "link <2> /d/up")?;
    let ls = debugfs(&img, false, "ls -l /d")?;
    // Oracle: debugfs itself lists `up` as inode 2 (the root).
    ensure!(
        ls.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.first() == Some(&"2") && w.last() == Some(&"up")
        }),
        "debugfs did not make /d/up → inode 2:\n{ls}"
    );
    Ok(img)
}

/// ext2 with two symbolic links naming each other (`/s1` → `s2`, `/s2` → `s1`) and a link to
/// itself (`/me` → `me`), made by mke2fs from real symlinks. Entries 0 and 1 go through them,
/// entry 2 is the probe.
pub fn disk_symloop() -> Result<PathBuf> {
    let mut f = probe_files()?;
    f.push((
        "grub/menu.lst",
        menu(&[("two links", "/s1/probe.gz"), ("self link", "/me"), ("probe", "/probe.gz")]).into_bytes(),
    ));
    let img = ext2_with("symloop", &f, |t| {
        std::os::unix::fs::symlink("s2", t.join("s1"))?;
        std::os::unix::fs::symlink("s1", t.join("s2"))?;
        std::os::unix::fs::symlink("me", t.join("me"))?;
        Ok(())
    })?;
    let ls = debugfs(&img, false, "stat /s1")?;
    ensure!(ls.contains("Fast link dest: \"s2\""), "/s1 is not a link to s2:\n{ls}");
    Ok(img)
}

/// ext2 whose `/probe` (29 KiB: direct blocks plus one indirect block at 1 KiB blocks) has its
/// indirect block pointer set past the end of the filesystem; `/probe2` is a good copy.
pub fn disk_bad_indirect() -> Result<PathBuf> {
    let mut f = probe_files()?;
    let plain = f.first().map(|(_, d)| d.clone()).unwrap_or_default();
    f.push(("probe2", plain));
    f.push(("grub/menu.lst", menu(&[("indirect past the disk", "/probe"), ("good copy", "/probe2")]).into_bytes()));
    let img = ext2("bad-indirect", &f)?;
    let stat = debugfs(&img, false, "stat /probe")?;
    ensure!(stat.contains("(IND):"), "/probe has no indirect block:\n{stat}");
    let stats = debugfs(&img, false, "stats")?;
    let count: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("Block count:"))
        .and_then(|v| v.trim().parse().ok())
        .context("debugfs stats: no block count")?;
    let past = count + 1000;
    debugfs(&img, true, &format!("sif /probe block[IND] {past}"))?;
    let after = debugfs(&img, false, "stat /probe")?;
    if !after.contains(&format!("(IND):{past}")) {
        bail!("the indirect pointer of /probe was not changed to {past}:\n{after}");
    }
    Ok(img)
}

/// ext2 with `/trunc.gz` = the first half of the gzipped probe (entry 0), `/probe.gz` whole.
pub fn disk_truncated_kernel() -> Result<PathBuf> {
    let mut f = probe_files()?;
    let gz = f.get(1).map(|(_, d)| d.clone()).unwrap_or_default();
    ensure!(gz.starts_with(&[0x1f, 0x8b]), "probe.gz is not gzip");
    f.push(("trunc.gz", gz.get(..gz.len() / 2).unwrap_or_default().to_vec()));
    f.push(("grub/menu.lst", menu(&[("truncated", "/trunc.gz"), ("whole", "/probe.gz")]).into_bytes()));
    ext2("truncated", &f)
}

/// ext2 whose `/grub/menu.lst` is 4 KiB of random bytes, next to the probe files (no
/// `/netbsd`).
pub fn disk_random_menu() -> Result<PathBuf> {
    let mut f = probe_files()?;
    f.push(("grub/menu.lst", noise(0x00c0_ffee, 4096)));
    ext2("random-menu", &f)
}

/// The menu of [`disk_typo_menu`]: entry 0's `kernel` misspelled `kernal`, entry 1 good.
pub fn typo_menu() -> String {
    menu(&[("typo", "/probe.gz"), ("good", "/probe.gz")]).replacen("  kernel ", "  kernal ", 1)
}

/// ext2 whose menu.lst has a misspelled command in its default entry ([`typo_menu`]).
pub fn disk_typo_menu() -> Result<PathBuf> {
    let mut f = probe_files()?;
    f.push(("grub/menu.lst", typo_menu().into_bytes()));
    ext2("typo-menu", &f)
}

/// Issue 22: a menu whose only entry's kernel is missing, with a 1 s countdown: the boot
/// fails, the menu shows the error and waits for a key.
pub fn disk_menu_error() -> Result<PathBuf> {
    ext2("menu-error", &[("grub/menu.lst", b"default 0\ntimeout 1\ntitle broken\n  kernel /nope.gz\n".to_vec())])
}

/// Issue 20: a disk whose entry 0 is `kernel` at `/hostile` (a file made to ask for more
/// memory than a domU has), entry 1 the probe: the refusal is printed, the probe boots.
fn disk_hostile_kernel(name: &str, kernel: Vec<u8>) -> Result<PathBuf> {
    let mut f = probe_files()?;
    f.push(("hostile", kernel));
    f.push(("grub/menu.lst", menu(&[("hostile", "/hostile"), ("probe", "/probe.gz")]).into_bytes()));
    ext2(name, &f)
}

/// Two zstd frames asking for 128 MiB windows ([`testimages::hostile::zstd_128m_window`]).
pub fn disk_zstd_window() -> Result<PathBuf> {
    disk_hostile_kernel("zstd-window", testimages::hostile::zstd_128m_window())
}

/// The test kernel moved to VA 0 with a 1 TiB `p_memsz` ([`testimages::hostile::kernel_at_va0`]).
pub fn disk_elf_1tib() -> Result<PathBuf> {
    let dir = testimages::kernels::images_dir();
    let p = testimages::kernels::build(&dir, &testimages::kernels::KernelSpec::netbsd())
        .map_err(|e| anyhow::anyhow!("building the test kernel: {e}"))?;
    disk_hostile_kernel("elf-1tib", testimages::hostile::kernel_at_va0(&fs::read(p)?, Some(1 << 40)))
}

/// An 8 MiB disk whose GPT has 8192 entries over one ext2 without configuration
/// ([`testimages::hostile::gpt_repeating_one_ext2`]).
pub fn disk_gpt_8192() -> Result<PathBuf> {
    testimages::hostile::gpt_repeating_one_ext2().map_err(|e| anyhow::anyhow!("{e}"))
}

/// FAT16 whose `/boot/grub/menu.lst` claims 4 GiB over a cluster chain that loops
/// ([`testimages::hostile::fat_looping_menu`]).
pub fn disk_fat_loop() -> Result<PathBuf> {
    testimages::hostile::fat_looping_menu().map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn noise_is_deterministic_and_not_constant() {
        let a = super::noise(7, 1000);
        assert_eq!(a, super::noise(7, 1000));
        assert_ne!(a, super::noise(8, 1000));
        assert!(a.iter().filter(|&&b| b == a[0]).count() < 100);
    }
}
