//! The PVH entry (docs/pvh-probe.md): 32-bit code that first records the machine state the
//! loader handed over, then builds identity page tables for the low 4 GiB, enters long mode
//! and calls `pvh_main` on its own stack.

use core::arch::global_asm;

/// Words of [`pvh_entry_state`], in the order the entry code stores them.
pub mod slot {
    pub const EAX: usize = 0;
    pub const EBX: usize = 1;
    pub const ESI: usize = 2;
    pub const EDI: usize = 3;
    /// 1: entered at `XEN_ELFNOTE_PHYS32_ENTRY`; 2: at the ELF header's `e_entry`.
    pub const VIA: usize = 4;
    pub const ESP: usize = 5;
    pub const CR0: usize = 6;
    pub const CR4: usize = 7;
    pub const EFLAGS: usize = 8;
    pub const CS: usize = 9;
    pub const DS: usize = 10;
    pub const ES: usize = 11;
    pub const SS: usize = 12;
    pub const TR: usize = 13;
    /// [`super::FLAT_MAGIC`] read through ds, cs, es and ss (base 0, limit covering 16 MiB).
    pub const FLAT_DS: usize = 14;
    pub const FLAT_CS: usize = 15;
    pub const FLAT_ES: usize = 16;
    pub const FLAT_SS: usize = 17;
    /// What a `push` through ss left at `early_stack_top - 4`: [`super::PUSH_MARK`] iff ss
    /// is a 32-bit (B=1) segment (with a 16-bit one the push lands at `(esp & 0xffff) - 4`).
    pub const PUSHED: usize = 18;
    /// 0, or 1 + the offset of the first non-zero dword of .bss at entry.
    pub const BSS_DIRTY: usize = 19;
    pub const FS: usize = 20;
    pub const GS: usize = 21;
    pub const COUNT: usize = 22;
}

/// Read back through every data/code segment at entry (flat segments see it at its link
/// address).
pub const FLAT_MAGIC: u32 = 0x9e1f_1a7c;
/// Pushed on the early stack to tell a 32-bit ss from a 16-bit one.
pub const PUSH_MARK: u32 = 0x05a1_7e55;

extern "C" {
    static pvh_entry_state: [u32; slot::COUNT];
    pub static pvh_hypercall_page: [u8; 4096];
    pub static __pvh_image_start: u8;
    pub static __pvh_image_end: u8;
}

/// One recorded entry word.
pub fn state(i: usize) -> u32 {
    // SAFETY: a static the entry code wrote before any Rust ran; read volatile because the
    // compiler cannot see that write.
    unsafe { core::ptr::read_volatile((&raw const pvh_entry_state).cast::<u32>().add(i.min(slot::COUNT - 1))) }
}

/// The physical range of the loaded image, .bss included: `[start, end)`.
pub fn image() -> (u64, u64) {
    (&raw const __pvh_image_start as u64, &raw const __pvh_image_end as u64)
}

// Xen notes: only PHYS32_ENTRY (18) is needed for Xen to load a PVH kernel; GUEST_OS (6)
// names it in `xl` logs.
global_asm!(
    ".section .note.Xen,\"a\",@note",
    ".balign 4",
    ".long 4, .Lpvh_os_end - .Lpvh_os, 6",
    ".asciz \"Xen\"",
    ".Lpvh_os: .asciz \"rpvboot-probe-pvh\"",
    ".Lpvh_os_end: .balign 4",
    ".long 4, .Lpvh_e_end - .Lpvh_e, 18",
    ".asciz \"Xen\"",
    ".Lpvh_e: .long pvh_start32",
    ".Lpvh_e_end: .balign 4",
    ".section .rodata.pvh_flat,\"a\",@progbits",
    ".balign 4",
    "pvh_flat_magic: .long {flat}",
    ".section .data.pvh_entry,\"aw\",@progbits",
    ".balign 16",
    ".global pvh_entry_state",
    "pvh_entry_state: .skip {count} * 4",
    ".balign 16",
    "pvh_early_stack: .skip 64",
    "pvh_early_stack_top:",
    ".balign 16",
    "pvh_gdt: .quad 0, 0x00af9a000000ffff, 0x00cf92000000ffff",
    "pvh_gdt_ptr: .word 23",
    ".long pvh_gdt",
    ".section .bss.pvh,\"aw\",@nobits",
    ".balign 4096",
    "pvh_pml4: .skip 4096",
    "pvh_pdpt: .skip 4096",
    "pvh_pd: .skip 4 * 4096",
    ".global pvh_hypercall_page",
    "pvh_hypercall_page: .skip 4096",
    "pvh_stack: .skip 32768",
    "pvh_stack_top:",
    // A multiboot (v1) header, flags 0 (an ELF: GRUB loads its segments and jumps to
    // e_entry): GRUB's i386-xen_pvh `multiboot` can then load the probe, which must report
    // that it was not entered through the PVH ABI (docs/pvh-probe.md).
    ".section .multiboot,\"a\",@progbits",
    ".balign 4",
    ".long 0x1badb002, 0, -0x1badb002",
    // e_entry: a loader that ignores the PHYS32 note lands here (the same bytes decode the
    // same in 32- and 64-bit mode: mov ebp, imm32; jmp rel32).
    ".section .text.entry,\"ax\",@progbits",
    ".code32",
    ".global pvh_elf_entry",
    "pvh_elf_entry:",
    ".byte 0xbd",
    ".long 2",
    ".byte 0xe9",
    ".long .Lpvh_common - . - 4",
    ".global pvh_start32",
    "pvh_start32:",
    "mov ebp, 1",
    ".Lpvh_common:",
    // Nothing before this point may change a register, flag or segment the ABI promises.
    "mov dword ptr [pvh_entry_state + 0], eax",
    "mov dword ptr [pvh_entry_state + 4], ebx",
    "mov dword ptr [pvh_entry_state + 8], esi",
    "mov dword ptr [pvh_entry_state + 12], edi",
    "mov dword ptr [pvh_entry_state + 16], ebp",
    "mov dword ptr [pvh_entry_state + 20], esp",
    "mov eax, cr0",
    "mov dword ptr [pvh_entry_state + 24], eax",
    "mov eax, cr4",
    "mov dword ptr [pvh_entry_state + 28], eax",
    "xor eax, eax",
    "mov ax, cs",
    "mov dword ptr [pvh_entry_state + 36], eax",
    "mov ax, ds",
    "mov dword ptr [pvh_entry_state + 40], eax",
    "mov ax, es",
    "mov dword ptr [pvh_entry_state + 44], eax",
    "mov ax, ss",
    "mov dword ptr [pvh_entry_state + 48], eax",
    "str ax",
    "mov dword ptr [pvh_entry_state + 52], eax",
    "mov ax, fs",
    "mov dword ptr [pvh_entry_state + 80], eax",
    "mov ax, gs",
    "mov dword ptr [pvh_entry_state + 84], eax",
    "mov eax, dword ptr ds:[pvh_flat_magic]",
    "mov dword ptr [pvh_entry_state + 56], eax",
    "mov eax, dword ptr cs:[pvh_flat_magic]",
    "mov dword ptr [pvh_entry_state + 60], eax",
    "mov eax, dword ptr es:[pvh_flat_magic]",
    "mov dword ptr [pvh_entry_state + 64], eax",
    "mov eax, dword ptr ss:[pvh_flat_magic]",
    "mov dword ptr [pvh_entry_state + 68], eax",
    // eflags through a small stack in .data (.bss is checked next); the marker push tells
    // a 32-bit ss (esp used) from a 16-bit one (sp used: the push lands elsewhere).
    "mov esp, offset pvh_early_stack_top",
    "push {mark}",
    "pushfd",
    "pop eax",
    "mov dword ptr [pvh_entry_state + 32], eax",
    "pop eax",
    "mov eax, dword ptr [pvh_early_stack_top - 4]",
    "mov dword ptr [pvh_entry_state + 72], eax",
    // The loader must have zeroed p_memsz - p_filesz (the ELF rule): find the first
    // non-zero dword, then zero .bss anyway so that the probe can still report.
    "mov edi, offset __pvh_bss_start",
    "xor eax, eax",
    ".Lpvh_bss:",
    "cmp edi, offset __pvh_bss_end",
    "jae .Lpvh_bss_done",
    "cmp dword ptr [edi], 0",
    "jne .Lpvh_bss_bad",
    "add edi, 4",
    "jmp .Lpvh_bss",
    ".Lpvh_bss_bad:",
    "mov eax, edi",
    "sub eax, offset __pvh_bss_start",
    "inc eax",
    ".Lpvh_bss_done:",
    "mov dword ptr [pvh_entry_state + 76], eax",
    "mov edi, offset __pvh_bss_start",
    "mov ecx, offset __pvh_bss_end",
    "sub ecx, edi",
    "shr ecx, 2",
    "xor eax, eax",
    "cld",
    "rep stosd",
    // Identity map of [0, 4 GiB) with 2 MiB pages: PML4[0] -> PDPT[0..4] -> 4 PDs.
    "mov eax, offset pvh_pdpt",
    "or eax, 3",
    "mov dword ptr [pvh_pml4], eax",
    "xor ecx, ecx",
    ".Lpvh_pdpt:",
    "mov eax, ecx",
    "shl eax, 12",
    "add eax, offset pvh_pd",
    "or eax, 3",
    "mov dword ptr [pvh_pdpt + ecx * 8], eax",
    "inc ecx",
    "cmp ecx, 4",
    "jb .Lpvh_pdpt",
    "xor ecx, ecx",
    ".Lpvh_pd:",
    "mov eax, ecx",
    "shl eax, 21",
    "or eax, 0x83",
    "mov dword ptr [pvh_pd + ecx * 8], eax",
    "inc ecx",
    "cmp ecx, 2048",
    "jb .Lpvh_pd",
    "mov eax, offset pvh_pml4",
    "mov cr3, eax",
    "mov eax, cr4",
    "or eax, 0x20",
    "mov cr4, eax",
    "mov ecx, 0xc0000080",
    "rdmsr",
    "or eax, 0x100",
    "wrmsr",
    "mov eax, cr0",
    "or eax, 0x80000001",
    "mov cr0, eax",
    "lgdt [pvh_gdt_ptr]",
    // ljmp 0x08:.Lpvh_long
    ".byte 0xea",
    ".long .Lpvh_long",
    ".word 8",
    ".code64",
    ".Lpvh_long:",
    "mov eax, 0x10",
    "mov ds, ax",
    "mov es, ax",
    "mov ss, ax",
    "mov fs, ax",
    "mov gs, ax",
    "lea rsp, [rip + pvh_stack_top]",
    "xor ebp, ebp",
    "call pvh_main",
    "ud2",
    flat = const FLAT_MAGIC,
    mark = const PUSH_MARK,
    count = const slot::COUNT,
);
