//! The image's first instructions, the Xen ELF notes, the hypercall page, the boot stack and
//! the trap/callback entry stubs.
//!
//! Xen enters `_start` with `rsi` = VA of start_info, a small libxc boot stack, events masked
//! (`evtchn_upcall_mask` = 1) and no trap table.

use core::arch::global_asm;

/// Size of rpvboot's stack (in .bss). Generous: there is no way to report an overflow (a #PF on
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
    xen_note!("4", "paddr_offset", ".quad __virt_base"),
    xen_note!("1", "entry", ".quad _start"),
    xen_note!("2", "hypercall_page", ".quad hypercall_page"),
    "",
    ".section .hypercall_page,\"ax\",@progbits",
    ".balign 4096",
    ".global hypercall_page",
    "hypercall_page:",
    ".skip 4096",
    "",
    // The stack, with one guard page below it that rpvboot unmaps at start.
    ".section .bss.stack,\"aw\",@nobits",
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
    ".section .text.entry,\"ax\",@progbits",
    ".global _start",
    "_start:",
    // Zero .bss (which holds our stack) before any stack use; keep rsi (start_info) in r15.
    "mov r15, rsi",
    "lea rdi, [rip + __bss_start]",
    "lea rcx, [rip + __bss_end]",
    "sub rcx, rdi",
    "xor eax, eax",
    "cld",
    "rep stosb",
    "lea rsp, [rip + __stack_top]",
    "xor ebp, ebp",
    "mov rdi, r15",
    "call rust_start", // extern "C" fn(start_info_va: u64) -> !, in main.rs
    "ud2",
    stack_size = const STACK_SIZE,
);

// Trap and callback stubs. Xen's bounce frame on the current stack is, from low to high:
// rcx, r11, [error code], rip, cs, rflags, rsp, ss (docs/pv-rust-pitfalls.md P11). The stub passes the
// frame and the vector to `rpvboot_trap`, which reports and crashes the domain (never returns).
macro_rules! trap_stub {
    ($($v:literal),+) => {
        global_asm!(
            ".section .text.traps,\"ax\",@progbits",
            $(
                concat!(".global rpvboot_trap_", $v),
                concat!("rpvboot_trap_", $v, ":"),
                "mov rdi, rsp",
                concat!("mov esi, ", $v),
                "and rsp, -16",
                "call rpvboot_trap",
                "ud2",
            )+
        );
    };
}

// Vectors with a Xen trap-table slot (mini-os's list plus #MC), and 256/257 for the event and
// failsafe callbacks.
trap_stub!(0, 1, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 256, 257);

extern "C" {
    fn rpvboot_trap_0();
    fn rpvboot_trap_1();
    fn rpvboot_trap_3();
    fn rpvboot_trap_4();
    fn rpvboot_trap_5();
    fn rpvboot_trap_6();
    fn rpvboot_trap_7();
    fn rpvboot_trap_9();
    fn rpvboot_trap_10();
    fn rpvboot_trap_11();
    fn rpvboot_trap_12();
    fn rpvboot_trap_13();
    fn rpvboot_trap_14();
    fn rpvboot_trap_15();
    fn rpvboot_trap_16();
    fn rpvboot_trap_17();
    fn rpvboot_trap_18();
    fn rpvboot_trap_19();
    fn rpvboot_trap_256();
    fn rpvboot_trap_257();
}

/// (vector, stub address) for the trap table.
pub fn trap_stubs() -> [(u8, u64); 18] {
    [
        (0, rpvboot_trap_0 as *const () as u64),
        (1, rpvboot_trap_1 as *const () as u64),
        (3, rpvboot_trap_3 as *const () as u64),
        (4, rpvboot_trap_4 as *const () as u64),
        (5, rpvboot_trap_5 as *const () as u64),
        (6, rpvboot_trap_6 as *const () as u64),
        (7, rpvboot_trap_7 as *const () as u64),
        (9, rpvboot_trap_9 as *const () as u64),
        (10, rpvboot_trap_10 as *const () as u64),
        (11, rpvboot_trap_11 as *const () as u64),
        (12, rpvboot_trap_12 as *const () as u64),
        (13, rpvboot_trap_13 as *const () as u64),
        (14, rpvboot_trap_14 as *const () as u64),
        (15, rpvboot_trap_15 as *const () as u64),
        (16, rpvboot_trap_16 as *const () as u64),
        (17, rpvboot_trap_17 as *const () as u64),
        (18, rpvboot_trap_18 as *const () as u64),
        (19, rpvboot_trap_19 as *const () as u64),
    ]
}

/// (event callback, failsafe callback) stub addresses.
pub fn callback_stubs() -> (u64, u64) {
    (rpvboot_trap_256 as *const () as u64, rpvboot_trap_257 as *const () as u64)
}

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
