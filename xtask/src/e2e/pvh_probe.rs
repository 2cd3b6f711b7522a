//! Issue 24: the PVH probe (testimages/probe `rpvboot-probe-pvh`, docs/pvh-probe.md) under
//! real Xen, the oracle for the PVH boot ABI:
//!
//! - `pvh-probe-direct`, `pvh-probe-nomod`: `xl` (libxl/libxc's PVH domain builder) boots the
//!   probe directly, with and without a module; it must PASS, so its checks agree with what
//!   Xen itself hands over;
//! - `pvh-probe-bad-mod`, `pvh-probe-bad-mib`: the same boot with a wrong module checksum or a
//!   wrong memory size on the command line: the probe must FAIL, naming that check (it can
//!   fail);
//! - `pvgrub2-pvh`: Debian's pvgrub2 built for `i386-xen_pvh` (grub-xen-bin 2.06) as the PVH
//!   domU's kernel, reading `(xen/xvda)`: it shows its menu and tries each of its loaders on
//!   the PVH probe. GRUB 2.06 has no loader for a PVH ELF: `linux` wants a bzImage and
//!   `multiboot2` its header (the errors are pinned); `multiboot` loads the probe through its
//!   multiboot header and enters it at `e_entry` with a multiboot info in ebx, which the probe
//!   must reject as not the PVH entry.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::Result;

use super::scenarios::{Disk, Kernel, Scenario};
use crate::util::{e2e_dir, run};

/// The probe's PASS line in domain `name` for `mods` modules (the first `mod0` bytes long) and
/// `mib` MiB of RAM.
pub(super) fn pass_re(name: &str, mib: u64, mods: u32, mod0: u64, cmdline: &str) -> String {
    format!(
        r#"^RPVBOOT-PROBE-PVH PASS name={name} version=1 ram={} e820=\d+ mods={mods} mod0={mod0} start_info=0x[0-9a-f]+ tested_pages=\d+ cmdline="{}""#,
        mib << 20,
        regex::escape(cmdline)
    )
}

/// A PVH domU running the PVH probe directly (Xen's own PVH loader).
fn direct(name: &str, module: bool, extra: &str) -> Scenario {
    Scenario {
        pvh: true,
        kernel: Kernel::File(crate::probe::pvh_path()),
        ramdisk: module.then(crate::probe::module_path),
        ..Scenario::rpvboot(name, extra)
            .expect(r"^RPVBOOT-PROBE-PVH ENTRY via=phys32 ebx=0x[0-9a-f]+ ")
            .expect(r"^RPVBOOT-PROBE-PVH MEMMAP 0x0\+0x")
    }
}

/// The scenarios of this file (module docs).
pub fn scenarios() -> Vec<Scenario> {
    if let Err(e) = crate::probe::build_probe_pvh() {
        eprintln!("e2e: building the PVH probe failed: {e:#}");
    }
    let w = crate::probe::module_word();
    let m = crate::probe::module_bytes();
    let direct_cmd = format!("{w} probe.mib=64 probe.name=pvh-probe-direct hello-pvh");
    let nomod_cmd = "probe.mod=none probe.mib=96 probe.pages=24576 probe.name=pvh-probe-nomod";
    // The right length with a checksum off by one.
    let bad_sum = format!("probe.mod={}:{:x}", m.len(), crate::probe::fnv1a(&m) ^ 1);
    vec![
        direct("pvh-probe-direct", true, &direct_cmd).expect(&pass_re("pvh-probe-direct", 64, 1, m.len() as u64, &direct_cmd)),
        Scenario {
            memory_mib: 96,
            ..direct("pvh-probe-nomod", false, nomod_cmd).expect(&pass_re("pvh-probe-nomod", 96, 0, 0, nomod_cmd))
        },
        direct("pvh-probe-bad-mod", true, &format!("{bad_sum} probe.mib=64"))
            .expect(r"^RPVBOOT-PROBE-PVH FAIL module checksum \(0x[0-9a-f]+\)"),
        direct("pvh-probe-bad-mib", true, &format!("{w} probe.mib=63"))
            .expect(r"^RPVBOOT-PROBE-PVH FAIL RAM in the memory map differs from probe.mib \(0x4000000\)"),
        Scenario {
            pvh: true,
            kernel: Kernel::Recipe(pvgrub2_pvh_image),
            disks: vec![Disk::Recipe(disk_pvgrub2_pvh)],
            timeout_secs: 120,
            ..Scenario::rpvboot("pvgrub2-pvh", "")
                .expect(r"PVGRUB2-PVH: embedded config running")
                .expect(r"PVGRUB2-PVH: root=\(xen/xvda\)")
                .expect(r"Use the \^ and v keys to select which entry is highlighted")
                .expect(r"\*pvh probe")
                .expect(r"The highlighted entry will be executed automatically")
                .expect(r"PVGRUB2-PVH: linux\s+error: invalid magic number")
                .expect(r"PVGRUB2-PVH: multiboot2\s+error: no multiboot header found")
                .expect(r"PVGRUB2-PVH: multiboot\s+WARNING: no console will be available to OS\s+PVGRUB2-PVH: all loaders tried")
                .expect(r"^RPVBOOT-PROBE-PVH ENTRY via=e_entry ebx=0x[0-9a-f]+ eax=0x2badb002 ")
                .expect(r"^RPVBOOT-PROBE-PVH FAIL not entered at XEN_ELFNOTE_PHYS32_ENTRY \(0x2\)")
        },
    ]
}

/// GRUB's embedded config for pvgrub2-PVH: as the PV image's (xtask/e2e/pvgrub-embed.cfg),
/// with its own marker.
const PVH_EMBED: &str = "echo \"PVGRUB2-PVH: embedded config running\"
search -s -f /boot/grub/grub.cfg
echo \"PVGRUB2-PVH: root=($root)\"
set prefix=($root)/boot/grub
normal
";

/// The grub.cfg pvgrub2-PVH reads: one entry that tries each loader GRUB 2.06's `i386-xen_pvh`
/// platform has on the PVH probe, echoing which before each (GRUB prints a failing command's
/// error and goes on with the next one).
const PVH_GRUB_CFG: &str = "set timeout=1
set default=0
menuentry \"pvh probe\" {
  echo \"PVGRUB2-PVH: linux\"
  linux /probe-pvh probe.mod=none
  echo \"PVGRUB2-PVH: multiboot2\"
  multiboot2 /probe-pvh probe.mod=none
  echo \"PVGRUB2-PVH: multiboot\"
  multiboot /probe-pvh probe.mod=none
  echo \"PVGRUB2-PVH: all loaders tried\"
}
";

/// Debian's pvgrub2 for PVH guests: `grub-mkimage -O i386-xen_pvh` with grub-xen-bin 2.06's
/// modules from setup's extracted packages (`target/e2e/x`), as `pvgrub2-x86_64.xen` is made
/// for PV (xtask/src/setup.rs), plus the loaders that platform has.
pub fn pvgrub2_pvh_image() -> Result<PathBuf> {
    crate::setup::ensure_e2e()?;
    let dir = e2e_dir().join("images");
    fs::create_dir_all(&dir)?;
    let embed = dir.join("pvgrub2-pvh-embed.cfg");
    fs::write(&embed, PVH_EMBED)?;
    let out = dir.join("pvgrub2-i386-xen_pvh.bin");
    run(Command::new("grub-mkimage")
        .args(["-O", "i386-xen_pvh", "-d"])
        .arg(e2e_dir().join("x/usr/lib/grub/i386-xen_pvh"))
        .arg("-c")
        .arg(&embed)
        .args(["-p", "/boot/grub", "-o"])
        .arg(&out)
        .args([
            "normal",
            "configfile",
            "linux",
            "multiboot",
            "multiboot2",
            "echo",
            "test",
            "search",
            "search_fs_file",
            "ls",
            "cat",
            "ext2",
            "part_msdos",
            "part_gpt",
            "halt",
        ]))?;
    Ok(out)
}

/// ext2 (bare): `/boot/grub/grub.cfg` ([`PVH_GRUB_CFG`]) and `/probe-pvh`.
fn disk_pvgrub2_pvh() -> Result<PathBuf> {
    let probe = crate::probe::build_probe_pvh()?;
    let dir = e2e_dir().join("images");
    let tree = dir.join("pvgrub2-pvh.tree");
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(tree.join("boot/grub"))?;
    fs::write(tree.join("boot/grub/grub.cfg"), PVH_GRUB_CFG)?;
    fs::copy(&probe, tree.join("probe-pvh"))?;
    let img = dir.join("pvgrub2-pvh.img");
    let _ = fs::remove_file(&img);
    run(Command::new("mke2fs").args(["-q", "-F", "-t", "ext2", "-d"]).arg(&tree).arg(&img).arg("8M"))?;
    Ok(img)
}
