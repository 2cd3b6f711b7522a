//! The PVH handover plan (`bootplan::pvh`, docs/pvh-handover.md) against external oracles:
//! Xen's `start_info.h` (its documented offsets and its C structs, the file as Xen ships it in
//! `tests/data/`), `readelf -n`/`-lW` on Debian's Linux (which carries `PHYS32_ENTRY`) and on
//! the real NetBSD PV kernels (which do not), and hostile ELF files built here and read back
//! with `readelf`. Tests whose kernels are absent say LOUDLY what they skip.

use bootplan::pvh::{self, off, Keep, MemmapEntry, ModuleIn, PvhError, PvhInput, MEMMAP_RAM};
use kernelimage::elf::Elf64;
use kernelimage::{Error, PvKernel};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn skip(what: &str) {
    eprintln!("\n\n!!!!!!!! SKIPPED: {what}\n\n");
}

/// `(name, offset)` of each field in one of start_info.h's diagrams, in order: a line
/// ` *  NN +---` opens the field named on the following ` *    | name ` line.
fn diagram(header: &str, first_field: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = header.lines().collect();
    let start = lines.iter().position(|l| l.contains(&format!("| {first_field} "))).expect(first_field) - 1;
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate().skip(start) {
        let a = l.trim_start_matches(" *").trim();
        if a.is_empty() {
            break; // the diagram ends with a blank comment line
        }
        let Some((n, rest)) = a.split_once(' ') else { continue };
        let Ok(offset) = n.parse::<usize>() else { continue };
        assert!(rest.starts_with('+'), "{a}");
        let b = lines.get(i + 1).map_or("", |b| b.trim_start_matches(" *").trim());
        if let Some(name) = b.strip_prefix('|').and_then(|s| s.split('|').next()).map(str::trim) {
            out.push((name.to_string(), offset));
        }
    }
    out
}

/// `(name, offset, size)` of each member of `struct NAME { ... }` in the header, with C's
/// natural alignment for uint32_t/uint64_t.
fn c_struct(header: &str, name: &str) -> (Vec<(String, usize, usize)>, usize) {
    let body = header.split(&format!("struct {name} {{")).nth(1).expect(name).split("};").next().unwrap();
    let mut at = 0usize;
    let mut out = Vec::new();
    for l in body.lines() {
        let l = l.trim();
        let Some((ty, rest)) = l.split_once(' ') else { continue };
        let size = match ty {
            "uint32_t" => 4,
            "uint64_t" => 8,
            _ => continue,
        };
        let field = rest.trim().split(';').next().unwrap().trim().to_string();
        at = at.next_multiple_of(size);
        out.push((field, at, size));
        at += size;
    }
    (out, at.next_multiple_of(8))
}

fn header() -> String {
    std::fs::read_to_string(root().join("bootplan/tests/data/xen-hvm-start_info.h")).unwrap()
}

#[test]
fn offsets_match_start_info_h() {
    let h = header();
    let ours_start = [
        ("magic", off::MAGIC),
        ("version", off::VERSION),
        ("flags", off::FLAGS),
        ("nr_modules", off::NR_MODULES),
        ("modlist_paddr", off::MODLIST_PADDR),
        ("cmdline_paddr", off::CMDLINE_PADDR),
        ("rsdp_paddr", off::RSDP_PADDR),
        ("memmap_paddr", off::MEMMAP_PADDR),
        ("memmap_entries", off::MEMMAP_ENTRIES),
        ("reserved", off::RESERVED),
    ];
    let ours_mod = [("paddr", off::MOD_PADDR), ("size", off::MOD_SIZE), ("cmdline_paddr", off::MOD_CMDLINE_PADDR)];
    let ours_map = [("addr", off::MAP_ADDR), ("size", off::MAP_SIZE), ("type", off::MAP_TYPE)];
    let d_start = diagram(&h, "magic");
    let d_mod = diagram(&h, "paddr");
    let d_map = diagram(&h, "addr");
    for (ours, doc) in [(&ours_start[..], &d_start), (&ours_mod[..], &d_mod), (&ours_map[..], &d_map)] {
        for (name, o) in ours {
            let got = doc.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} not in {doc:?}"));
            assert_eq!(got.1, *o, "{name}");
        }
    }
    // The C structs say the same, and give the sizes.
    let (s, size) = c_struct(&h, "hvm_start_info");
    assert_eq!(size as u64, pvh::START_INFO_SIZE);
    for (name, o) in ours_start {
        assert_eq!(s.iter().find(|f| f.0 == name).unwrap().1, o, "{name}");
    }
    let (m, size) = c_struct(&h, "hvm_modlist_entry");
    assert_eq!(size as u64, pvh::MODLIST_ENTRY_SIZE);
    for (name, o) in ours_mod {
        assert_eq!(m.iter().find(|f| f.0 == name).unwrap().1, o, "{name}");
    }
    let (e, size) = c_struct(&h, "hvm_memmap_table_entry");
    assert_eq!(size as u64, pvh::MEMMAP_ENTRY_SIZE);
    for (name, o) in ours_map {
        assert_eq!(e.iter().find(|f| f.0 == name).unwrap().1, o, "{name}");
    }
    let magic = h.lines().find_map(|l| l.strip_prefix("#define XEN_HVM_START_MAGIC_VALUE")).unwrap().trim();
    assert_eq!(u32::from_str_radix(magic.trim_start_matches("0x"), 16).unwrap(), pvh::START_MAGIC);
    let ram = h.lines().find_map(|l| l.strip_prefix("#define XEN_HVM_MEMMAP_TYPE_RAM")).unwrap().trim();
    assert_eq!(ram.parse::<u32>().unwrap(), MEMMAP_RAM);
}

/// `(type, desc bytes)` of every note with owner Xen, from `readelf -n`.
fn readelf_xen_notes(path: &Path) -> Option<Vec<(u32, Vec<u8>)>> {
    let out = Command::new("readelf").arg("-nW").arg(path).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut notes = Vec::new();
    let mut cur: Option<u32> = None;
    for l in text.lines() {
        let t = l.trim();
        if let Some(rest) = t.strip_prefix("Xen ") {
            let ty = rest.split_once("(0x").and_then(|(_, h)| h.split_once(')'));
            cur = ty.and_then(|(h, _)| u32::from_str_radix(h, 16).ok());
        }
        if let (Some(ty), Some((_, d))) = (cur, t.split_once("description data:")) {
            notes.push((ty, d.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()));
            cur = None;
        }
    }
    Some(notes)
}

/// `(p_paddr, p_filesz, p_memsz)` of every LOAD, from `readelf -lW`.
fn readelf_loads(path: &Path) -> Vec<(u64, u64, u64)> {
    let out = Command::new("readelf").arg("-lW").arg(path).output().expect("readelf (binutils)");
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&"LOAD")).then(|| (hex(f[3]), hex(f[4]), hex(f[5])))
        })
        .collect()
}

fn le(d: &[u8]) -> u64 {
    d.iter().rev().fold(0, |a, &b| (a << 8) | u64::from(b))
}

/// libxl's map for a 256 MiB PVH domU (`domain_construct_memmap`): low RAM from 0, the HVM
/// special pages reserved below 0xff000000, the ACPI tables NVS.
fn libxl_map() -> Vec<MemmapEntry> {
    vec![
        MemmapEntry { addr: 0, size: 256 << 20, ty: MEMMAP_RAM },
        MemmapEntry { addr: 0xfeff_8000, size: 0x8000, ty: 2 },
        MemmapEntry { addr: 0xfc00_0000, size: 0x1_1000, ty: 4 },
    ]
}

fn debian_vmlinux() -> Option<PathBuf> {
    ["target/e2e/out/vmlinux-dom0", "target/kernels/out/vmlinux-dom0"]
        .iter()
        .map(|p| root().join(p))
        .find(|p| p.exists())
}

#[test]
fn debian_linux_is_pvh_capable_and_placed_like_xen() {
    let Some(path) = debian_vmlinux() else {
        return skip("no target/e2e/out/vmlinux-dom0 (cargo xtask setup): Linux's PHYS32_ENTRY plan untested");
    };
    let Some(notes) = readelf_xen_notes(&path) else { return skip("no readelf") };
    let phys32 = notes.iter().find(|(t, _)| *t == 18).map(|(_, d)| le(d)).expect("readelf: Linux has note 18");
    let file = std::fs::read(&path).unwrap();
    let elf = Elf64::parse(&file).unwrap();
    let k = PvKernel::parse_pvh(&elf).unwrap();
    assert_eq!(k.entry, phys32, "PHYS32_ENTRY as readelf shows it");
    let loads = readelf_loads(&path);
    assert_eq!(k.segments.len(), loads.len());
    for (s, &(paddr, filesz, memsz)) in k.segments.iter().zip(&loads) {
        assert_eq!((s.va, s.filesz, s.memsz), (paddr, filesz, memsz), "segments at p_paddr, not p_vaddr");
    }
    let kend = loads.iter().map(|&(p, _, m)| p + m).max().unwrap();
    let map = libxl_map();
    let initrd = 1_676_000u64;
    let mods = [ModuleIn { len: initrd, cmdline: b"" }];
    let cmdline = b"console=hvc0 root=/dev/xvda1";
    let l = pvh::plan(&PvhInput {
        kernel: &k,
        symbols_len: 0,
        modules: &mods,
        cmdline,
        memmap: &map,
        rsdp_paddr: 0xfc00_8000,
        keep: &[],
    })
    .unwrap();
    // Linux asks for MOD_START_PFN (note 16), so Xen's order is: start info on the page after
    // the image, the module on the page after the block (xl put Debian's initrd at 0x4a01000,
    // one page past this vmlinux's end, in e2e linux-pvh-direct; docs/pvh-linux.md §6).
    let mod_start_pfn = notes.iter().find(|(t, _)| *t == 16).map(|(_, d)| le(d));
    assert!(mod_start_pfn.is_some_and(|v| v != 0), "readelf: Debian's Linux has a non-zero MOD_START_PFN");
    let si = kend.next_multiple_of(4096);
    assert_eq!(l.start_info_paddr, si);
    let m0 = (si + l.info.len() as u64).next_multiple_of(4096);
    assert_eq!(m0, si + 4096, "the block fits one page here, as libxc's does");
    assert_eq!(l.modules, vec![m0]);
    assert_eq!(l.entry as u64, phys32);
    check_block(&l, cmdline, &[(m0, initrd)], &map, 0xfc00_8000);
}

/// Reads the start-info block back at start_info.h's offsets.
fn check_block(l: &pvh::PvhLayout, cmdline: &[u8], mods: &[(u64, u64)], map: &[MemmapEntry], rsdp: u64) {
    let b = &l.info;
    let base = l.start_info_paddr;
    let d = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let q = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let at = |paddr: u64| (paddr - base) as usize;
    assert_eq!((d(0), d(4), d(8)), (0x336e_c578, 1, 0));
    assert_eq!(d(12) as usize, mods.len());
    assert_eq!(q(32), rsdp);
    let c = at(q(24));
    assert_eq!(&b[c..c + cmdline.len() + 1], [cmdline, b"\0"].concat().as_slice());
    for (i, &(p, len)) in mods.iter().enumerate() {
        let e = at(q(16)) + 32 * i;
        assert_eq!((q(e), q(e + 8)), (p, len));
    }
    assert_eq!(d(48) as usize, map.len());
    for (i, m) in map.iter().enumerate() {
        let e = at(q(40)) + 24 * i;
        assert_eq!((q(e), q(e + 8), d(e + 16), d(e + 20)), (m.addr, m.size, m.ty, 0));
    }
    assert_eq!(q(40) % 8, 0);
    // Past the block and every module, whichever order they came in.
    let last = mods.iter().map(|&(p, len)| p + len).chain([base + b.len() as u64]).max().unwrap();
    assert_eq!(l.end, last.next_multiple_of(4096));
}

#[test]
fn netbsd_pv_kernels_are_refused_by_name() {
    let dir = root().join("../shared/netbsd");
    let mut seen = 0;
    for name in ["netbsd-XEN3_DOMU.gz", "netbsd-XEN3_DOMU-legacy.gz"] {
        let Ok(gz) = std::fs::read(dir.join(name)) else {
            skip(&format!("../shared/netbsd/{name} absent: the PV-only refusal is not checked on it"));
            continue;
        };
        let u = kernelimage::unwrap(&gz, 64 << 20).unwrap();
        // Oracle: readelf finds no note 18 in it.
        let tmp = std::env::temp_dir().join(format!("rpvboot-pvh-{}-{name}", std::process::id()));
        std::fs::write(&tmp, &*u.elf).unwrap();
        let notes = readelf_xen_notes(&tmp);
        let _ = std::fs::remove_file(&tmp);
        if let Some(n) = notes {
            assert!(n.iter().all(|(t, _)| *t != 18), "{name} has PHYS32_ENTRY per readelf");
        }
        let elf = Elf64::parse(&u.elf).unwrap();
        assert!(PvKernel::parse(&elf).is_ok(), "{name} is a PV kernel");
        let e = PvKernel::parse_pvh(&elf).unwrap_err();
        assert!(matches!(e, Error::NotPvhKernel { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("PHYS32_ENTRY") && msg.contains("PV-only"), "{msg}");
        seen += 1;
    }
    eprintln!("{seen} NetBSD kernels checked");
}

// ---- hostile ELF files built here ----

struct Seg {
    paddr: u64,
    data: Vec<u8>,
    memsz: u64,
}

/// An ELF64 x86_64 EXEC with the given loadable segments and one PT_NOTE holding Xen notes.
fn build_elf(segs: &[Seg], notes: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let phnum = segs.len() + 1;
    let mut note = Vec::new();
    for (ty, d) in notes {
        note.extend(4u32.to_le_bytes());
        note.extend((d.len() as u32).to_le_bytes());
        note.extend(ty.to_le_bytes());
        note.extend(b"Xen\0");
        note.extend(d);
        note.resize(note.len().next_multiple_of(4), 0);
    }
    let note_off = 64 + 56 * phnum as u64;
    let mut data_off = (note_off + note.len() as u64).next_multiple_of(4096);
    let mut f = vec![0u8; 64];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2;
    f[5] = 1;
    f[6] = 1;
    f[16..18].copy_from_slice(&2u16.to_le_bytes());
    f[18..20].copy_from_slice(&62u16.to_le_bytes());
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes());
    f[52..54].copy_from_slice(&64u16.to_le_bytes());
    f[54..56].copy_from_slice(&56u16.to_le_bytes());
    f[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
    let mut body = Vec::new();
    let ph = |ty: u32, flags: u32, off: u64, paddr: u64, filesz: u64, memsz: u64, align: u64| {
        let mut p = Vec::new();
        for v in [ty, flags] {
            p.extend(v.to_le_bytes());
        }
        for v in [off, paddr | 0xffff_ffff_8000_0000, paddr, filesz, memsz, align] {
            p.extend(v.to_le_bytes());
        }
        p
    };
    for s in segs {
        f.extend(ph(1, 7, data_off, s.paddr, s.data.len() as u64, s.memsz, 4096));
        body.push((data_off, &s.data));
        data_off = (data_off + s.data.len() as u64).next_multiple_of(4096);
    }
    f.extend(ph(4, 4, note_off, 0, note.len() as u64, note.len() as u64, 4));
    f.extend(&note);
    for (o, d) in body {
        f.resize(o as usize, 0);
        f.extend(d.iter());
    }
    f
}

fn pvh_notes(entry: u64) -> Vec<(u32, Vec<u8>)> {
    vec![(6, b"test\0".to_vec()), (18, (entry as u32).to_le_bytes().to_vec())]
}

fn plan_for(elf: &[u8], map: &[MemmapEntry], keep: &[Keep]) -> Result<pvh::PvhLayout, String> {
    let e = Elf64::parse(elf).map_err(|e| e.to_string())?;
    let k = PvKernel::parse_pvh(&e).map_err(|e| e.to_string())?;
    let mods = [ModuleIn { len: 5000, cmdline: b"mod0 arg" }, ModuleIn { len: 3, cmdline: b"" }];
    pvh::plan(&PvhInput {
        kernel: &k,
        symbols_len: 0,
        modules: &mods,
        cmdline: b"hello",
        memmap: map,
        rsdp_paddr: 0,
        keep,
    })
    .map_err(|e| e.to_string())
}

#[test]
fn synthetic_pvh_kernel_read_back_with_readelf() {
    let segs = [
        Seg { paddr: 0x20_0000, data: vec![0x90; 5000], memsz: 0x3000 },
        Seg { paddr: 0x30_0000, data: vec![1; 10], memsz: 0x10_0000 },
    ];
    let elf = build_elf(&segs, &pvh_notes(0x20_0010));
    let tmp = std::env::temp_dir().join(format!("rpvboot-pvh-synth-{}", std::process::id()));
    std::fs::write(&tmp, &elf).unwrap();
    let notes = readelf_xen_notes(&tmp);
    let loads = readelf_loads(&tmp);
    let _ = std::fs::remove_file(&tmp);
    if let Some(n) = notes {
        assert_eq!(n.iter().find(|(t, _)| *t == 18).map(|(_, d)| le(d)), Some(0x20_0010));
    }
    assert_eq!(loads, vec![(0x20_0000, 5000, 0x3000), (0x30_0000, 10, 0x10_0000)]);
    let map = libxl_map();
    let l = plan_for(&elf, &map, &[]).unwrap();
    assert_eq!(l.entry, 0x20_0010);
    assert_eq!(l.modules, vec![0x40_0000, 0x40_2000]);
    assert_eq!(l.start_info_paddr, 0x40_3000);
    check_block(&l, b"hello", &[(0x40_0000, 5000), (0x40_2000, 3)], &map, 0);
    // Module 0's command line is where its entry points; module 1 has none.
    let q = |o: usize| u64::from_le_bytes(l.info[o..o + 8].try_into().unwrap());
    let ml = (q(16) - l.start_info_paddr) as usize;
    let c0 = (q(ml + 16) - l.start_info_paddr) as usize;
    assert_eq!(&l.info[c0..c0 + 9], b"mod0 arg\0");
    assert_eq!(q(ml + 32 + 16), 0);
    // The copy program fills the destinations: segments' file bytes, zeroed rest.
    let (copies, zeroes) = pvh::fill_ops(&l, |d| 0x800_0000 + d.paddr);
    assert_eq!(copies.len(), 5);
    assert!(zeroes.contains(&(0x20_0000 + 5000, 0x3000 - 5000)));
    let s = pvh::stage(&copies, &zeroes);
    assert!(s.relocate.is_empty());
    assert_eq!(s.ops.len(), copies.len() + zeroes.len());
}

#[test]
fn hostile_pvh_kernels_and_layouts_are_refused_with_a_reason() {
    let map = libxl_map();
    let seg = |paddr, memsz| Seg { paddr, data: vec![0xcc; 100], memsz };
    // No PHYS32_ENTRY.
    let elf = build_elf(&[seg(0x20_0000, 0x1000)], &[(6, b"x\0".to_vec())]);
    assert!(plan_for(&elf, &map, &[]).unwrap_err().contains("PV-only"));
    // Entry outside the image.
    let elf = build_elf(&[seg(0x20_0000, 0x1000)], &pvh_notes(0x10_0000));
    assert!(plan_for(&elf, &map, &[]).unwrap_err().contains("out of bounds"));
    // An 8-byte entry above 4 GiB.
    let elf = build_elf(&[seg(0x20_0000, 0x1000)], &[(18, (1u64 << 33).to_le_bytes().to_vec())]);
    assert!(plan_for(&elf, &map, &[]).unwrap_err().contains("above 4 GiB"));
    // A segment reaching above 4 GiB.
    let elf = build_elf(&[seg(0xffff_f000, 0x2000)], &pvh_notes(0xffff_f000));
    assert!(plan_for(&elf, &map, &[]).unwrap_err().contains("above 4 GiB"));
    // A segment claiming 2^64 bytes.
    let elf = build_elf(&[seg(0x20_0000, u64::MAX)], &pvh_notes(0x20_0000));
    assert!(plan_for(&elf, &map, &[]).is_err());
    // Overlapping segments.
    let elf = build_elf(&[seg(0x20_0000, 0x2000), seg(0x20_1000, 0x1000)], &pvh_notes(0x20_0000));
    assert!(plan_for(&elf, &map, &[]).unwrap_err().contains("overlap"));
    // Not in RAM: past the end of a small domain, and over a reserved entry.
    let good = build_elf(&[seg(0x20_0000, 0x1000)], &pvh_notes(0x20_0000));
    let small = [MemmapEntry { addr: 0, size: 0x20_2000, ty: MEMMAP_RAM }];
    let e = plan_for(&good, &small, &[]).unwrap_err();
    assert!(e.contains("not in RAM") && e.contains("module"), "{e}");
    let holey = [
        MemmapEntry { addr: 0, size: 256 << 20, ty: MEMMAP_RAM },
        MemmapEntry { addr: 0x20_0000, size: 0x1000, ty: 2 },
    ];
    assert!(plan_for(&good, &holey, &[]).unwrap_err().contains("kernel segment"));
    // Over something that must survive.
    let keep = [Keep { what: "the trampoline page", range: 0x20_2000..0x20_3000 }];
    let e = plan_for(&good, &map, &keep).unwrap_err();
    assert!(e.contains("trampoline"), "{e}");
    assert!(plan_for(&good, &map, &[]).is_ok());
    // A PV-read kernel is not planned as PVH.
    let e = Elf64::parse(&good).unwrap();
    let mut k = PvKernel::parse_pvh(&e).unwrap();
    k.container = kernelimage::Container::Pv;
    let input =
        PvhInput { kernel: &k, symbols_len: 0, modules: &[], cmdline: b"", memmap: &map, rsdp_paddr: 0, keep: &[] };
    assert_eq!(pvh::plan(&input), Err(PvhError::NotPvh));
}

/// In a PVH domain the chosen entry's PV-only kernel (the NetBSD-shaped test kernel binutils
/// builds, which has no PHYS32_ENTRY note) is refused with the reason, and the `fallback`
/// entry's PVH kernel is selected; in a PV domain the same menu boots the PV kernel.
#[test]
fn pv_only_kernel_in_a_pvh_domain_falls_back() {
    use bootconfig::search::{self, FsKind, MemVolumes};
    use bootplan::plan::Container;
    let pv = std::fs::read(
        testimages::kernels::build(&testimages::kernels::images_dir(), &testimages::kernels::KernelSpec::netbsd())
            .expect("as/ld (binutils): cargo xtask setup"),
    )
    .unwrap();
    let pvh_elf = build_elf(&[Seg { paddr: 0x20_0000, data: vec![0xf4; 300], memsz: 0x2000 }], &pvh_notes(0x20_0000));
    let menu = "default 0\nfallback 1\ntimeout 0\ntitle pv\n kernel /pv.elf\ntitle pvh\n kernel /pvh.elf a=1\n";
    let files: [(&str, &[u8]); 3] = [("/grub/menu.lst", menu.as_bytes()), ("/pv.elf", &pv), ("/pvh.elf", &pvh_elf)];
    let run = |container| {
        let mut v = MemVolumes::default().with("(hd0)", FsKind::Ext, &files);
        let loaded = search::load("", &mut v);
        let mut out = String::new();
        let sel = bootplan::select::select_loaded(loaded, &mut v, 16384, 2048, container, &mut out);
        (sel, out)
    };
    let (sel, out) = run(Container::Pvh);
    let sel = sel.unwrap_or_else(|| panic!("{out}"));
    assert_eq!(sel.title, "pvh", "{out}");
    assert!(out.contains("entry 0 \"pv\" cannot boot: kernel: not a PVH-capable kernel"), "{out}");
    assert!(out.contains("PV-only"), "{out}");
    assert_eq!(sel.kernel.image.kernel.container, Container::Pvh);
    assert_eq!(sel.kernel.image.kernel.entry, 0x20_0000);
    let (sel, out) = run(Container::Pv);
    assert_eq!(sel.map(|s| s.title), Some("pv".into()), "{out}");
}
