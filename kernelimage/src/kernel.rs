//! A Xen PV kernel ready to load: libelf's `elf_parse_binary` + `elf_xen_addr_calc_check`,
//! libxc's placement rules, and the loader that produces the image bytes (segments relative to
//! the virtual base, BSS zeroed, BSD symbol block appended).

use super::elf::{Elf64, Phdr};
use super::error::{Error, Result};
use super::notes::XenNotes;
use super::symtab::{self, BsdSymtab};
use alloc::format;
use alloc::vec::Vec;

/// Page size of x86 PV guests.
pub const PAGE_SIZE: u64 = 4096;

/// One loadable segment, already placed at its final VA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// Destination VA (`p_paddr + virt_offset`).
    pub va: u64,
    /// File offset of the data.
    pub offset: u64,
    /// Bytes copied from the file.
    pub filesz: u64,
    /// Bytes in memory (the rest is zeroed).
    pub memsz: u64,
}

/// The kernel's placement and entry, as the domain builder computes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvKernel {
    /// PV or PVH: how the addresses below were computed.
    pub container: Container,
    /// All declared Xen parameters.
    pub notes: XenNotes,
    /// VA of PFN 0.
    pub virt_base: u64,
    /// `PADDR_OFFSET` after defaults.
    pub paddr_offset: u64,
    /// `virt_base - paddr_offset` (wrapping, as in C).
    pub virt_offset: u64,
    /// Lowest loadable `p_paddr`.
    pub pstart: u64,
    /// Highest loadable `p_paddr + p_memsz`.
    pub pend: u64,
    /// First VA of the kernel image.
    pub virt_kstart: u64,
    /// End VA of the image, including the BSD symbol block.
    pub virt_kend: u64,
    /// Entry VA (PV), or the 32-bit physical `PHYS32_ENTRY` address (PVH).
    pub entry: u64,
    /// Hypercall page VA, if declared.
    pub hypercall_page: Option<u64>,
    /// Loadable segments in file order.
    pub segments: Vec<LoadSegment>,
    /// The BSD symbol block, if requested and possible.
    pub bsd_symtab: Option<BsdSymtab>,
    /// `__NetBSD_Version__` from `.note.netbsd.ident` ([`super::notes::netbsd_version`]).
    pub netbsd_version: Option<u32>,
}

fn not_pv(what: alloc::string::String) -> Error {
    Error::NotPvKernel { what }
}

/// The container the kernel is loaded into, libelf's `hvm` flag (`elf_xen_parse(.., hvm)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Container {
    /// A PV domain: paged from the start, entered at the ENTRY VA.
    #[default]
    Pv,
    /// A PVH domain: loaded at physical addresses and entered in 32-bit protected mode at the
    /// `PHYS32_ENTRY` address (docs/pvh-handover.md).
    Pvh,
}

impl PvKernel {
    /// Parse notes, check them, compute addresses. Fails with a message naming the first
    /// problem, like libelf/libxc would refuse the kernel.
    pub fn parse(elf: &Elf64<'_>) -> Result<Self> {
        let notes = XenNotes::from_elf(elf)?;
        notes.check()?;
        Self::place(elf, notes, Container::Pv)
    }

    /// The kernel as a PVH domain builder reads it (libelf with `hvm` set, libxc's
    /// `xc_dom_parse_elf_kernel` in an HVM container): the `PHYS32_ENTRY` note is required,
    /// `VIRT_BASE` and `PADDR_OFFSET` are forced to 0 (segments at `p_paddr`), the entry is the
    /// note's 32-bit physical address, and everything must lie below 4 GiB (the entry runs
    /// without paging). A PV-only kernel is refused with [`Error::NotPvhKernel`].
    pub fn parse_pvh(elf: &Elf64<'_>) -> Result<Self> {
        let notes = XenNotes::from_elf(elf)?;
        let Some(entry) = notes.phys32_entry else {
            let what = if notes.source == super::notes::NoteSource::None {
                "no Xen ELF notes at all".into()
            } else {
                "no PHYS32_ENTRY Xen ELF note: a PV-only kernel, it boots only as type = \"pv\"".into()
            };
            return Err(Error::NotPvhKernel { what });
        };
        if entry > u64::from(u32::MAX) {
            return Err(Error::NotPvhKernel { what: format!("PHYS32_ENTRY {entry:#x} is above 4 GiB") });
        }
        if notes.f_required & (1 << 11) != 0 {
            return Err(Error::NotPvhKernel { what: "the kernel requires the Xen feature \"dom0\"".into() });
        }
        let k = Self::place(elf, notes, Container::Pvh)?;
        if k.virt_kend > 1 << 32 {
            return Err(Error::NotPvhKernel {
                what: format!("image {:#x}-{:#x} reaches above 4 GiB", k.virt_kstart, k.virt_kend),
            });
        }
        Ok(k)
    }

    /// libelf `elf_parse_binary` + `elf_xen_addr_calc_check` and libxc's placement rules, for
    /// notes already checked for the container.
    fn place(elf: &Elf64<'_>, notes: XenNotes, container: Container) -> Result<Self> {
        let hvm = container == Container::Pvh;
        let fail = |what: alloc::string::String| match container {
            Container::Pv => not_pv(what),
            Container::Pvh => Error::NotPvhKernel { what },
        };
        // elf_parse_binary.
        let loadable: Vec<&Phdr> = elf.phdrs.iter().filter(|p| p.is_loadable()).collect();
        if loadable.is_empty() {
            return Err(Error::BadElf { what: "no loadable segments", value: 0 });
        }
        let mut pstart = u64::MAX;
        let mut pend = 0u64;
        let mut total = 0u64;
        for p in &loadable {
            let end = p
                .p_paddr
                .checked_add(p.p_memsz)
                .ok_or(Error::BadElf { what: "segment end overflows (p_paddr + p_memsz)", value: p.p_paddr })?;
            if p.p_filesz > p.p_memsz {
                return Err(Error::BadElf { what: "p_filesz larger than p_memsz", value: p.p_filesz });
            }
            elf.segment_data(p)?;
            pstart = pstart.min(p.p_paddr);
            pend = pend.max(end);
            total = total.saturating_add(p.p_memsz);
        }
        // libelf's guard against images that make the loader copy the same range many times.
        if total > (pend - pstart).saturating_mul(2) {
            return Err(Error::BadElf { what: "program segments total more than twice the image size", value: total });
        }
        // elf_xen_addr_calc_check: for PVH, VIRT_BASE and PADDR_OFFSET are forced to 0.
        if notes.paddr_offset.is_some() && notes.virt_base.is_none() && !hvm {
            return Err(not_pv("PADDR_OFFSET set, VIRT_BASE unset".into()));
        }
        let virt_base = if hvm { 0 } else { notes.virt_base.unwrap_or(0) };
        let legacy = notes.source == super::notes::NoteSource::LegacyGuestSection;
        let paddr_offset = match notes.paddr_offset {
            _ if hvm => 0,
            Some(o) => o,
            None if legacy => virt_base,
            None => 0,
        };
        let virt_offset = virt_base.wrapping_sub(paddr_offset);
        let virt_kstart = pstart.wrapping_add(virt_offset);
        let mut virt_kend = pend.wrapping_add(virt_offset);
        let entry = match (container, notes.phys32_entry) {
            (Container::Pvh, Some(e)) => e,
            _ => notes.entry.unwrap_or(elf.ehdr.e_entry),
        };
        let bsd_symtab = if notes.bsd_symtab {
            let plan = symtab::plan(elf, pend)?;
            if let Some(s) = plan {
                virt_kend = (s.pstart + s.size).wrapping_add(virt_offset);
            }
            plan
        } else {
            None
        };
        if virt_kstart > virt_kend || entry < virt_kstart || entry > virt_kend || virt_base > virt_kstart {
            return Err(fail(format!(
                "ELF start or entry out of bounds (virt_base {virt_base:#x}, kernel {virt_kstart:#x}-{virt_kend:#x}, entry {entry:#x})"
            )));
        }
        if let Some(p2m) = notes.init_p2m {
            if p2m >= virt_kstart && p2m < virt_kend {
                return Err(fail(format!("INIT_P2M {p2m:#x} inside the kernel image")));
            }
        }
        // libxc: the padding before the kernel is whole pages (xc_dom_alloc_pad).
        if !virt_kstart.is_multiple_of(PAGE_SIZE) {
            return Err(fail(format!("kernel start {virt_kstart:#x} is not page-aligned")));
        }
        // Xen writes the hypercall page at its PFN: it must be inside the image (PV only; a
        // PVH kernel writes its own through the MSR).
        if let Some(hp) = notes.hypercall_page.filter(|_| !hvm) {
            if hp < virt_kstart || hp >= virt_kend {
                return Err(not_pv(format!(
                    "HYPERCALL_PAGE {hp:#x} outside the kernel image {virt_kstart:#x}-{virt_kend:#x}"
                )));
            }
        }
        let segments = loadable
            .iter()
            .map(|p| LoadSegment {
                va: p.p_paddr.wrapping_add(virt_offset),
                offset: p.p_offset,
                filesz: p.p_filesz,
                memsz: p.p_memsz,
            })
            .collect();
        Ok(PvKernel {
            container,
            hypercall_page: notes.hypercall_page.filter(|_| !hvm),
            notes,
            virt_base,
            paddr_offset,
            virt_offset,
            pstart,
            pend,
            virt_kstart,
            virt_kend,
            entry,
            segments,
            bsd_symtab,
            netbsd_version: super::notes::netbsd_version(elf),
        })
    }

    /// Image size in bytes (`virt_kend - virt_kstart`).
    pub fn image_len(&self) -> u64 {
        self.virt_kend - self.virt_kstart
    }

    /// The BSD symbol block's bytes (empty if none).
    pub fn bsd_block(&self, elf: &Elf64<'_>) -> Result<Vec<u8>> {
        match &self.bsd_symtab {
            Some(p) => symtab::build(elf, p),
            None => Ok(Vec::new()),
        }
    }

    /// VA of the BSD symbol block (NetBSD's `&end`).
    pub fn bsd_block_va(&self) -> Option<u64> {
        self.bsd_symtab.as_ref().map(|s| s.pstart.wrapping_add(self.virt_offset))
    }

    /// Write the image bytes for VAs `[va, va + dst.len())` into `dst` (zero where nothing is
    /// loaded). Lets the handover fill target pages one at a time, without an image-sized
    /// buffer. `elf` is the ELF file's bytes (what [`PvKernel::parse`] read), `block`
    /// [`PvKernel::bsd_block`]'s result.
    pub fn fill(&self, elf: &[u8], block: &[u8], va: u64, dst: &mut [u8]) -> Result<()> {
        dst.fill(0);
        let win_end = va.saturating_add(dst.len() as u64);
        let copy = |src_va: u64, src: Option<&[u8]>, len: u64, dst: &mut [u8]| {
            let s = src_va.max(va);
            let e = src_va.saturating_add(len).min(win_end);
            if s >= e {
                return;
            }
            let d = dst.get_mut((s - va) as usize..(e - va) as usize);
            match (d, src) {
                (Some(d), Some(src)) => {
                    if let Some(from) = src.get((s - src_va) as usize..(e - src_va) as usize) {
                        d.copy_from_slice(from);
                    }
                }
                (Some(d), None) => d.fill(0),
                _ => {}
            }
        };
        for s in &self.segments {
            let data = super::bytes::range(elf, s.offset, s.filesz)
                .ok_or(Error::BadElf { what: "segment data outside the file", value: s.offset })?;
            copy(s.va, Some(data), s.filesz, dst);
            copy(s.va + s.filesz, None, s.memsz - s.filesz, dst);
        }
        if let Some(bva) = self.bsd_block_va() {
            copy(bva, Some(block), block.len() as u64, dst);
        }
        Ok(())
    }

    /// The ELF file offset whose page holds exactly the final bytes of the image page at VA
    /// `v`, if there is one: the page lies wholly inside one segment's file data at a
    /// page-aligned offset, and no other segment nor the BSD symbol block (`block`, VA range)
    /// touches it.
    fn page_source(&self, v: u64, block: Option<(u64, u64)>) -> Option<u64> {
        let e = v.checked_add(PAGE_SIZE)?;
        let touches = |s: u64, len: u64| s < e && s.saturating_add(len) > v;
        let mut it = self.segments.iter().filter(|s| touches(s.va, s.memsz));
        let s = it.next()?;
        if it.next().is_some() || block.is_some_and(|(b, be)| touches(b, be - b)) {
            return None;
        }
        if v < s.va || e > s.va.checked_add(s.filesz)? {
            return None;
        }
        let off = s.offset.checked_add(v - s.va)?;
        off.is_multiple_of(PAGE_SIZE).then_some(off)
    }

    fn block_range(&self, block_len: u64) -> Option<(u64, u64)> {
        self.bsd_block_va().map(|b| (b, b.saturating_add(block_len)))
    }

    /// For page `i` of the image (VA `virt_kstart + i * 4096`), the offset of a page of the
    /// ELF file that holds exactly that page's final bytes, if there is one (see
    /// `page_source`). Such a page of a page-aligned decompressed file can become the new
    /// kernel's page without a copy; every file page is named at most once.
    ///
    /// One entry per image page: the image size comes from the ELF header (`p_memsz`), so the
    /// list is allocated fallibly and is empty (nothing reused in place) when it does not fit;
    /// callers check the image against the domain first ([`Self::reusable_pages`] does not
    /// allocate by the image size).
    pub fn page_sources(&self, block_len: u64) -> Vec<Option<u64>> {
        let pages = self.image_len().div_ceil(PAGE_SIZE);
        let mut out = Vec::new();
        let Ok(n) = usize::try_from(pages) else { return out };
        if out.try_reserve_exact(n).is_err() {
            return out;
        }
        let block = self.block_range(block_len);
        let mut seen = alloc::collections::BTreeSet::new();
        for i in 0..pages {
            let v = i.checked_mul(PAGE_SIZE).and_then(|o| self.virt_kstart.checked_add(o));
            let src = v.and_then(|v| self.page_source(v, block));
            out.push(src.filter(|off| seen.insert(*off)));
        }
        out
    }

    /// How many entries of [`Self::page_sources`] name a file page, without building it: only
    /// the pages inside the segments' file data are visited (bounded by the file, not by the
    /// image size a header claims).
    pub fn reusable_pages(&self, block_len: u64) -> u64 {
        let block = self.block_range(block_len);
        let mut seen = alloc::collections::BTreeSet::new();
        for s in &self.segments {
            let first = s.va.div_ceil(PAGE_SIZE).saturating_mul(PAGE_SIZE).max(self.virt_kstart);
            let end = s.va.saturating_add(s.filesz).min(self.virt_kend);
            let mut v = first;
            while v.saturating_add(PAGE_SIZE) <= end {
                if let Some(off) = self.page_source(v, block) {
                    seen.insert(off);
                }
                v += PAGE_SIZE;
            }
        }
        seen.len() as u64
    }

    /// The whole image `[virt_kstart, virt_kend)` in one buffer (host tools and tests).
    pub fn load(&self, elf: &Elf64<'_>) -> Result<Vec<u8>> {
        let len = self.image_len();
        let n = usize::try_from(len).map_err(|_| Error::OutOfMemory { bytes: len })?;
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory { bytes: len })?;
        v.resize(n, 0);
        let block = self.bsd_block(elf)?;
        self.fill(elf.data, &block, self.virt_kstart, &mut v)?;
        Ok(v)
    }
}
