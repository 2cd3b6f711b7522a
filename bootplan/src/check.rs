//! The kernel check: a kernel file is unpacked (bzImage, gzip/xz/zstd/lz4), its ELF and Xen
//! notes are checked, and the new domain's layout is planned beside what rpvboot holds, before
//! anything irreversible happens. The unattended boot, the menu and the dry run all reach it
//! through `plan::read_entry`, so a refused kernel leaves rpvboot running to report it and try
//! the `fallback` entry.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use kernelimage::{self as image, elf::Elf64, PvKernel};

use crate::layout::{self, LayoutInput};
pub use crate::loader_base::LOADER_VIRT_BASE;

/// The L4 slot rpvboot's own mapping uses: one slot covers its image and 512 GiB of RAM, and a
/// kernel whose boot region needs it cannot be booted (its L4 entries are hooked into ours).
pub const LOADER_L4_SLOT: u64 = (LOADER_VIRT_BASE >> 39) & 511;

// The whole mapping must be one slot from its start (the PV kernel's page-table code walks one
// L3 from index 0), and it must not be one of Xen's slots.
const _: () = assert!(LOADER_VIRT_BASE & ((1 << 39) - 1) == 0 && !(256 <= LOADER_L4_SLOT && LOADER_L4_SLOT < 272));

/// Largest kernel or module file read (compressed size).
pub const FILE_LIMIT: usize = 512 << 20;

/// Checks that a kernel image can be loaded into a domain of `nr_pages` while the loader
/// keeps `pages_in_use`: returns a one-line description, or why not.
pub fn check_kernel(
    kernel: &[u8],
    modules: &[u64],
    cmdline: &[u8],
    nr_pages: u64,
    pages_in_use: u64,
) -> Result<String, String> {
    checked(kernel, modules, cmdline, nr_pages, pages_in_use).map(|(_, what)| what)
}

/// The pages to count as rpvboot's while it builds the region of kernel `k`, whose ELF of
/// `elf_len` bytes it holds: `pages_in_use` (its own and the files it read) plus a decompressed
/// ELF's pages (`decompressed`; a plain ELF is the file itself), less the ELF pages the
/// handover gives to the new kernel in place ([`PvKernel::page_sources`]).
pub fn pages_beside_region(pages_in_use: u64, k: &PvKernel, elf_len: usize, decompressed: bool) -> u64 {
    let block_len = k.bsd_symtab.as_ref().map_or(0, |s| s.size);
    let reused = k.page_sources(block_len).iter().flatten().count() as u64;
    if decompressed {
        pages_in_use.saturating_add((elf_len as u64).div_ceil(4096).saturating_sub(reused))
    } else {
        pages_in_use.saturating_sub(reused)
    }
}

/// A kernel file that passed [`unwrap_checked_owned`]'s check.
pub struct CheckedKernel {
    /// The ELF: the file itself when it was a plain ELF, else what its layers unpacked to.
    pub elf: Vec<u8>,
    /// The layers peeled to reach the ELF, outermost first, ending with `Elf64`.
    pub formats: Vec<image::Format>,
    /// One line for the console: formats, bytes loaded, entry, region pages, BSD symbols.
    pub summary: String,
}

/// [`check_kernel`] for a file the caller owns, also returning the ELF, so that it is
/// decompressed once (xz under TCG takes tens of seconds for a Linux kernel). A plain ELF comes
/// back as the very same buffer instead of a copy (a big uncompressed kernel would otherwise
/// be held twice).
pub fn unwrap_checked_owned(
    kernel: Vec<u8>,
    modules: &[u64],
    cmdline: &[u8],
    nr_pages: u64,
    pages_in_use: u64,
) -> Result<CheckedKernel, String> {
    let (un, summary) = checked(&kernel, modules, cmdline, nr_pages, pages_in_use)?;
    let image::Unwrapped { formats, elf } = un;
    let whole = elf.as_ptr() == kernel.as_ptr() && elf.len() == kernel.len();
    let copy = match elf {
        Cow::Owned(v) => Some(v),
        Cow::Borrowed(b) if !whole => Some(b.to_vec()),
        Cow::Borrowed(_) => None,
    };
    Ok(CheckedKernel { elf: copy.unwrap_or(kernel), formats, summary })
}

/// The kernel check behind [`check_kernel`] and [`unwrap_checked_owned`]: the unpacked image
/// (its ELF borrowed when the file is one) and the summary. Decompression may use most of the memory rpvboot does not
/// use: the handover gives the ELF's own pages to the new kernel wherever they hold a whole
/// page of its image ([`PvKernel::page_sources`]; the PV heap page-aligns big buffers), so
/// only the rest of the ELF and of the region count twice.
fn checked<'a>(
    kernel: &'a [u8],
    modules: &[u64],
    cmdline: &[u8],
    nr_pages: u64,
    pages_in_use: u64,
) -> Result<(image::Unwrapped<'a>, String), String> {
    // zstd's window is allocated infallibly beside the output: an eighth stays for it. xz's
    // dictionary is bounded by what the output leaves (image::xz); gzip and lz4 use the output.
    // A small margin stays anyway: the heap's free count ignores its fragmentation.
    let free = nr_pages.saturating_sub(pages_in_use);
    let reserve = if image::compression_of(kernel) == Some(image::Format::Zstd) { free / 8 } else { free / 64 + 64 };
    let limit = usize::try_from((free - reserve).saturating_mul(4096)).unwrap_or(usize::MAX);
    let un = image::unwrap(kernel, limit).map_err(|e| format!("kernel image: {e}"))?;
    let elf = Elf64::parse(&un.elf).map_err(|e| format!("kernel ELF: {e}"))?;
    let k = PvKernel::parse(&elf).map_err(|e| format!("kernel: {e}"))?;
    let held = pages_beside_region(pages_in_use, &k, un.elf.len(), matches!(un.elf, Cow::Owned(_)));
    let lay = layout::plan(&LayoutInput {
        virt_base: k.virt_base,
        kernel_start: k.virt_kstart,
        kernel_end: k.virt_kend,
        modules,
        nr_pages,
        pages_in_use: held,
        cmdline,
    })
    .map_err(|e| format!("layout: {e}"))?;
    // rpvboot hooks the new kernel's L4 entries into its own tree (handover-notes P5): the
    // region must not need rpvboot's slot, nor Xen's 256..272.
    let slot = |va: u64| (va >> 39) & 511;
    let (lo, hi) = (slot(lay.virt_base), slot(lay.virt_pgtab_end.saturating_sub(1)));
    if let Some(s) = (lo..=hi).find(|&s| s == LOADER_L4_SLOT || (256..272).contains(&s)) {
        let whose = if s == LOADER_L4_SLOT { "where rpvboot itself lives" } else { "which is Xen's" };
        return Err(format!(
            "kernel: its region {:#x}..{:#x} needs L4 slot {s}, {whose} (rpvboot is linked at {:#x})",
            lay.virt_base, lay.virt_pgtab_end, LOADER_VIRT_BASE
        ));
    }
    let what = format!(
        "{} kernel, {} bytes loaded, entry {:#x}, {} pages{}",
        un.format_names().join("+"),
        k.image_len(),
        k.entry,
        lay.region_pages,
        if k.bsd_symtab.is_some() { ", BSD symbols" } else { "" }
    );
    Ok((un, what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::select;
    use bootconfig::search::{FsKind, MemVolumes};

    /// The NetBSD-shaped kernel assembled and linked by binutils (testimages), gzipped by gzip.
    fn kernels() -> (Vec<u8>, Vec<u8>) {
        let p =
            testimages::kernels::build(&testimages::kernels::images_dir(), &testimages::kernels::KernelSpec::netbsd())
                .unwrap();
        let elf = std::fs::read(&p).unwrap();
        // Compress the bytes read, not the path: a parallel test may rebuild the file meanwhile
        // (each build names its own object file in the symbol table).
        let mut gzip = std::process::Command::new("gzip")
            .args(["-9n", "-c"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = gzip.stdin.take().unwrap();
        let input = elf.clone();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
        let out = gzip.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success());
        (elf, out.stdout)
    }

    fn vols(menu: &str, files: &[(&str, &[u8])]) -> MemVolumes {
        let mut all: Vec<(&str, &[u8])> = vec![("/grub/menu.lst", menu.as_bytes())];
        all.extend_from_slice(files);
        MemVolumes::default().with("(hd0)", FsKind::Ext, &all)
    }

    const MENU: &str = "default 0\nfallback 1 2\ntimeout 0\n\
        title missing\n  kernel /nope.gz a=1\n\
        title corrupt\n  kernel /corrupt.gz b=2\n\
        title good\n  kernel /netbsd.gz c=3\n  module /mod.bin\n";

    #[test]
    fn fallback_chain_reports_each_refusal_and_picks_the_good_entry() {
        let (elf, gz) = kernels();
        let corrupt: Vec<u8> = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3].iter().copied().chain(0..200u8).collect();
        let module = vec![7u8; 100_003];
        let mut v = vols(MENU, &[("/corrupt.gz", &corrupt), ("/netbsd.gz", &gz), ("/mod.bin", &module)]);
        let mut out = String::new();
        let sel = select("", &mut v, 16384, 2048, &mut out).unwrap();
        assert_eq!(sel.title, "good");
        assert_eq!(sel.kernel, elf);
        assert_eq!(sel.modules, vec![module]);
        assert!(sel.cmdline.starts_with("c=3"), "{}", sel.cmdline);
        assert!(out.contains("entry 0 \"missing\" cannot boot: kernel (hd0)/nope.gz not found"), "{out}");
        assert!(out.contains("entry 1 \"corrupt\" cannot boot: kernel image"), "{out}");
        assert!(out.contains("booting entry 2 \"good\": gzip+elf64 kernel"), "{out}");
        assert!(out.contains("BSD symbols"), "{out}");
    }

    #[test]
    fn owned_plain_elf_is_not_copied_and_gzip_gives_the_same_elf() {
        let (elf, gz) = kernels();
        let ptr = elf.as_ptr();
        let plain = unwrap_checked_owned(elf.clone(), &[], b"", 16384, 2048).unwrap();
        assert!(plain.summary.starts_with("elf64 kernel"), "{}", plain.summary);
        assert_eq!(plain.formats, [image::Format::Elf64]);
        let same = unwrap_checked_owned(elf, &[], b"", 16384, 2048).unwrap();
        assert_eq!(same.elf.as_ptr(), ptr, "a plain ELF must come back as the buffer given");
        let un = unwrap_checked_owned(gz, &[], b"", 16384, 2048).unwrap();
        assert!(un.summary.starts_with("gzip+elf64 kernel"), "{}", un.summary);
        assert_eq!(un.formats, [image::Format::Gzip, image::Format::Elf64]);
        assert_eq!(un.elf, plain.elf);
    }

    #[test]
    fn refusals_name_the_reason() {
        let (elf, _) = kernels();
        // Too small: 2 MiB domain.
        let mut out = String::new();
        let mut v = vols("title k\n kernel /k\n", &[("/k", &elf)]);
        assert!(select("", &mut v, 512, 256, &mut out).is_none());
        assert!(out.contains("cannot boot: layout:"), "{out}");
        assert!(out.contains("no entry could be booted"), "{out}");
        // Wrong architecture: e_machine 3 (i386).
        let mut bad = elf.clone();
        bad[18] = 3;
        let mut out = String::new();
        let mut v = vols("title k\n kernel /k\n", &[("/k", &bad)]);
        assert!(select("", &mut v, 16384, 2048, &mut out).is_none());
        assert!(out.contains("entry 0 \"k\" cannot boot: kernel"), "{out}");
        // Not a kernel at all.
        let mut out = String::new();
        let mut v = vols("title k\n kernel /k\n", &[("/k", b"#!/bin/sh\necho hi\n")]);
        assert!(select("", &mut v, 16384, 2048, &mut out).is_none());
        assert!(out.contains("cannot boot: kernel image"), "{out}");
        // check_kernel agrees with the ELF's own entry (object crate as the oracle).
        use object::{Object, ObjectSegment};
        let o = object::File::parse(&*elf).unwrap();
        let what = check_kernel(&elf, &[], b"", 16384, 2048).unwrap();
        assert!(what.contains(&format!("entry {:#x}", o.entry())), "{what}");
        let end = o.segments().map(|s| s.address() + s.size()).max().unwrap();
        assert!(end > testimages::kernels::KERNTEXTOFF);
    }

    /// The NetBSD-shaped kernel re-based to `base` (VIRT_BASE = PADDR_OFFSET = base, text at
    /// base + 2 MiB), assembled and linked by binutils.
    fn kernel_at(base: u64) -> Vec<u8> {
        use testimages::kernels::{ldscript, source, KernelSpec, KERNBASE, KERNTEXTOFF};
        let src = source(&KernelSpec::netbsd()).replace(&format!("{KERNBASE:#x}"), &format!("{base:#x}"));
        let lds = ldscript().replace(&format!("{KERNTEXTOFF:#x}"), &format!("{:#x}", base + 0x20_0000));
        let dir = std::env::temp_dir().join(format!("rpv-check-slot-{base:x}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("k.S"), src).unwrap();
        std::fs::write(dir.join("k.ld"), lds).unwrap();
        let run =
            |cmd: &mut std::process::Command| assert!(cmd.current_dir(&dir).status().unwrap().success(), "{cmd:?}");
        run(std::process::Command::new("as").args(["--64", "-o", "k.o", "k.S"]));
        run(std::process::Command::new("ld").args([
            "-m",
            "elf_x86_64",
            "-static",
            "-nostdlib",
            "-z",
            "max-page-size=0x1000",
            "--no-warn-rwx-segments",
            "-T",
            "k.ld",
            "-o",
            "k.elf",
            "k.o",
        ]));
        let elf = std::fs::read(dir.join("k.elf")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        elf
    }

    #[test]
    fn kernels_in_rpvboots_l4_slot_or_xens_are_refused_others_load() {
        assert_eq!(LOADER_VIRT_BASE, 255 << 39, "link.ld and mm.rs document slot 255");
        assert_eq!(LOADER_L4_SLOT, 255);
        // VIRT_BASE 0 (pvgrub2, mini-os) and NetBSD/Linux's top slot are fine.
        for base in [0, testimages::kernels::KERNBASE] {
            let what = check_kernel(&kernel_at(base), &[], b"", 16384, 2048);
            assert!(what.is_ok(), "{base:#x}: {what:?}");
        }
        // rpvboot's own slot: refused, and the message says why and where rpvboot is.
        let e = check_kernel(&kernel_at(LOADER_VIRT_BASE), &[], b"", 16384, 2048).unwrap_err();
        assert!(e.contains("needs L4 slot 255, where rpvboot itself lives"), "{e}");
        assert!(e.contains("rpvboot is linked at 0x7f8000000000"), "{e}");
        // A region that starts below the slot and runs into it.
        let e = check_kernel(&kernel_at(LOADER_VIRT_BASE - 0x10_0000), &[], b"", 16384, 2048).unwrap_err();
        assert!(e.contains("needs L4 slot 255"), "{e}");
        // Xen's slots 256..272.
        let e = check_kernel(&kernel_at(0xffff_8000_0000_0000), &[], b"", 16384, 2048).unwrap_err();
        assert!(e.contains("needs L4 slot 256, which is Xen's"), "{e}");
        // And select reports it as the entry's reason.
        let mut out = String::new();
        let mut v = vols("title k\n kernel /k\n", &[("/k", &kernel_at(LOADER_VIRT_BASE))]);
        assert!(select("", &mut v, 16384, 2048, &mut out).is_none());
        assert!(out.contains("entry 0 \"k\" cannot boot: kernel: its region 0x7f8000000000.."), "{out}");
    }
}
