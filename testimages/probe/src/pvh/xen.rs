//! Xen from inside a PVH guest: the hypercall page (CPUID leaves + MSR), HVM params, the PV
//! console ring, poweroff. Everything identity-mapped (entry.rs maps the low 4 GiB).

use core::arch::asm;

use super::entry::pvh_hypercall_page;
use super::ring::{self, Notify};

const HYPERVISOR_VCPU_OP: u64 = 24;
const HYPERVISOR_SCHED_OP: u64 = 29;
const HYPERVISOR_EVENT_CHANNEL_OP: u64 = 32;
const HYPERVISOR_HVM_OP: u64 = 34;
const HVMOP_GET_PARAM: u64 = 1;
const DOMID_SELF: u16 = 0x7ff0;
pub const HVM_PARAM_STORE_PFN: u32 = 1;
pub const HVM_PARAM_STORE_EVTCHN: u32 = 2;
pub const HVM_PARAM_CONSOLE_PFN: u32 = 17;
pub const HVM_PARAM_CONSOLE_EVTCHN: u32 = 18;

/// Finds Xen's CPUID leaves (base 0x40000000, or a multiple of 0x100 above it when Viridian
/// leaves come first) and has Xen write its hypercall stubs into our page through the MSR
/// that leaf base+2 names. `false`: not on Xen.
pub fn init_hypercalls() -> bool {
    for base in (0x4000_0000u32..0x4001_0000).step_by(0x100) {
        let (eax, ebx, ecx, edx) = cpuid(base);
        if (ebx, ecx, edx) != (0x566e_6558, 0x65584d4d, 0x4d4d566e) || eax < base + 2 {
            continue;
        }
        let (pages, msr, _, _) = cpuid(base + 2);
        if pages == 0 {
            return false;
        }
        let page = (&raw const pvh_hypercall_page) as u64;
        // SAFETY: Xen's hypercall MSR with the physical (= virtual) address of our own page.
        unsafe {
            asm!("wrmsr", in("ecx") msr, in("eax") page as u32, in("edx") (page >> 32) as u32, options(nostack));
        }
        return true;
    }
    false
}

fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    let (eax, ebx, ecx, edx): (u32, u32, u32, u32);
    // SAFETY: cpuid has no side effects; rbx is saved around it (LLVM reserves it).
    unsafe {
        asm!("mov {t:r}, rbx", "cpuid", "xchg {t:r}, rbx", t = out(reg) ebx,
             inlateout("eax") leaf => eax, inlateout("ecx") 0u32 => ecx, lateout("edx") edx,
             options(nostack, preserves_flags));
    }
    (eax, ebx, ecx, edx)
}

/// A hypercall through the stub page (HVM: `mov eax, nr; vmcall|vmmcall; ret`).
///
/// # Safety
/// The arguments must be valid for hypercall `nr`; [`init_hypercalls`] must have succeeded.
unsafe fn hcall3(nr: u64, a1: u64, a2: u64, a3: u64) -> i64 {
    let f = (&raw const pvh_hypercall_page) as u64 + nr * 32;
    let rc: i64;
    // SAFETY: per the contract; Xen may clobber the argument registers.
    unsafe {
        asm!("call {f}", f = in(reg) f, lateout("rax") rc, inlateout("rdi") a1 => _,
             inlateout("rsi") a2 => _, inlateout("rdx") a3 => _, lateout("r10") _, lateout("r8") _,
             lateout("rcx") _, lateout("r11") _);
    }
    rc
}

/// [`hcall3`] with two arguments.
///
/// # Safety
/// As [`hcall3`].
unsafe fn hcall(nr: u64, a1: u64, a2: u64) -> i64 {
    // SAFETY: per the contract.
    unsafe { hcall3(nr, a1, a2, 0) }
}

/// `VCPUOP_get_runstate_info` of vCPU 0: ns spent running, runnable, blocked, offline.
pub fn runstate() -> Option<[u64; 4]> {
    let mut rs = [0u64; 6];
    // SAFETY: VCPUOP_get_runstate_info (4) for vCPU 0 into a live 48-byte vcpu_runstate_info
    // (state u32 + pad, state_entry_time, time[4]).
    let rc = unsafe { hcall3(HYPERVISOR_VCPU_OP, 4, 0, rs.as_mut_ptr() as u64) };
    let [_, _, run, rnb, blk, off] = rs;
    (rc == 0).then_some([run, rnb, blk, off])
}

/// HVMOP_get_param for this domain.
pub fn hvm_param(index: u32) -> Option<u64> {
    #[repr(C)]
    struct Param {
        domid: u16,
        _pad: u16,
        index: u32,
        value: u64,
    }
    let mut p = Param { domid: DOMID_SELF, _pad: 0, index, value: 0 };
    // SAFETY: HVMOP_get_param with a live xen_hvm_param.
    let rc = unsafe { hcall(HYPERVISOR_HVM_OP, HVMOP_GET_PARAM, (&raw mut p) as u64) };
    (rc == 0).then_some(p.value)
}

fn send(port: u32) {
    let p = port;
    // SAFETY: EVTCHNOP_send (4) with a live evtchn_send.
    unsafe { hcall(HYPERVISOR_EVENT_CHANNEL_OP, 4, (&raw const p) as u64) };
}

fn yield_cpu() {
    // SAFETY: SCHEDOP_yield (0) takes no argument.
    unsafe { hcall(HYPERVISOR_SCHED_OP, 0, 0) };
}

/// SCHEDOP_shutdown with `reason` (0 poweroff, 3 crash).
pub fn shutdown(reason: u32) -> ! {
    let r = reason;
    loop {
        // SAFETY: SCHEDOP_shutdown (2) with a live sched_shutdown.
        unsafe { hcall(HYPERVISOR_SCHED_OP, 2, (&raw const r) as u64) };
    }
}

/// Kicks and yields through the hypercall page.
pub struct Pvh;

impl Notify for Pvh {
    fn send(&self, port: u32) {
        send(port);
    }
    fn yield_cpu(&self) {
        yield_cpu();
    }
}

/// The PV console of a PVH guest: the ring at the page HVM_PARAM_CONSOLE_PFN names.
pub type Console = ring::Console<Pvh>;
