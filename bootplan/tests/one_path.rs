//! Issue 12: the unattended boot (`select::select`), the interactive menu (`select::select_with`) and
//! the dry run (`plan::dry_run`, what `rpvboot-inspect boot` prints) read and check an entry
//! through one function, so each failure path must be reported in the same words by all
//! three, and a good entry must give the same bytes and command line.
//!
//! The disk is an ext2 image made by mke2fs from a directory; the kernels are the NetBSD-shaped
//! ELF linked by binutils (`testimages::kernels`) and what the gzip tool makes of it.

use bootconfig::extra::parse;
use bootconfig::search::DiskVolumes;
use bootmenu::testing::Script;
use bootplan::plan::{self, Outcome, Overrides};
use bootplan::select as flow;
use testimages::tools::gzip;

/// The domain: 16 MiB, of which rpvboot keeps 2 MiB before it reads files.
const NR_PAGES: u64 = 4096;
const LOADER_PAGES: u64 = 512;

fn netbsd_elf() -> Vec<u8> {
    let dir = testimages::kernels::images_dir();
    let p = testimages::kernels::build(&dir, &testimages::kernels::KernelSpec::netbsd())
        .expect("as/ld (binutils) must be installed: cargo xtask setup");
    std::fs::read(p).unwrap()
}

/// A bare ext2 image (`(hd0)`) made by mke2fs from `files`.
fn ext2_disk(files: &[(&str, Vec<u8>)]) -> fs::probe::Disk {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (*p, d.as_slice())).collect();
    fs::probe::scan_disk(0, Box::new(fs::MemDisk::new(testimages::tools::ext2_image(&files, 48), 512)))
}

/// The console's reason for entry `i` in `log` (`rpvboot: entry i "t" cannot boot: REASON`).
fn reason(log: &str, i: usize) -> Option<String> {
    let head = format!("rpvboot: entry {i} \"");
    log.lines().find_map(|l| l.strip_prefix(&head)?.split_once("\" cannot boot: ").map(|(_, r)| r.to_string()))
}

#[test]
fn every_failure_is_said_the_same_by_the_loader_the_menu_and_the_dry_run() {
    let elf = netbsd_elf();
    let gz = gzip(&elf);
    let mut i386 = elf.clone();
    i386[18] = 3; // e_machine EM_386
    let mut class32 = elf.clone();
    class32[4] = 1; // EI_CLASS ELFCLASS32
    let mut badmod = gzip(&[7u8; 100_000]);
    let n = badmod.len();
    badmod[n / 2..].fill(0xa5);
    let entries: [(&str, &str); 10] = [
        ("missing kernel", "kernel /nope.gz a=1"),
        ("truncated gzip", "kernel /cut.gz"),
        ("i386", "kernel /i386"),
        ("elf32", "kernel /class32"),
        ("not a kernel", "kernel /script"),
        ("missing module", "kernel /netbsd.gz\n  module /gone"),
        ("corrupt module", "kernel /netbsd.gz\n  module /badmod.gz"),
        ("file larger than memory", "kernel /huge"),
        ("unpacks larger than memory", "kernel /zeros.gz"),
        ("good", "kernel /netbsd.gz -s\n  module /mod.gz\n  initrd /mod.gz"),
    ];
    let mut menu = String::from("default 0\ntimeout 0\n");
    for (t, body) in &entries {
        menu.push_str(&format!("title {t}\n  {body}\n"));
    }
    let module: Vec<u8> = (0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let disk = ext2_disk(&[
        ("/boot/grub/menu.lst", menu.into_bytes()),
        ("/cut.gz", gz[..gz.len() / 2].to_vec()),
        ("/i386", i386),
        ("/class32", class32),
        ("/script", b"#!/bin/sh\necho hi\n".to_vec()),
        ("/netbsd.gz", gz.clone()),
        ("/badmod.gz", badmod),
        ("/huge", vec![0x5a; 20 << 20]),
        ("/zeros.gz", gzip(&vec![0u8; 24 << 20])),
        ("/mod.gz", gzip(&module)),
    ]);
    let disks = [disk];
    let o = |entry: usize, keep: bool| Overrides {
        entry: Some(entry),
        nr_pages: NR_PAGES,
        loader_pages: Some(LOADER_PAGES),
        keep,
        container: bootplan::plan::Container::Pv,
    };

    for (i, (title, _)) in entries.iter().enumerate().take(entries.len() - 1) {
        // The dry run.
        let (r, prepared) = plan::dry_run("", &mut DiskVolumes::new(&disks), &o(i, false));
        assert!(r.loaded.all_diagnostics().next().is_none(), "the menu is clean");
        assert_eq!(r.outcome, Outcome::Error, "{title}: {:?}", r.problems);
        assert!(prepared.is_none());
        let dry: Vec<&str> = r.problems.iter().map(|p| p.message.as_str()).collect();
        let dry = dry.join("; ");
        // The unattended boot, told the entry on the extra= line.
        let mut log = String::new();
        let extra = format!("rpvboot.entry={i}");
        let sel = bootplan::select::select(&extra, &mut DiskVolumes::new(&disks), NR_PAGES, LOADER_PAGES, &mut log);
        assert!(sel.is_none(), "{title}");
        assert_eq!(reason(&log, i).as_deref(), Some(dry.as_str()), "{title}: unattended\n{log}");
        // The menu: the entry's number, Enter (dumb console), then `c` and `halt`.
        let mut t = Script {
            now: 0,
            keys: vec![format!("{i}\r").into_bytes(), b"c".to_vec(), b"halt\r".to_vec()],
            out: String::new(),
        };
        let mut log = String::new();
        let extra = "rpvboot.menu rpvboot.console=dumb";
        assert!(flow::select_with(&args(parse(extra), NR_PAGES, LOADER_PAGES), &disks, &mut log, Some(&mut t), || 0)
            .is_none());
        assert_eq!(reason(&log, i).as_deref(), Some(dry.as_str()), "{title}: menu\n{log}");
        // The screen shows the message cut to 79 columns (no wrap on an 80-column console).
        let shown: String = format!("Error: {dry}").chars().take(79).collect();
        assert!(t.out.contains(&shown), "{title}: menu screen\n{}", t.out);
        // The cause is named, not just "failed".
        let want = match i {
            0 => "kernel (hd0)/nope.gz not found",
            1 => "kernel image: truncated input",
            2..=4 => "kernel",
            5 => "module (hd0)/gone not found",
            6 => "module (hd0)/badmod.gz: ",
            7 => "kernel (hd0)/huge does not fit in the domain's memory",
            _ => "kernel image: gzip: output exceeds the memory limit",
        };
        assert!(dry.starts_with(want), "{title}: {dry}");
        if i == 1 {
            // Where: the file and the byte the stream ends at, inside the half that is there.
            let at = &r.problems[0].at;
            let n: usize = at.strip_prefix("(hd0)/cut.gz at byte ").and_then(|n| n.parse().ok()).expect(at);
            assert!(n <= gz.len() / 2 && dry.contains(&format!("at byte {n}")), "{at}: {dry}");
        }
        let at_memory = r.problems.iter().any(|p| p.at == "memory");
        assert_eq!(at_memory, i >= 7, "{title}: {:?}", r.problems);
    }

    // The good entry: the same bytes, modules and command line from all three.
    let good = entries.len() - 1;
    let (r, prepared) = plan::dry_run("", &mut DiskVolumes::new(&disks), &o(good, true));
    assert_eq!(r.outcome, Outcome::Boot, "{:?}", r.problems);
    let p = prepared.unwrap();
    assert_eq!(p.kernel.image.elf, elf);
    // `module` is unpacked (GRUB legacy, pvgrub), `initrd` passed as stored.
    assert_eq!(p.modules, [module.clone(), gzip(&module)]);
    assert_eq!(p.cmdline, "-s bootdev=xbd0a");
    let mut log = String::new();
    let extra = format!("rpvboot.entry={good}");
    let sel = bootplan::select::select(&extra, &mut DiskVolumes::new(&disks), NR_PAGES, LOADER_PAGES, &mut log)
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(
        (&sel.kernel.image.elf, &sel.kernel.layout, &sel.modules, &sel.cmdline),
        (&p.kernel.image.elf, &p.kernel.layout, &p.modules, &p.cmdline)
    );
    let mut t = Script { now: 0, keys: vec![format!("{good}\r").into_bytes()], out: String::new() };
    let mut log2 = String::new();
    let sel = flow::select_with(
        &args(parse("rpvboot.menu rpvboot.console=dumb"), NR_PAGES, LOADER_PAGES),
        &disks,
        &mut log2,
        Some(&mut t),
        || 0,
    )
    .unwrap_or_else(|| panic!("{log2}"));
    assert_eq!(
        (&sel.kernel.image.elf, &sel.kernel.layout, &sel.modules, &sel.cmdline),
        (&p.kernel.image.elf, &p.kernel.layout, &p.modules, &p.cmdline)
    );
    let booting = |l: &str| l.lines().find(|l| l.starts_with("rpvboot: booting entry")).map(str::to_string);
    assert_eq!(booting(&log), booting(&log2));
    assert!(booting(&log).unwrap().contains(": gzip+elf64 kernel"), "{log}");
}

/// The whole interactive selection over an mke2fs disk holding binutils' NetBSD-shaped kernel:
/// a missing kernel is reported and the menu comes back; an edited command line reaches the
/// selected entry.
#[test]
fn flow_over_a_real_disk_with_a_real_kernel() {
    let kernel = netbsd_elf();
    let menu = b"timeout 30\ntitle missing\nkernel /nope\ntitle probe\nkernel /netbsd -s\n";
    let disks = [ext2_disk(&[("/boot/grub/menu.lst", menu.to_vec()), ("/netbsd", kernel.clone())])];
    let mut t = Script {
        now: 0,
        keys: vec![b"\r".to_vec(), b"\x1b[B".to_vec(), b"e\x1b[F root=xbd1a\x18".to_vec()],
        out: String::new(),
    };
    let mut log = String::new();
    let sel = flow::select_with(&args(parse(""), 16384, 4096), &disks, &mut log, Some(&mut t), || 0).expect("selected");
    assert!(log.contains("rpvboot: entry 0 \"missing\" cannot boot: kernel (hd0)/nope not found"), "{log}");
    assert!(t.out.contains("Error: kernel (hd0)/nope not found"), "{}", t.out);
    assert!(log.contains("rpvboot: booting entry 1 \"probe\": "), "{log}");
    assert_eq!(sel.cmdline, "-s root=xbd1a");
    assert_eq!(sel.title, "probe");
    // `timeout 0` keeps the unattended path (no menu, no terminal output).
    let menu0 = b"timeout 0\ndefault 1\ntitle missing\nkernel /nope\ntitle probe\nkernel /netbsd\n";
    let disks = [ext2_disk(&[("/boot/grub/menu.lst", menu0.to_vec()), ("/netbsd", kernel.clone())])];
    let mut t = Script { now: 0, keys: Vec::new(), out: String::new() };
    let mut log = String::new();
    let sel = flow::select_with(&args(parse(""), 16384, 4096), &disks, &mut log, Some(&mut t), || 0).expect("selected");
    assert!(t.out.is_empty());
    assert_eq!(sel.title, "probe");
    // The command line: root/kernel/boot, and halt.
    let mut t = Script {
        now: 0,
        keys: vec![b"c".to_vec(), b"root (hd0)\r".to_vec(), b"kernel /netbsd -v\r".to_vec(), b"boot\r".to_vec()],
        out: String::new(),
    };
    let sel = flow::select_with(&args(parse("rpvboot.menu"), 16384, 4096), &disks, &mut log, Some(&mut t), || 0)
        .expect("selected");
    assert!(sel.cmdline.starts_with("-v"), "{} {:?} {log}", sel.cmdline, t.out);
    let mut t = Script { now: 0, keys: vec![b"c".to_vec(), b"halt\r".to_vec()], out: String::new() };
    assert!(
        flow::select_with(&args(parse("rpvboot.menu"), 16384, 4096), &disks, &mut log, Some(&mut t), || 0).is_none()
    );
}

/// A big file shows a progress line; a file that is no kernel is refused with the image
/// layer's reason, shown in the menu.
#[test]
fn flow_progress_and_refused_kernel() {
    let big: Vec<u8> = (0..(3u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let menu = b"timeout 30\ntitle junk\nkernel /big\n";
    let disks = [ext2_disk(&[("/boot/grub/menu.lst", menu.to_vec()), ("/big", big.clone())])];
    let mut t = Script { now: 0, keys: vec![b"\r".to_vec(), b"c".to_vec(), b"halt\r".to_vec()], out: String::new() };
    let mut log = String::new();
    assert!(flow::select_with(&args(parse(""), 16384, 4096), &disks, &mut log, Some(&mut t), || 0).is_none());
    assert!(log.contains("rpvboot: (hd0)/big: 3.0 of 3.0 MiB (100%)"), "{log}");
    assert!(log.contains("rpvboot: entry 0 \"junk\" cannot boot: kernel image: "), "{log}");
    assert!(t.out.contains("Error: kernel image: "), "{}", t.out);
    assert!(log.contains("halt requested"));
}

/// The device stage's arguments for a PV domain.
fn args(extra: bootconfig::ExtraOptions, nr_pages: u64, pages_in_use: u64) -> flow::SelectArgs {
    flow::SelectArgs { extra, nr_pages, pages_in_use, container: bootplan::plan::Container::Pv }
}
