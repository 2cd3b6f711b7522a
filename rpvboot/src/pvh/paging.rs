//! PVH page tables: rpvboot owns them (no hypervisor MMU calls, as on bare metal). The entry
//! stub mapped the first GiB (pvh/entry.rs); [`map_range`] adds whole GiBs of 2 MiB pages at
//! `VIRT_BASE + phys` from a small pool of page directories in .bss, for the RAM the memory map
//! lists and the frames Xen placed outside it (rings, shared_info, grant table).

use core::ops::Range;

use super::entry;
use crate::memory::{self, VIRT_BASE};

/// Page directories beyond the first GiB: each maps one GiB. The heap's RAM entry (below
/// 4 GiB), the special frames below 4 GiB and the frames placed above RAM need at most 5.
const POOL: usize = 16;
/// Present, writable.
const P_RW: u64 = 0x3;
/// Present, writable, 2 MiB page.
const P_RW_PS: u64 = 0x83;

#[repr(C, align(4096))]
struct Pool([[u64; 512]; POOL]);

static mut PDS: Pool = Pool([[0; 512]; POOL]);

static STATE: spin::Mutex<State> = spin::Mutex::new(State { used: 0, gib: [u16::MAX; POOL] });

struct State {
    used: usize,
    /// Which GiB each pool page maps.
    gib: [u16; POOL],
}

/// Physical address of an image VA (the image is loaded at `VA - VIRT_BASE`).
pub fn image_pa(va: u64) -> u64 {
    va - VIRT_BASE
}

fn table(off: usize) -> *mut u64 {
    (entry::boot_block_va() + off as u64) as *mut u64
}

/// A GiB could not be mapped (the pool is used up): its number.
#[derive(Clone, Copy, Debug)]
pub struct PoolFull(pub u64);

/// Maps every GiB that `pfns` touches at `VIRT_BASE + phys` (2 MiB pages).
pub fn map_range(pfns: Range<u64>) -> Result<(), PoolFull> {
    if pfns.is_empty() {
        return Ok(());
    }
    let first = pfns.start >> 18;
    let last = (pfns.end - 1) >> 18;
    for g in first..=last {
        map_gib(g)?;
    }
    Ok(())
}

fn map_gib(g: u64) -> Result<(), PoolFull> {
    if g == 0 {
        return Ok(()); // the entry stub's PD0
    }
    if g >= 512 {
        return Err(PoolFull(g));
    }
    let pdpt = table(entry::PDPT_HIGH);
    // SAFETY: PDPT_HIGH is a page of the boot block; g < 512.
    if unsafe { core::ptr::read_volatile(pdpt.add(g as usize)) } & 1 != 0 {
        return Ok(());
    }
    let mut st = STATE.lock();
    let i = st.used;
    if i >= POOL {
        return Err(PoolFull(g));
    }
    // SAFETY: pool page i is unused (under the lock) and only reached through this mapping.
    let pd = unsafe { &mut *core::ptr::addr_of_mut!(PDS.0[i]) };
    for (j, e) in pd.iter_mut().enumerate() {
        *e = ((g << 30) + ((j as u64) << 21)) | P_RW_PS;
    }
    let pd_pa = image_pa(pd.as_ptr() as u64);
    // SAFETY: hooking a filled PD into an empty PDPT slot changes no existing mapping.
    unsafe { core::ptr::write_volatile(pdpt.add(g as usize), pd_pa | P_RW) };
    if let Some(s) = st.gib.get_mut(i) {
        *s = g as u16;
    }
    st.used += 1;
    Ok(())
}

/// Page directories added so far.
pub fn tables_added() -> u64 {
    STATE.lock().used as u64
}

/// Removes the 4 KiB page at image VA `va` (in the first 2 MiB) from both aliases: the stack
/// guard page.
pub fn unmap_low_page(va: u64) {
    let pfn = memory::va_to_pfn(va).unwrap_or(0);
    if pfn == 0 || pfn >= 512 {
        return;
    }
    // SAFETY: PT0 entry `pfn` < 512; the page is not used (caller); invlpg both aliases.
    unsafe {
        core::ptr::write_volatile(table(entry::PT0).add(pfn as usize), 0);
        core::arch::asm!("invlpg [{0}]", in(reg) va, options(nostack, preserves_flags));
        core::arch::asm!("invlpg [{0}]", in(reg) pfn << 12, options(nostack, preserves_flags));
    }
}
