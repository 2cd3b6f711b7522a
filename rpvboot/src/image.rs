//! What both start-up paths share in the one ELF image: the Xen ELF notes (read by the domain
//! builder for PV and PVH alike), the hypercall page, and rpvboot's stack with its guard page.
//! The entry stubs themselves are in `pv::entry` (and `pvh::entry`).

use core::arch::global_asm;

/// Size of rpvboot's stack (in `.stack`, after .bss). Generous: there is no way to report an overflow (a #PF on
/// the guard page cannot be bounced, Xen kills the domain: docs/pv-rust-pitfalls.md P8).
pub const STACK_SIZE: usize = 256 * 1024;

// Xen ELF notes (elfnote.h): each is namesz=4, descsz, type, "Xen\0", desc, padded to 4.
// libxc requires XEN_VERSION "xen-3.0" and LOADER "generic" (for a non-Linux GUEST_OS).
macro_rules! xen_note {
    ($ty:literal, $label:literal, $($desc:literal),+) => {
        concat!(
            ".balign 4\n",
            ".long 4, .Lnote_", $label, "_end - .Lnote_", $label, "_start, ", $ty, "\n",
            ".asciz \"Xen\"\n",
            ".Lnote_", $label, "_start:\n",
            $($desc, "\n",)+
            ".Lnote_", $label, "_end:\n",
            ".balign 4\n",
        )
    };
}

global_asm!(
    ".section .note.Xen,\"a\",@note",
    xen_note!("6", "guest_os", ".asciz \"rpvboot\""),
    xen_note!("5", "xen_version", ".asciz \"xen-3.0\""),
    xen_note!("8", "loader", ".asciz \"generic\""),
    xen_note!("3", "virt_base", ".quad __virt_base"),
    // p_paddr is physical (VA - VIRT_BASE, link.ld): PV adds VIRT_BASE back, PVH loads there.
    xen_note!("4", "paddr_offset", ".quad 0"),
    xen_note!("1", "entry", ".quad _start"),
    xen_note!("2", "hypercall_page", ".quad hypercall_page"),
    // The PVH entry (pvh/entry.rs): a 32-bit physical address, entered with paging off.
    xen_note!("18", "phys32_entry", ".long __pvh_entry_phys"),
    "",
    ".section .hypercall_page,\"ax\",@progbits",
    ".balign 4096",
    ".global hypercall_page",
    "hypercall_page:",
    ".skip 4096",
    "",
    // The stack, with one guard page below it that rpvboot unmaps at start. In a section of
    // its own, outside .bss: the entry stubs zero .bss, and a stack need not start zeroed
    // (under TCG zeroing its 260 KiB cost several ms of every boot).
    ".section .stack,\"aw\",@nobits",
    ".balign 4096",
    ".global __stack_guard",
    "__stack_guard:",
    ".skip 4096",
    ".global __stack_bottom",
    "__stack_bottom:",
    ".skip {stack_size}",
    ".global __stack_top",
    "__stack_top:",
    "",
    stack_size = const STACK_SIZE,
);

extern "C" {
    static __stack_guard: [u8; 4096];
    static __image_start: u8;
    static __image_end: u8;
}

/// VA of the stack guard page.
pub fn stack_guard_va() -> u64 {
    core::ptr::addr_of!(__stack_guard) as u64
}

/// `[start, end)` VAs of the loaded image (text to end of .bss).
pub fn image_range() -> (u64, u64) {
    (core::ptr::addr_of!(__image_start) as u64, core::ptr::addr_of!(__image_end) as u64)
}
