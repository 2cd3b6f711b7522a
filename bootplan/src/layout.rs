//! The new domain's bootstrap region, planned exactly as Xen's domain builder lays it out
//! (libxc `xc_dom_build_image`, `alloc_p2m_list_x86_64`, `alloc_magic_pages_pv`,
//! `alloc_pgtables_pv`/`count_pgtables`, `setup_pgtables_pv`; Xen 4.17).
//!
//! Order, each element page-aligned and packed from `virt_base` (PFN 0):
//! padding, kernel (+ BSD symbols), modules, p2m list, start_info, xenstore, console,
//! page tables (L4, L3s, L2s, L1s), boot stack, padding to `virt_pgtab_end` (a 4 MiB boundary
//! at least 512 KiB after the stack).
//!
//! Where rpvboot differs from libxc, and why:
//! * `INIT_P2M` is not honoured: the p2m list is always inside the region (Linux boots with it
//!   so, see docs/handover.md §6; NetBSD needs it there). `first_p2m_pfn`/`nr_p2m_frames` are 0.
//! * `MOD_START_PFN` is not used: modules are always mapped (NetBSD needs `mod_start` as a VA
//!   right after its symbols; Linux accepts it). So `SIF_MOD_START_PFN` is never set.
//! * One more check: the loader's own live pages (`pages_in_use`) plus the region must fit in
//!   the domain, because both exist while the handover builds the region.
//! * Page-table frames are returned as data ([`Layout::page_tables`]) for a caller-supplied
//!   PFN→MFN map, instead of being written into guest memory.

use alloc::vec::Vec;
use core::fmt;

/// x86 page size.
pub const PAGE_SIZE: u64 = 4096;
/// `MAX_GUEST_CMDLINE`: start_info's command line, NUL included.
pub const MAX_GUEST_CMDLINE: usize = 1024;
/// Canonical 48-bit VA mask libxc applies (`vaddr_mask`).
const VADDR_MASK: u64 = (1 << 48) - 1;
/// L1 entry: present, writable, accessed.
pub const L1_PROT: u64 = 0x023;
/// L1 entry for a page-table frame: read-only.
pub const L1_PROT_RO: u64 = 0x021;
/// L2..L4 entry: present, writable, user, accessed, dirty.
pub const UPPER_PROT: u64 = 0x067;
/// Pages after the boot stack before the 4 MiB rounding (512 KiB).
const PAD_PAGES: u64 = 128;

/// What the planner needs to know.
#[derive(Debug, Clone, Copy)]
pub struct LayoutInput<'a> {
    /// `VIRT_BASE`: VA of PFN 0.
    pub virt_base: u64,
    /// `virt_kstart` (page-aligned, `>= virt_base`).
    pub kernel_start: u64,
    /// `virt_kend`, including the BSD symbol block.
    pub kernel_end: u64,
    /// Byte lengths of the modules, loaded in this order (module 0 is `mod_start`).
    pub modules: &'a [u64],
    /// Pages of the domain (`start_info.nr_pages`, the p2m length).
    pub nr_pages: u64,
    /// Pages the loader itself keeps alive while it builds the region.
    pub pages_in_use: u64,
    /// Command line for the new kernel (truncated to 1023 bytes like libxc).
    pub cmdline: &'a [u8],
}

impl<'a> LayoutInput<'a> {
    /// The input for a parsed PV kernel (its virt base and image range).
    pub fn for_kernel(
        k: &kernelimage::PvKernel,
        modules: &'a [u64],
        nr_pages: u64,
        pages_in_use: u64,
        cmdline: &'a [u8],
    ) -> Self {
        LayoutInput {
            virt_base: k.virt_base,
            kernel_start: k.virt_kstart,
            kernel_end: k.virt_kend,
            modules,
            nr_pages,
            pages_in_use,
            cmdline,
        }
    }
}

/// A run of pages in the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// First PFN.
    pub pfn: u64,
    /// Number of pages.
    pub pages: u64,
    /// First VA.
    pub vstart: u64,
    /// End VA of the content (`vstart + size`, not page-rounded).
    pub vend: u64,
}

impl Segment {
    /// One past the last PFN.
    pub fn pfn_end(&self) -> u64 {
        self.pfn + self.pages
    }
}

/// The tables of one paging level (libxc `xc_dom_x86_mapping_lvl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Level {
    /// First VA covered (48-bit masked).
    pub from: u64,
    /// Last VA covered (inclusive, masked).
    pub to: u64,
    /// PFN of the first table of this level.
    pub pfn: u64,
    /// Number of tables.
    pub count: u64,
}

/// The full plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// VA of PFN 0.
    pub virt_base: u64,
    /// The kernel image segment (after the padding below it).
    pub kernel: Segment,
    /// Modules in order.
    pub modules: Vec<Segment>,
    /// The p2m list (`nr_pages` u64 entries).
    pub p2m: Segment,
    /// start_info page.
    pub start_info_pfn: u64,
    /// xenstore ring page (the loader's own page is exchanged into it).
    pub xenstore_pfn: u64,
    /// console ring page (likewise).
    pub console_pfn: u64,
    /// All page-table frames.
    pub pgtables: Segment,
    /// Levels, index 0 = L1 ... 3 = L4 (libxc order).
    pub levels: [Level; 4],
    /// The VA range the tables map, inclusive (`[virt_base, virt_pgtab_end - 1]`, masked).
    pub mapped: (u64, u64),
    /// Boot stack page.
    pub bootstack_pfn: u64,
    /// End of the mapped region (4 MiB aligned).
    pub virt_pgtab_end: u64,
    /// Pages in the region (`(virt_pgtab_end - virt_base) / 4096`).
    pub region_pages: u64,
    /// Domain pages.
    pub nr_pages: u64,
    /// NUL-terminated command line for start_info (at most 1024 bytes).
    pub cmdline: Vec<u8>,
    /// `true` if the command line was cut.
    pub cmdline_truncated: bool,
}

/// Why a plan is impossible.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayoutError {
    /// An address that must be page-aligned is not.
    NotPageAligned {
        /// Which address.
        what: &'static str,
        /// Its value.
        value: u64,
    },
    /// The kernel starts below `virt_base` or ends before it starts.
    BadKernelRange {
        /// `virt_kstart`.
        start: u64,
        /// `virt_kend`.
        end: u64,
    },
    /// The region runs past the top of the address space.
    AddressOverflow,
    /// The region needs more pages than the domain has.
    DomainTooSmall {
        /// Pages the region needs.
        region_pages: u64,
        /// Pages the loader keeps alive meanwhile.
        pages_in_use: u64,
        /// Domain pages.
        nr_pages: u64,
    },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::NotPageAligned { what, value } => {
                write!(f, "{what} {value:#x} is not page-aligned")
            }
            LayoutError::BadKernelRange { start, end } => {
                write!(f, "kernel range {start:#x}-{end:#x} is not inside the region")
            }
            LayoutError::AddressOverflow => write!(f, "the region runs past the top of the address space"),
            LayoutError::DomainTooSmall {
                region_pages,
                pages_in_use,
                nr_pages,
            } => write!(
                f,
                "domain too small: the new kernel's region needs {region_pages} pages, rpvboot uses {pages_in_use}, the domain has {nr_pages}"
            ),
        }
    }
}

impl core::error::Error for LayoutError {}

/// libxc's allocation cursor (`virt_alloc_end`, `pfn_alloc_end`).
struct Alloc {
    va: u64,
    pfn: u64,
    nr_pages: u64,
    pages_in_use: u64,
}

impl Alloc {
    fn check(&self, pages: u64) -> Result<(), LayoutError> {
        let end = self.pfn.checked_add(pages).ok_or(LayoutError::AddressOverflow)?;
        if end > self.nr_pages {
            return Err(LayoutError::DomainTooSmall {
                region_pages: end,
                pages_in_use: self.pages_in_use,
                nr_pages: self.nr_pages,
            });
        }
        Ok(())
    }

    fn take(&mut self, pages: u64) -> Result<(), LayoutError> {
        self.check(pages)?;
        let bytes = pages.checked_mul(PAGE_SIZE).ok_or(LayoutError::AddressOverflow)?;
        self.va = self.va.checked_add(bytes).ok_or(LayoutError::AddressOverflow)?;
        self.pfn += pages;
        Ok(())
    }

    /// `xc_dom_alloc_pad`.
    fn pad_to(&mut self, boundary: u64) -> Result<(), LayoutError> {
        if !boundary.is_multiple_of(PAGE_SIZE) {
            return Err(LayoutError::NotPageAligned { what: "segment boundary", value: boundary });
        }
        if boundary < self.va {
            return Err(LayoutError::BadKernelRange { start: boundary, end: self.va });
        }
        self.take((boundary - self.va) / PAGE_SIZE)
    }

    /// `xc_dom_alloc_segment`.
    fn segment(&mut self, start: Option<u64>, size: u64) -> Result<Segment, LayoutError> {
        if let Some(s) = start {
            self.pad_to(s)?;
        }
        let pages = size.div_ceil(PAGE_SIZE);
        let seg = Segment {
            pfn: self.pfn,
            pages,
            vstart: self.va,
            vend: self.va.checked_add(size).ok_or(LayoutError::AddressOverflow)?,
        };
        self.take(pages)?;
        Ok(seg)
    }

    /// `xc_dom_alloc_page`.
    fn page(&mut self) -> Result<u64, LayoutError> {
        let pfn = self.pfn;
        self.take(1)?;
        Ok(pfn)
    }
}

/// libxc `count_pgtables` for the first (only) mapping, 4 levels: tables for `[from, to]`,
/// with the tables themselves at `pt_pfn`.
pub fn count_pgtables(from: u64, to: u64, pt_pfn: u64) -> [Level; 4] {
    let from = from & VADDR_MASK;
    let to = to & VADDR_MASK;
    let mut lv = [Level::default(); 4];
    let mut total = 1u64;
    lv[3] = Level { from: 0, to: VADDR_MASK, pfn: pt_pfn, count: 1 };
    for l in (0..3).rev() {
        let bits = 12 + (l as u32 + 1) * 9;
        let mask = (1u64 << bits) - 1;
        let f = from & !mask;
        let t = to | mask;
        let count = if f < t { ((t - f) >> bits) + 1 } else { 0 };
        lv[l] = Level { from: f, to: t, pfn: pt_pfn + total, count };
        total += count;
    }
    lv
}

/// Plan the region. Pure: same input, same plan.
pub fn plan(input: &LayoutInput<'_>) -> Result<Layout, LayoutError> {
    let vb = input.virt_base;
    if !vb.is_multiple_of(PAGE_SIZE) {
        return Err(LayoutError::NotPageAligned { what: "virt_base", value: vb });
    }
    if !input.kernel_start.is_multiple_of(PAGE_SIZE) {
        return Err(LayoutError::NotPageAligned { what: "kernel start", value: input.kernel_start });
    }
    if input.kernel_start < vb || input.kernel_end < input.kernel_start {
        return Err(LayoutError::BadKernelRange { start: input.kernel_start, end: input.kernel_end });
    }
    let mut a = Alloc { va: vb, pfn: 0, nr_pages: input.nr_pages, pages_in_use: input.pages_in_use };
    let kernel = a.segment(Some(input.kernel_start), input.kernel_end - input.kernel_start)?;
    let mut modules = Vec::new();
    for &len in input.modules {
        modules.push(a.segment(None, len)?);
    }
    let p2m_bytes = input
        .nr_pages
        .checked_mul(8)
        .and_then(|b| b.checked_next_multiple_of(PAGE_SIZE))
        .ok_or(LayoutError::AddressOverflow)?;
    let p2m = a.segment(None, p2m_bytes)?;
    let start_info_pfn = a.page()?;
    let xenstore_pfn = a.page()?;
    let console_pfn = a.page()?;

    // alloc_pgtables_pv: iterate until the tables (and stack and 512 KiB) fit below a 4 MiB
    // boundary that the same tables cover.
    let extra = 1 + PAD_PAGES;
    let mut pages = extra;
    let (try_end, levels) = loop {
        let want =
            pages.checked_mul(PAGE_SIZE).and_then(|b| a.va.checked_add(b)).ok_or(LayoutError::AddressOverflow)?;
        let try_end = want | ((1 << 22) - 1);
        // count_pgtables' own check: the mapping must fit in the domain.
        let span_pages = ((try_end & VADDR_MASK) - (vb & VADDR_MASK)) >> 12;
        if span_pages >= input.nr_pages {
            return Err(LayoutError::DomainTooSmall {
                region_pages: span_pages + 1,
                pages_in_use: input.pages_in_use,
                nr_pages: input.nr_pages,
            });
        }
        let levels = count_pgtables(vb, try_end, a.pfn);
        let nr_pt: u64 = levels.iter().map(|l| l.count).sum();
        pages = nr_pt + extra;
        if a.va + pages * PAGE_SIZE <= try_end + 1 {
            break (try_end, levels);
        }
    };
    let virt_pgtab_end = try_end.checked_add(1).ok_or(LayoutError::AddressOverflow)?;
    let nr_pt: u64 = levels.iter().map(|l| l.count).sum();
    let pgtables = a.segment(None, nr_pt * PAGE_SIZE)?;
    let bootstack_pfn = a.page()?;
    a.pad_to(virt_pgtab_end)?;
    let region_pages = a.pfn;
    if region_pages.saturating_add(input.pages_in_use) > input.nr_pages {
        return Err(LayoutError::DomainTooSmall {
            region_pages,
            pages_in_use: input.pages_in_use,
            nr_pages: input.nr_pages,
        });
    }
    // strncpy(cmd_line, cmdline, 1024); cmd_line[1023] = 0; and stop at an embedded NUL.
    let nul = input.cmdline.iter().position(|&b| b == 0).unwrap_or(input.cmdline.len());
    let keep = nul.min(MAX_GUEST_CMDLINE - 1);
    let mut cmdline = input.cmdline.get(..keep).unwrap_or_default().to_vec();
    cmdline.push(0);
    Ok(Layout {
        virt_base: vb,
        kernel,
        modules,
        p2m,
        start_info_pfn,
        xenstore_pfn,
        console_pfn,
        pgtables,
        levels,
        mapped: (vb & VADDR_MASK, try_end & VADDR_MASK),
        bootstack_pfn,
        virt_pgtab_end,
        region_pages,
        nr_pages: input.nr_pages,
        cmdline,
        cmdline_truncated: keep < nul,
    })
}

impl Layout {
    /// VA of a PFN in the region.
    pub fn va(&self, pfn: u64) -> u64 {
        self.virt_base + pfn * PAGE_SIZE
    }

    /// `start_info.pt_base`: VA of the L4.
    pub fn pt_base(&self) -> u64 {
        self.va(self.pgtables.pfn)
    }

    /// `start_info.nr_pt_frames`.
    pub fn nr_pt_frames(&self) -> u64 {
        self.pgtables.pages
    }

    /// `rsi` at entry: VA of start_info.
    pub fn start_info_va(&self) -> u64 {
        self.va(self.start_info_pfn)
    }

    /// `rsp` at entry: top of the boot stack page.
    pub fn stack_top(&self) -> u64 {
        self.va(self.bootstack_pfn + 1)
    }

    /// `start_info.mfn_list`.
    pub fn mfn_list(&self) -> u64 {
        self.p2m.vstart
    }

    /// `start_info.mod_start` / `mod_len` (VA and exact byte length of module 0, or 0/0).
    pub fn module0(&self) -> (u64, u64) {
        self.modules.first().map_or((0, 0), |m| (m.vstart, m.vend - m.vstart))
    }

    /// `true` if `pfn` holds a page table (mapped read-only).
    pub fn is_pgtable(&self, pfn: u64) -> bool {
        pfn >= self.pgtables.pfn && pfn < self.pgtables.pfn_end()
    }

    /// The contents of every page-table frame, in PFN order (L4, L3s, L2s, L1s), exactly as
    /// libxc's `setup_pgtables_pv` fills them, for the PFN→MFN map `p2m`.
    pub fn page_tables(&self, p2m: impl Fn(u64) -> u64) -> Vec<[u64; 512]> {
        let mut frames = alloc::vec![[0u64; 512]; self.pgtables.pages as usize];
        let area = Level { from: self.mapped.0, to: self.mapped.1, pfn: 0, count: 0 };
        for l in (0..4).rev() {
            let me = self.levels[l];
            let lower = if l > 0 { self.levels[l - 1] } else { area };
            if l > 0 && lower.count == 0 {
                continue;
            }
            if lower.from >= me.to || lower.to <= me.from {
                continue;
            }
            let shift = 12 + 9 * l as u32;
            let p_s = (me.from.max(lower.from) - me.from) >> shift;
            let p_e = (me.to.min(lower.to) - me.from) >> shift;
            let pfn0 = ((me.from.max(lower.from) - lower.from) >> shift) + lower.pfn;
            let first_frame = me.pfn - self.pgtables.pfn;
            for (pfn, p) in (pfn0..).zip(p_s..=p_e) {
                let prot = if l > 0 {
                    UPPER_PROT
                } else if self.is_pgtable(pfn) {
                    L1_PROT_RO
                } else {
                    L1_PROT
                };
                let frame = (first_frame + p / 512) as usize;
                if let Some(f) = frames.get_mut(frame) {
                    f[(p % 512) as usize] = (p2m(pfn) << 12) | prot;
                }
            }
        }
        frames
    }
}
