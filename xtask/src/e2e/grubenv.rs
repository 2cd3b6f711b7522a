//! Issue 19: GRUB 2's `next_entry` one-shot (grub-reboot) under real Xen. A separate ext4
//! `/boot` whose `grub/grub.cfg` starts like grub-mkconfig's header (`load_env`, `next_entry`,
//! `save_env next_entry`, `saved_entry`) and whose `grub/grubenv` was written by the real
//! `grub-editenv` (`saved_entry=saved`, then `next_entry=oneshot`, what `grub-reboot oneshot`
//! writes). Two menu entries boot the probe kernel, each with its own `probe.name=`: the probe
//! passes only when that word is its domain's name, so `PASS name=<scenario>` shows it got the
//! command line of the entry that scenario must boot.
//!
//! - `grubenv-oneshot`: the first `xl create` boots the one-shot entry and clears it;
//! - `grubenv-saved` (follows it, same dom0 disk file): the second `xl create` of that disk
//!   boots the saved default;
//! - `grubenv-nowrite` (`rpvboot.nowrite`) and `grubenv-readonly` (disk attached `ro`): the
//!   one-shot is refused with the reason and the saved default boots, the disk unchanged.
//!
//! After each, dom0 dumps the block's sectors (found on the host with `debugfs bmap`, not with
//! rpvboot's code) and the host check reads them with the real `grub-editenv list`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::scenarios::{Disk, Scenario};
use crate::util::run;

/// grub-mkconfig 2.06's 00_header for `GRUB_DEFAULT=saved` (the lines rpvboot must run as GRUB
/// does), then the two entries, whose probes pass only in the domains named `saved` and
/// `oneshot`.
fn grub_cfg(saved: &str, oneshot: &str) -> String {
    let w = crate::probe::module_word();
    format!(
        "if [ -s $prefix/grubenv ]; then\n  set have_grubenv=true\n  load_env\nfi\n\
         if [ \"${{next_entry}}\" ] ; then\n   set default=\"${{next_entry}}\"\n   set next_entry=\n   save_env next_entry\n   set boot_once=true\n\
         else\n   set default=\"${{saved_entry}}\"\nfi\n\
         set timeout=0\n\
         menuentry 'saved default' --id saved {{\n  linux /probe.gz {w} probe.name={saved}\n  initrd /module.bin\n}}\n\
         menuentry 'one-shot' --id oneshot {{\n  linux /probe.gz {w} probe.name={oneshot}\n  initrd /module.bin\n}}\n"
    )
}

/// The ext4 `/boot` disk (rebuilt every run), one file per scenario family; the names are
/// the domains whose probes the two entries pass in.
fn disk(name: &str, saved: &str, oneshot: &str) -> Result<PathBuf> {
    let (_, gz) = crate::probe::build_probe()?;
    let dir = crate::util::e2e_dir().join("images");
    let tree = dir.join(format!("{name}.tree"));
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    fs::create_dir_all(tree.join("grub"))?;
    fs::write(tree.join("grub/grub.cfg"), grub_cfg(saved, oneshot))?;
    fs::copy(&gz, tree.join("probe.gz"))?;
    fs::write(tree.join("module.bin"), crate::probe::module_bytes())?;
    let env = tree.join("grub/grubenv");
    for args in [&["create"][..], &["set", "saved_entry=saved"], &["set", "next_entry=oneshot"]] {
        run(Command::new("grub-editenv").arg(&env).args(args))?;
    }
    let img = dir.join(format!("{name}.img"));
    let _ = fs::remove_file(&img);
    run(Command::new("mke2fs").args(["-q", "-F", "-t", "ext4", "-b", "4096", "-d"]).arg(&tree).arg(&img).arg("16M"))?;
    Ok(img)
}

/// The first start boots the one-shot in `grubenv-oneshot`, the second the saved default in
/// `grubenv-saved`.
fn disk_oneshot() -> Result<PathBuf> {
    disk("grubenv-oneshot", "grubenv-saved", "grubenv-oneshot")
}
/// The one-shot must not boot here (its probe would fail on the domain name).
fn disk_nowrite() -> Result<PathBuf> {
    disk("grubenv-nowrite", "grubenv-nowrite", "not-this-one")
}
fn disk_readonly() -> Result<PathBuf> {
    disk("grubenv-readonly", "grubenv-readonly", "not-this-one")
}

/// The first 512-byte sector of `/grub/grubenv` in the image, from `debugfs bmap` (ext4
/// blocks of 4096 bytes).
fn env_sector(img: &Path) -> Result<u64> {
    let debugfs = testimages::tools::find_tool("debugfs").map_err(anyhow::Error::msg)?;
    let text = crate::util::output(Command::new(debugfs).arg("-R").arg("bmap /grub/grubenv 0").arg(img))?;
    let block: u64 = text.trim().parse().with_context(|| format!("debugfs bmap said {text:?}"))?;
    Ok(block * 8)
}

/// dom0 prints the block's two sectors as hex lines after the guest ended.
fn dump_block(disks: &[PathBuf]) -> Result<String> {
    let img = disks.first().context("no disk")?;
    let sector = env_sector(img)?;
    Ok(format!(
        "dd if=/dev/loop0 bs=512 skip={sector} count=2 2>/dev/null | od -An -tx1 -v | sed 's/^/E2E-GRUBENV-HEX/'\n"
    ))
}

/// `grub-editenv list` of the block dom0 dumped.
fn listed(console: &str) -> Result<String> {
    let mut bytes = Vec::new();
    for l in console.lines().filter_map(|l| l.strip_prefix("E2E-GRUBENV-HEX")) {
        for h in l.split_whitespace() {
            bytes.push(u8::from_str_radix(h, 16).with_context(|| format!("hex {h:?}"))?);
        }
    }
    if bytes.len() != 1024 {
        bail!("dom0 dumped {} bytes of the environment block, not 1024", bytes.len());
    }
    let f = crate::util::e2e_dir().join("images/grubenv-dumped");
    fs::write(&f, &bytes)?;
    let out = Command::new("grub-editenv").arg(&f).arg("list").output().context("running grub-editenv")?;
    if !out.status.success() {
        bail!("grub-editenv list: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn env_is(console: &str, want: &str) -> Result<()> {
    let got = listed(console)?;
    if got != want {
        bail!("grub-editenv list of the disk after the boot: {got:?}, expected {want:?}");
    }
    Ok(())
}

fn cleared(_: &Scenario, _: &[PathBuf], console: &str) -> Result<()> {
    env_is(console, "saved_entry=saved\nnext_entry=\n")
}

/// The first start (with `rpvboot.verbose`): the dry run over the image as it was before plans
/// the same lines, the write included, and the block is cleared.
fn planned_and_cleared(s: &Scenario, d: &[PathBuf], console: &str) -> Result<()> {
    super::scenarios::dry_run_matches(s, d, console)?;
    cleared(s, d, console)
}

fn cleared_before(s: &Scenario, d: &[PathBuf], console: &str) -> Result<()> {
    if console.contains(" cleared in ") {
        bail!("the second start wrote again");
    }
    cleared(s, d, console)
}

fn untouched(_: &Scenario, _: &[PathBuf], console: &str) -> Result<()> {
    env_is(console, "saved_entry=saved\nnext_entry=oneshot\n")
}

pub fn scenarios() -> Vec<Scenario> {
    let pass = |n: &str| format!(r"^RPVBOOT-PROBE PASS name={n} pages=16384 mod=100003");
    let s = |name: &str, extra: &str, recipe: fn() -> Result<PathBuf>| Scenario {
        disks: vec![Disk::Recipe(recipe)],
        dom0_after: Some(dump_block),
        ..Scenario::rpvboot(name, extra)
    };
    let refused = |why: &str| {
        format!(
            r"^rpvboot: \(hd0\)/grub/grub.cfg:3: warning: .*sets next_entry=oneshot .*not honoured, rpvboot cannot clear it \({why}"
        )
    };
    vec![
        Scenario { host_check: Some(planned_and_cleared), ..s("grubenv-oneshot", "rpvboot.verbose", disk_oneshot) }
            .expect(r#"^rpvboot: booting entry 1 "one-shot""#)
            .expect(r"^rpvboot: plan: write next_entry=oneshot cleared in \(hd0\)/grub/grubenv ")
            .expect(r"^rpvboot: next_entry=oneshot cleared in \(hd0\)/grub/grubenv \(hd0 sectors \d+-\d+ of 512 bytes, save_env at \(hd0\)/grub/grub.cfg:8\) \(read back, verified\)")
            .expect(&pass("grubenv-oneshot")),
        Scenario { host_check: Some(cleared_before), follows: Some("grubenv-oneshot"), ..s("grubenv-saved", "", disk_oneshot) }
            .expect(r#"^rpvboot: booting entry 0 "saved default""#)
            .expect(&pass("grubenv-saved")),
        Scenario { host_check: Some(untouched), ..s("grubenv-nowrite", "rpvboot.nowrite", disk_nowrite) }
            .expect(&refused(r"rpvboot\.nowrite is on the extra= line"))
            .expect(r#"^rpvboot: booting entry 0 "saved default""#)
            .expect(&pass("grubenv-nowrite")),
        Scenario { host_check: Some(untouched), read_only: true, ..s("grubenv-readonly", "", disk_readonly) }
            .expect(&refused("the disk is attached read-only"))
            .expect(r#"^rpvboot: booting entry 0 "saved default""#)
            .expect(&pass("grubenv-readonly")),
    ]
}
