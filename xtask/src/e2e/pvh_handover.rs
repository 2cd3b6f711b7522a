//! Issue 24: rpvboot as a `type = "pvh"` domU boots the PVH probe through the PVH boot ABI
//! (docs/pvh-handover.md). The probe is the oracle (docs/pvh-probe.md): it passes when Xen's
//! own PVH builder boots it (`pvh-probe-direct`), so it passing after rpvboot's handover means
//! rpvboot handed over what Xen hands over.
//!
//! - `pvh-boot-ffs`: FFSv2 disk, menu.lst, the probe without a module;
//! - `pvh-boot-ext-mod`: ext2 disk, the probe with `module /module.bin`; `probe.mod=` is the
//!   length and FNV-1a of the file that went into the image;
//! - `pvh-pv-only-fallback`: entry 0 is the PV probe (no `PHYS32_ENTRY`): refused with the
//!   reason, and the `fallback` entry (the PVH probe) boots;
//! - `pvh-boot-bad-mod`: must fail: the module's checksum on the command line is off by one, and
//!   the probe says so after rpvboot's handover.

use std::fs;
use std::path::PathBuf;

use anyhow::Result;

use super::scenarios::{Disk, Scenario};
use crate::probe::{self, ProbeFs};

/// Where Xen's own PVH builder put the start info for the probe (docs/pvh-probe.md §1,
/// measured in `pvh-probe-direct`/`-nomod`): right after the image, or after the 100003-byte
/// module. rpvboot places it as libxc does, so the probe must report the same address.
const XEN_START_INFO_NOMOD: &str = r"RPVBOOT-PROBE-PVH PASS .* start_info=0x1014000 ";
const XEN_START_INFO_MOD: &str = r"RPVBOOT-PROBE-PVH PASS .* start_info=0x102d000 ";

/// A PVH rpvboot domU with one disk.
fn pvh(name: &str, disk: fn() -> Result<PathBuf>) -> Scenario {
    Scenario { pvh: true, disks: vec![Disk::Recipe(disk)], timeout_secs: 120, ..Scenario::rpvboot(name, "") }
}

/// The command lines the menus give the probe (also what its PASS line must show).
fn ffs_cmd() -> String {
    String::from("probe.mod=none probe.mib=64 probe.name=pvh-boot-ffs pvh-from-ffs")
}
fn ext_cmd() -> String {
    format!("{} probe.mib=64 probe.name=pvh-boot-ext-mod pvh-from-ext", probe::module_word())
}
fn fallback_cmd() -> String {
    String::from("probe.mod=none probe.mib=64 probe.name=pvh-pv-only-fallback fell-back")
}

/// A disk of `kind` holding `menu` as `/grub/menu.lst`, the PVH probe as `/probe-pvh`, the PV
/// probe as `/probe.gz` and the module as `/module.bin`.
fn disk(name: &str, kind: ProbeFs, menu: &str) -> Result<PathBuf> {
    let pvh = probe::build_probe_pvh()?;
    let (_, gz) = probe::build_probe()?;
    let dir = crate::util::e2e_dir().join("images");
    let tree = dir.join(format!("{name}.tree"));
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(tree.join("grub"))?;
    fs::copy(&pvh, tree.join("probe-pvh"))?;
    fs::copy(&gz, tree.join("probe.gz"))?;
    fs::write(tree.join("module.bin"), probe::module_bytes())?;
    fs::write(tree.join("grub/menu.lst"), menu)?;
    let img = dir.join(format!("{name}.img"));
    probe::make_fs(kind, &tree, &img)?;
    Ok(img)
}

fn disk_ffs() -> Result<PathBuf> {
    let menu = format!("default 0\ntimeout 0\ntitle pvh probe\n  kernel /probe-pvh {}\n", ffs_cmd());
    disk("pvh-boot-ffs", ProbeFs::Ffs2, &menu)
}

fn disk_ext_mod() -> Result<PathBuf> {
    let menu = format!(
        "default 0\ntimeout 0\ntitle pvh probe + module\n  kernel /probe-pvh {}\n  module /module.bin\n",
        ext_cmd()
    );
    disk("pvh-boot-ext-mod", ProbeFs::Ext2, &menu)
}

fn disk_fallback() -> Result<PathBuf> {
    let menu = format!(
        "default 0\nfallback 1\ntimeout 0\ntitle pv probe\n  kernel /probe.gz probe.mod=none\ntitle pvh probe\n  kernel /probe-pvh {}\n",
        fallback_cmd()
    );
    disk("pvh-pv-only-fallback", ProbeFs::Ext2, &menu)
}

fn disk_bad_mod() -> Result<PathBuf> {
    let m = probe::module_bytes();
    // The right length, the checksum off by one: the probe must catch it after rpvboot's handover.
    let word = format!("probe.mod={}:{:x}", m.len(), probe::fnv1a(&m) ^ 1);
    let menu = format!(
        "default 0\ntimeout 0\ntitle pvh probe, wrong checksum\n  kernel /probe-pvh {word} probe.mib=64\n  module /module.bin\n"
    );
    disk("pvh-boot-bad-mod", ProbeFs::Ext2, &menu)
}

/// The scenarios of this file (module docs).
pub fn scenarios() -> Vec<Scenario> {
    let m = probe::module_bytes().len() as u64;
    let started = r"^rpvboot: starting the kernel \(PVH, entry 0x[0-9a-f]+\)";
    let entry = r"^RPVBOOT-PROBE-PVH ENTRY via=phys32 ebx=0x[0-9a-f]+ ";
    vec![
        pvh("pvh-boot-ffs", disk_ffs)
            .expect(r#"rpvboot: booting entry 0 "pvh probe""#)
            .expect(started)
            .expect(entry)
            .expect(&super::pvh_probe::pass_re("pvh-boot-ffs", 64, 0, 0, &ffs_cmd()))
            .expect(XEN_START_INFO_NOMOD),
        Scenario { extra: "rpvboot.verbose".into(), ..pvh("pvh-boot-ext-mod", disk_ext_mod) }
            .expect(r#"rpvboot: booting entry 0 "pvh probe \+ module""#)
            .expect(r"^rpvboot: PVH layout: start info 0x102d000, modules \[1014000\], .* \d+ steps, \d+ sources relocated")
            .expect(started)
            .expect(entry)
            .expect(&super::pvh_probe::pass_re("pvh-boot-ext-mod", 64, 1, m, &ext_cmd()))
            .expect(XEN_START_INFO_MOD),
        pvh("pvh-pv-only-fallback", disk_fallback)
            .expect(r#"entry 0 "pv probe" cannot boot: kernel: not a PVH-capable kernel: no PHYS32_ENTRY Xen ELF note: a PV-only kernel"#)
            .expect(r#"rpvboot: booting entry 1 "pvh probe""#)
            .expect(started)
            .expect(entry)
            .expect(&super::pvh_probe::pass_re("pvh-pv-only-fallback", 64, 0, 0, &fallback_cmd())),
        // Must fail: the probe's module check is live through rpvboot's handover.
        pvh("pvh-boot-bad-mod", disk_bad_mod)
            .expect(started)
            .expect(entry)
            .expect(r"^RPVBOOT-PROBE-PVH FAIL module checksum \(0x[0-9a-f]+\)"),
    ]
}
