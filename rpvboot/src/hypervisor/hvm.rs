//! The Xen interfaces as a PVH (HVM-type) guest sees them: the hypercall page written by an
//! MSR that CPUID names, HVM parameters (console and xenstore rings and ports), frames Xen
//! places into our physical address space with `XENMEM_add_to_physmap` (shared_info, grant
//! table), and the memory map (`XENMEM_memory_map`). docs/pvh.md has the numbers.

use super::hypercall::{self, hypercall5, XenError};
use xenfront::raw::{nr, DOMID_SELF};

/// `__HYPERVISOR_hvm_op`.
const HVM_OP: usize = 34;
/// `HVMOP_get_param`.
const HVMOP_GET_PARAM: u64 = 1;
/// `XENMEM_add_to_physmap`.
const XENMEM_ADD_TO_PHYSMAP: u64 = 7;
/// `XENMEM_memory_map`.
const XENMEM_MEMORY_MAP: u64 = 9;

/// HVM parameters rpvboot reads.
#[derive(Clone, Copy, Debug)]
pub enum Param {
    /// `HVM_PARAM_STORE_PFN` (1).
    StorePfn = 1,
    /// `HVM_PARAM_STORE_EVTCHN` (2).
    StoreEvtchn = 2,
    /// `HVM_PARAM_CONSOLE_PFN` (17).
    ConsolePfn = 17,
    /// `HVM_PARAM_CONSOLE_EVTCHN` (18).
    ConsoleEvtchn = 18,
}

/// What `XENMEM_add_to_physmap` places.
#[derive(Clone, Copy, Debug)]
pub enum Space {
    /// `XENMAPSPACE_shared_info` (0): idx 0.
    SharedInfo = 0,
    /// `XENMAPSPACE_grant_table` (1): idx = grant frame number.
    GrantTable = 1,
}

/// Why the hypercall page could not be set up.
#[derive(Clone, Copy, Debug)]
pub enum CpuidError {
    /// No CPUID leaf in 0x40000000..0x40010000 says "XenVMMXenVMM".
    NotXen,
    /// Xen's leaves stop before the hypercall leaf (base + 2).
    NoHypercallLeaf(u32),
}

impl core::fmt::Display for CpuidError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotXen => write!(f, "no Xen CPUID leaves (XenVMMXenVMM)"),
            Self::NoHypercallLeaf(max) => write!(f, "Xen CPUID leaves end at {max:#x}, before the hypercall leaf"),
        }
    }
}

fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    let r = core::arch::x86_64::__cpuid(leaf);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// Finds Xen's CPUID leaves (their base can move in steps of 0x100 when another hypervisor's
/// come first) and returns the base.
fn xen_cpuid_base() -> Result<u32, CpuidError> {
    for base in (0x4000_0000u32..0x4001_0000).step_by(0x100) {
        let (max, b, c, d) = cpuid(base);
        if (b, c, d) == (0x566e_6558, 0x65584d4d, 0x4d4d566e) {
            if max < base + 2 {
                return Err(CpuidError::NoHypercallLeaf(max));
            }
            return Ok(base);
        }
    }
    Err(CpuidError::NotXen)
}

/// Has Xen fill `hypercall_page` (whose physical address is `page_pa`): CPUID leaf base + 2
/// names the MSR; writing the page's address to it makes Xen write the stubs. After this the
/// stubs in `hypercall` work as in a PV guest.
///
/// # Safety
/// `page_pa` must be the physical address of the image's hypercall page.
pub unsafe fn init_hypercall_page(page_pa: u64) -> Result<(), CpuidError> {
    let base = xen_cpuid_base()?;
    let (_pages, msr, _, _) = cpuid(base + 2);
    // SAFETY: the MSR Xen named; the value is our hypercall page (caller's contract).
    unsafe {
        core::arch::asm!("wrmsr", in("ecx") msr, in("eax") page_pa as u32, in("edx") (page_pa >> 32) as u32,
            options(nostack, preserves_flags));
    }
    Ok(())
}

/// `struct xen_hvm_param` (16 bytes).
#[repr(C)]
struct HvmParam {
    domid: u16,
    _pad: u16,
    index: u32,
    value: u64,
}

/// `HVMOP_get_param(DOMID_SELF, p)`.
pub fn get_param(p: Param) -> Result<u64, XenError> {
    let mut a = HvmParam { domid: DOMID_SELF, _pad: 0, index: p as u32, value: 0 };
    // SAFETY: `a` is a live xen_hvm_param for the call.
    let rc = unsafe { hypercall5(HVM_OP, HVMOP_GET_PARAM, core::ptr::addr_of_mut!(a) as u64, 0, 0, 0) };
    hypercall::check(rc).map(|_| a.value)
}

/// `struct xen_add_to_physmap` (24 bytes).
#[repr(C)]
struct AddToPhysmap {
    domid: u16,
    size: u16,
    space: u32,
    idx: u64,
    gpfn: u64,
}
const _: () = assert!(core::mem::size_of::<AddToPhysmap>() == 24);

/// `XENMEM_add_to_physmap`: makes frame `idx` of `space` appear at guest frame `gfn`.
///
/// # Safety
/// `gfn` must not be RAM or anything else in use: whatever was there is replaced.
pub unsafe fn add_to_physmap(space: Space, idx: u64, gfn: u64) -> Result<(), XenError> {
    let mut a = AddToPhysmap { domid: DOMID_SELF, size: 0, space: space as u32, idx, gpfn: gfn };
    // SAFETY: `a` is live for the call; what the new frame replaces is the caller's contract.
    let rc = unsafe { hypercall5(nr::MEMORY_OP, XENMEM_ADD_TO_PHYSMAP, core::ptr::addr_of_mut!(a) as u64, 0, 0, 0) };
    hypercall::check(rc).map(|_| ())
}

/// `struct xen_memory_map` (16 bytes).
#[repr(C)]
struct MemoryMap {
    nr_entries: u32,
    _pad: u32,
    buffer: u64,
}

/// `XENMEM_memory_map`: fills `buf` with packed 20-byte E820 entries and returns how many.
pub fn memory_map(buf: &mut [u8]) -> Result<usize, XenError> {
    let n = u32::try_from(buf.len() / 20).unwrap_or(u32::MAX);
    let mut a = MemoryMap { nr_entries: n, _pad: 0, buffer: buf.as_mut_ptr() as u64 };
    // SAFETY: Xen writes at most nr_entries * 20 bytes into `buf`, which is that long.
    let rc = unsafe { hypercall5(nr::MEMORY_OP, XENMEM_MEMORY_MAP, core::ptr::addr_of_mut!(a) as u64, 0, 0, 0) };
    hypercall::check(rc).map(|_| (a.nr_entries as usize).min(buf.len() / 20))
}
