//! Disk images the e2e scenarios and the demo attach (built on the host, cached in
//! `target/e2e/images/`, rebuilt when their inputs are newer).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::setup;
use crate::util::{self, e2e_dir, mkdirp, run, write_file};

/// GRUB 2 config read by pvgrub2 (and later by rpvboot's grub.cfg support).
const GRUB_CFG: &str = "set timeout=0
set default=0
menuentry \"linux-from-xvda\" {
  echo \"PVGRUB2: loading kernel from xvda\"
  linux /boot/vmlinuz console=hvc0
  initrd /boot/initrd.gz
}
";

/// GRUB-legacy menu read by rpvboot.
const MENU_LST: &str = "default 0
timeout 5

title Debian Linux (demo)
  root (hd0)
  kernel /boot/vmlinuz console=hvc0
  initrd /boot/initrd.gz
";

fn newer(out: &Path, inputs: &[&Path]) -> bool {
    let m = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    match m(out) {
        Some(o) => inputs.iter().all(|i| m(i).is_some_and(|t| t <= o)),
        None => false,
    }
}

/// A fresh tree at `tree` with what every Linux boot disk holds: `hello.txt`
/// (`DISK-FILE-CONTENT-42`, which the e2e initrd reads back), `/boot/vmlinuz`, `/boot/initrd.gz`
/// and an empty `/boot/grub` for the caller's configuration.
pub fn linux_tree(tree: &Path) -> Result<PathBuf> {
    let a = setup::ensure_e2e()?;
    if tree.exists() {
        fs::remove_dir_all(tree)?;
    }
    mkdirp(&tree.join("boot/grub"))?;
    write_file(&tree.join("hello.txt"), "DISK-FILE-CONTENT-42\n", 0o644)?;
    util::copy(&a.vmlinuz, &tree.join("boot/vmlinuz"))?;
    util::copy(&a.domu_initrd, &tree.join("boot/initrd.gz"))?;
    Ok(tree.to_path_buf())
}

/// A 64 MiB ext2 filesystem (no partition table) holding `hello.txt`
/// (`DISK-FILE-CONTENT-42`), `/boot/vmlinuz`, `/boot/initrd.gz` (the e2e Linux domU, which
/// prints `DOMU-BOOTED-OK`), `/boot/grub/grub.cfg` and `/boot/grub/menu.lst`.
pub fn linux_boot_disk() -> Result<PathBuf> {
    let a = setup::ensure_e2e()?;
    let dir = e2e_dir().join("images");
    let img = dir.join("linux-boot.img");
    if newer(&img, &[&a.vmlinuz, &a.domu_initrd]) {
        return Ok(img);
    }
    let tree = linux_tree(&dir.join("linux-boot.tree"))?;
    write_file(&tree.join("boot/grub/grub.cfg"), GRUB_CFG, 0o644)?;
    write_file(&tree.join("boot/grub/menu.lst"), MENU_LST, 0o644)?;
    let tmp = dir.join("linux-boot.img.tmp");
    let _ = fs::remove_file(&tmp);
    run(Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-L", "rpvdemo", "-d"])
        .arg(&tree)
        .arg(&tmp)
        .arg("64M"))?;
    fs::rename(&tmp, &img)?;
    Ok(img)
}

/// UUID of the XFS /boot of [`linux_xfs_boot_disk`] (what its grub.cfg searches for).
pub const XFS_BOOT_UUID: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
/// UUID of the btrfs of [`linux_btrfs_layout_disk`].
pub const BTRFS_UUID: &str = "1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f0";

/// RHEL 7's layout of a separate XFS (v5) `/boot`, as its `grub2-mkconfig` writes it: the
/// filesystem holds `/vmlinuz-KVER`, `/initramfs-KVER.img` and `/grub2/grub.cfg`, which finds
/// itself with `search --fs-uuid` and boots with `linux16`/`initrd16`. Made with
/// `mkfs.xfs -p` (64 MiB: the XFS test-suite variables allow it below 300 MiB).
pub fn linux_xfs_boot_disk() -> Result<PathBuf> {
    let a = setup::ensure_e2e()?;
    let dir = e2e_dir().join("images");
    let img = dir.join("linux-xfs-boot.img");
    if newer(&img, &[&a.vmlinuz, &a.domu_initrd]) {
        return Ok(img);
    }
    let tree = dir.join("linux-xfs-boot.tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    mkdirp(&tree.join("grub2"))?;
    let k = &a.kver;
    util::copy(&a.vmlinuz, &tree.join(format!("vmlinuz-{k}")))?;
    util::copy(&a.domu_initrd, &tree.join(format!("initramfs-{k}.img")))?;
    let cfg = format!(
        "set default=\"0\"\nset timeout=0\n\
         menuentry 'Linux, with {k} (xfs /boot)' --class gnu-linux {{\n\
         \tinsmod xfs\n\
         \tset root='hd0'\n\
         \tsearch --no-floppy --fs-uuid --set=root {XFS_BOOT_UUID}\n\
         \tlinux16 /vmlinuz-{k} root=UUID=5f1b6d0c-0000-4000-8000-000000000000 ro console=hvc0\n\
         \tinitrd16 /initramfs-{k}.img\n}}\n"
    );
    write_file(&tree.join("grub2/grub.cfg"), &cfg, 0o644)?;
    let proto = dir.join("linux-xfs-boot.proto");
    fs::write(&proto, testimages::xfs::protofile(&tree).map_err(anyhow::Error::msg)?)?;
    let tmp = dir.join("linux-xfs-boot.img.tmp");
    let _ = fs::remove_file(&tmp);
    fs::File::create(&tmp)?.set_len(64 << 20)?;
    run(Command::new("mkfs.xfs")
        .envs([("TEST_DIR", "/tmp"), ("TEST_DEV", "/dev/null"), ("QA_CHECK_FS", "xfs")])
        .args(["-q", "-f", "-L", "boot", "-m", &format!("uuid={XFS_BOOT_UUID}"), "-p"])
        .arg(&proto)
        .arg(&tmp))?;
    fs::rename(&tmp, &img)?;
    Ok(img)
}

/// A distribution's btrfs layout (Debian/Ubuntu installer style): subvolumes `@` (the root
/// filesystem, also made the default subvolume) and `@home` at the top level, `/boot` a
/// directory of `@` written with zstd compression, and the grub.cfg `grub-mkconfig` writes
/// there: `search --fs-uuid`, `linux /@/boot/vmlinuz-KVER root=UUID=… rootflags=subvol=@`.
/// rpvboot's configuration search finds it at `/@/boot/grub/grub.cfg`. mkfs.btrfs 6.2
/// cannot make subvolumes, so this is written through a loop mount (root, loop devices);
/// mixed block groups (`-M`) keep the image at 48 MiB.
pub fn linux_btrfs_layout_disk() -> Result<PathBuf> {
    let a = setup::ensure_e2e()?;
    let dir = e2e_dir().join("images");
    let img = dir.join("linux-btrfs-layout.img");
    if newer(&img, &[&a.vmlinuz, &a.domu_initrd]) {
        return Ok(img);
    }
    let k = &a.kver;
    let tmp = dir.join("linux-btrfs-layout.img.tmp");
    let _ = fs::remove_file(&tmp);
    fs::File::create(&tmp)?.set_len(48 << 20)?;
    run(Command::new("mkfs.btrfs").args(["-q", "-f", "-M", "-U", BTRFS_UUID, "-L", "root"]).arg(&tmp))?;
    let mnt = dir.join("linux-btrfs-layout.mnt");
    mkdirp(&mnt)?;
    let fill = || -> Result<()> {
        run(Command::new("mount").args(["-t", "btrfs", "-o", "loop,compress-force=zstd"]).arg(&tmp).arg(&mnt))?;
        for sub in ["@", "@home"] {
            run(Command::new("btrfs").args(["-q", "subvolume", "create"]).arg(mnt.join(sub)))?;
        }
        mkdirp(&mnt.join("@/boot/grub"))?;
        util::copy(&a.vmlinuz, &mnt.join(format!("@/boot/vmlinuz-{k}")))?;
        util::copy(&a.domu_initrd, &mnt.join(format!("@/boot/initrd.img-{k}")))?;
        let cfg = format!(
            "set default=\"0\"\nset timeout=0\n\
             menuentry 'Debian GNU/Linux (btrfs, subvolume @)' --class debian {{\n\
             \tinsmod btrfs\n\
             \tsearch --no-floppy --fs-uuid --set=root {BTRFS_UUID}\n\
             \tlinux /@/boot/vmlinuz-{k} root=UUID={BTRFS_UUID} ro rootflags=subvol=@ console=hvc0\n\
             \tinitrd /@/boot/initrd.img-{k}\n}}\n"
        );
        write_file(&mnt.join("@/boot/grub/grub.cfg"), &cfg, 0o644)?;
        run(Command::new("btrfs").args(["subvolume", "set-default"]).arg(mnt.join("@")))?;
        Ok(())
    };
    let result = fill();
    let _ = Command::new("umount").arg(&mnt).output();
    let _ = fs::remove_dir(&mnt);
    result.context("building the btrfs layout image (needs root and loop devices)")?;
    fs::rename(&tmp, &img)?;
    Ok(img)
}
