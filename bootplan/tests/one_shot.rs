//! Issue 19: GRUB's `next_entry` one-shot over a real ext2 image (mke2fs) whose grubenv
//! `grub-editenv` wrote: the loader's unattended path (`select::select`) boots the one-shot
//! entry and rewrites the block in place, the dry run (`plan::dry_run`, `rpvboot-inspect boot`)
//! reports the same write and writes nothing, the next start boots the saved default, and the
//! block on the disk is what `grub-editenv FILE set next_entry=` makes (the bytes GRUB's
//! `save_env next_entry` writes: both edit with grub_envblk_set). A configuration whose entries
//! all fail writes nothing.

use bootconfig::search::DiskVolumes;
use bootplan::plan::{self, Outcome, Overrides};
use fs::{BlockDevice, Lba};
use std::process::Command;

const NR_PAGES: u64 = 4096;
const LOADER_PAGES: u64 = 512;

const HEADER: &str = "if [ -s $prefix/grubenv ]; then\n  set have_grubenv=true\n  load_env\nfi\n\
    if [ \"${next_entry}\" ] ; then\n   set default=\"${next_entry}\"\n   set next_entry=\n   save_env next_entry\n   set boot_once=true\n\
    else\n   set default=\"${saved_entry}\"\nfi\nset timeout=0\n";

fn grub_editenv(file: &std::path::Path, args: &[&str]) {
    let st = Command::new("grub-editenv").arg(file).args(args).status().expect("grub-editenv (grub-common)");
    assert!(st.success());
}

/// The block grub-editenv writes: `saved_entry=saved`, `next_entry=oneshot` (as grub-reboot).
fn grubenv(dir: &std::path::Path) -> Vec<u8> {
    let f = dir.join("grubenv");
    grub_editenv(&f, &["create"]);
    grub_editenv(&f, &["set", "saved_entry=saved"]);
    grub_editenv(&f, &["set", "next_entry=oneshot"]);
    std::fs::read(&f).unwrap()
}

fn disk(cfg: &str, env: &[u8]) -> fs::probe::Disk {
    let elf = std::fs::read(
        testimages::kernels::build(&testimages::kernels::images_dir(), &testimages::kernels::KernelSpec::netbsd())
            .expect("as/ld (binutils): cargo xtask setup"),
    )
    .unwrap();
    let files: Vec<(&str, &[u8])> = vec![("/grub/grub.cfg", cfg.as_bytes()), ("/grub/grubenv", env), ("/netbsd", &elf)];
    fs::probe::scan_disk(0, Box::new(fs::MemDisk::new(testimages::tools::ext2_image(&files, 16), 512)))
}

fn image(d: &fs::probe::Disk) -> Vec<u8> {
    let mut dev = d.whole().device();
    let mut b = vec![0u8; (dev.num_blocks() * 512) as usize];
    dev.read_blocks(Lba(0), &mut b).unwrap();
    b
}

fn tmp(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("one-shot-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn booted_once_then_the_saved_default() {
    let dir = tmp("boot");
    let env = grubenv(&dir);
    let cfg = format!(
        "{HEADER}menuentry 'saved default' --id saved {{ knetbsd /netbsd saved }}\n\
         menuentry 'one-shot' --id oneshot {{ knetbsd /netbsd oneshot }}\n"
    );
    let disks = [disk(&cfg, &env)];
    let before = image(&disks[0]);
    // The dry run: the one-shot entry, the write planned, nothing written.
    let o = Overrides {
        entry: None,
        nr_pages: NR_PAGES,
        loader_pages: Some(LOADER_PAGES),
        keep: false,
        container: bootplan::plan::Container::Pv,
    };
    let (r, _) = plan::dry_run("", &mut DiskVolumes::new(&disks), &o);
    assert_eq!((r.outcome, r.entry), (Outcome::Boot, Some(1)), "{:?}", r.problems);
    let line = plan::env_write_line(&r.loaded).expect("a write planned");
    assert!(line.starts_with("plan: write next_entry=oneshot cleared in (hd0)/grub/grubenv (hd0 sectors "), "{line}");
    assert_eq!(image(&disks[0]), before, "the dry run wrote");
    // rpvboot.nowrite: the saved default, nothing planned.
    let (r, _) = plan::dry_run("rpvboot.nowrite", &mut DiskVolumes::new(&disks), &o);
    assert_eq!((r.entry, r.loaded.menu.env_write.is_none()), (Some(0), true));
    // The loader: the one-shot, and the block rewritten in place.
    let mut log = String::new();
    let sel = bootplan::select::select("", &mut DiskVolumes::new(&disks), NR_PAGES, LOADER_PAGES, &mut log)
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(sel.title, "one-shot", "{log}");
    assert!(log.contains("rpvboot: next_entry=oneshot cleared in (hd0)/grub/grubenv"), "{log}");
    let after = image(&disks[0]);
    let at = before.windows(env.len()).position(|w| w == env).expect("the block on the image");
    let f = dir.join("grubenv");
    grub_editenv(&f, &["set", "next_entry="]);
    let expected = std::fs::read(&f).unwrap();
    assert_eq!(&after[at..at + 1024], &expected[..], "the bytes grub-editenv (save_env) writes");
    assert!(
        before.iter().zip(&after).enumerate().all(|(i, (a, b))| a == b || (at..at + 1024).contains(&i)),
        "only the block changed"
    );
    // The next start: the saved default, nothing to write.
    let mut log = String::new();
    let sel = bootplan::select::select("", &mut DiskVolumes::new(&disks), NR_PAGES, LOADER_PAGES, &mut log)
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(sel.title, "saved default", "{log}");
    assert!(!log.contains("cleared"), "{log}");
    assert_eq!(image(&disks[0]), after);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nothing_is_written_when_nothing_boots() {
    let dir = tmp("fail");
    let env = grubenv(&dir);
    let cfg = format!(
        "{HEADER}menuentry 'saved default' --id saved {{ knetbsd /missing }}\n\
         menuentry 'one-shot' --id oneshot {{ knetbsd /missing-too }}\n"
    );
    let disks = [disk(&cfg, &env)];
    let before = image(&disks[0]);
    let mut log = String::new();
    let sel = bootplan::select::select("", &mut DiskVolumes::new(&disks), NR_PAGES, LOADER_PAGES, &mut log);
    assert!(sel.is_none(), "{log}");
    assert_eq!(image(&disks[0]), before, "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
