//! Start-up as a PVH guest: the same image, entered through `XEN_ELFNOTE_PHYS32_ENTRY`
//! (pvh/entry.rs), brought to the state the PV start reaches, so that the console, the heap
//! and the device stage run unchanged (docs/pvh.md):
//!
//! 1. the IDT, then the hypercall page through the CPUID-named MSR;
//! 2. `hvm_start_info` (command line, modules, memory map v1) or `XENMEM_memory_map`;
//! 3. RAM mapped at `VIRT_BASE + phys` (pvh/paging.rs); shared_info and the grant table put
//!    at guest frames *above* RAM, so that no RAM page is lost and the memory map the next
//!    kernel gets stays true;
//! 4. console and xenstore from HVM parameters;
//! 5. the heap over the RAM after the image and everything the domain builder put behind it.

pub mod entry;
pub mod handover;
pub mod paging;
pub mod traps;

use core::fmt;
use core::ops::Range;
use core::ptr::NonNull;

use crate::console;
use crate::heap;
use crate::hypervisor::evtchn::Port;
use crate::hypervisor::hvm::{self, CpuidError, Param, Space};
use crate::hypervisor::hypercall::XenError;
use crate::hypervisor::shared::Shared;
use crate::memory::{self, pfn_to_va, Guest, PAGE_SIZE};
use xenfront::hvm_start_info::{self as hsi, HvmStartInfo, HvmStartInfoError, MemEntry};
use xenfront::raw;

/// Grant-table frames placed above RAM (the PV path asks for as many).
pub const GRANT_FRAMES: u64 = 16;

/// What the PVH start established.
pub struct Boot {
    /// The checked `hvm_start_info`.
    pub info: HvmStartInfo,
    /// The memory map (the builder's table, or `XENMEM_memory_map`), read once at start: the
    /// handover passes it on unchanged.
    pub memmap: MemMap,
    /// The command line (`extra=`), up to its NUL, at most 4 KiB.
    pub cmdline: &'static [u8],
    /// shared_info (clock, event bits).
    pub shared: Shared,
    /// The console.
    pub console: &'static console::XenConsole,
    /// xenstore ring frame and port.
    pub store: (u64, u32),
    /// First guest frame of the grant table's place (above RAM).
    pub grant_gfn: u64,
    /// Pages of RAM in the memory map.
    pub ram_pages: u64,
    /// The heap's PFNs.
    pub heap: Range<u64>,
    /// The first module (xl `ramdisk=`), if any, in its place (kept out of the heap).
    pub module: Option<&'static [u8]>,
    /// Xen system time (ns) when `init` had shared_info, and when it finished.
    pub t0_ns: u64,
    pub t_ready_ns: u64,
}

/// Why start-up failed.
#[derive(Debug)]
pub enum InitError {
    /// No Xen hypercall interface.
    Cpuid(CpuidError),
    /// `hvm_start_info` refused.
    StartInfo(HvmStartInfoError),
    /// A hypercall failed.
    Xen(&'static str, XenError),
    /// Something lies where we cannot map it.
    Unmapped(&'static str, u64),
    /// No RAM region holds the image with room for a heap.
    NoHeap,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpuid(e) => write!(f, "{e}"),
            Self::StartInfo(e) => write!(f, "{e}"),
            Self::Xen(what, e) => write!(f, "{what}: {e}"),
            Self::Unmapped(what, a) => write!(f, "{what} at {a:#x} cannot be mapped"),
            Self::NoHeap => write!(f, "no RAM for a heap after the image"),
        }
    }
}

/// The memory map, copied (bounded by [`hsi::MAX_MEMMAP`]).
pub struct MemMap {
    e: [MemEntry; hsi::MAX_MEMMAP as usize],
    n: usize,
}

impl MemMap {
    /// The entries, in the order the builder wrote them (not sorted).
    pub fn entries(&self) -> &[MemEntry] {
        self.e.get(..self.n).unwrap_or(&[])
    }
    fn ram(&self) -> impl Iterator<Item = &MemEntry> {
        self.entries().iter().filter(|e| e.is_ram() && e.size > 0)
    }
}

/// Maps physical `[pa, pa + len)` and returns the bytes there.
///
/// # Safety
/// The range must be memory the domain builder wrote for us and nobody changes.
unsafe fn phys_bytes(what: &'static str, pa: u64, len: usize) -> Result<&'static [u8], InitError> {
    let end = pa.checked_add(len as u64).ok_or(InitError::Unmapped(what, pa))?;
    paging::map_range(pa >> 12..end.div_ceil(PAGE_SIZE)).map_err(|_| InitError::Unmapped(what, pa))?;
    // SAFETY: mapped just now at VIRT_BASE + pa; the caller's contract for the contents.
    Ok(unsafe { core::slice::from_raw_parts(pfn_to_va(0).wrapping_add(pa) as *const u8, len) })
}

fn read_memmap(info: &HvmStartInfo) -> Result<MemMap, InitError> {
    let mut m = MemMap { e: [MemEntry { addr: 0, size: 0, kind: 0 }; hsi::MAX_MEMMAP as usize], n: 0 };
    let mut buf = [0u8; hsi::MAX_MEMMAP as usize * 20];
    let (bytes, stride): (&[u8], usize) = if info.version >= 1 && info.memmap_entries > 0 {
        let len = info.memmap_entries as usize * hsi::MEMMAP_SIZE;
        // SAFETY: the builder's memory map table, read once.
        (unsafe { phys_bytes("memory map", info.memmap_paddr, len) }?, hsi::MEMMAP_SIZE)
    } else {
        let n = hvm::memory_map(&mut buf).map_err(|e| InitError::Xen("XENMEM_memory_map", e))?;
        (buf.get(..n * 20).unwrap_or(&[]), 20)
    };
    for (slot, e) in m.e.iter_mut().zip(hsi::parse_memmap(bytes, stride)) {
        *slot = e;
        m.n += 1;
    }
    Ok(m)
}

/// The first `n` guest frames at or above the end of RAM that no map entry covers.
fn frames_above_ram(map: &MemMap, n: u64) -> u64 {
    let mut g = map.ram().map(|e| e.end()).max().unwrap_or(0).div_ceil(PAGE_SIZE);
    // Each pass moves past one entry: at most as many passes as entries.
    for _ in 0..=map.n {
        let (lo, hi) = (g.saturating_mul(PAGE_SIZE), g.saturating_add(n).saturating_mul(PAGE_SIZE));
        match map.entries().iter().find(|e| e.size > 0 && e.addr < hi && e.end() > lo) {
            Some(e) => g = e.end().div_ceil(PAGE_SIZE),
            None => break,
        }
    }
    g
}

/// The command line at `pa`: up to its NUL, at most 4 KiB (or the end of its page run).
unsafe fn cmdline_at(pa: u64) -> Result<&'static [u8], InitError> {
    if pa == 0 {
        return Ok(&[]);
    }
    // SAFETY: the builder's command line; bounded read.
    let b = unsafe { phys_bytes("command line", pa, 4096) }?;
    Ok(b.get(..b.iter().position(|&c| c == 0).unwrap_or(b.len())).unwrap_or(&[]))
}

/// Brings up rpvboot's environment from the `hvm_start_info` at physical `si_pa`.
///
/// # Safety
/// Call exactly once, from the PVH entry stub, with the `ebx` Xen gave us.
pub unsafe fn init(si_pa: u64) -> Result<Boot, InitError> {
    memory::set_guest(Guest::Pvh);
    traps::install();
    let hc_pa = paging::image_pa(crate::hypervisor::hypercall::page_va());
    // SAFETY: the hypercall page's physical address.
    unsafe { hvm::init_hypercall_page(hc_pa) }.map_err(InitError::Cpuid)?;

    // SAFETY: the builder's hvm_start_info.
    let raw_si = unsafe { phys_bytes("hvm_start_info", si_pa, hsi::SIZE_V1) }?;
    let info = HvmStartInfo::parse(raw_si).map_err(InitError::StartInfo)?;
    let map = read_memmap(&info)?;
    // The RAM entry that holds the image becomes the heap: map it whole. Other RAM is not used
    // by rpvboot (a caller that needs it maps it with `paging::map_range`), which keeps the
    // page-directory pool enough for domains of any size.
    let img_pa = paging::image_pa(crate::image::image_range().0);
    let region = *map.ram().find(|e| e.addr <= img_pa && img_pa < e.end()).ok_or(InitError::NoHeap)?;
    paging::map_range(region.addr >> 12..region.end() >> 12).map_err(|_| InitError::Unmapped("RAM", region.addr))?;

    // shared_info and the grant table go right above RAM, in frames nobody uses.
    let sh_gfn = frames_above_ram(&map, 1 + GRANT_FRAMES);
    paging::map_range(sh_gfn..sh_gfn + 1 + GRANT_FRAMES)
        .map_err(|_| InitError::Unmapped("shared_info", sh_gfn << 12))?;
    // SAFETY: sh_gfn is outside every memory map entry: nothing is replaced.
    unsafe { hvm::add_to_physmap(Space::SharedInfo, 0, sh_gfn) }
        .map_err(|e| InitError::Xen("XENMEM_add_to_physmap(shared_info)", e))?;
    let sh_ptr =
        NonNull::new(pfn_to_va(sh_gfn) as *mut raw::SharedInfo).ok_or(InitError::Unmapped("shared_info", 0))?;
    // SAFETY: shared_info now lies at sh_gfn, mapped at pfn_to_va for ever.
    let shared = unsafe { Shared::new(sh_ptr) };
    shared.mask_upcalls();
    crate::trace::start(shared);
    let t0_ns = shared.now_ns();

    let param = |p: Param, what| hvm::get_param(p).map_err(|e| InitError::Xen(what, e));
    let con_pfn = param(Param::ConsolePfn, "HVM_PARAM_CONSOLE_PFN")?;
    let con_port = param(Param::ConsoleEvtchn, "HVM_PARAM_CONSOLE_EVTCHN")?;
    let store_pfn = param(Param::StorePfn, "HVM_PARAM_STORE_PFN")?;
    let store_port = param(Param::StoreEvtchn, "HVM_PARAM_STORE_EVTCHN")?;
    for (what, pfn) in [("console ring", con_pfn), ("xenstore ring", store_pfn)] {
        paging::map_range(pfn..pfn.saturating_add(1)).map_err(|_| InitError::Unmapped(what, pfn << 12))?;
    }
    // SAFETY: the console ring is mapped at pfn_to_va(con_pfn) for ever; the port is its.
    let console = unsafe { console::init(pfn_to_va(con_pfn), Port(con_port as u32), shared) };

    // SAFETY: the builder's command line and module list.
    let cmdline = unsafe { cmdline_at(info.cmdline_paddr) }?;
    let mut used_end = paging::image_pa(crate::image::image_range().1);
    let mut note = |pa: u64, len: u64| used_end = used_end.max(pa.saturating_add(len));
    note(si_pa, hsi::SIZE_V1 as u64);
    note(info.cmdline_paddr, cmdline.len() as u64 + 1);
    note(info.memmap_paddr, u64::from(info.memmap_entries) * hsi::MEMMAP_SIZE as u64);
    let mut module = None;
    if info.nr_modules > 0 {
        let len = info.nr_modules as usize * hsi::MODULE_SIZE;
        // SAFETY: the builder's module list.
        let list = unsafe { phys_bytes("module list", info.modlist_paddr, len) }?;
        note(info.modlist_paddr, len as u64);
        for (i, m) in hsi::parse_modules(list).enumerate() {
            note(m.paddr, m.size);
            if i == 0 {
                let size = usize::try_from(m.size).map_err(|_| InitError::Unmapped("module", m.paddr))?;
                // SAFETY: the module the builder loaded; kept out of the heap (used_end).
                module = Some(unsafe { phys_bytes("module", m.paddr, size) }?);
            }
        }
    }

    // The heap: the rest of the RAM entry that holds the image.
    let heap = used_end.div_ceil(PAGE_SIZE)..region.end() >> 12;
    if heap.end <= heap.start.saturating_add(256) {
        return Err(InitError::NoHeap);
    }
    paging::unmap_low_page(crate::image::stack_guard_va());
    heap::init(heap.clone());
    let ram_pages = map.ram().map(|e| e.size >> 12).sum();
    let t_ready_ns = shared.now_ns();
    Ok(Boot {
        info,
        memmap: map,
        cmdline,
        shared,
        console,
        store: (store_pfn, store_port as u32),
        grant_gfn: sh_gfn + 1,
        ram_pages,
        heap,
        module,
        t0_ns,
        t_ready_ns,
    })
}
