//! BootLoaderSpec layouts as RHEL 8 and RHEL 9 / Fedora install them, booted by
//! `rpvboot-inspect boot --json`: an MBR disk with a separate `/boot` (ext2) and a root
//! partition, `/boot/grub2/grub.cfg` in the shape RHEL 8's `grub2-mkconfig` writes (00_header's
//! grubenv lines, 10_linux's `search --fs-uuid`, fallback `kernelopts` and `blscfg`), a grubenv
//! made by the real `grub-editenv`, entries as `kernel-install` writes them, and Debian's Linux
//! PV kernel at every named path. grub-emu has no `blscfg` (it is Fedora's patch), so each
//! expectation cites the rule of Fedora/RHEL's `grub-core/commands/blscfg.c` it follows.

use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::{parse_json, J};

const MID: &str = "2bd0f0d0f59d4f2a8a5a3b2e4d2c1a00";
const BOOT_UUID: &str = "6b3f1d2e-8c4a-4f5e-9a7b-1c2d3e4f5a6b";
const ROOT_UUID: &str = "0c7a9e1f-3b5d-4c2a-8e6f-7a8b9c0d1e2f";
/// Versions in the order the files are written (not the menu's).
const VERSIONS: [&str; 4] = ["4.18.0-305.el8.x86_64", "0-rescue", "4.18.0-348.el8.x86_64", "4.18.0-240.el8.x86_64"];

/// testimages/configs/rhel8-grub.cfg: the shape of RHEL 8's `grub2-mkconfig` output (00_header
/// and 10_linux of rhboot/grub2 rhel-8-main with `GRUB_DEFAULT=saved`,
/// `GRUB_ENABLE_BLSCFG=true`, console terminal) for this layout.
fn rhel8_cfg(boot_hint: &str) -> String {
    let t = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../testimages/configs/rhel8-grub.cfg"))
        .unwrap();
    t.replace("@BOOT_HINT@", boot_hint).replace("@BOOT_UUID@", BOOT_UUID).replace("@ROOT_UUID@", ROOT_UUID)
}

/// An entry as RHEL 8's kernel-install (`20-grub.install`) writes it; the rescue entry as
/// `51-dracut-rescue.install` does.
fn rhel8_entry(version: &str) -> String {
    let (title, kernel, initrd) = if version == "0-rescue" {
        (
            format!("Red Hat Enterprise Linux (0-rescue-{MID}) 8.5 (Ootpa)"),
            format!("0-rescue-{MID}"),
            format!("0-rescue-{MID}"),
        )
    } else {
        (format!("Red Hat Enterprise Linux ({version}) 8.5 (Ootpa)"), version.to_string(), version.to_string())
    };
    format!(
        "title {title}\nversion {kernel}\nlinux /vmlinuz-{kernel}\ninitrd /initramfs-{initrd}.img $tuned_initrd\noptions $kernelopts $tuned_params\nid rhel-20211019112839-{kernel}\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class kernel\n"
    )
}

/// The disk: MBR, partition 1 `/boot` (ext2), partition 2 `/` (ext2), filesystems by
/// `mke2fs -d`, the table by `sfdisk`.
fn disk(dir: &Path, boot: &Path, root: &Path) -> String {
    use std::io::{Seek, SeekFrom, Write};
    let img = dir.join("disk.img");
    let mut placed = Vec::new();
    for (i, (tree, uuid, mib)) in [(boot, BOOT_UUID, 96u64), (root, ROOT_UUID, 8)].iter().enumerate() {
        let fs = dir.join(format!("p{i}.fs"));
        common::run(
            Command::new("mke2fs")
                .args(["-q", "-F", "-t", "ext2", "-U", uuid, "-d"])
                .arg(tree)
                .arg(&fs)
                .arg(format!("{mib}M")),
        );
        placed.push(fs);
    }
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(106 << 20).unwrap();
    drop(f);
    let script = format!(
        "label: dos\nstart=2048, size={}, type=83\nstart={}, size={}, type=83\n",
        96 * 2048,
        97 * 2048,
        8 * 2048
    );
    let mut child = Command::new("sfdisk").args(["-q"]).arg(&img).stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    let mut f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    for (start, fs) in [(1u64, &placed[0]), (97, &placed[1])] {
        f.seek(SeekFrom::Start(start << 20)).unwrap();
        f.write_all(&std::fs::read(fs).unwrap()).unwrap();
    }
    img.to_str().unwrap().to_string()
}

/// `grub-editenv FILE create` then `set` each `k=v`.
fn grubenv(path: &Path, vars: &[&str]) {
    let _ = std::fs::remove_file(path);
    common::run(Command::new("grub-editenv").arg(path).arg("create"));
    if !vars.is_empty() {
        common::run(Command::new("grub-editenv").arg(path).arg("set").args(vars));
    }
}

fn boot(img: &str) -> (J, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_rpvboot-inspect")).args(["boot", "--json", img]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with('{'), "stdout {text}\nstderr {}", String::from_utf8_lossy(&out.stderr));
    (parse_json(&text), out.status.success())
}

fn titles(j: &J) -> Vec<String> {
    let e = j.get("config").get("entries");
    (0..e.len()).map(|i| e.at(i).get("title").s().to_string()).collect()
}

#[test]
fn rhel8_separate_boot() {
    let Some(k) = common::vmlinuz() else {
        eprintln!(
            "SKIPPED: no Debian vmlinuz under target/e2e/x/boot or target/kernels/x/boot (run cargo xtask setup)"
        );
        return;
    };
    if !common::have("grub-editenv") || !common::have("sfdisk") {
        eprintln!("SKIPPED: grub-editenv or sfdisk missing (apt-get install grub2-common fdisk)");
        return;
    }
    let dir = common::work("inspect-bls", "rhel8");
    let (bt, rt) = (dir.join("boot"), dir.join("root"));
    common::put(&rt, "/etc/machine-id", format!("{MID}\n").as_bytes());
    common::put(&bt, "/grub2/grub.cfg", rhel8_cfg("hd0,msdos1").as_bytes());
    for v in VERSIONS {
        let name = if v == "0-rescue" { format!("0-rescue-{MID}") } else { v.to_string() };
        common::put(&bt, &format!("/vmlinuz-{name}"), &k);
        common::put(&bt, &format!("/initramfs-{name}.img"), name.as_bytes());
        common::put(&bt, &format!("/loader/entries/{MID}-{v}.conf"), rhel8_entry(v).as_bytes());
    }
    let env = bt.join("grub2/grubenv");
    let menu_order = ["4.18.0-348.el8.x86_64", "4.18.0-305.el8.x86_64", "4.18.0-240.el8.x86_64"];
    let want_titles: Vec<String> = menu_order
        .iter()
        .map(|v| format!("Red Hat Enterprise Linux ({v}) 8.5 (Ootpa)"))
        .chain([format!("Red Hat Enterprise Linux (0-rescue-{MID}) 8.5 (Ootpa)")])
        .collect();

    // (grubenv, entry booted, command line) — blscfg.c rules:
    // - bls_add_entry keeps the entries newest first by bls_cmp (the file names as
    //   name-version-release through vercmp): 348, 305, 240, then the rescue entry (version 0);
    // - the menu entry's id is the file name without .conf, so saved_entry=<that> selects it
    //   (`set default="${saved_entry}"`); GRUB's menu also takes a title or a number;
    // - options `$kernelopts $tuned_params` go through expand_val ($tuned_params is set empty by
    //   00_tuned) and GRUB's word splitting: kernelopts from grubenv, else 10_linux's fallback;
    // - `linux ($root)/vmlinuz-…` and `initrd ($root)/initramfs-… $tuned_initrd`, with $root the
    //   /boot partition found by `search --fs-uuid`.
    let kopts = format!("kernelopts=root=UUID={ROOT_UUID} ro console=hvc0 crashkernel=auto");
    let by_id = format!("saved_entry={MID}-4.18.0-305.el8.x86_64");
    let by_title = "saved_entry=Red Hat Enterprise Linux (4.18.0-240.el8.x86_64) 8.5 (Ootpa)".to_string();
    let cases: Vec<(Vec<String>, usize, String)> = vec![
        (vec![kopts.clone(), by_id], 1, format!("root=UUID={ROOT_UUID} ro console=hvc0 crashkernel=auto")),
        (vec![kopts.clone(), by_title], 2, format!("root=UUID={ROOT_UUID} ro console=hvc0 crashkernel=auto")),
        (
            vec![kopts.clone(), "saved_entry=3".into()],
            3,
            format!("root=UUID={ROOT_UUID} ro console=hvc0 crashkernel=auto"),
        ),
        (vec![], 0, format!("root=UUID={ROOT_UUID} ro console=hvc0 fallback")),
    ];
    for (vars, want_entry, want_cmdline) in cases {
        let vars: Vec<&str> = vars.iter().map(String::as_str).collect();
        grubenv(&env, &vars);
        let img = disk(&dir, &bt, &rt);
        let (j, ok) = boot(&img);
        assert!(ok, "{vars:?}: {j:?}");
        assert_eq!(titles(&j), want_titles, "{vars:?}");
        assert_eq!(j.get("entry").n() as usize, want_entry, "{vars:?}");
        assert_eq!(j.get("cmdline").s(), want_cmdline, "{vars:?}");
        let v = if want_entry == 3 { format!("0-rescue-{MID}") } else { menu_order[want_entry].to_string() };
        let kern = j.get("kernel");
        assert_eq!((kern.get("device").s(), kern.get("path").s()), ("(hd0,0)", format!("/vmlinuz-{v}").as_str()));
        let m = j.get("modules");
        assert_eq!(m.len(), 1, "{vars:?}: the empty $tuned_initrd is no file");
        assert_eq!(
            (m.at(0).get("device").s(), m.at(0).get("path").s()),
            ("(hd0,0)", format!("/initramfs-{v}.img").as_str())
        );
        assert_eq!(m.at(0).get("size").n() as usize, v.len());
    }
}

/// RHEL 9 / Fedora: `/boot` on the root filesystem, so `/loader/entries` does not exist on
/// `$root` and blscfg falls back to `/boot/loader/entries` (find_entry); entries carry their
/// options literally and name `/boot/…` paths; an entry without `linux` is skipped
/// (create_entry); a file not ending in `.conf` is not read (read_entry).
#[test]
fn rhel9_boot_on_root() {
    let Some(k) = common::vmlinuz() else {
        eprintln!(
            "SKIPPED: no Debian vmlinuz under target/e2e/x/boot or target/kernels/x/boot (run cargo xtask setup)"
        );
        return;
    };
    if !common::have("grub-editenv") {
        eprintln!("SKIPPED: grub-editenv missing (apt-get install grub2-common)");
        return;
    }
    let dir = common::work("inspect-bls", "rhel9");
    let tree = dir.join("tree");
    let cfg = "if [ -s $prefix/grubenv ]; then\n  load_env\nfi\nset default=\"${saved_entry}\"\nset timeout=5\ninsmod blscfg\nblscfg\n";
    common::put(&tree, "/boot/grub2/grub.cfg", cfg.as_bytes());
    for v in ["5.14.0-70.13.1.el9_0.x86_64", "5.14.0-70.22.1.el9_0.x86_64", "5.14.0-162.6.1.el9_1.x86_64"] {
        common::put(&tree, &format!("/boot/vmlinuz-{v}"), &k);
        common::put(
            &tree,
            &format!("/boot/loader/entries/{MID}-{v}.conf"),
            format!("title Rocky Linux ({v}) 9.0\nversion {v}\nlinux /boot/vmlinuz-{v}\ninitrd /boot/initramfs-{v}.img\noptions root=/dev/xvda ro console=hvc0 v={v}\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class rocky\n").as_bytes(),
        );
        common::put(&tree, &format!("/boot/initramfs-{v}.img"), v.as_bytes());
    }
    common::put(
        &tree,
        &format!("/boot/loader/entries/{MID}-9.9.9-1.el9.x86_64.conf"),
        b"title no kernel line\nversion 9.9.9\n",
    );
    common::put(
        &tree,
        &format!("/boot/loader/entries/{MID}-9.9.9-2.el9.x86_64.conf.rpmsave"),
        b"title saved\nlinux /x\n",
    );
    grubenv(&tree.join("boot/grub2/grubenv"), &[]);
    let img = dir.join("root.img");
    common::run(Command::new("mke2fs").args(["-q", "-F", "-t", "ext2", "-d"]).arg(&tree).arg(&img).arg("64M"));
    let (j, ok) = boot(img.to_str().unwrap());
    assert!(ok, "{j:?}");
    assert_eq!(
        titles(&j),
        [
            "Rocky Linux (5.14.0-162.6.1.el9_1.x86_64) 9.0",
            "Rocky Linux (5.14.0-70.22.1.el9_0.x86_64) 9.0",
            "Rocky Linux (5.14.0-70.13.1.el9_0.x86_64) 9.0"
        ]
    );
    // No saved_entry: entry 0, the newest.
    assert_eq!(j.get("entry").n(), 0);
    assert_eq!(j.get("cmdline").s(), "root=/dev/xvda ro console=hvc0 v=5.14.0-162.6.1.el9_1.x86_64");
    assert_eq!(j.get("kernel").get("path").s(), "/boot/vmlinuz-5.14.0-162.6.1.el9_1.x86_64");
    assert_eq!(j.get("modules").at(0).get("path").s(), "/boot/initramfs-5.14.0-162.6.1.el9_1.x86_64.img");
}
