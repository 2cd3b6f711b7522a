//! The PVH IDT: every CPU exception is reported on the console (vector, rip, error code, cr2)
//! and the domain is crashed, instead of a silent triple fault.

use core::sync::atomic::{AtomicBool, Ordering};

use super::entry;
use crate::hypervisor::sched;
use xenfront::raw::ShutdownReason;

#[repr(C, align(16))]
struct Idt([u64; 64]);

static mut IDT: Idt = Idt([0; 64]);
static IN_TRAP: AtomicBool = AtomicBool::new(false);

/// Fills and loads the IDT (32 exception vectors, interrupt gates, our 64-bit code selector).
pub fn install() {
    // SAFETY: start-up runs once on one vCPU; nothing else touches IDT yet.
    let idt = unsafe { &mut *core::ptr::addr_of_mut!(IDT) };
    for (v, addr) in entry::exception_stubs() {
        let i = usize::from(v) * 2;
        let lo = (addr & 0xffff)
            | (u64::from(entry::CODE64) << 16)
            | (0x8e << 40) // present, DPL 0, 64-bit interrupt gate
            | ((addr >> 16) & 0xffff) << 48;
        if let Some([a, b]) = idt.0.get_mut(i..i + 2) {
            *a = lo;
            *b = addr >> 32;
        }
    }
    let ptr: [u16; 5] = {
        let base = idt.0.as_ptr() as u64;
        [
            (core::mem::size_of::<Idt>() - 1) as u16,
            base as u16,
            (base >> 16) as u16,
            (base >> 32) as u16,
            (base >> 48) as u16,
        ]
    };
    // SAFETY: `ptr` is a valid IDT pointer to a static table of 32 gates to our stubs.
    unsafe { core::arch::asm!("lidt [{0}]", in(reg) ptr.as_ptr(), options(nostack, readonly, preserves_flags)) };
}

/// Called by the stubs with the CPU's frame. Never returns.
#[no_mangle]
extern "C" fn rpvboot_pvh_trap(frame: *const u64, vector: u64) -> ! {
    if IN_TRAP.swap(true, Ordering::SeqCst) {
        sched::shutdown(ShutdownReason::Crash);
    }
    let has_err = matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30);
    let base = usize::from(has_err);
    // SAFETY: the CPU pushed [err], rip, cs, rflags, rsp, ss on our (mapped) stack.
    let word = |i: usize| unsafe { core::ptr::read_volatile(frame.add(i)) };
    let err = if has_err { word(0) } else { 0 };
    let (rip, cs, rflags, rsp) = (word(base), word(base + 1), word(base + 2), word(base + 3));
    let cr2: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { core::arch::asm!("mov {0}, cr2", out(reg) cr2, options(nomem, nostack, preserves_flags)) };
    crate::exit::fatal_trap(&crate::exit::Trap { vector, rip, err, cr2, rsp, rflags, cs })
}
