//! boot.cfg `load NAME` with real NetBSD kernels: `rpvboot-inspect boot --json` on an FFS made
//! by makefs must read each module where NetBSD's boot(8) would (sys/arch/i386/stand/lib/exec.c:
//! `module_base_path` builds `/stand/<machine>/<release>/modules` from the kernel's ELF class
//! and `__NetBSD_Version__`; `module_path` adds `NAME/NAME.kmod` for a bare name and keeps an
//! absolute one; `module_open` then tries the name as written; a module that cannot be opened
//! is "WARNING: couldn't open" and the kernel boots). The release is checked against what
//! `readelf -n` prints for `.note.netbsd.ident`.
//!
//! Needs `../shared/netbsd/netbsd-XEN3_DOMU*.gz` next to the project (skipped, saying so, when
//! absent), makefs and readelf.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{parse_json, J};

fn kernels() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/netbsd");
    ["netbsd-XEN3_DOMU.gz", "netbsd-XEN3_DOMU-legacy.gz"].iter().map(|n| dir.join(n)).filter(|p| p.exists()).collect()
}

/// The release `readelf -n` prints for the kernel's `.note.netbsd.ident` (`IDENT 799000400 (7.99.4)`).
fn readelf_release(elf: &Path) -> String {
    let out = String::from_utf8(common::run(Command::new("readelf").arg("-nW").arg(elf))).unwrap();
    let line = out.lines().find(|l| l.contains("IDENT")).unwrap_or_else(|| panic!("no IDENT note: {out}"));
    line.rsplit_once('(').unwrap().1.trim_end_matches(')').to_string()
}

fn strs(j: &J, key: &str) -> Vec<String> {
    let a = j.get(key);
    (0..a.len()).map(|i| a.at(i).get("path").s().to_string()).collect()
}

#[test]
fn load_finds_modules_where_boot8_does() {
    let ks = kernels();
    if ks.is_empty() {
        eprintln!("SKIPPED: no ../shared/netbsd/netbsd-XEN3_DOMU*.gz: boot.cfg `load NAME` with real NetBSD kernels not tested");
        return;
    }
    for k in ks {
        let name = k.file_name().unwrap().to_string_lossy().to_string();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/testimages/netbsd-modules").join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        let tree = dir.join("tree");
        let gz = std::fs::read(&k).unwrap();
        let elf = dir.join("netbsd.elf");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&elf, common::run(Command::new("gzip").arg("-dc").arg(&k))).unwrap();
        let rel = readelf_release(&elf);
        common::put(&tree, "/netbsd.gz", &gz);
        let base = format!("/stand/amd64/{rel}/modules");
        common::put(&tree, &format!("{base}/foo/foo.kmod"), b"FOO-KMOD");
        common::put(&tree, "/bar.kmod", b"BAR-KMOD");
        common::put(&tree, "/baz", b"BAZ-RAW");
        common::put(
            &tree,
            "/boot.cfg",
            b"menu=Boot:load foo;load /bar.kmod;load missing;load baz;boot netbsd.gz\ntimeout=5\n",
        );
        let img = dir.join("ffs.img");
        common::run(Command::new("makefs").args(["-t", "ffs", "-s", "32m"]).arg(&img).arg(&tree));
        let out =
            Command::new(env!("CARGO_BIN_EXE_rpvboot-inspect")).args(["boot", "--json"]).arg(&img).output().unwrap();
        let j = parse_json(&String::from_utf8(out.stdout).unwrap());
        assert_eq!(j.get("outcome").s(), "boot", "{name}: {j:?}");
        assert!(out.status.success());
        // foo: BASE/foo/foo.kmod; /bar.kmod as is; missing: a warning, skipped; baz: not under
        // BASE, so the name as written.
        assert_eq!(strs(&j, "modules"), [format!("{base}/foo/foo.kmod"), "/bar.kmod".into(), "/baz".into()], "{name}");
        let m = j.get("modules");
        assert_eq!(m.at(0).get("size").n(), 8);
        let d = j.get("diagnostics");
        let msgs: Vec<&str> = (0..d.len()).map(|i| d.at(i).get("message").s()).collect();
        assert!(
            msgs.iter().any(|m| m.starts_with("warning") && m.contains(&format!("{base}/missing/missing.kmod"))),
            "{name}: {msgs:?}"
        );
    }
}
