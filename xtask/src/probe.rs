//! The probe kernel (`testimages/probe`): a NetBSD-shaped PV test kernel that checks what
//! rpvboot's handover gave it and prints `RPVBOOT-PROBE PASS|FAIL`. Built for
//! `x86_64-unknown-none` (release) and put, plain and gzipped (`gzip -9n`, like `netbsd.gz`),
//! in `<target>/probe/`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::build::{target_dir, PV_TARGET};
use crate::util::{project_root, run};

/// Where the probe kernel lands: `(plain, gzipped)`.
pub fn paths() -> (PathBuf, PathBuf) {
    let d = target_dir().join("probe");
    (d.join("rpvboot-probe"), d.join("rpvboot-probe.gz"))
}

/// `cargo build --release` of one binary of the probe crate; returns the built ELF.
fn cargo_build_probe_bin(bin: &str) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo).current_dir(project_root()).args([
        "build",
        "--quiet",
        "--package",
        "rpvboot-probe",
        "--bin",
        bin,
        "--target",
        PV_TARGET,
        "--release",
    ]))?;
    Ok(target_dir().join(PV_TARGET).join("release").join(bin))
}

/// Builds the probe and returns [`paths`].
pub fn build_probe() -> Result<(PathBuf, PathBuf)> {
    let built = cargo_build_probe_bin("rpvboot-probe")?;
    let (plain, gz) = paths();
    fs::create_dir_all(plain.parent().context("probe dir")?)?;
    fs::copy(&built, &plain).with_context(|| format!("copying {}", built.display()))?;
    let f = fs::File::create(&gz)?;
    let st = Command::new("gzip").args(["-9n", "-c"]).arg(&plain).stdout(f).status().context("running gzip")?;
    if !st.success() {
        bail!("gzip of the probe failed: {st}");
    }
    Ok((plain, gz))
}

/// Where the PVH probe kernel lands (`<target>/probe/rpvboot-probe-pvh`, docs/pvh-probe.md).
pub fn pvh_path() -> PathBuf {
    paths().0.with_file_name("rpvboot-probe-pvh")
}

/// Builds the PVH probe (an ELF with `XEN_ELFNOTE_PHYS32_ENTRY`, loaded at 16 MiB) and returns
/// [`pvh_path`].
pub fn build_probe_pvh() -> Result<PathBuf> {
    let built = cargo_build_probe_bin("rpvboot-probe-pvh")?;
    let out = pvh_path();
    fs::create_dir_all(out.parent().context("probe dir")?)?;
    fs::copy(&built, &out).with_context(|| format!("copying {}", built.display()))?;
    Ok(out)
}

/// The module file next to the probe (`<target>/probe/module.bin`), written on demand.
pub fn module_path() -> PathBuf {
    let p = paths().0.with_file_name("module.bin");
    let want = module_bytes();
    if fs::read(&p).ok().as_deref() != Some(&want[..]) {
        let _ = fs::write(&p, &want);
    }
    p
}

/// [`build_probe`] for the scenario list, which cannot fail: on error it says so and returns
/// the paths anyway (the scenario then fails when its kernel is staged).
pub fn probe_paths_for_scenarios() -> (PathBuf, PathBuf) {
    match build_probe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("e2e: building the probe kernel failed: {e:#}");
            paths()
        }
    }
}

/// The module put next to the probe on its disks: 100003 bytes (not a page multiple, so the
/// exact `mod_len` is checked, docs/handover.md P8) of a fixed pattern.
pub fn module_bytes() -> Vec<u8> {
    (0..100_003u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// FNV-1a 64 (what the probe computes over the module it was given).
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The probe's expectations for the module on its disks.
pub fn module_word() -> String {
    let m = module_bytes();
    format!("probe.mod={}:{:x}", m.len(), fnv1a(&m))
}

/// `menu.lst` of the probe disks: the gzipped probe with the module (default), the plain
/// probe as fallback. Entry 0 of the fallback disk names a missing kernel and entry 1 a
/// corrupt one, so only the fallback chain reaches the probe.
fn menu_lst(fallback_test: bool) -> String {
    let w = module_word();
    if fallback_test {
        format!(
            "default 0\nfallback 1 2\ntimeout 0\n\
             title missing kernel\n  kernel /no-such-kernel.gz {w}\n\
             title corrupt kernel\n  kernel /corrupt.gz {w}\n\
             title probe (fallback)\n  kernel /probe {w}\n  module /module.bin\n"
        )
    } else {
        format!(
            "default 0\nfallback 1\ntimeout 0\n\
             title probe (gzip)\n  kernel /probe.gz {w}\n  module /module.bin\n\
             title probe (plain)\n  kernel /probe {w}\n  module /module.bin\n"
        )
    }
}

/// The files of a probe disk: `/grub/menu.lst`, `/probe`, `/probe.gz`, `/module.bin`,
/// `/corrupt.gz` (a gzip header followed by garbage).
fn write_tree(tree: &std::path::Path, cfg: ProbeCfg) -> Result<()> {
    let (plain, gz) = build_probe()?;
    if tree.exists() {
        fs::remove_dir_all(tree)?;
    }
    fs::create_dir_all(tree)?;
    match cfg {
        ProbeCfg::MenuLst | ProbeCfg::Fallback => {
            fs::create_dir_all(tree.join("grub"))?;
            fs::write(tree.join("grub/menu.lst"), menu_lst(matches!(cfg, ProbeCfg::Fallback)))?;
        }
        ProbeCfg::GrubCfg => {
            fs::create_dir_all(tree.join("boot/grub"))?;
            let w = module_word();
            let cfg = format!(
                "set timeout=0\nset default=0\nmenuentry \"probe\" {{\n  linux /probe.gz {w}\n  initrd /module.bin\n}}\n"
            );
            fs::write(tree.join("boot/grub/grub.cfg"), cfg)?;
        }
        ProbeCfg::BootCfg => {
            fs::write(tree.join("boot.cfg"), "banner=probe\ntimeout=0\nmenu=Boot the probe:load /module.bin;boot\n")?;
            fs::copy(&gz, tree.join("netbsd.gz"))?;
        }
    }
    fs::copy(&plain, tree.join("probe"))?;
    fs::copy(&gz, tree.join("probe.gz"))?;
    fs::write(tree.join("module.bin"), module_bytes())?;
    let mut bad = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    bad.extend((0..5000u32).map(|i| (i * 7 + 3) as u8));
    fs::write(tree.join("corrupt.gz"), bad)?;
    Ok(())
}

/// Which configuration file a probe disk carries.
#[derive(Clone, Copy, Debug)]
pub enum ProbeCfg {
    /// `/grub/menu.lst` (default probe.gz + module, fallback plain probe).
    MenuLst,
    /// `/grub/menu.lst` whose default and first fallback cannot boot.
    Fallback,
    /// `/boot/grub/grub.cfg`: `linux /probe.gz ...` + `initrd /module.bin`.
    GrubCfg,
    /// NetBSD `/boot.cfg`: `load /module.bin;boot` (so `/netbsd`, then `/netbsd.gz`, the probe).
    BootCfg,
}

/// Filesystems the probe disks are made with (by the real tools).
#[derive(Clone, Copy, Debug)]
pub enum ProbeFs {
    /// mke2fs -t ext2.
    Ext2,
    /// makefs -t ffs -o version=1 (FFSv1, NetBSD's classic UFS1).
    Ffs1,
    /// makefs -t ffs -o version=2.
    Ffs2,
    /// mkfs.fat + mcopy.
    Fat,
}

/// Partition maps around the filesystem.
#[derive(Clone, Copy, Debug)]
pub enum ProbeMap {
    /// The filesystem is the whole disk.
    Bare,
    /// MBR (sfdisk), one partition at 1 MiB.
    Mbr,
    /// GPT (sfdisk), one partition at 1 MiB.
    Gpt,
    /// NetBSD disklabel at sector 1 of a bare disk, `a` = the FFS at sector 0 (FFS only).
    Disklabel,
    /// MBR partition of type 0xA9 at 1 MiB holding a NetBSD disklabel whose `a` is the FFS.
    MbrDisklabel,
}

const FS_MIB: u64 = 16;

pub fn make_fs(kind: ProbeFs, tree: &std::path::Path, img: &std::path::Path) -> Result<()> {
    let _ = fs::remove_file(img);
    let size = format!("{FS_MIB}m");
    match kind {
        ProbeFs::Ext2 => run(Command::new("mke2fs")
            .args(["-q", "-F", "-t", "ext2", "-d"])
            .arg(tree)
            .arg(img)
            .arg(format!("{FS_MIB}M"))),
        ProbeFs::Ffs1 | ProbeFs::Ffs2 => {
            let v = if matches!(kind, ProbeFs::Ffs1) { "version=1" } else { "version=2" };
            run(Command::new("makefs").args(["-t", "ffs", "-B", "le", "-o", v, "-s", &size]).arg(img).arg(tree))
        }
        ProbeFs::Fat => {
            run(Command::new("mkfs.fat").args(["-C", "-n", "PROBE"]).arg(img).arg((FS_MIB * 1024).to_string()))?;
            let mut c = Command::new("mcopy");
            c.args(["-s", "-i"]).arg(img);
            for e in fs::read_dir(tree)? {
                c.arg(e?.path());
            }
            c.arg("::/");
            run(&mut c)
        }
    }
}

/// Builds a probe disk (cached by name in `target/e2e/images/`; rebuilt every run, it is
/// small) and returns its path.
pub fn probe_disk(kind: ProbeFs, map: ProbeMap, cfg: ProbeCfg) -> Result<PathBuf> {
    let dir = crate::util::e2e_dir().join("images");
    fs::create_dir_all(&dir)?;
    let name = format!("probe-{kind:?}-{map:?}-{cfg:?}").to_lowercase();
    let tree = dir.join(format!("{name}.tree"));
    write_tree(&tree, cfg)?;
    let fsimg = dir.join(format!("{name}.fs"));
    make_fs(kind, &tree, &fsimg)?;
    let out = dir.join(format!("{name}.img"));
    match map {
        ProbeMap::Bare => {
            fs::rename(&fsimg, &out)?;
        }
        ProbeMap::Disklabel => {
            let fs_secs = (FS_MIB << 20) / 512;
            let total = fs_secs + 2048;
            fs::rename(&fsimg, &out)?;
            let f = fs::OpenOptions::new().write(true).open(&out)?;
            f.set_len(total * 512)?;
            let label = testimages::disk::disklabel_bytes(
                512,
                total as u32,
                4,
                &[(0, fs_secs as u32, 0, 7), (2, total as u32, 0, 0), (3, total as u32, 0, 0)],
            );
            let mut f = f;
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(512))?;
            std::io::Write::write_all(&mut f, &label)?;
        }
        ProbeMap::Mbr | ProbeMap::Gpt | ProbeMap::MbrDisklabel => {
            let _ = fs::remove_file(&out);
            let f = fs::File::create(&out)?;
            f.set_len((FS_MIB + 2) << 20)?;
            drop(f);
            let (label, ty) = match (map, kind) {
                (ProbeMap::MbrDisklabel, _) => ("dos", "a9"),
                (ProbeMap::Mbr, ProbeFs::Fat) => ("dos", "6"),
                (ProbeMap::Mbr, ProbeFs::Ffs1 | ProbeFs::Ffs2) => ("dos", "a9"),
                (ProbeMap::Mbr, _) => ("dos", "83"),
                (_, ProbeFs::Ffs1 | ProbeFs::Ffs2) => ("gpt", "49F48D5A-B10E-11DC-B99B-0019D1879648"),
                (_, ProbeFs::Fat) => ("gpt", "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"),
                _ => ("gpt", "0FC63DAF-8483-4772-8E79-3D69D8477DE4"),
            };
            let script = format!("label: {label}\nstart=2048, size={}, type={ty}\n", FS_MIB * 2048);
            let mut child = Command::new("sfdisk")
                .args(["--quiet", "--no-reread", "--no-tell-kernel"])
                .arg(&out)
                .stdin(std::process::Stdio::piped())
                .spawn()
                .context("running sfdisk")?;
            std::io::Write::write_all(child.stdin.as_mut().context("sfdisk stdin")?, script.as_bytes())?;
            let st = child.wait()?;
            if !st.success() {
                bail!("sfdisk {} failed: {st}", out.display());
            }
            let data = fs::read(&fsimg)?;
            let mut f = fs::OpenOptions::new().write(true).open(&out)?;
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(1 << 20))?;
            std::io::Write::write_all(&mut f, &data)?;
            if matches!(map, ProbeMap::MbrDisklabel) {
                // Offsets in a disklabel inside an MBR partition are absolute (NetBSD).
                let fs_secs = (FS_MIB << 20) / 512;
                let total = (FS_MIB + 2) * 2048;
                let label = testimages::disk::disklabel_bytes(
                    512,
                    total as u32,
                    4,
                    &[(0, fs_secs as u32, 2048, 7), (2, fs_secs as u32, 2048, 0), (3, total as u32, 0, 0)],
                );
                std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(2049 * 512))?;
                std::io::Write::write_all(&mut f, &label)?;
            }
            let _ = fs::remove_file(&fsimg);
        }
    }
    Ok(out)
}

/// Disk recipes for the e2e scenarios (`Disk::Recipe` takes plain fns).
pub fn disk_ext2_bare() -> Result<PathBuf> {
    probe_disk(ProbeFs::Ext2, ProbeMap::Bare, ProbeCfg::MenuLst)
}
/// FFSv1 in an MBR partition of type 0xA9 (no disklabel).
pub fn disk_ffs1_mbr() -> Result<PathBuf> {
    probe_disk(ProbeFs::Ffs1, ProbeMap::Mbr, ProbeCfg::MenuLst)
}
/// FFSv2 in a GPT NetBSD-FFS partition.
pub fn disk_ffs2_gpt() -> Result<PathBuf> {
    probe_disk(ProbeFs::Ffs2, ProbeMap::Gpt, ProbeCfg::MenuLst)
}
/// FFSv2, bare.
pub fn disk_ffs2_bare() -> Result<PathBuf> {
    probe_disk(ProbeFs::Ffs2, ProbeMap::Bare, ProbeCfg::MenuLst)
}
/// FAT in an MBR partition.
pub fn disk_fat_mbr() -> Result<PathBuf> {
    probe_disk(ProbeFs::Fat, ProbeMap::Mbr, ProbeCfg::MenuLst)
}
/// ext2, bare, with the missing/corrupt default entries.
pub fn disk_fallback() -> Result<PathBuf> {
    probe_disk(ProbeFs::Ext2, ProbeMap::Bare, ProbeCfg::Fallback)
}
/// ext2 (bare) with only `/boot/grub/grub.cfg`.
pub fn disk_grubcfg() -> Result<PathBuf> {
    probe_disk(ProbeFs::Ext2, ProbeMap::Bare, ProbeCfg::GrubCfg)
}
/// FFSv2 in an MBR partition with only NetBSD's `/boot.cfg` and `/netbsd.gz`.
pub fn disk_bootcfg() -> Result<PathBuf> {
    probe_disk(ProbeFs::Ffs2, ProbeMap::Mbr, ProbeCfg::BootCfg)
}
/// The GRUB 2 configuration pvgrub2 finds on [`disk_pvgrub2`] (its embedded config searches for
/// `/boot/grub/grub.cfg`): Debian's kernel and the test initrd, with a word on the command line
/// that the initrd prints back (`DOMU-CMDLINE:`), so the scenario sees who booted Linux.
const PVGRUB2_GRUB_CFG: &str = "set timeout=0
set default=0
menuentry \"linux-via-pvgrub2\" {
  echo \"PVGRUB2: loading Linux from the disk rpvboot read\"
  linux /boot/vmlinuz console=hvc0 booted.by=pvgrub2
  initrd /boot/initrd.gz
}
";

/// ext2 (bare): `/grub/menu.lst` whose only entry's kernel is Debian's pvgrub2 image (grub-xen-bin,
/// linked at VIRT_BASE 0, built by setup); the `/boot/grub/grub.cfg` pvgrub2 then reads, booting
/// `/boot/vmlinuz` (Debian's) + `/boot/initrd.gz` (the e2e initrd); `/hello.txt` for the
/// initrd's disk-read marker. No fallback: only pvgrub2 can boot Linux from it.
pub fn disk_pvgrub2() -> Result<PathBuf> {
    let a = crate::setup::ensure_e2e()?;
    let dir = crate::util::e2e_dir().join("images");
    let tree = dir.join("pvgrub2-linux.tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(tree.join("grub"))?;
    fs::create_dir_all(tree.join("boot/grub"))?;
    fs::write(tree.join("grub/menu.lst"), "default 0\ntimeout 0\ntitle pvgrub2\n  kernel /pvgrub2.xen\n")?;
    fs::write(tree.join("boot/grub/grub.cfg"), PVGRUB2_GRUB_CFG)?;
    fs::write(tree.join("hello.txt"), "DISK-FILE-CONTENT-42\n")?;
    fs::copy(&a.pvgrub2, tree.join("pvgrub2.xen"))?;
    fs::copy(&a.vmlinuz, tree.join("boot/vmlinuz"))?;
    fs::copy(&a.domu_initrd, tree.join("boot/initrd.gz"))?;
    let img = dir.join("pvgrub2-linux.img");
    let _ = fs::remove_file(&img);
    run(Command::new("mke2fs").args(["-q", "-F", "-t", "ext2", "-d"]).arg(&tree).arg(&img).arg("64M"))?;
    Ok(img)
}
/// FFSv2 on a bare disk with a NetBSD disklabel (`(hd0,a)`).
pub fn disk_ffs2_disklabel() -> Result<PathBuf> {
    probe_disk(ProbeFs::Ffs2, ProbeMap::Disklabel, ProbeCfg::MenuLst)
}
/// FFSv1 in an MBR 0xA9 partition with a NetBSD disklabel (`(hd0,0,a)`).
pub fn disk_ffs1_mbr_disklabel() -> Result<PathBuf> {
    probe_disk(ProbeFs::Ffs1, ProbeMap::MbrDisklabel, ProbeCfg::MenuLst)
}

/// Builds the probe with `--features pad` and `pad_var=value` in its own target directory
/// `dir` (so that padded and plain probes do not rebuild each other); returns the ELF.
fn build_padded_probe(dir: &str, pad_var: &str, value: &std::ffi::OsStr) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let tdir = target_dir().join(dir);
    run(Command::new(cargo)
        .current_dir(project_root())
        .env(pad_var, value)
        .args([
            "build",
            "--quiet",
            "--package",
            "rpvboot-probe",
            "--bin",
            "rpvboot-probe",
            "--features",
            "pad",
            "--target",
            PV_TARGET,
            "--release",
            "--target-dir",
        ])
        .arg(&tdir))?;
    Ok(tdir.join(PV_TARGET).join("release").join("rpvboot-probe"))
}

/// The probe with a 34 MiB page-stamped data section (`--features pad`, see
/// testimages/probe/build.rs): `(plain, gzipped)` in `<target>/probe/`. Its PT_LOAD file bytes
/// exceed 32 MiB (issue 8: "a kernel whose uncompressed image is > 32 MiB"); gzip -9n like
/// `netbsd.gz`. Built in its own target directory so that it and the plain probe do not
/// rebuild each other.
pub fn build_probe_big() -> Result<(PathBuf, PathBuf)> {
    let built = build_padded_probe("probe-big-build", "PROBE_PAD_MIB", "34".as_ref())?;
    let d = target_dir().join("probe");
    let (plain, gz) = (d.join("rpvboot-probe-big"), d.join("rpvboot-probe-big.gz"));
    fs::create_dir_all(&d)?;
    fs::copy(&built, &plain).with_context(|| format!("copying {}", built.display()))?;
    let f = fs::File::create(&gz)?;
    let st = Command::new("gzip").args(["-9n", "-c"]).arg(&plain).stdout(f).status().context("running gzip")?;
    if !st.success() {
        bail!("gzip of the big probe failed: {st}");
    }
    Ok((plain, gz))
}

/// ext2 (bare): `/grub/menu.lst` with the big probe (gzipped) as entry 0 and the plain probe
/// (gzipped) as its fallback, neither with a module. In 64 MiB the big one must boot; in
/// 32 MiB it cannot fit and must be refused with the reason, then the fallback boots.
pub fn disk_big() -> Result<PathBuf> {
    big_disk(true)
}

/// [`disk_big`] with the big probe uncompressed (a 34 MiB file, read as is: it must not be
/// held twice).
pub fn disk_big_plain() -> Result<PathBuf> {
    big_disk(false)
}

fn big_disk(gzipped: bool) -> Result<PathBuf> {
    let (big, big_gz) = build_probe_big()?;
    let (_, gz) = build_probe()?;
    let dir = crate::util::e2e_dir().join("images");
    let name = if gzipped { "probe-big" } else { "probe-big-plain" };
    let tree = dir.join(format!("{name}.tree"));
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(tree.join("grub"))?;
    let (file, what) = if gzipped { ("probe-big.gz", "34 MiB data") } else { ("probe-big", "plain, 34 MiB data") };
    fs::write(
        tree.join("grub/menu.lst"),
        format!(
            "default 0\nfallback 1\ntimeout 0\n\
             title big probe ({what})\n  kernel /{file} probe.mod=none\n\
             title probe (fallback)\n  kernel /probe.gz probe.mod=none\n"
        ),
    )?;
    fs::copy(if gzipped { &big_gz } else { &big }, tree.join(file))?;
    fs::copy(&gz, tree.join("probe.gz"))?;
    let img = dir.join(format!("{name}.img"));
    let _ = fs::remove_file(&img);
    run(Command::new("mke2fs").args(["-q", "-F", "-t", "ext2", "-d"]).arg(&tree).arg(&img).arg("64M"))?;
    Ok(img)
}

/// The probe whose data segment is Debian's decompressed kernel (`--features pad` with
/// `PROBE_PAD_FILE` = setup's `vmlinux-dom0`, the xz payload of `/boot/vmlinuz`), and that
/// file compressed as Debian compresses its kernel. Issue 10 figure 1 with a kernel the size
/// of a real one: both loaders read and decompress the same ~8 MiB xz file, the probe
/// stamps its entry time and checks the payload's FNV-1a (`RPVBOOT-PROBE PAYLOAD ok`).
pub struct VmlinuxProbe {
    /// [`VMLINUX_XZ_ARGS`] of the ELF (the payload plus the probe's few KiB), which is kept
    /// next to it as `rpvboot-probe-vmlinux`.
    pub xz: PathBuf,
    /// Bytes of the payload (the probe's `PAYLOAD ok bytes=`).
    pub payload_len: u64,
}

/// How Linux's `scripts/xz_wrap.sh` compresses an x86 kernel (Debian's bzImage payload):
/// CRC32 check, the x86 BCJ filter, LZMA2 preset 6 with a 32 MiB dictionary, one thread (one
/// block, like the kernel's). Both rpvboot's xz decoder and pvgrub2's xzio take BCJ x86.
pub const VMLINUX_XZ_ARGS: [&str; 5] = ["--check=crc32", "--x86", "--lzma2=preset=6,dict=32MiB", "-T1", "-c"];

/// `memory=` for the vmlinux probe, the same for both loaders (the bench's figure 1 and the
/// `ho-vmlinux-xz` scenario). `cargo xtask bench --fig1-mem` found the smallest on its grid
/// to be 104 MiB for pvgrub2, and for rpvboot 112 MiB while it held xz's 32 MiB dictionary
/// next to the 63 MiB output, 80 MiB since xz decodes into the output (issue 23); 128 so that
/// neither is measured at its edge.
pub const VMLINUX_MEM_MIB: u32 = 128;

/// Builds [`VmlinuxProbe`] into `<target>/probe/` (the xz is cached by the plain file's hash:
/// compressing 63 MiB takes half a minute).
pub fn build_probe_vmlinux() -> Result<VmlinuxProbe> {
    let art = crate::setup::ensure_e2e()?;
    let payload_len = fs::metadata(&art.vmlinux_dom0).with_context(|| art.vmlinux_dom0.display().to_string())?.len();
    let built = build_padded_probe("probe-vmlinux-build", "PROBE_PAD_FILE", art.vmlinux_dom0.as_os_str())?;
    let d = target_dir().join("probe");
    fs::create_dir_all(&d)?;
    let plain = d.join("rpvboot-probe-vmlinux");
    let xz = d.join("rpvboot-probe-vmlinux.xz");
    let elf = fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    let key = format!("{:x} {}\n", crate::util::fnv64(&[&elf]), VMLINUX_XZ_ARGS.join(" "));
    let stamp = d.join("rpvboot-probe-vmlinux.xz.stamp");
    if !(xz.is_file() && plain.is_file() && crate::util::stamp_ok(&stamp, &key)) {
        fs::write(&plain, &elf).with_context(|| format!("writing {}", plain.display()))?;
        let f = fs::File::create(&xz)?;
        let st = Command::new("xz").args(VMLINUX_XZ_ARGS).arg(&plain).stdout(f).status().context("running xz")?;
        if !st.success() {
            bail!("xz of the vmlinux probe failed: {st}");
        }
        crate::util::write_stamp(&stamp, &key)?;
    }
    Ok(VmlinuxProbe { xz, payload_len })
}

/// ext2 (bare) with `/grub/menu.lst` booting [`VmlinuxProbe::xz`] (rpvboot's e2e scenario).
/// Named `vmlinux-probe*`, not `probe-*`: inspect's `e2e_probe_images` test dry-runs every
/// `probe-*.img` and expects gzip or plain kernels.
pub fn disk_vmlinux_xz() -> Result<PathBuf> {
    let p = build_probe_vmlinux()?;
    let dir = crate::util::e2e_dir().join("images");
    let tree = dir.join("vmlinux-probe.tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(tree.join("grub"))?;
    fs::write(
        tree.join("grub/menu.lst"),
        "default 0\ntimeout 0\ntitle probe + Debian vmlinux payload (xz)\n  kernel /probe-vmlinux.xz probe.mod=none\n",
    )?;
    fs::copy(&p.xz, tree.join("probe-vmlinux.xz"))?;
    let img = dir.join("vmlinux-probe.img");
    let _ = fs::remove_file(&img);
    run(Command::new("mke2fs").args(["-q", "-F", "-t", "ext2", "-d"]).arg(&tree).arg(&img).arg("32M"))?;
    Ok(img)
}

/// ext2 (bare) with the vmlinux probe uncompressed and one payload byte flipped (in the middle
/// of its RW PT_LOAD's file bytes): the probe must report `FAIL payload checksum`, so a
/// wrong load cannot pass for a checked one (the `ho-vmlinux-corrupt` scenario).
pub fn disk_vmlinux_corrupt() -> Result<PathBuf> {
    build_probe_vmlinux()?;
    let plain = target_dir().join("probe").join("rpvboot-probe-vmlinux");
    let mut elf = fs::read(&plain).with_context(|| format!("reading {}", plain.display()))?;
    let (off, len) = rw_load_file_range(&elf).context("vmlinux probe: no RW PT_LOAD")?;
    let mid = off.checked_add(len / 2).context("vmlinux probe: segment offset overflows")?;
    let byte = elf.get_mut(usize::try_from(mid)?).context("vmlinux probe: segment beyond the file")?;
    *byte ^= 0x5a;
    let dir = crate::util::e2e_dir().join("images");
    let tree = dir.join("vmlinux-probe-corrupt.tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(tree.join("grub"))?;
    fs::write(
        tree.join("grub/menu.lst"),
        "default 0\ntimeout 0\ntitle vmlinux probe, one payload byte flipped\n  kernel /probe-vmlinux probe.mod=none\n",
    )?;
    fs::write(tree.join("probe-vmlinux"), &elf)?;
    let img = dir.join("vmlinux-probe-corrupt.img");
    let _ = fs::remove_file(&img);
    run(Command::new("mke2fs").args(["-q", "-F", "-t", "ext2", "-d"]).arg(&tree).arg(&img).arg("80M"))?;
    Ok(img)
}

/// `(p_offset, p_filesz)` of the first writable PT_LOAD of an ELF64 LE file.
fn rw_load_file_range(elf: &[u8]) -> Option<(u64, u64)> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o.checked_add(2)?)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o.checked_add(4)?)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o.checked_add(8)?)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let (phentsize, phnum) = (usize::from(u16_at(0x36)?), usize::from(u16_at(0x38)?));
    (0..phnum).find_map(|i| {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        // PT_LOAD (1) with PF_W (2).
        (u32_at(ph)? == 1 && u32_at(ph + 4)? & 2 != 0).then_some((u64_at(ph + 8)?, u64_at(ph + 32)?))
    })
}

#[cfg(test)]
mod tests {
    use super::rw_load_file_range;

    /// An ELF64 header with two program headers, R+X then R+W PT_LOADs.
    #[test]
    fn finds_the_writable_load() {
        let mut elf = vec![0u8; 64 + 2 * 56];
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        for (i, (flags, off, size)) in [(5u32, 0x1000u64, 0x10u64), (6, 0x6000, 0x3edb088)].into_iter().enumerate() {
            let ph = 64 + i * 56;
            elf[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
            elf[ph + 4..ph + 8].copy_from_slice(&flags.to_le_bytes());
            elf[ph + 8..ph + 16].copy_from_slice(&off.to_le_bytes());
            elf[ph + 32..ph + 40].copy_from_slice(&size.to_le_bytes());
        }
        assert_eq!(rw_load_file_range(&elf), Some((0x6000, 0x3edb088)));
        assert_eq!(rw_load_file_range(&elf[..100]), None);
    }
}
