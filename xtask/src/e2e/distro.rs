//! Issue 19: configurations as distributions lay them out, booting Debian's Linux PV kernel and
//! the e2e initrd (whose init prints `DOMU-CMDLINE: …` and reads `hello.txt` from xvda1):
//!
//! - `distro-debian-sepboot`: an MBR disk, `/` (ext4) on xvda1 and a separate `/boot` (ext2) on
//!   xvda2, `/boot/grub/grub.cfg` as Debian 12's grub-mkconfig writes it for a separate /boot,
//!   except that the `set root` / `--hint` name the root partition: only
//!   `search --fs-uuid --set=root` finds the kernel.
//! - `distro-rhel8-bls`: RHEL 8's layout: `/boot` (ext2) on xvda1 with `grub2/grub.cfg`
//!   (testimages/configs/rhel8-grub.cfg, which calls `blscfg`), a grubenv made by
//!   `grub-editenv` with `kernelopts` and `saved_entry` naming the middle of three
//!   BootLoaderSpec entries, `/` on xvda2; the entry and its `$kernelopts` show on the console.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use super::scenarios::{Disk, Scenario};
use crate::setup;
use crate::util::{e2e_dir, mkdirp, project_root, run, write_file};

const ROOT_UUID: &str = "3f0c9d4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f";
const BOOT_UUID: &str = "7d2e8f1a-4b3c-4d5e-9f0a-1b2c3d4e5f60";
const KVER: &str = "6.1.0-18-amd64";
const MID: &str = "2bd0f0d0f59d4f2a8a5a3b2e4d2c1a00";
/// The BLS entries' versions; `saved_entry` names the middle one.
const RHEL_VERSIONS: [&str; 3] = ["4.18.0-348.el8.x86_64", "4.18.0-305.el8.x86_64", "4.18.0-240.el8.x86_64"];

/// Debian 12's grub-mkconfig output (00_header, 10_linux) for a separate /boot, abridged to the
/// default entry; `@HINT@` is where grub-mkconfig writes the /boot partition.
const DEBIAN_CFG: &str = r#"### BEGIN /etc/grub.d/00_header ###
if [ -s $prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="0"
fi

if [ x"${feature_menuentry_id}" = xy ]; then
  menuentry_id_option="--id"
else
  menuentry_id_option=""
fi

export menuentry_id_option

function load_video {
  if [ x$feature_all_video_module = xy ]; then
    insmod all_video
  else
    insmod efi_gop
  fi
}

terminal_output console
if [ x$feature_timeout_style = xy ] ; then
  set timeout_style=menu
  set timeout=1
else
  set timeout=1
fi
### END /etc/grub.d/00_header ###

### BEGIN /etc/grub.d/10_linux ###
function gfxmode {
	set gfxpayload="${1}"
}
set linux_gfx_mode=
export linux_gfx_mode
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-@ROOT@' {
	load_video
	insmod gzio
	if [ x$grub_platform = xxen ]; then insmod xzio; insmod lzopio; fi
	insmod part_msdos
	insmod ext2
	set root='@HINT@'
	if [ x$feature_platform_search_hint = xy ]; then
	  search --no-floppy --fs-uuid --set=root --hint-bios=@HINT@ --hint-efi=@HINT@ --hint-baremetal=ahci0,msdos1  @BOOT@
	else
	  search --no-floppy --fs-uuid --set=root @BOOT@
	fi
	echo	'Loading Linux @KVER@ ...'
	linux	/vmlinuz-@KVER@ root=UUID=@ROOT@ ro  console=hvc0 quiet e2e=debian-sepboot
	echo	'Loading initial ramdisk ...'
	initrd	/initrd.img-@KVER@
}
### END /etc/grub.d/10_linux ###
"#;

/// An MBR disk image of ext filesystems `(tree, ext kind, uuid, MiB)`, one partition each in
/// order: filesystems by `mke2fs -d`, the table by `sfdisk`.
fn mbr_disk(img: &Path, parts: &[(&Path, &str, &str, u64)]) -> Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let dir = img.parent().context("image without a directory")?;
    let mut script = String::from("label: dos\n");
    let mut start = 1u64;
    let mut placed = Vec::new();
    for (i, (tree, kind, uuid, mib)) in parts.iter().enumerate() {
        let fs = dir.join(format!("part{i}.fs"));
        let _ = std::fs::remove_file(&fs);
        run(Command::new("mke2fs")
            .args(["-q", "-F", "-t", kind, "-U", uuid, "-d"])
            .arg(tree)
            .arg(&fs)
            .arg(format!("{mib}M")))?;
        script.push_str(&format!("start={}, size={}, type=83\n", start * 2048, mib * 2048));
        placed.push((start, fs));
        start += mib;
    }
    let tmp = img.with_extension("tmp");
    let f = std::fs::File::create(&tmp)?;
    f.set_len((start + 1) << 20)?;
    drop(f);
    let mut child = Command::new("sfdisk").arg("-q").arg(&tmp).stdin(Stdio::piped()).spawn()?;
    child.stdin.take().context("sfdisk stdin")?.write_all(script.as_bytes())?;
    anyhow::ensure!(child.wait()?.success(), "sfdisk {script}");
    let mut f = std::fs::OpenOptions::new().write(true).open(&tmp)?;
    for (start, fs) in placed {
        f.seek(SeekFrom::Start(start << 20))?;
        f.write_all(&std::fs::read(&fs)?)?;
        std::fs::remove_file(fs)?;
    }
    std::fs::rename(tmp, img)?;
    Ok(())
}

/// A fresh directory under `target/e2e/images/NAME.d/`.
fn fresh(name: &str, sub: &str) -> Result<PathBuf> {
    let d = e2e_dir().join("images").join(format!("{name}.d")).join(sub);
    if d.exists() {
        std::fs::remove_dir_all(&d)?;
    }
    mkdirp(&d)?;
    Ok(d)
}

/// See the module doc: `/` on xvda1, `/boot` on xvda2, hints naming xvda1.
pub fn debian_sepboot_disk() -> Result<PathBuf> {
    let a = setup::ensure_e2e()?;
    let (root, boot) = (fresh("debian-sepboot", "root")?, fresh("debian-sepboot", "boot")?);
    write_file(&root.join("hello.txt"), "DEBIAN-ROOT-PARTITION\n", 0o644)?;
    mkdirp(&root.join("boot"))?;
    let cfg = DEBIAN_CFG.replace("@HINT@", "hd0,msdos1").replace("@BOOT@", BOOT_UUID).replace("@ROOT@", ROOT_UUID);
    write_file(&boot.join("grub/grub.cfg"), cfg.replace("@KVER@", KVER), 0o644)?;
    crate::util::copy(&a.vmlinuz, &boot.join(format!("vmlinuz-{KVER}")))?;
    crate::util::copy(&a.domu_initrd, &boot.join(format!("initrd.img-{KVER}")))?;
    let img = e2e_dir().join("images/debian-sepboot.img");
    mbr_disk(&img, &[(&root, "ext4", ROOT_UUID, 16), (&boot, "ext2", BOOT_UUID, 64)])?;
    Ok(img)
}

/// See the module doc: RHEL 8's BootLoaderSpec layout.
pub fn rhel8_bls_disk() -> Result<PathBuf> {
    let a = setup::ensure_e2e()?;
    let (boot, root) = (fresh("rhel8-bls", "boot")?, fresh("rhel8-bls", "root")?);
    write_file(&boot.join("hello.txt"), "RHEL-BOOT-PARTITION\n", 0o644)?;
    write_file(&root.join("etc/machine-id"), format!("{MID}\n"), 0o644)?;
    let t = std::fs::read_to_string(project_root().join("testimages/configs/rhel8-grub.cfg"))?;
    let cfg =
        t.replace("@BOOT_HINT@", "hd0,msdos1").replace("@BOOT_UUID@", BOOT_UUID).replace("@ROOT_UUID@", ROOT_UUID);
    write_file(&boot.join("grub2/grub.cfg"), cfg, 0o644)?;
    for v in RHEL_VERSIONS {
        crate::util::copy(&a.vmlinuz, &boot.join(format!("vmlinuz-{v}")))?;
        crate::util::copy(&a.domu_initrd, &boot.join(format!("initramfs-{v}.img")))?;
        // As RHEL 8's kernel-install (20-grub.install) writes an entry.
        let entry = format!(
            "title Red Hat Enterprise Linux ({v}) 8.5 (Ootpa)\nversion {v}\nlinux /vmlinuz-{v}\ninitrd /initramfs-{v}.img $tuned_initrd\noptions $kernelopts $tuned_params\nid rhel-20211019112839-{v}\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class kernel\n"
        );
        write_file(&boot.join(format!("loader/entries/{MID}-{v}.conf")), entry, 0o644)?;
    }
    let env = boot.join("grub2/grubenv");
    run(Command::new("grub-editenv").arg(&env).arg("create"))?;
    run(Command::new("grub-editenv").arg(&env).arg("set").args([
        format!("kernelopts=root=UUID={ROOT_UUID} ro console=hvc0 bls=kernelopts-from-grubenv"),
        format!("saved_entry={MID}-{}", RHEL_VERSIONS[1]),
    ]))?;
    let img = e2e_dir().join("images/rhel8-bls.img");
    mbr_disk(&img, &[(&boot, "ext2", BOOT_UUID, 64), (&root, "ext2", ROOT_UUID, 8)])?;
    Ok(img)
}

/// The scenarios (each boots Debian's 8 MiB kernel: about 45 s under TCG).
pub fn scenarios() -> Vec<Scenario> {
    let linux = |name: &str, disk: fn() -> Result<PathBuf>| Scenario {
        disks: vec![Disk::Recipe(disk)],
        memory_mib: 256,
        timeout_secs: 300,
        ..Scenario::rpvboot(name, "")
    };
    vec![
        linux("distro-debian-sepboot", debian_sepboot_disk)
            .expect(r#"rpvboot: booting entry 0 "Debian GNU/Linux": "#)
            .expect(&format!(r"DOMU-CMDLINE: root=UUID={ROOT_UUID} ro console=hvc0 quiet e2e=debian-sepboot\s*$"))
            .expect(r"DOMU-DISK-READ: DEBIAN-ROOT-PARTITION")
            .expect(r"DOMU-BOOTED-OK"),
        linux("distro-rhel8-bls", rhel8_bls_disk)
            .expect(
                r#"rpvboot: booting entry 1 "Red Hat Enterprise Linux \(4\.18\.0-305\.el8\.x86_64\) 8\.5 \(Ootpa\)""#,
            )
            .expect(&format!(r"DOMU-CMDLINE: root=UUID={ROOT_UUID} ro console=hvc0 bls=kernelopts-from-grubenv\s*$"))
            .expect(r"DOMU-DISK-READ: RHEL-BOOT-PARTITION")
            .expect(r"DOMU-BOOTED-OK"),
    ]
}
