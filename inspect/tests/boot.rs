//! End to end: `rpvboot-inspect boot --json` on filesystems made by mke2fs -d and makefs holding
//! a menu.lst, kernels (the NetBSD-shaped ELF built by binutils through `testimages::kernels`,
//! compressed by the reference gzip/xz/zstd/lz4 tools, and Debian's Linux PV vmlinuz when
//! `cargo xtask setup` fetched it) and modules. Every figure is checked against the inputs'
//! own facts: host file sizes, the ELF's entry and Xen VIRT_BASE read with the `object` crate,
//! the menu as written.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{parse_json, J};

impl J {
    fn b(&self) -> bool {
        match self {
            J::Bool(b) => *b,
            _ => panic!("not a bool: {self:?}"),
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, J::Null)
    }
    fn hex(&self) -> u64 {
        u64::from_str_radix(self.s().trim_start_matches("0x"), 16).unwrap()
    }
}

/// A bare filesystem image (`(hd0)`) of `kind` ("ext2" or "ffs") holding the files of `tree`.
fn image(dir: &Path, kind: &str, tree: &Path) -> String {
    let img = dir.join(format!("{kind}.img"));
    match kind {
        "ext2" => {
            common::run(Command::new("mke2fs").args(["-q", "-F", "-t", "ext2", "-d"]).arg(tree).arg(&img).arg("96M"))
        }
        "ffs" => common::run(Command::new("makefs").args(["-t", "ffs", "-s", "96m"]).arg(&img).arg(tree)),
        _ => unreachable!(),
    };
    img.to_str().unwrap().to_string()
}

/// Runs `rpvboot-inspect boot --json`: (parsed JSON, exit success).
fn boot(args: &[&str]) -> (J, bool) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_rpvboot-inspect")).arg("boot").arg("--json").args(args).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with('{'), "stdout {text}\nstderr {}", String::from_utf8_lossy(&out.stderr));
    (parse_json(&text), out.status.success())
}

use testimages::tools::pipe as compress;

/// The ELF's own entry (XEN_ELFNOTE_ENTRY, else e_entry) and XEN_ELFNOTE_VIRT_BASE, read by
/// the `object` crate from the PT_NOTE segments.
fn elf_facts(elf: &[u8]) -> (u64, u64) {
    use object::read::elf::{FileHeader, ProgramHeader};
    let hdr = object::elf::FileHeader64::<object::Endianness>::parse(elf).unwrap();
    let e = hdr.endian().unwrap();
    let mut entry = hdr.e_entry(e);
    let mut virt_base = 0;
    for ph in hdr.program_headers(e, elf).unwrap() {
        if let Some(mut notes) = ph.notes(e, elf).unwrap() {
            while let Some(n) = notes.next().unwrap() {
                if n.name() != b"Xen" {
                    continue;
                }
                let d = n.desc();
                let v = match d.len() {
                    8 => u64::from_le_bytes(d.try_into().unwrap()),
                    4 => u64::from(u32::from_le_bytes(d.try_into().unwrap())),
                    _ => continue,
                };
                match n.n_type(e) {
                    1 => entry = v,
                    3 => virt_base = v,
                    _ => {}
                }
            }
        }
    }
    (entry, virt_base)
}

fn netbsd_elf() -> Vec<u8> {
    let dir = testimages::kernels::images_dir();
    let p = testimages::kernels::build(&dir, &testimages::kernels::KernelSpec::netbsd())
        .expect("as/ld (binutils) must be installed: cargo xtask setup");
    std::fs::read(p).unwrap()
}

/// Regions in PFN order, disjoint, inside the domain; and the kernel region holds the image.
fn check_layout(j: &J, memory_pages: i64, image_size: i64) {
    let lay = j.get("layout");
    assert_eq!(lay.get("memory_pages").n(), memory_pages);
    let regions = lay.get("regions");
    let mut end = 0;
    for i in 0..regions.len() {
        let r = regions.at(i);
        let (first, pages) = (r.get("first_page").n(), r.get("pages").n());
        assert!(first >= end, "region {} overlaps the one before: {lay:?}", r.get("name").s());
        end = first + pages;
        assert!(end <= memory_pages);
    }
    let k = regions.at(0);
    assert_eq!(k.get("name").s(), "kernel");
    assert!(k.get("pages").n() * 4096 >= image_size);
    let pt = (0..regions.len()).map(|i| regions.at(i)).find(|r| r.get("name").s() == "page_tables").unwrap();
    assert_eq!(pt.get("pages").n(), lay.get("pt_frames").n());
    assert_eq!(lay.get("start_info").get("nr_pages").n(), memory_pages);
    assert_eq!(lay.get("start_info").get("flags").n(), 0);
}

const MENU: &str = "default 0\ntimeout 3\nfallback 1\n\ntitle NetBSD\n  kernel /netbsd.KIND -s console=com0\n  module /mod.bin\n  module /mod.gz\ntitle plain\n  kernel /netbsd.plain\n";

/// Each compression format through the whole dry run, on ext2 and FFS.
#[test]
fn netbsd_kernel_in_every_format() {
    let elf = netbsd_elf();
    let (entry, virt_base) = elf_facts(&elf);
    assert_eq!(virt_base, testimages::kernels::KERNBASE);
    let module: Vec<u8> = (0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let formats: [(&str, Vec<u8>, &[&str]); 5] = [
        ("plain", elf.clone(), &["elf64"]),
        ("gz", compress("gzip", &["-9c"], &elf), &["gzip", "elf64"]),
        ("xz", compress("xz", &["-c", "--check=crc32"], &elf), &["xz", "elf64"]),
        ("zst", compress("zstd", &["-c", "-q"], &elf), &["zstd", "elf64"]),
        ("lz4", compress("lz4", &["-c", "-l"], &elf), &["lz4", "elf64"]),
    ];
    for fs in ["ext2", "ffs"] {
        for (kind, bytes, names) in &formats {
            let dir = common::work("inspect-boot", &format!("{fs}-{kind}"));
            let tree = dir.join("tree");
            common::put(&tree, "/boot/grub/menu.lst", MENU.replace("KIND", kind).as_bytes());
            common::put(&tree, &format!("/netbsd.{kind}"), bytes);
            common::put(&tree, "/netbsd.plain", &elf);
            common::put(&tree, "/mod.bin", &module);
            common::put(&tree, "/mod.gz", &compress("gzip", &["-c"], &module));
            let img = image(&dir, fs, &tree);
            let (j, ok) = boot(&[&img]);
            let ctx = format!("{fs} {kind}: {j:?}");
            assert!(ok, "{ctx}");
            assert_eq!(j.get("outcome").s(), "boot", "{ctx}");
            assert_eq!(j.get("entry").n(), 0);
            // As written, plus the bootdev= NetBSD's Xen startup reads (bare disk: xbd0a).
            assert_eq!(j.get("cmdline").s(), "-s console=com0 bootdev=xbd0a", "{ctx}");
            let k = j.get("kernel");
            assert_eq!(k.get("device").s(), "(hd0)");
            assert_eq!(k.get("path").s(), format!("/netbsd.{kind}"));
            let got: Vec<&str> = (0..k.get("format").len()).map(|i| k.get("format").at(i).s()).collect();
            assert_eq!(&got, names, "{ctx}");
            let host = std::fs::metadata(tree.join(format!("netbsd.{kind}"))).unwrap().len();
            assert_eq!(k.get("file_size").n() as u64, host);
            assert_eq!(k.get("entry_point").hex(), entry);
            assert_eq!(k.get("virt_base").hex(), virt_base);
            let n = k.get("notes");
            assert_eq!(n.get("guest_os").s(), "NetBSD");
            assert_eq!(n.get("xen_version").s(), "xen-3.0");
            assert_eq!(n.get("loader").s(), "generic");
            assert!(n.get("bsd_symtab").b());
            // The image runs from the lowest segment to the end of the symbol block.
            let sym = k.get("symtab");
            assert!(!sym.is_null());
            assert_eq!(
                k.get("image_size").n() as u64,
                sym.get("va").hex() + sym.get("size").n() as u64 - testimages::kernels::KERNTEXTOFF,
                "{ctx}"
            );
            let m = j.get("modules");
            assert_eq!(m.len(), 2);
            assert_eq!(m.at(0).get("path").s(), "/mod.bin");
            assert_eq!(m.at(0).get("file_size").n(), module.len() as i64);
            assert_eq!(m.at(0).get("size").n(), module.len() as i64);
            assert_eq!(m.at(0).get("format").len(), 0);
            assert_eq!(m.at(1).get("format").at(0).s(), "gzip");
            assert_eq!(m.at(1).get("file_size").n() as u64, std::fs::metadata(tree.join("mod.gz")).unwrap().len());
            assert_eq!(m.at(1).get("size").n(), module.len() as i64, "module lines are decompressed");
            check_layout(&j, 256 * 256, k.get("image_size").n());
            assert_eq!(j.get("layout").get("start_info").get("mod_len").n(), module.len() as i64);
            // `config` is what `menu --json` says.
            assert_eq!(j.get("config").get("config").get("path").s(), "/boot/grub/menu.lst");
        }
    }
}

/// A broken line (file:line), a missing kernel (fallback entry boots), a truncated gzip kernel
/// and too little memory (errors naming their cause), and --entry / --memory.
#[test]
fn failures_name_their_cause() {
    let elf = netbsd_elf();
    let gz = compress("gzip", &["-9c"], &elf);
    let dir = common::work("inspect-boot", "failures");
    let tree = dir.join("tree");
    common::put(
        &tree,
        "/boot/grub/menu.lst",
        b"default 0\nfallback 1\ntimeout 0\ntitle gone\n  kernel /missing\n  frobnicate now\ntitle good\n  kernel /netbsd.gz -v\ntitle cut\n  kernel /cut.gz\n",
    );
    common::put(&tree, "/netbsd.gz", &gz);
    common::put(&tree, "/cut.gz", &gz[..gz.len() / 2]);
    let img = image(&dir, "ext2", &tree);

    let (j, ok) = boot(&[&img]);
    assert!(!ok, "exit status 1 unless the outcome is boot");
    assert_eq!(j.get("outcome").s(), "fallback", "{j:?}");
    assert_eq!(j.get("entry").n(), 1);
    assert_eq!(j.get("cmdline").s(), "-v bootdev=xbd0a");
    let d = j.get("diagnostics");
    let diags: Vec<(String, String)> =
        (0..d.len()).map(|i| (d.at(i).get("where").s().to_string(), d.at(i).get("message").s().to_string())).collect();
    assert!(diags.iter().any(|(w, m)| w == "(hd0)/boot/grub/menu.lst:6" && m.contains("frobnicate")), "{diags:?}");
    assert!(
        diags.iter().any(|(w, m)| w == "(hd0)/boot/grub/menu.lst:4" && m.contains("(hd0)/missing not found")),
        "{diags:?}"
    );

    let (j, ok) = boot(&[&img, "--entry", "2"]);
    assert!(!ok);
    assert_eq!(j.get("outcome").s(), "fallback", "entry 2 fails, its fallback 1 boots: {j:?}");
    let d = j.get("diagnostics");
    let cut: Vec<&J> =
        (0..d.len()).map(|i| d.at(i)).filter(|x| x.get("where").s().starts_with("(hd0)/cut.gz")).collect();
    assert_eq!(cut.len(), 1, "{j:?}");
    assert!(cut[0].get("message").s().contains("gzip") || cut[0].get("message").s().contains("truncated"), "{cut:?}");

    // Only the good entry, with memory for nothing.
    let (j, ok) = boot(&[&img, "--entry", "1", "--memory", "4"]);
    assert!(!ok);
    assert_eq!(j.get("outcome").s(), "error", "{j:?}");
    let d = j.get("diagnostics");
    assert!((0..d.len()).any(|i| d.at(i).get("where").s() == "memory"), "{j:?}");
    assert!(j.get("layout").is_null());

    let (j, ok) = boot(&[&img, "--entry", "1", "--memory", "64"]);
    assert!(ok, "{j:?}");
    assert_eq!(j.get("outcome").s(), "boot");
    check_layout(&j, 64 * 256, j.get("kernel").get("image_size").n());

    // The text form says the same, with `where: message` lines; exit status 1 (not boot).
    let out = Command::new(env!("CARGO_BIN_EXE_rpvboot-inspect")).args(["boot", &img]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("\noutcome: fallback\n"), "{text}");
    assert!(text.contains("\n  (hd0)/boot/grub/menu.lst:4: kernel (hd0)/missing not found\n"), "{text}");
    assert!(text.contains("\ncommand line: -v bootdev=xbd0a\n"), "{text}");

    // The figure a real boot printed (`rpvboot.verbose`) replaces the estimate: said in the JSON
    // and the text; the regions do not depend on it, only the pages in use do.
    let (est, _) = boot(&[&img, "--entry", "1", "--memory", "64"]);
    let (given, ok) = boot(&[&img, "--entry", "1", "--memory", "64", "--loader-pages", "700"]);
    assert!(ok, "{given:?}");
    let (le, lg) = (est.get("layout"), given.get("layout"));
    assert!(!le.get("loader_pages_given").b() && lg.get("loader_pages_given").b());
    assert_eq!(lg.get("loader_pages").n(), 700);
    let held = le.get("pages_in_use").n() - le.get("loader_pages").n();
    assert_eq!(lg.get("pages_in_use").n(), 700 + held);
    assert_eq!(format!("{:?}", le.get("regions")), format!("{:?}", lg.get("regions")));
    let out = Command::new(env!("CARGO_BIN_EXE_rpvboot-inspect"))
        .args(["boot", &img, "--entry", "1", "--memory", "64", "--loader-pages", "700"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("\nplan: loader_pages 700 pages_in_use {}\n", 700 + held)), "{text}");
    assert!(text.contains("(given by --loader-pages)"), "{text}");
    // The text's `plan: region` lines are the JSON's regions, in order.
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("plan: region ")).collect();
    let regions = lg.get("regions");
    assert_eq!(lines.len(), regions.len());
    for (i, l) in lines.iter().enumerate() {
        let r = regions.at(i);
        assert_eq!(
            *l,
            format!(
                "plan: region {} first_page {} pages {}",
                r.get("name").s(),
                r.get("first_page").n(),
                r.get("pages").n()
            )
        );
    }

    // The kernel named on the extra= line, without bootdev=.
    let (j, ok) = boot(&[&img, "--extra", "rpvboot.kernel=/netbsd.gz -s rpvboot.nobootdev"]);
    assert!(ok, "{j:?}");
    assert!(!j.get("cmdline").s().contains("bootdev="), "{j:?}");
}

/// The Debian Linux PV kernel (bzImage > xz > elf64) with an initrd passed as stored.
#[test]
fn debian_vmlinuz() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let found = ["target/e2e/x/boot", "target/kernels/x/boot"].iter().find_map(|d| {
        std::fs::read_dir(root.join(d))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("vmlinuz-"))
    });
    let Some(vmlinuz) = found else {
        eprintln!(
            "SKIPPED: no Debian vmlinuz under target/e2e/x/boot or target/kernels/x/boot (run cargo xtask setup)"
        );
        return;
    };
    let bz = std::fs::read(&vmlinuz).unwrap();
    // The oracle: the payload as the boot protocol places it (setup_sects, payload_offset and
    // payload_length of the setup header), unpacked by the xz tool, read by `object`.
    let setup = (usize::from(bz[0x1f1]).max(4) + 1) * 512;
    let off = u32::from_le_bytes(bz[0x248..0x24c].try_into().unwrap()) as usize;
    let len = u32::from_le_bytes(bz[0x24c..0x250].try_into().unwrap()) as usize;
    let payload = &bz[setup + off..setup + off + len];
    let elf = compress("xz", &["-dc", "--single-stream"], payload);
    let (entry, virt_base) = elf_facts(&elf);

    let dir = common::work("inspect-boot", "debian");
    let tree = dir.join("tree");
    let initrd = compress("gzip", &["-c"], &vec![b'i'; 300_000]);
    common::put(&tree, "/boot/vmlinuz", &bz);
    common::put(&tree, "/boot/initrd.img", &initrd);
    common::put(
        &tree,
        "/boot/grub/menu.lst",
        b"timeout 5\ntitle Debian\nroot (hd0)\nkernel /boot/vmlinuz root=/dev/xvda1 ro console=hvc0\ninitrd /boot/initrd.img\n",
    );
    let img = image(&dir, "ext2", &tree);
    let (j, ok) = boot(&[&img]);
    assert!(ok, "{j:?}");
    assert_eq!(j.get("cmdline").s(), "root=/dev/xvda1 ro console=hvc0");
    let k = j.get("kernel");
    let got: Vec<&str> = (0..k.get("format").len()).map(|i| k.get("format").at(i).s()).collect();
    assert_eq!(got, ["bzImage", "xz", "elf64"]);
    assert_eq!(k.get("file_size").n() as usize, bz.len());
    assert_eq!(k.get("entry_point").hex(), entry);
    assert_eq!(k.get("virt_base").hex(), virt_base);
    assert_eq!(k.get("notes").get("guest_os").s(), "linux");
    assert!(!k.get("notes").get("bsd_symtab").b());
    let m = j.get("modules").at(0);
    assert_eq!(m.get("size").n() as usize, initrd.len(), "an initrd is passed as stored");
    check_layout(&j, 256 * 256, k.get("image_size").n());
    assert_eq!(j.get("layout").get("start_info").get("mod_len").n() as usize, initrd.len());

    // 48 MiB hold the image but not the region with rpvboot beside it.
    let (j, ok) = boot(&[&img, "--memory", "48"]);
    assert!(!ok);
    assert_eq!(j.get("outcome").s(), "error");
    let d = j.get("diagnostics");
    assert!((0..d.len()).any(|i| d.at(i).get("where").s() == "memory"), "{j:?}");
}

/// Assembles and links `src` with the host binutils for the `as`/`ld` emulation given.
fn link(dir: &Path, name: &str, as_flag: &str, emulation: &str, src: &str) -> Vec<u8> {
    let s = dir.join(format!("{name}.S"));
    std::fs::write(&s, src).unwrap();
    let o = dir.join(format!("{name}.o"));
    let out = dir.join(name);
    common::run(Command::new("as").arg(as_flag).arg("-o").arg(&o).arg(&s));
    common::run(Command::new("ld").args(["-m", emulation, "-Ttext=0xc0100000", "-o"]).arg(&out).arg(&o));
    std::fs::read(out).unwrap()
}

/// Xen notes of a generic-loader kernel (GUEST_OS, XEN_VERSION, LOADER), nothing else.
const NOTES_SRC: &str = ".section .note.Xen,\"a\",@note\n.balign 4\n.long 4, 7, 6\n.asciz \"Xen\"\n.balign 4\n.asciz \"NetBSD\"\n.balign 4\n.long 4, 8, 5\n.asciz \"Xen\"\n.balign 4\n.asciz \"xen-3.0\"\n.balign 4\n.long 4, 8, 8\n.asciz \"Xen\"\n.balign 4\n.asciz \"generic\"\n.balign 4\n.text\n.globl _start\n_start: hlt\n";

/// Kernels the loader refuses (32-bit i386, ELF32 x32, one requiring the dom0 feature), each
/// with its reason, and a NetBSD-shaped kernel without BSD_SYMTAB that boots without symbols.
#[test]
fn refused_kernels_and_no_bsd_symtab() {
    let dir = common::work("inspect-boot", "refused");
    let tree = dir.join("tree");
    let k32 = link(&dir, "k32", "--32", "elf_i386", NOTES_SRC);
    let kx32 = link(&dir, "kx32", "--x32", "elf32_x86_64", NOTES_SRC);
    let kdir = testimages::kernels::images_dir();
    let nosym = KernelSpecs::nosym(&kdir);
    let dom0 = KernelSpecs::dom0(&kdir);
    common::put(&tree, "/k32", &k32);
    common::put(&tree, "/kx32", &kx32);
    common::put(&tree, "/dom0", &dom0);
    common::put(&tree, "/nosym", &nosym);
    common::put(
        &tree,
        "/boot/grub/menu.lst",
        b"title i386\nkernel /k32\ntitle x32\nkernel /kx32\ntitle dom0\nkernel /dom0\ntitle nosym\nkernel /nosym\n",
    );
    let img = image(&dir, "ext2", &tree);
    let reason = |entry: &str| {
        let (j, ok) = boot(&[&img, "--entry", entry]);
        assert!(!ok);
        assert_eq!(j.get("outcome").s(), "error", "{j:?}");
        let d = j.get("diagnostics");
        assert_eq!(d.len(), 1, "{j:?}");
        (d.at(0).get("where").s().to_string(), d.at(0).get("message").s().to_lowercase())
    };
    let (w, m) = reason("0");
    assert_eq!(w, "(hd0)/k32");
    assert!(m.contains("32-bit"), "{m}");
    let (w, m) = reason("1");
    assert_eq!(w, "(hd0)/kx32");
    assert!(m.contains("elf32"), "{m}");
    let (w, m) = reason("2");
    assert_eq!(w, "(hd0)/dom0");
    assert!(m.contains("dom0"), "{m}");

    let (j, ok) = boot(&[&img, "--entry", "3"]);
    assert!(ok, "{j:?}");
    let k = j.get("kernel");
    assert!(!k.get("notes").get("bsd_symtab").b());
    assert!(k.get("symtab").is_null());
    let (entry, virt_base) = elf_facts(&nosym);
    assert_eq!(k.get("entry_point").hex(), entry);
    assert_eq!(k.get("virt_base").hex(), virt_base);
    check_layout(&j, 256 * 256, k.get("image_size").n());
}

struct KernelSpecs;

impl KernelSpecs {
    fn build(dir: &Path, spec: testimages::kernels::KernelSpec) -> Vec<u8> {
        std::fs::read(testimages::kernels::build(dir, &spec).expect("binutils")).unwrap()
    }
    fn nosym(dir: &Path) -> Vec<u8> {
        Self::build(
            dir,
            testimages::kernels::KernelSpec {
                name: "inspect-boot-nobsdsymtab",
                bsd_symtab: false,
                ..testimages::kernels::KernelSpec::netbsd()
            },
        )
    }
    fn dom0(dir: &Path) -> Vec<u8> {
        Self::build(
            dir,
            testimages::kernels::KernelSpec {
                name: "inspect-boot-dom0",
                features: "!dom0",
                ..testimages::kernels::KernelSpec::netbsd()
            },
        )
    }
}

/// The e2e harness's probe-kernel disks (`target/e2e/images/probe-*.img`, made by
/// `cargo xtask e2e` with the real tools, each beside the `.tree` it was made from): the dry
/// run must find the kernel the tree holds, with its size, entry and VIRT_BASE as `object`
/// reads them from the tree's ELF (the `.gz` unpacked by the gzip tool), and every module's
/// size. The `fallback` image's default entries are broken on purpose.
#[test]
fn e2e_probe_images() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e/images");
    let mut imgs: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    imgs.retain(|p| {
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        n.starts_with("probe-") && n.ends_with(".img") && p.with_extension("tree").is_dir()
    });
    imgs.sort();
    if imgs.is_empty() {
        eprintln!("SKIPPED: no probe images in {} (run cargo xtask e2e once)", dir.display());
        return;
    }
    for img in &imgs {
        let tree = img.with_extension("tree");
        let (j, ok) = boot(&[img.to_str().unwrap()]);
        let ctx = format!("{}: {j:?}", img.display());
        let want = if img.to_string_lossy().contains("fallback") { "fallback" } else { "boot" };
        assert_eq!(j.get("outcome").s(), want, "{ctx}");
        assert_eq!(ok, want == "boot");
        let k = j.get("kernel");
        let host = tree.join(k.get("path").s().trim_start_matches('/'));
        let file = std::fs::read(&host).unwrap_or_else(|e| panic!("{}: {e}", host.display()));
        assert_eq!(k.get("file_size").n() as usize, file.len(), "{ctx}");
        let elf = if file.starts_with(b"\x1f\x8b") { compress("gzip", &["-dc"], &file) } else { file };
        let (entry, virt_base) = elf_facts(&elf);
        assert_eq!(k.get("entry_point").hex(), entry, "{ctx}");
        assert_eq!(k.get("virt_base").hex(), virt_base, "{ctx}");
        let m = j.get("modules");
        for i in 0..m.len() {
            let p = tree.join(m.at(i).get("path").s().trim_start_matches('/'));
            assert_eq!(m.at(i).get("file_size").n() as u64, std::fs::metadata(&p).unwrap().len(), "{ctx}");
        }
        check_layout(&j, 256 * 256, k.get("image_size").n());
        let d = j.get("diagnostics");
        for i in 0..d.len() {
            let w = d.at(i).get("where").s();
            assert!(want == "fallback" || !d.at(i).get("message").s().starts_with("error"), "{ctx}");
            assert!(!w.is_empty());
        }
    }
}
