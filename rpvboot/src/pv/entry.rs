//! The PV entry stub and the PV trap/callback entry stubs.
//!
//! Xen enters `_start` with `rsi` = VA of start_info, a small libxc boot stack, events masked
//! (`evtchn_upcall_mask` = 1) and no trap table.

use core::arch::global_asm;

global_asm!(
    ".section .text.entry,\"ax\",@progbits",
    ".global _start",
    "_start:",
    // Zero .bss (which holds our stack) before any stack use; keep rsi (start_info) in r15
    // and the TSC at the first instruction in r14 (for `rpvboot.trace`). .bss is page-aligned
    // at both ends (link.ld), so it is zeroed 8 bytes at a time: TCG runs a `rep stos`
    // iteration at a time, and 400 KiB byte by byte cost milliseconds.
    "mov r15, rsi",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "mov r14, rax",
    "lea rdi, [rip + __bss_start]",
    "lea rcx, [rip + __bss_end]",
    "sub rcx, rdi",
    "shr rcx, 3",
    "xor eax, eax",
    "cld",
    "rep stosq",
    "mov qword ptr [rip + {entry_tsc}], r14",
    "rdtsc",
    "shl rdx, 32",
    "or rax, rdx",
    "mov qword ptr [rip + {entry_tsc} + 8], rax",
    "lea rsp, [rip + __stack_top]",
    "xor ebp, ebp",
    "mov rdi, r15",
    "call rust_start", // extern "C" fn(start_info_va: u64) -> !, in main.rs
    "ud2",
    entry_tsc = sym crate::trace::ENTRY_TSC,
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
