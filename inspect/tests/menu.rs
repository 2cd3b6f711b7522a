//! End to end: `rpvboot-inspect menu` on filesystems made by mke2fs -d and makefs holding the
//! sample configurations of `testimages/configs/`; the JSON must show what those files say.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{parse_json, J};

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testimages/configs")
}

/// A bare filesystem image (`(hdN)`) of `kind` ("ext2" or "ffs") holding `files`.
fn image(dir: &Path, name: &str, kind: &str, files: &[(&str, Vec<u8>)]) -> String {
    let tree = dir.join(format!("{name}.d"));
    for (path, data) in files {
        let p = tree.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
    std::fs::create_dir_all(&tree).unwrap();
    let img = dir.join(format!("{name}.img"));
    let mib = 4 + files.iter().map(|(_, d)| d.len()).sum::<usize>() / (1 << 20) * 2;
    match kind {
        "ext2" => common::run(
            Command::new("mke2fs").args(["-q", "-F", "-t", "ext2", "-d"]).arg(&tree).arg(&img).arg(format!("{mib}M")),
        ),
        "ffs" => common::run(Command::new("makefs").args(["-t", "ffs", "-s", &format!("{mib}m")]).arg(&img).arg(&tree)),
        _ => unreachable!(),
    };
    img.to_str().unwrap().to_string()
}

/// An MBR disk (made by sfdisk) whose partitions hold the given filesystem images, each
/// starting at a 1 MiB boundary: `(image, MBR type)`.
fn mbr_disk(dir: &Path, name: &str, parts: &[(&str, &str)]) -> String {
    let mut script = String::from("label: dos\n");
    let mut at = 2048u64;
    let mut places = Vec::new();
    for (img, ty) in parts {
        let sectors = std::fs::metadata(img).unwrap().len() / 512;
        script.push_str(&format!("start={at}, size={sectors}, type={ty}\n"));
        places.push((img, at));
        at += sectors.div_ceil(2048) * 2048;
    }
    let disk = dir.join(format!("{name}.img"));
    let f = std::fs::File::create(&disk).unwrap();
    f.set_len(at * 512 + (1 << 20)).unwrap();
    drop(f);
    let mut child = Command::new("sfdisk")
        .arg("--quiet")
        .arg(&disk)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sfdisk");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "sfdisk {script}");
    for (img, start) in places {
        let data = std::fs::read(img).unwrap();
        let mut f = std::fs::OpenOptions::new().write(true).open(&disk).unwrap();
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(start * 512)).unwrap();
        f.write_all(&data).unwrap();
    }
    disk.to_str().unwrap().to_string()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(configs().join(name)).unwrap()
}

fn inspect(args: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_rpvboot-inspect")).arg("menu").args(args).output().expect("run");
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap(), out.status.success())
}

/// `menu --json`: the configuration tests use stand-in kernels (`k`), which the verdict
/// (the dry run's) refuses, so the exit status is not theirs to check.
fn json(args: &[&str]) -> J {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let (out, err, _) = inspect(&a);
    assert!(out.starts_with('{'), "{err}");
    parse_json(&out)
}

#[test]
fn search_order_across_disks_and_extra() {
    let dir = common::work("inspect-menu", "search");
    let fs = image(
        &dir,
        "ext",
        "ext2",
        &[
            ("/boot/grub/menu.lst", fixture("debian-lenny-menu.lst")),
            ("/boot/vmlinuz-2.6.26-2-xen-amd64", b"k".to_vec()),
            ("/boot/initrd.img-2.6.26-2-xen-amd64", b"i".to_vec()),
        ],
    );
    let ext = mbr_disk(&dir, "disk0", &[(&fs, "83")]);
    let ffs =
        image(&dir, "ffs", "ffs", &[("/boot.cfg", fixture("netbsd-sysinst-boot.cfg")), ("/netbsd", b"k".to_vec())]);

    // hd0 is searched before hd1.
    let j = json(&[&ext, &ffs]);
    assert_eq!(j.get("config").get("device").s(), "(hd0,0)");
    assert_eq!(j.get("config").get("path").s(), "/boot/grub/menu.lst");
    assert_eq!(j.get("config").get("format").s(), "menu.lst");
    assert_eq!(j.get("default").n(), 0);
    assert_eq!(j.get("timeout").n(), 5);
    let e = j.get("entries");
    assert_eq!(e.len(), 2);
    assert_eq!(e.at(1).get("title").s(), "Debian GNU/Linux, kernel 2.6.26-2-xen-amd64 (single-user mode)");
    let k = e.at(1).get("kernel");
    assert_eq!(k.get("device").s(), "(hd0,0)");
    assert_eq!(k.get("path").s(), "/boot/vmlinuz-2.6.26-2-xen-amd64");
    assert_eq!(k.get("args").s(), "root=/dev/xvda1 ro console=hvc0 single");
    assert_eq!(e.at(1).get("modules").at(0).get("path").s(), "/boot/initrd.img-2.6.26-2-xen-amd64");
    let d = j.get("diagnostics");
    assert_eq!(d.len(), 1);
    assert_eq!(d.at(0).get("file").s(), "(hd0,0)/boot/grub/menu.lst");
    assert_eq!(d.at(0).get("line").n(), 20); // `color cyan/blue white/blue`

    // Disk order reversed: boot.cfg on hd0 now wins.
    let j = json(&[&ffs, &ext]);
    assert_eq!(j.get("config").get("format").s(), "boot.cfg");

    // pvgrub's extra= form names the file on the second disk.
    let j = json(&["--extra", "(hd1)/boot.cfg", &ext, &ffs]);
    assert_eq!(j.get("config").get("device").s(), "(hd1)");
    assert_eq!(j.get("config").get("format").s(), "boot.cfg");
    assert_eq!(j.get("default").n(), 1); // boot.cfg's default=2 counts from 1
    assert_eq!(j.get("timeout").n(), 5);
    let e = j.get("entries");
    assert_eq!(e.len(), 5);
    assert_eq!(e.at(1).get("title").s(), "Boot single user");
    assert_eq!(e.at(1).get("kernel").get("path").s(), "/netbsd");
    assert_eq!(e.at(1).get("kernel").get("args").s(), "-s");
    assert_eq!(e.at(4).get("kernel"), &J::Null);
    let b = j.get("boot");
    assert_eq!(b.get("kernel").get("device").s(), "(hd1)");
    assert_eq!(b.get("cmdline").s(), "-s bootdev=xbd1a");

    // rpvboot.* options.
    let j =
        json(&["--extra", "rpvboot.config=/boot.cfg rpvboot.entry=3 rpvboot.timeout=0 rpvboot.nobootdev", &ext, &ffs]);
    assert_eq!(j.get("default").n(), 3);
    assert_eq!(j.get("timeout").n(), 0);
    assert_eq!(j.get("boot").get("cmdline").s(), "-12");
}

#[test]
fn nothing_found_boots_netbsd_from_first_ffs() {
    let dir = common::work("inspect-menu", "builtin");
    let ext = image(&dir, "ext", "ext2", &[("/etc/motd", b"hi".to_vec())]);
    let ffs = image(&dir, "ffs", "ffs", &[("/netbsd.gz", b"k".to_vec())]);
    let j = json(&[&ext, &ffs]);
    assert_eq!(j.get("config").get("format").s(), "builtin");
    assert_eq!(j.get("config").get("device").s(), "(hd1)");
    let b = j.get("boot");
    assert_eq!(b.get("kernel").get("path").s(), "/netbsd.gz");
    assert_eq!(b.get("cmdline").s(), "bootdev=xbd1a");
}

#[test]
fn grub_cfg_from_image() {
    let dir = common::work("inspect-menu", "grubcfg");
    let fs = image(
        &dir,
        "ext",
        "ext2",
        &[
            ("/boot/grub/grub.cfg", fixture("debian12-grub.cfg")),
            ("/boot/vmlinuz-6.1.0-18-amd64", b"k".to_vec()),
            ("/boot/initrd.img-6.1.0-18-amd64", b"i".to_vec()),
        ],
    );
    let ext = mbr_disk(&dir, "disk", &[(&fs, "83")]);
    let j = json(&[&ext]);
    assert_eq!(j.get("config").get("format").s(), "grub.cfg");
    let e = j.get("entries");
    assert_eq!(e.len(), 3);
    assert_eq!(e.at(0).get("title").s(), "Debian GNU/Linux");
    assert_eq!(e.at(0).get("kernel").get("device").s(), "(hd0,0)"); // set root='hd0,msdos1'
    assert_eq!(e.at(2).get("modules").at(0).get("path").s(), "/boot/initrd.img-6.1.0-18-amd64");
    let d = j.get("diagnostics");
    for i in 0..d.len() {
        assert_eq!(d.at(i).get("severity").s(), "note", "{:?}", d.at(i));
    }
    // Without its initrd the boot would fail: said at the entry's line.
    let fs = image(
        &dir,
        "ext-noinitrd",
        "ext2",
        &[("/boot/grub/grub.cfg", fixture("debian12-grub.cfg")), ("/boot/vmlinuz-6.1.0-18-amd64", b"k".to_vec())],
    );
    let ext = mbr_disk(&dir, "disk-noinitrd", &[(&fs, "83")]);
    let (out, _, ok) = inspect(&[&ext]);
    assert!(!ok, "nothing boots: exit 1, as `boot`");
    assert!(
        out.lines()
            .any(|l| l
                == "(hd0,0)/boot/grub/grub.cfg:61: error: module (hd0,0)/boot/initrd.img-6.1.0-18-amd64 not found"),
        "{out}"
    );
}

#[test]
fn netbsd_mbr_partition_without_label_is_e() {
    // FFS straight in an MBR slot of type 0xA9 with no disklabel: NetBSD calls it xbd0e.
    let dir = common::work("inspect-menu", "mbr-ffs");
    let fs =
        image(&dir, "ffs", "ffs", &[("/boot.cfg", fixture("netbsd-sysinst-boot.cfg")), ("/netbsd", b"k".to_vec())]);
    let disk = mbr_disk(&dir, "disk", &[(&fs, "a9")]);
    let j = json(&[&disk]);
    assert_eq!(j.get("config").get("device").s(), "(hd0,0)");
    assert_eq!(j.get("boot").get("cmdline").s(), "-s bootdev=xbd0e");
    assert_eq!(j.get("diagnostics").len(), 5, "rndseed x4 and clear: notes only");
}

#[test]
fn diagnostics_text_and_json() {
    let f = configs().join("broken-menu.lst");
    let f = f.to_str().unwrap();
    let (out, err, ok) = inspect(&["--file", f]);
    assert!(ok, "{err}");
    let diag_lines: Vec<&str> = out.lines().filter(|l| l.starts_with(f)).collect();
    let want = [
        (1, "warning: default '9' is not one of the 3 entries, using the first"),
        (2, "error: 'timeout': 'soon' is not a valid number"),
        (3, "warning: fallback 0 repeats an entry, dropped"),
        (3, "warning: fallback 7 is not one of the 3 entries, dropped"),
        (10, "error: entry 'Chainload' has no kernel and cannot boot"),
        (12, "error: 'chainloader' is not supported by rpvboot"),
        (14, "error: entry 'Bad device' has no kernel and cannot boot"),
        (15, "error: '(hd0,zz)' is not a device name like (hd0,0)"),
    ];
    let want: Vec<String> = want.iter().map(|(l, m)| format!("{f}:{l}: {m}")).collect();
    assert_eq!(diag_lines, want);
    assert!(out.contains("would boot: entry 0 \"Good\""), "{out}");
    let j = json(&["--file", f]);
    assert_eq!(j.get("fallback"), &J::Arr(vec![J::Num(1.0)]));
    assert_eq!(j.get("entries").len(), 3);
    assert_eq!(j.get("diagnostics").len(), 8);
    assert_eq!(j.get("diagnostics").at(7).get("line").n(), 15);
    assert_eq!(j.get("diagnostics").at(7).get("message").s(), "'(hd0,zz)' is not a device name like (hd0,0)");
}

#[test]
fn netbsd_crlf_menu_lst_on_ffs() {
    let dir = common::work("inspect-menu", "netbsd");
    let ffs = image(
        &dir,
        "ffs",
        "ffs",
        &[("/grub/menu.lst", fixture("netbsd-domu-menu.lst")), ("/netbsd-XEN3_DOMU.gz", b"k".to_vec())],
    );
    let j = json(&[&ffs]);
    assert_eq!(j.get("config").get("path").s(), "/grub/menu.lst");
    assert_eq!(j.get("timeout").n(), 3);
    assert_eq!(j.get("fallback"), &J::Arr(vec![J::Num(1.0)]));
    assert_eq!(j.get("diagnostics").len(), 0);
    let e = j.get("entries");
    assert_eq!(e.at(1).get("kernel").get("args").s(), "-s");
    assert_eq!(e.at(2).get("kernel").get("args").s(), "root=xbd0a");
    assert_eq!(j.get("boot").get("cmdline").s(), "bootdev=xbd0a");
}

#[test]
fn centos_boot_partition_with_symlinked_menu_lst() {
    // anaconda: /boot is (hd0,0), /boot/grub/menu.lst -> ./grub.conf, root LV on (hd0,1).
    let dir = common::work("inspect-menu", "centos");
    let tree = dir.join("boot.d");
    std::fs::create_dir_all(tree.join("grub")).unwrap();
    std::fs::write(tree.join("grub/grub.conf"), fixture("centos5-grub.conf")).unwrap();
    std::os::unix::fs::symlink("./grub.conf", tree.join("grub/menu.lst")).unwrap();
    std::fs::write(tree.join("vmlinuz-2.6.18-398.el5xen"), b"k").unwrap();
    std::fs::write(tree.join("initrd-2.6.18-398.el5xen.img"), b"i").unwrap();
    let boot = image(&dir, "boot", "ext2", &[]);
    let root = image(&dir, "root", "ext2", &[("/etc/fstab", b"/dev/xvda2 / ext3 defaults 1 1\n".to_vec())]);
    let disk = mbr_disk(&dir, "disk", &[(&boot, "83"), (&root, "8e")]);
    let j = json(&[&disk]);
    assert_eq!(j.get("config").get("device").s(), "(hd0,0)");
    assert_eq!(j.get("config").get("path").s(), "/grub/menu.lst");
    assert!(matches!(j.get("hidden"), J::Bool(true)));
    let b = j.get("boot");
    assert_eq!(b.get("kernel").get("path").s(), "/vmlinuz-2.6.18-398.el5xen");
    assert_eq!(b.get("cmdline").s(), "ro root=/dev/VolGroup00/LogVol00");
    assert_eq!(b.get("modules").at(0).get("path").s(), "/initrd-2.6.18-398.el5xen.img");
    let d = j.get("diagnostics");
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d.at(0).get("line").n(), 12);
}

/// Issue 19: `menu` said "would boot: entry 0" (exit 0) where `boot` found nothing could boot.
/// Both now come from the loader's decision: on a disk whose default entry's kernel is not a
/// kernel, they name the same entry and outcome and exit alike.
#[test]
fn menu_verdict_is_boots_decision() {
    let boot = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rpvboot-inspect"))
            .args(["boot", "--json"])
            .args(args)
            .output()
            .expect("run");
        (parse_json(&String::from_utf8(out.stdout).unwrap()), out.status.success())
    };
    let dir = common::work("inspect-menu", "verdict");
    // Only a bad kernel (and a missing one as its fallback): nothing boots.
    let lst =
        b"default 0\nfallback 1\ntimeout 3\ntitle bad\nkernel /bad root=/dev/xvda1\ntitle missing\nkernel /missing\n";
    let fs = image(&dir, "bad", "ext2", &[("/boot/grub/menu.lst", lst.to_vec()), ("/bad", b"not a kernel".to_vec())]);
    let (b, b_ok) = boot(&[&fs]);
    let (text, _, m_ok) = inspect(&[&fs]);
    let j = json(&[&fs]);
    assert_eq!(b.get("outcome").s(), "error");
    assert_eq!(j.get("boot").get("outcome").s(), "error");
    assert!(text.contains("would boot: nothing ("), "{text}");
    assert!(!text.contains("would boot: entry"), "{text}");
    assert_eq!((b_ok, m_ok), (false, false));

    // A Debian PV kernel as the fallback: both boot entry 1 after entry 0 fails.
    let Some(k) = common::vmlinuz() else {
        eprintln!("SKIPPED (fallback half): no Debian vmlinuz under target/e2e/x/boot (run cargo xtask setup)");
        return;
    };
    let fs = image(
        &dir,
        "fallback",
        "ext2",
        &[("/boot/grub/menu.lst", lst.to_vec()), ("/bad", b"not a kernel".to_vec()), ("/missing", k)],
    );
    let (b, b_ok) = boot(&[&fs]);
    let (text, _, m_ok) = inspect(&[&fs]);
    let j = json(&[&fs]);
    assert_eq!((b.get("outcome").s(), b.get("entry").n()), ("fallback", 1));
    assert_eq!((j.get("boot").get("outcome").s(), j.get("boot").get("entry").n()), ("fallback", 1));
    assert!(text.contains("would boot: entry 1 \"missing\" (fallback;"), "{text}");
    assert_eq!((b_ok, m_ok), (false, false), "both exit as boot does for a fallback");
}
