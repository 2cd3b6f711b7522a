//! The handover trampoline: one page-aligned page of rpvboot's .bss that holds the
//! `mmuext_op` array, the entry registers and a copy of the code below (docs/handover.md §3
//! step 12, P4).
//!
//! Its MFN becomes the new kernel's boot-stack page, so it is mapped at the boot-stack VA in
//! both address spaces: rpvboot jumps to that alias, switches CR3 there (Xen reads the second
//! op after the first one switched), and jumps to the entry. The code finds the page by
//! rounding its own RIP down, so it runs at any alias.

use core::arch::global_asm;

/// Offset of the code inside the page (the ops and registers come first).
pub const CODE_OFFSET: usize = 128;

#[repr(C, align(4096))]
struct Page([u8; 4096]);

static mut PAGE: Page = Page([0; 4096]);

// Layout of the page: +0 op0 {cmd 5 NEW_BASEPTR, new L4}, +24 op1 {cmd 4 UNPIN, old L4},
// +48 rsp, +56 rsi, +64 entry; code at +CODE_OFFSET. Copied, so position independent.
global_asm!(
    ".section .text.rpv_tramp,\"ax\",@progbits",
    ".global rpv_tramp_code",
    ".global rpv_tramp_code_end",
    "rpv_tramp_code:",
    "lea rbx, [rip + 0]",
    "and rbx, -4096",
    "mov rdi, rbx",
    "mov esi, 2",
    "xor edx, edx",
    "mov r10d, 0x7ff0",
    "mov eax, 26",
    "syscall", // HYPERVISOR_mmuext_op from PV kernel mode
    "test rax, rax",
    "jnz 2f",
    "mov rsp, [rbx + 48]",
    "mov rsi, [rbx + 56]",
    "mov rax, [rbx + 64]",
    "xor ebx, ebx",
    "xor ecx, ecx",
    "xor edx, edx",
    "xor edi, edi",
    "xor ebp, ebp",
    "xor r8d, r8d",
    "xor r9d, r9d",
    "xor r10d, r10d",
    "xor r11d, r11d",
    "xor r12d, r12d",
    "xor r13d, r13d",
    "xor r14d, r14d",
    "xor r15d, r15d",
    "jmp rax",
    "2:",
    "ud2",
    "rpv_tramp_code_end:",
);

extern "C" {
    static rpv_tramp_code: u8;
    static rpv_tramp_code_end: u8;
}

/// The registers and tables the trampoline switches to.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// MFN of the new (pinned) L4.
    pub new_l4_mfn: u64,
    /// MFN of rpvboot's L4 (unpinned right after the switch, docs/handover.md P6).
    pub old_l4_mfn: u64,
    /// Initial rsp (top of the boot stack).
    pub rsp: u64,
    /// Initial rsi (VA of start_info).
    pub rsi: u64,
    /// Entry point.
    pub entry: u64,
}

/// VA of the trampoline page in rpvboot's address space.
pub fn page_va() -> u64 {
    &raw const PAGE as u64
}

/// Writes the ops, the registers and the code into the page.
///
/// # Safety
/// Call once, right before [`jump`]; nothing else uses the page.
pub unsafe fn prepare(p: &Params) {
    let base = page_va() as *mut u8;
    let words: [(usize, u64); 7] =
        [(0, 5), (8, p.new_l4_mfn), (24, 4), (32, p.old_l4_mfn), (48, p.rsp), (56, p.rsi), (64, p.entry)];
    // SAFETY: the page is ours (4096 bytes); offsets are < CODE_OFFSET.
    unsafe {
        core::ptr::write_bytes(base, 0, CODE_OFFSET);
        for (off, v) in words {
            core::ptr::write_unaligned(base.add(off).cast::<u64>(), v);
        }
    }
    let start = &raw const rpv_tramp_code as usize;
    let end = &raw const rpv_tramp_code_end as usize;
    let len = end.saturating_sub(start).min(4096 - CODE_OFFSET);
    // SAFETY: copies the assembled code (len bytes of .text) into the page after the data.
    unsafe { core::ptr::copy_nonoverlapping(start as *const u8, base.add(CODE_OFFSET), len) };
}

/// Jumps to the trampoline's code at `alias` (boot-stack VA + [`CODE_OFFSET`]).
///
/// # Safety
/// [`prepare`] has run; the page is mapped at `alias - CODE_OFFSET` in rpvboot's tables and
/// the new ones; the new L4 is pinned; trap table and callbacks are cleared and the M2P is
/// updated. There is no way back.
pub unsafe fn jump(alias: u64) -> ! {
    // SAFETY: the caller's contract; the trampoline never returns.
    unsafe { core::arch::asm!("jmp {0}", in(reg) alias, options(noreturn)) }
}
