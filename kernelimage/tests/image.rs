//! Kernel images: the NetBSD-shaped ELF from `testimages::kernels` (assembled and linked by
//! binutils) read back with the `object` crate as the independent oracle.

use kernelimage::elf::Elf64;
use kernelimage::kernel::PvKernel;
use kernelimage::notes::NoteSource;
use kernelimage::{self as image, Error, Format};
use object::{Object, ObjectSegment, ObjectSymbol};
use testimages::kernels::{self, KernelSpec, KERNBASE};

const LIMIT: usize = 256 << 20;

fn build(spec: &KernelSpec) -> Vec<u8> {
    let p = kernels::build(&kernels::images_dir(), spec).expect("as/ld build the test kernel");
    std::fs::read(p).expect("read test kernel")
}

fn spec(name: &str) -> KernelSpec {
    kernels::recipes().into_iter().find(|r| r.name == name).expect("recipe")
}

fn sym(file: &object::File<'_>, name: &str) -> u64 {
    file.symbols().find(|s| s.name() == Ok(name)).unwrap_or_else(|| panic!("symbol {name}")).address()
}

#[test]
fn netbsd_notes_match_the_source_and_symbols() {
    let bytes = build(&KernelSpec::netbsd());
    let u = image::unwrap(&bytes, LIMIT).unwrap();
    assert_eq!(u.formats, vec![Format::Elf64]);
    let elf = Elf64::parse(&u.elf).unwrap();
    let k = PvKernel::parse(&elf).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    let n = &k.notes;
    assert_eq!(n.source, NoteSource::Segments);
    assert_eq!(n.guest_os.as_deref(), Some("NetBSD"));
    assert_eq!(n.guest_version.as_deref(), Some("4.99"));
    assert_eq!(n.xen_version.as_deref(), Some("xen-3.0"));
    assert_eq!(n.loader.as_deref(), Some("generic"));
    assert_eq!(n.pae_mode.as_deref(), Some("yes"));
    assert_eq!(n.features.as_deref(), Some(""));
    assert_eq!(n.virt_base, Some(KERNBASE));
    assert_eq!(n.paddr_offset, Some(KERNBASE));
    assert_eq!(n.hv_start_low, Some(0xffff_8000_0000_0000));
    assert_eq!(n.l1_mfn_valid, Some(vec![1, 1]));
    assert_eq!(n.suspend_cancel, Some(0));
    assert!(n.bsd_symtab);
    assert_eq!(k.entry, sym(&obj, "start"));
    assert_eq!(k.hypercall_page, Some(sym(&obj, "hypercall_page")));
    assert_eq!(k.virt_offset, 0);
    assert_eq!(k.virt_kstart, kernels::KERNTEXTOFF);
    // pend = end of the highest loadable segment = NetBSD's `end` (8-aligned), and the symbol
    // block starts exactly there, where NetBSD looks for it.
    let end = sym(&obj, "end");
    assert_eq!(k.pend, end);
    assert_eq!(k.bsd_block_va(), Some(end));
}

#[test]
fn loaded_image_matches_object_segments_and_bss_is_zero() {
    let bytes = build(&KernelSpec::netbsd());
    let elf = Elf64::parse(&bytes).unwrap();
    let k = PvKernel::parse(&elf).unwrap();
    let img = k.load(&elf).unwrap();
    assert_eq!(img.len() as u64, k.virt_kend - k.virt_kstart);
    let obj = object::File::parse(&*bytes).unwrap();
    let mut segs = 0;
    for s in obj.segments() {
        let off = (s.address() - k.virt_kstart) as usize;
        let data = s.data().unwrap();
        assert_eq!(&img[off..off + data.len()], data, "segment at {:#x}", s.address());
        let bss = &img[off + data.len()..off + s.size() as usize];
        assert!(bss.iter().all(|&b| b == 0), "bss of segment at {:#x}", s.address());
        segs += 1;
    }
    assert_eq!(segs, k.segments.len());
    // Page-wise fill gives the same bytes as the whole-image load.
    let block = k.bsd_block(&elf).unwrap();
    let mut page = [0u8; 4096];
    for (i, chunk) in img.chunks(4096).enumerate() {
        k.fill(elf.data, &block, k.virt_kstart + i as u64 * 4096, &mut page).unwrap();
        assert_eq!(&page[..chunk.len()], chunk, "page {i}");
    }
}

/// The block read back as an ELF file by `object`: same symbols as the kernel's own table.
fn check_block(bytes: &[u8]) {
    let elf = Elf64::parse(bytes).unwrap();
    let k = PvKernel::parse(&elf).unwrap();
    let img = k.load(&elf).unwrap();
    let plan = k.bsd_symtab.expect("block planned");
    let b = (k.bsd_block_va().unwrap() - k.virt_kstart) as usize;
    assert_eq!(b % 8, 0);
    let size = u32::from_le_bytes(img[b..b + 4].try_into().unwrap()) as usize;
    // libelf: the block is reserved up to round8(round8(264 + symsz) + strsz).
    let orig = object::File::parse(bytes).unwrap();
    let (symsz, strsz) = {
        use object::{ObjectSection, SectionKind};
        let sec = |n: &str| orig.sections().find(|s| s.name() == Ok(n)).unwrap();
        assert_eq!(sec(".symtab").kind(), SectionKind::Metadata);
        (sec(".symtab").size(), sec(".strtab").size())
    };
    let r8 = |v: u64| (v + 7) & !7;
    assert_eq!(plan.size, r8(r8(264 + symsz) + strsz));
    assert_eq!(size as u64, r8(264 + symsz) + strsz - 4);
    assert_eq!(k.virt_kend, k.bsd_block_va().unwrap() + plan.size);
    let inner = &img[b + 4..b + 4 + size];
    // The low-level reader: ElfFile64 insists on e_shstrndx, which the block leaves 0 like libelf.
    use object::read::elf::{FileHeader, SectionHeader, Sym};
    let e = object::Endianness::Little;
    let hdr = object::elf::FileHeader64::<object::Endianness>::parse(inner).expect("the block parses as ELF");
    assert_eq!(hdr.e_shnum.get(e), 3);
    assert_eq!(hdr.e_phnum.get(e), 0);
    assert_eq!(hdr.e_shoff.get(e), 64);
    let headers = hdr.section_headers(e, inner).expect("section headers");
    let sections = object::read::elf::SectionTable::<object::elf::FileHeader64<object::Endianness>>::new(
        headers,
        object::read::StringTable::default(),
    );
    let sh1 = sections.section(object::SectionIndex(1)).unwrap();
    assert_eq!(sh1.sh_type(e), object::elf::SHT_SYMTAB);
    assert_eq!(sh1.sh_link(e), 2);
    assert_eq!(sh1.sh_offset(e), 260);
    let table = sections.symbols(e, inner, object::elf::SHT_SYMTAB).expect("symbol table");
    let ours: Vec<(String, u64, u64)> = table
        .symbols()
        .iter()
        .skip(1)
        .map(|s| {
            let name = String::from_utf8(s.name(e, table.strings()).unwrap().to_vec()).unwrap();
            (name, s.st_value(e), s.st_size(e))
        })
        .collect();
    let theirs: Vec<(String, u64, u64)> =
        orig.symbols().map(|s| (s.name().unwrap().to_owned(), s.address(), s.size())).collect();
    assert!(theirs.len() > 200, "a real symbol table");
    assert_eq!(ours, theirs);
}

#[test]
fn bsd_symbol_block_reads_back_with_object() {
    check_block(&build(&KernelSpec::netbsd()));
    check_block(&build(&spec("netbsd-like-bigsyms")));
}

#[test]
fn note_section_fallback_and_legacy_guest_string_agree() {
    let base = build(&KernelSpec::netbsd());
    let kb = PvKernel::parse(&Elf64::parse(&base).unwrap()).unwrap();
    for (name, src) in
        [("netbsd-like-shtnote", NoteSource::Sections), ("netbsd-like-legacy", NoteSource::LegacyGuestSection)]
    {
        let bytes = build(&spec(name));
        let elf = Elf64::parse(&bytes).unwrap();
        let k = PvKernel::parse(&elf).unwrap();
        assert_eq!(k.notes.source, src, "{name}");
        assert_eq!(k.notes.guest_os.as_deref(), Some("NetBSD"));
        assert_eq!(k.virt_base, kb.virt_base, "{name}");
        assert_eq!(k.virt_offset, 0, "{name}");
        assert_eq!(k.entry, kb.entry, "{name}");
        assert_eq!(k.hypercall_page, kb.hypercall_page, "{name}");
        assert!(k.bsd_symtab.is_some(), "{name}");
    }
}

#[test]
fn stripped_kernel_gets_no_block() {
    let bytes = build(&spec("netbsd-like-nosyms"));
    let elf = Elf64::parse(&bytes).unwrap();
    let k = PvKernel::parse(&elf).unwrap();
    assert!(k.notes.bsd_symtab);
    assert!(k.bsd_symtab.is_none());
    assert_eq!(k.virt_kend, k.pend);
}

#[test]
fn required_dom0_is_refused_by_name() {
    let bytes = build(&spec("netbsd-like-dom0"));
    let err = PvKernel::parse(&Elf64::parse(&bytes).unwrap()).unwrap_err();
    assert!(err.to_string().contains("\"dom0\""), "{err}");
}

/// Patch the bytes of a string note in place (same length).
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    bytes[at..at + to.len()].copy_from_slice(to);
}

#[test]
fn xen_checks_like_libelf() {
    let good = build(&KernelSpec::netbsd());
    let parse = |b: &[u8]| PvKernel::parse(&Elf64::parse(b).map_err(|e| e.to_string())?).map_err(|e| e.to_string());
    let mut b = good.clone();
    patch(&mut b, b"xen-3.0\0", b"xen-2.0\0");
    assert!(parse(&b).unwrap_err().contains("XEN_VERSION"));
    let mut b = good.clone();
    patch(&mut b, b"generic\0", b"special\0");
    assert!(parse(&b).unwrap_err().contains("LOADER"));
    // GUEST_OS linux waives the LOADER requirement, as in libelf.
    let mut b = good.clone();
    patch(&mut b, b"generic\0", b"bogus!!\0");
    patch(&mut b, b"NetBSD\0", b"linux\0\0");
    assert!(parse(&b).is_ok());
    // An unknown required feature is named.
    let mut s = KernelSpec::netbsd();
    s.name = "netbsd-like-unknownfeat";
    s.features = "!no_such_feature";
    let err = parse(&build(&s)).unwrap_err();
    assert!(err.contains("no_such_feature"), "{err}");
}

#[test]
fn unsupported_formats_are_named() {
    let msg = |d: &[u8]| image::unwrap(d, LIMIT).unwrap_err().to_string();
    let mut elf32 = vec![0u8; 64];
    elf32[..4].copy_from_slice(b"\x7fELF");
    elf32[4] = 1;
    elf32[5] = 1;
    elf32[18] = 3;
    assert!(msg(&elf32).contains("ELF32"), "{}", msg(&elf32));
    assert!(msg(b"MZ\x90\0\x03\0\0\0").contains("PE/COFF"));
    assert!(msg(b"BZh91AY&SY").contains("bzip2"));
    let m = msg(b"\x12\x34\x56\x78hello");
    assert!(m.contains("12 34 56 78"), "{m}");
    assert!(matches!(image::unwrap(b"", LIMIT), Err(Error::UnknownFormat { .. })));
}

use testimages::rng::Rng;

#[test]
fn mutated_kernels_never_panic() {
    let good = build(&KernelSpec::netbsd());
    let mut rng = Rng(0x5eed_1234);
    // Header-heavy offsets first: ELF header, program headers, notes, section headers.
    let shoff = u64::from_le_bytes(good[40..48].try_into().unwrap()) as usize;
    for i in 0..3000 {
        let mut b = good.clone();
        let region = match i % 4 {
            0 => 0..64,
            1 => 64..64 + 4 * 56,
            2 => 0x34b0..0x35f8,
            _ => shoff..good.len(),
        };
        for _ in 0..1 + rng.next() % 4 {
            let at = region.start + (rng.next() as usize) % (region.end - region.start);
            if at < b.len() {
                b[at] = rng.next() as u8;
            }
        }
        if let Ok(u) = image::unwrap(&b, LIMIT) {
            if let Ok(elf) = Elf64::parse(&u.elf) {
                if let Ok(k) = PvKernel::parse(&elf) {
                    if k.image_len() < (64 << 20) {
                        let _ = k.load(&elf);
                    }
                }
            }
        }
    }
}

/// Find the Xen note of `ty` with an 8-byte descriptor; returns the offset of its type word.
fn note_at(b: &[u8], ty: u8) -> usize {
    let pat = [4, 0, 0, 0, 8, 0, 0, 0, ty, 0, 0, 0, b'X', b'e', b'n', 0];
    b.windows(pat.len()).position(|w| w == pat).unwrap() + 8
}

#[test]
fn address_checks_like_elf_xen_addr_calc_check() {
    let good = build(&KernelSpec::netbsd());
    let parse = |b: &[u8]| PvKernel::parse(&Elf64::parse(b).unwrap()).map_err(|e| e.to_string());
    // VIRT_BASE turned into an ignored INFO note: PADDR_OFFSET without VIRT_BASE.
    let mut b = good.clone();
    let at = note_at(&b, 3);
    b[at] = 0;
    assert!(parse(&b).unwrap_err().contains("VIRT_BASE unset"));
    // ENTRY outside the image.
    let mut b = good.clone();
    let at = note_at(&b, 1) + 8;
    b[at..at + 8].copy_from_slice(&(KERNBASE + 0x10_0000).to_le_bytes());
    assert!(parse(&b).unwrap_err().contains("entry out of bounds"));
    // HYPERCALL_PAGE outside the image.
    let mut b = good.clone();
    let at = note_at(&b, 2) + 8;
    b[at..at + 8].copy_from_slice(&(KERNBASE + 0x4000_0000).to_le_bytes());
    assert!(parse(&b).unwrap_err().contains("HYPERCALL_PAGE"));
    // Without PADDR_OFFSET the default is 0 for notes: the image would start at
    // VIRT_BASE + p_paddr, far above, and the entry (still a link VA) is then out of bounds.
    let mut b = good.clone();
    let at = note_at(&b, 4);
    b[at] = 0;
    assert!(parse(&b).is_err());
}

/// `page_sources`: every file page it names holds exactly the bytes of its image page, as
/// read from the ELF with `object` (segments copied to their addresses, the rest zero), and
/// no file page is named twice. On Debian's vmlinux (when set up) nearly every page of the
/// image comes straight from the file.
#[test]
fn page_sources_name_file_pages_equal_to_the_image() {
    let mut files = vec![("netbsd-shaped", build(&KernelSpec::netbsd()))];
    let vmlinux = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e/out/vmlinux-dom0");
    match std::fs::read(&vmlinux) {
        Ok(b) => files.push(("vmlinux", b)),
        Err(_) => eprintln!("SKIPPING the vmlinux half: {} missing (cargo xtask setup)", vmlinux.display()),
    }
    for (name, bytes) in files {
        let elf = Elf64::parse(&bytes).unwrap();
        let k = PvKernel::parse(&elf).unwrap();
        let block = k.bsd_block(&elf).unwrap();
        let obj = object::File::parse(&*bytes).unwrap();
        let mut image = vec![0u8; k.image_len().next_multiple_of(4096) as usize];
        for s in obj.segments() {
            // object gives p_vaddr; the kernel is placed by p_paddr + virt_offset.
            let data = s.data().unwrap();
            let ph = elf.phdrs.iter().find(|p| p.is_loadable() && p.p_offset == s.file_range().0).unwrap();
            let at = (ph.p_paddr.wrapping_add(k.virt_offset) - k.virt_kstart) as usize;
            image[at..at + data.len()].copy_from_slice(data);
        }
        if let Some(b) = k.bsd_block_va() {
            let at = (b - k.virt_kstart) as usize;
            image[at..at + block.len()].copy_from_slice(&block);
        }
        let src = k.page_sources(block.len() as u64);
        assert_eq!(src.len() as u64, k.image_len().div_ceil(4096), "{name}");
        let mut seen = std::collections::HashSet::new();
        for (i, off) in src.iter().enumerate() {
            let Some(off) = *off else { continue };
            assert!(seen.insert(off), "{name}: file page {off:#x} named twice");
            let off = off as usize;
            assert_eq!(&bytes[off..off + 4096], &image[i * 4096..(i + 1) * 4096], "{name}: page {i}");
        }
        let n = src.iter().flatten().count();
        eprintln!("{name}: {n} of {} image pages come from the file", src.len());
        if name == "vmlinux" {
            // Everything but the BSS and the odd shared page.
            let filesz: u64 = elf.phdrs.iter().filter(|p| p.is_loadable()).map(|p| p.p_filesz).sum();
            assert!(n as u64 >= filesz / 4096 - 8, "{n} pages for {filesz} file bytes");
        }
    }
}
