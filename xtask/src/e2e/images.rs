//! Disk images the e2e scenarios and the demo attach (built on the host, cached in
//! `target/e2e/images/`, rebuilt when their inputs are newer).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

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
    let tree = dir.join("linux-boot.tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    mkdirp(&tree.join("boot/grub"))?;
    write_file(&tree.join("hello.txt"), "DISK-FILE-CONTENT-42\n", 0o644)?;
    util::copy(&a.vmlinuz, &tree.join("boot/vmlinuz"))?;
    util::copy(&a.domu_initrd, &tree.join("boot/initrd.gz"))?;
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
