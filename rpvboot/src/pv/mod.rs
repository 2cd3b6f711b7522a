//! Start-up as a PV guest: bring-up of rpvboot's own environment from Xen's start_info.
//!
//! [`init`] runs first thing after the entry stub: it checks start_info, maps shared_info,
//! opens the console ring, installs the trap table, unmaps PFN 0 and the stack guard page,
//! takes over the domain's memory (mapped as the heap claims it) and starts the heap.
//! Everything it set up is described by the returned [`Boot`].

pub mod entry;
pub mod handover;
pub mod mm;
pub mod trampoline;
pub mod traps;

use core::fmt;
use core::ptr::NonNull;

use crate::console;
use crate::heap;
use crate::hypervisor::evtchn::Port;
use crate::hypervisor::hypercall::XenError;
use crate::hypervisor::shared::Shared;
use crate::memory::{self, Guest};
use xenfront::raw;
use xenfront::start_info::{StartInfo, StartInfoError};

/// What rpvboot's start established.
pub struct Boot {
    /// The checked start_info.
    pub start_info: StartInfo,
    /// shared_info (clock, event bits).
    pub shared: Shared,
    /// The console.
    pub console: &'static console::XenConsole,
    /// Where memory is mapped.
    pub memory: mm::MemoryMap,
    /// Xen system time (ns) when `init` started (just after mapping shared_info).
    pub t0_ns: u64,
    /// Xen system time (ns) when `init` finished.
    pub t_ready_ns: u64,
    /// How long taking over memory took (ns): walking libxc's tables and planning the rest,
    /// which is mapped on demand.
    pub map_ns: u64,
}

/// Why start-up failed.
#[derive(Debug)]
pub enum InitError {
    /// start_info refused.
    StartInfo(StartInfoError),
    /// A hypercall failed.
    Xen(&'static str, XenError),
    /// The console MFN is not one of our pages.
    ConsoleMfn(u64),
    /// Taking over memory failed.
    Memory(mm::MmError),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StartInfo(e) => write!(f, "{e}"),
            Self::Xen(what, e) => write!(f, "{what}: {e}"),
            Self::ConsoleMfn(m) => write!(f, "console MFN {m:#x} is not in our p2m"),
            Self::Memory(e) => write!(f, "memory: {e}"),
        }
    }
}

/// Brings up rpvboot's environment from the start_info page at `si_va`.
///
/// # Safety
/// Call exactly once, from the entry stub, with the `rsi` Xen gave us.
pub unsafe fn init(si_va: u64) -> Result<Boot, InitError> {
    // SAFETY: Xen passes the VA of the (mapped, aligned) start_info page; it is copied out.
    let raw_si = unsafe { core::ptr::read_volatile(si_va as *const raw::StartInfo) };
    let si = StartInfo::parse(&raw_si).map_err(InitError::StartInfo)?;
    memory::set_guest(Guest::Pv);
    crate::trace::stamp_tsc();

    let sh_va = mm::map_shared_info(si.shared_info_ma).map_err(|e| InitError::Xen("map shared_info", e))?;
    // SAFETY: shared_info is now mapped at sh_va for ever.
    let shared = unsafe { Shared::new(NonNull::new(sh_va as *mut raw::SharedInfo).ok_or(InitError::ConsoleMfn(0))?) };
    shared.mask_upcalls();
    crate::trace::start(shared);
    let t0_ns = shared.now_ns();

    // The console first (it needs the p2m), then traps, then the bigger work that can fail.
    mm::set_p2m(&si);
    let con_pfn = mm::mfn_to_pfn(si.console_mfn).ok_or(InitError::ConsoleMfn(si.console_mfn))?;
    // SAFETY: the console ring page is in the bootstrap mapping at pfn_to_va (checked against
    // the p2m above) and stays mapped; the port is the console's.
    let console = unsafe { console::init(memory::pfn_to_va(con_pfn), Port(si.console_evtchn), shared) };
    traps::install(shared).map_err(|e| InitError::Xen("set_trap_table", e))?;
    crate::trace::mark("console+traps", 0);
    let t_map = shared.now_ns();
    let memory = mm::init(&si).map_err(InitError::Memory)?;
    let map_ns = shared.now_ns().saturating_sub(t_map);
    crate::trace::mark("page tables (mm::init)", 0);
    // SAFETY: nothing lives in PFN 0 (libxc padding) or in the guard page below our stack.
    unsafe {
        mm::unmap(memory::pfn_to_va(0)).map_err(|e| InitError::Xen("unmap page 0", e))?;
        mm::unmap(crate::image::stack_guard_va()).map_err(|e| InitError::Xen("unmap stack guard", e))?;
    }
    heap::init(memory.free.clone());
    crate::trace::mark("heap", 0);
    let t_ready_ns = shared.now_ns();
    Ok(Boot { start_info: si, shared, console, memory, t0_ns, t_ready_ns, map_ns })
}
