//! Issue 24: Debian's Linux booted as a PVH guest by a bootloader, in the same QEMU boot as
//! `linux-pvh-direct` (xl's own PVH builder, no bootloader; docs/pvh-linux.md):
//!
//! - `linux-pvh-rpvboot`: rpvboot as the `type = "pvh"` domU's kernel reads grub.cfg from an
//!   ext2 disk and starts Debian's bzImage through its `XEN_ELFNOTE_PHYS32_ENTRY` (rpvboot's
//!   PVH handover, docs/pvh-handover.md), with the e2e initrd as the start info's module;
//! - `linux-pvh-pvgrub2`: Debian's pvgrub2 built for `i386-xen_pvh` (the image of
//!   `pvgrub2-pvh`) boots the same kernel and initrd from the same kind of disk, the
//!   comparison the issue asks for.
//!
//! The initrd's lines are the oracle: `DOMU-CMDLINE:` echoes `/proc/cmdline` (the disk's
//! grub.cfg names who booted it), `DOMU-DISK-READ:` is `hello.txt` read through blkfront, and
//! the initrd running at all shows the module arrived. Both need bookworm's QEMU 7.2 and the
//! CPUID mask of `linux-pvh-direct` ([`PVH_CPUID`], docs/pvh-linux.md §3).

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use super::scenarios::{Disk, Kernel, QemuKind, Scenario, PVH_CPUID};
use crate::util::{e2e_dir, run, write_file};

/// The word on the kernel command line naming the bootloader (`DOMU-CMDLINE:` shows it).
fn via_word(who: &str) -> String {
    format!("pvh-linux-via={who}")
}

/// A 64 MiB ext2 (no partition table) as `images::linux_boot_disk`'s: `hello.txt`,
/// `/boot/vmlinuz`, `/boot/initrd.gz`, and a `/boot/grub/grub.cfg` whose one entry boots them
/// with [`via_word`]`(who)` on the command line.
fn disk(who: &str) -> Result<PathBuf> {
    let dir = e2e_dir().join("images");
    let name = format!("linux-pvh-{who}");
    let tree = super::images::linux_tree(&dir.join(format!("{name}.tree")))?;
    let cfg = format!(
        "set timeout=0\nset default=0\nmenuentry \"linux-pvh-{who}\" {{\n  echo \"PVH-LINUX: loading\"\n  \
         linux /boot/vmlinuz console=hvc0 earlyprintk=xen {}\n  initrd /boot/initrd.gz\n}}\n",
        via_word(who)
    );
    write_file(&tree.join("boot/grub/grub.cfg"), &cfg, 0o644)?;
    let img = dir.join(format!("{name}.img"));
    let _ = fs::remove_file(&img);
    run(Command::new("mke2fs").args(["-q", "-F", "-t", "ext2", "-d"]).arg(&tree).arg(&img).arg("64M"))?;
    Ok(img)
}

fn disk_rpvboot() -> Result<PathBuf> {
    disk("rpvboot")
}

fn disk_pvgrub2() -> Result<PathBuf> {
    disk("pvgrub2")
}

/// A PVH domU under bookworm's QEMU with the Linux CPUID mask, booting Linux from `disk`.
fn pvh_linux(name: &str, kernel: Kernel, disk: fn() -> Result<PathBuf>, who: &str) -> Scenario {
    Scenario {
        pvh: true,
        kernel,
        disks: vec![Disk::Recipe(disk)],
        memory_mib: 256,
        timeout_secs: 240,
        default: false,
        qemu: QemuKind::Bookworm,
        xl_extra: vec![PVH_CPUID.to_string()],
        ..Scenario::rpvboot(name, "")
            .expect(r"DOMU-INIT-START")
            .expect(r"DOMU-DISK-READ: DISK-FILE-CONTENT-42")
            .expect(&format!(r"DOMU-CMDLINE: .*console=hvc0 earlyprintk=xen {}", regex::escape(&via_word(who))))
            .expect(r"DOMU-BOOTED-OK")
    }
}

/// The end of Debian's Linux image in physical memory (its last `PT_LOAD`'s `p_paddr + p_memsz`,
/// page-rounded), as `readelf -lW` reads `vmlinux-dom0` (the same package's kernel as
/// `vmlinuz`); `None` when setup has not run or readelf is missing.
fn linux_image_end() -> Option<u64> {
    let elf = crate::util::e2e_dir().join("out/vmlinux-dom0");
    let out = Command::new("readelf").arg("-lW").arg(&elf).output().ok()?;
    let hex = |w: &str| u64::from_str_radix(w.trim_start_matches("0x"), 16).ok();
    let ends = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.first() == Some(&"LOAD") && w.len() >= 6).then(|| Some(hex(w[3])? + hex(w[5])?)).flatten()
        })
        .max()?;
    Some(ends.next_multiple_of(4096))
}

/// Where Xen's PVH builder puts Linux's start info and initrd: Linux has a non-zero
/// `XEN_ELFNOTE_MOD_START_PFN`, so libxc loads the modules after the start-info page, which
/// follows the image (docs/pvh-linux.md §6; measured: xl's `linux-pvh-direct` gets its
/// initrd at 0x4a01000, one page past 6.1.0-57's image). rpvboot must place them the same.
fn xen_linux_layout_re() -> Option<String> {
    let end = linux_image_end()?;
    Some(format!(r"^rpvboot: PVH layout: start info {end:#x}, modules \[{:x}\], ", end + 4096))
}

/// The scenarios of this file (module docs).
pub fn scenarios() -> Vec<Scenario> {
    let mut rpv = Scenario {
        extra: "rpvboot.verbose".into(),
        ..pvh_linux("linux-pvh-rpvboot", Kernel::Rpvboot, disk_rpvboot, "rpvboot")
    };
    match xen_linux_layout_re() {
        Some(re) => rpv = rpv.expect(&re),
        None => {
            eprintln!("e2e: linux-pvh-rpvboot: no target/e2e/out/vmlinux-dom0 or readelf: its layout is not checked")
        }
    }
    vec![
        rpv.expect(r#"rpvboot: booting entry 0 "linux-pvh-rpvboot""#)
            .expect(r"^rpvboot: starting the kernel \(PVH, entry 0x[0-9a-f]+\)"),
        pvh_linux("linux-pvh-pvgrub2", Kernel::Recipe(super::pvh_probe::pvgrub2_pvh_image), disk_pvgrub2, "pvgrub2")
            .expect(r"PVGRUB2-PVH: embedded config running"),
    ]
}
