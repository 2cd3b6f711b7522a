//! The kernel check, made once: a kernel file is unpacked (bzImage, gzip/xz/zstd/lz4), its ELF,
//! Xen notes and BSD symbol block are checked ([`unpack`]), and the new domain's layout is
//! planned beside what rpvboot holds ([`Unpacked::plan`]), before anything irreversible
//! happens. The result, a [`CheckedKernel`], carries everything the handover executes; a
//! refusal is a [`Refusal`] that the console, the menu and the dry run render the same way.
//! The unattended boot, the menu and the dry run all reach it through `plan::read_entry`, so a
//! refused kernel leaves rpvboot running to report it and try the `fallback` entry.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use kernelimage::{self as image, elf::Elf64, Container, PvKernel};

use crate::layout::{self, Layout, LayoutError, LayoutInput};
pub use crate::loader_base::LOADER_VIRT_BASE;

/// The L4 slot rpvboot's own mapping uses: one slot covers its image and 512 GiB of RAM, and a
/// kernel whose boot region needs it cannot be booted (its L4 entries are hooked into ours).
pub const LOADER_L4_SLOT: u64 = (LOADER_VIRT_BASE >> 39) & 511;

// The whole mapping must be one slot from its start (the PV kernel's page-table code walks one
// L3 from index 0), and it must not be one of Xen's slots.
const _: () = assert!(LOADER_VIRT_BASE & ((1 << 39) - 1) == 0 && !(256 <= LOADER_L4_SLOT && LOADER_L4_SLOT < 272));

/// Largest kernel or module file read (compressed size).
pub const FILE_LIMIT: usize = 512 << 20;

/// Why a kernel was refused, by the check that refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The file does not unpack to an ELF (format, compression, bzImage, memory limit).
    Image(image::Error),
    /// The ELF itself is invalid.
    Elf(image::Error),
    /// Xen's PV loader rules refuse it (notes, addresses, features).
    Notes(image::Error),
    /// The BSD symbol block the kernel asks for cannot be built.
    Symbols(image::Error),
    /// The new domain's region does not fit in its memory beside rpvboot.
    Layout(LayoutError),
    /// The region needs an L4 slot that is rpvboot's own or Xen's.
    Slot {
        /// The slot.
        slot: u64,
        /// The region's first VA.
        start: u64,
        /// The region's end (its page tables' end).
        end: u64,
    },
}

impl Refusal {
    /// Whether the refusal is about memory (the domain is too small for this kernel) rather
    /// than the file.
    pub fn is_memory(&self) -> bool {
        match self {
            Refusal::Image(e) => e.is_memory(),
            Refusal::Layout(LayoutError::DomainTooSmall { .. }) => true,
            _ => false,
        }
    }

    /// Where the problem is: `memory`, or the kernel file `name` with the byte offset the
    /// image error names (`(hd0)/k.gz at byte 1234`).
    pub fn at(&self, name: &str) -> String {
        if self.is_memory() || matches!(self, Refusal::Layout(_)) {
            return String::from("memory");
        }
        let offset = match self {
            Refusal::Image(e) | Refusal::Elf(e) | Refusal::Notes(e) | Refusal::Symbols(e) => e.offset(),
            _ => None,
        };
        match offset {
            Some(n) => format!("{name} at byte {n}"),
            None => String::from(name),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Image(e) => write!(f, "kernel image: {e}"),
            Refusal::Elf(e) => write!(f, "kernel ELF: {e}"),
            Refusal::Notes(e) => write!(f, "kernel: {e}"),
            Refusal::Symbols(e) => write!(f, "BSD symbols: {e}"),
            Refusal::Layout(e) => write!(f, "layout: {e}"),
            Refusal::Slot { slot, start, end } => {
                let whose = if *slot == LOADER_L4_SLOT { "where rpvboot itself lives" } else { "which is Xen's" };
                write!(
                    f,
                    "kernel: its region {start:#x}..{end:#x} needs L4 slot {slot}, {whose} (rpvboot is linked at {LOADER_VIRT_BASE:#x})"
                )
            }
        }
    }
}

/// A kernel file unpacked and parsed, its Xen notes and BSD symbol block checked; the layout
/// is still to be planned ([`Unpacked::plan`]), once the command line is final (a NetBSD
/// kernel's `bootdev=` depends on its notes).
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// The ELF: the file itself when it was a plain ELF, else what its layers unpacked to.
    pub elf: Vec<u8>,
    /// Whether `elf` is a buffer of its own (unpacked) rather than the file as read.
    pub unpacked: bool,
    /// The layers peeled to reach the ELF, outermost first, ending with `Elf64`.
    pub formats: Vec<image::Format>,
    /// The kernel as Xen's PV loader rules read it.
    pub kernel: PvKernel,
    /// The BSD symbol block (empty when the kernel asks for none).
    pub symbols: Vec<u8>,
}

/// A kernel that passed every check, with its plan: everything the handover executes.
#[derive(Debug, Clone)]
pub struct CheckedKernel {
    /// What [`unpack`] found.
    pub image: Unpacked,
    /// The new domain's layout.
    pub layout: Layout,
    /// Pages counted as rpvboot's beside the region when the fit was checked.
    pub pages_beside: u64,
}

impl CheckedKernel {
    /// One line for the console: formats, bytes loaded, entry, region pages, BSD symbols.
    pub fn summary(&self) -> String {
        let k = &self.image.kernel;
        format!(
            "{} kernel, {} bytes loaded, entry {:#x}, {} pages{}",
            self.image.format_names().join("+"),
            k.image_len(),
            k.entry,
            self.layout.region_pages,
            if k.bsd_symtab.is_some() { ", BSD symbols" } else { "" }
        )
    }
}

/// The most an image may unpack to in a domain of `nr_pages` where rpvboot holds
/// `pages_in_use`: most of the rest. Every decoder decodes into the output alone (xz's
/// dictionary and zstd's window are the output itself, kernelimage's xz and zstd). A small
/// margin stays anyway: the heap's free count ignores its fragmentation.
fn unpack_limit(nr_pages: u64, pages_in_use: u64) -> usize {
    let free = nr_pages.saturating_sub(pages_in_use);
    let reserve = free / 64 + 64;
    usize::try_from(free.saturating_sub(reserve).saturating_mul(4096)).unwrap_or(usize::MAX)
}

/// Unpacks and parses the kernel `file` for a domain of `nr_pages` while rpvboot holds
/// `pages_in_use` (the file included). A plain ELF stays the very buffer given (a big
/// uncompressed kernel is never held twice); a compressed one is decompressed once (xz under
/// TCG takes seconds for a Linux kernel).
pub fn unpack(file: Vec<u8>, nr_pages: u64, pages_in_use: u64) -> Result<Unpacked, Refusal> {
    unpack_for(file, nr_pages, pages_in_use, Container::Pv)
}

/// [`unpack`] for a kernel that boots in `container`: in a PVH domain the kernel must be
/// PVH-capable ([`PvKernel::parse_pvh`]); a PV-only kernel is refused (`Refusal::Notes`,
/// "not a PVH-capable kernel: ... PV-only ...") and the fallback entry is tried.
pub fn unpack_for(file: Vec<u8>, nr_pages: u64, pages_in_use: u64, container: Container) -> Result<Unpacked, Refusal> {
    let limit = unpack_limit(nr_pages, pages_in_use);
    let (formats, own) = {
        let un = image::unwrap(&file, limit).map_err(Refusal::Image)?;
        let whole = un.elf.as_ptr() == file.as_ptr() && un.elf.len() == file.len();
        let own = match un.elf {
            Cow::Owned(v) => Some(v),
            Cow::Borrowed(b) if !whole => Some(b.to_vec()),
            Cow::Borrowed(_) => None,
        };
        (un.formats, own)
    };
    let unpacked = own.is_some();
    let elf_bytes = own.unwrap_or(file);
    let (kernel, symbols) = {
        let elf = Elf64::parse(&elf_bytes).map_err(Refusal::Elf)?;
        let k = match container {
            Container::Pv => PvKernel::parse(&elf),
            Container::Pvh => PvKernel::parse_pvh(&elf),
        }
        .map_err(Refusal::Notes)?;
        // The handover builds this block too; a kernel whose block cannot be built is
        // refused here, while the fallback can still boot.
        let block = k.bsd_block(&elf).map_err(Refusal::Symbols)?;
        (k, block)
    };
    Ok(Unpacked { elf: elf_bytes, unpacked, formats, kernel, symbols })
}

impl Unpacked {
    /// Layer names, outermost first (`["bzImage", "xz", "elf64"]`), as
    /// `kernelimage::Unwrapped::format_names` gives them.
    pub fn format_names(&self) -> Vec<&'static str> {
        self.formats.iter().map(|f| f.name()).collect()
    }

    /// The pages to count as rpvboot's while it builds the region: `pages_in_use` (its own and
    /// the files it read) plus an unpacked ELF's pages (a plain ELF is the file itself), less
    /// the ELF pages the handover gives to the new kernel in place
    /// ([`PvKernel::page_sources`]; the PV heap page-aligns big buffers), so only the rest of
    /// the ELF and of the region count twice.
    pub fn pages_beside_region(&self, pages_in_use: u64) -> u64 {
        // Counted without a list of every image page: `p_memsz` may claim a terabyte, which the
        // layout refuses only after this.
        let reused = self.kernel.reusable_pages(self.symbols.len() as u64);
        if self.unpacked {
            pages_in_use.saturating_add((self.elf.len() as u64).div_ceil(4096).saturating_sub(reused))
        } else {
            pages_in_use.saturating_sub(reused)
        }
    }

    /// Plans the new domain's memory for this kernel with `modules` (their lengths, in order)
    /// and the final `cmdline`, in `nr_pages` while rpvboot holds `pages_in_use` (the files
    /// included); refuses a region that does not fit or needs rpvboot's or Xen's L4 slots.
    pub fn plan(
        self,
        modules: &[u64],
        cmdline: &[u8],
        nr_pages: u64,
        pages_in_use: u64,
    ) -> Result<CheckedKernel, Refusal> {
        let pages_beside = self.pages_beside_region(pages_in_use);
        let input = LayoutInput::for_kernel(&self.kernel, modules, nr_pages, pages_beside, cmdline);
        let layout = layout::plan(&input).map_err(Refusal::Layout)?;
        // rpvboot hooks the new kernel's L4 entries into its own tree (docs/handover.md P5): the
        // region must not need rpvboot's slot, nor Xen's 256..272.
        let slot = |va: u64| (va >> 39) & 511;
        let (lo, hi) = (slot(layout.virt_base), slot(layout.virt_pgtab_end.saturating_sub(1)));
        if let Some(s) = (lo..=hi).find(|&s| s == LOADER_L4_SLOT || (256..272).contains(&s)) {
            return Err(Refusal::Slot { slot: s, start: layout.virt_base, end: layout.virt_pgtab_end });
        }
        Ok(CheckedKernel { image: self, layout, pages_beside })
    }
}

/// [`unpack`] then [`Unpacked::plan`]: the whole check for a kernel whose command line does
/// not depend on its notes (tests, `rpvboot.test=ramdisk`).
pub fn check(
    file: Vec<u8>,
    modules: &[u64],
    cmdline: &[u8],
    nr_pages: u64,
    pages_in_use: u64,
) -> Result<CheckedKernel, Refusal> {
    unpack(file, nr_pages, pages_in_use)?.plan(modules, cmdline, nr_pages, pages_in_use)
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
        let gz = testimages::tools::gzip(&elf);
        (elf, gz)
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
        assert_eq!(sel.kernel.image.elf, elf);
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
        let plain = check(elf.clone(), &[], b"", 16384, 2048).unwrap();
        assert!(plain.summary().starts_with("elf64 kernel"), "{}", plain.summary());
        assert_eq!(plain.image.formats, [image::Format::Elf64]);
        assert!(!plain.image.unpacked);
        let same = unpack(elf, 16384, 2048).unwrap();
        assert_eq!(same.elf.as_ptr(), ptr, "a plain ELF must come back as the buffer given");
        let un = check(gz, &[], b"", 16384, 2048).unwrap();
        assert!(un.summary().starts_with("gzip+elf64 kernel"), "{}", un.summary());
        assert_eq!(un.image.formats, [image::Format::Gzip, image::Format::Elf64]);
        assert!(un.image.unpacked);
        assert_eq!(un.image.elf, plain.image.elf);
        // The plan is the same for both: the ELF is the same, only the pages held differ.
        assert_eq!(un.layout, plain.layout);
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
        // The check agrees with the ELF's own entry (object crate as the oracle).
        use object::{Object, ObjectSegment};
        let o = object::File::parse(&*elf).unwrap();
        let what = check(elf.clone(), &[], b"", 16384, 2048).unwrap().summary();
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
            let what = check(kernel_at(base), &[], b"", 16384, 2048).map(|c| c.summary());
            assert!(what.is_ok(), "{base:#x}: {what:?}");
        }
        // rpvboot's own slot: refused, and the message says why and where rpvboot is.
        let e = check(kernel_at(LOADER_VIRT_BASE), &[], b"", 16384, 2048).unwrap_err().to_string();
        assert!(e.contains("needs L4 slot 255, where rpvboot itself lives"), "{e}");
        assert!(e.contains("rpvboot is linked at 0x7f8000000000"), "{e}");
        // A region that starts below the slot and runs into it.
        let e = check(kernel_at(LOADER_VIRT_BASE - 0x10_0000), &[], b"", 16384, 2048).unwrap_err().to_string();
        assert!(e.contains("needs L4 slot 255"), "{e}");
        // Xen's slots 256..272.
        let e = check(kernel_at(0xffff_8000_0000_0000), &[], b"", 16384, 2048).unwrap_err().to_string();
        assert!(e.contains("needs L4 slot 256, which is Xen's"), "{e}");
        // And select reports it as the entry's reason.
        let mut out = String::new();
        let mut v = vols("title k\n kernel /k\n", &[("/k", &kernel_at(LOADER_VIRT_BASE))]);
        assert!(select("", &mut v, 16384, 2048, &mut out).is_none());
        assert!(out.contains("entry 0 \"k\" cannot boot: kernel: its region 0x7f8000000000.."), "{out}");
    }
}
