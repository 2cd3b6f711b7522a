//! The PVH entry (`XEN_ELFNOTE_PHYS32_ENTRY`, image.rs) and the 64-bit exception stubs.
//!
//! Xen enters `pvh_start32` in 32-bit protected mode with paging off, flat 4 GiB code and data
//! segments, `ebx` = physical address of `hvm_start_info`, no stack and interrupts off
//! (docs/pvh.md). The stub builds page tables in the `.pvh_boot` block (zero at load, outside
//! .bss), loads its own GDT, switches to long mode and continues at the high VA:
//!
//! ```text
//! pvh_boot + 0x0000  PML4:  [0] -> PDPT_low (identity), [255] -> PDPT_high (VIRT_BASE)
//!          + 0x1000  PDPT_low:  [0] -> PD0
//!          + 0x2000  PDPT_high: [0] -> PD0 (more GiBs are added by pvh::paging)
//!          + 0x3000  PD0: [0] -> PT0, [1..512] 2 MiB pages of physical 2 MiB..1 GiB
//!          + 0x4000  PT0: 4 KiB pages of physical 0..2 MiB, page 0 not present (NULL faults)
//!          + 0x5000  GDT: null, 0x08 64-bit code, 0x10 data, 0x18 32-bit code
//!          + 0x5040  GDT pointer (limit, base)
//! ```
//!
//! So the first GiB is mapped both at its physical address (what a 32-bit trampoline needs)
//! and at `VIRT_BASE + phys`, the layout the PV start uses; the image lies in it.

use core::arch::global_asm;

/// Bytes of the `.pvh_boot` block.
pub const BOOT_BLOCK: usize = 0x6000;
/// Offsets in the block.
pub const PML4: usize = 0;
/// PDPT for the identity map (L4 slot 0).
pub const PDPT_LOW: usize = 0x1000;
/// PDPT for rpvboot's slot 255.
pub const PDPT_HIGH: usize = 0x2000;
/// The PD of the first GiB (shared by both PDPTs).
pub const PD0: usize = 0x3000;
/// The PT of the first 2 MiB.
pub const PT0: usize = 0x4000;
/// GDT selectors.
pub const CODE64: u16 = 0x08;

global_asm!(
    ".section .pvh_boot,\"aw\",@nobits",
    ".balign 4096",
    ".global pvh_boot",
    "pvh_boot:",
    ".skip {block}",
    "",
    ".section .text.pvh32,\"ax\",@progbits",
    ".code32",
    ".global pvh_start32",
    "pvh_start32:",
    "cli",
    "cld",
    "mov esi, ebx",
    "mov edi, offset __pvh_boot_phys",
    // PML4[0] = PDPT_low, PML4[255] = PDPT_high
    "lea eax, [edi + 0x1003]",
    "mov dword ptr [edi], eax",
    "lea eax, [edi + 0x2003]",
    "mov dword ptr [edi + 255*8], eax",
    // PDPT_low[0] = PDPT_high[0] = PD0
    "lea eax, [edi + 0x3003]",
    "mov dword ptr [edi + 0x1000], eax",
    "mov dword ptr [edi + 0x2000], eax",
    // PD0[0] = PT0, PD0[i] = i * 2 MiB | PS | RW | P
    "lea eax, [edi + 0x4003]",
    "mov dword ptr [edi + 0x3000], eax",
    "mov ecx, 1",
    ".Lpvh_pd0_fill:",
    "mov eax, ecx",
    "shl eax, 21",
    "or eax, 0x83",
    "mov dword ptr [edi + ecx*8 + 0x3000], eax",
    "inc ecx",
    "cmp ecx, 512",
    "jb .Lpvh_pd0_fill",
    // PT0[i] = i * 4 KiB | RW | P for i >= 1 (page 0 stays absent)
    "mov ecx, 1",
    ".Lpvh_pt0_fill:",
    "mov eax, ecx",
    "shl eax, 12",
    "or eax, 0x3",
    "mov dword ptr [edi + ecx*8 + 0x4000], eax",
    "inc ecx",
    "cmp ecx, 512",
    "jb .Lpvh_pt0_fill",
    // GDT
    "mov dword ptr [edi + 0x5008], 0x0000ffff",
    "mov dword ptr [edi + 0x500c], 0x00af9a00",
    "mov dword ptr [edi + 0x5010], 0x0000ffff",
    "mov dword ptr [edi + 0x5014], 0x00cf9200",
    "mov dword ptr [edi + 0x5018], 0x0000ffff",
    "mov dword ptr [edi + 0x501c], 0x00cf9a00",
    "mov word ptr [edi + 0x5040], 0x1f",
    "lea eax, [edi + 0x5000]",
    "mov dword ptr [edi + 0x5042], eax",
    "mov dword ptr [edi + 0x5046], 0",
    "lgdt [edi + 0x5040]",
    // CR4.PAE, CR3, EFER.LME, CR0.PG
    "mov eax, cr4",
    "or eax, 0x20",
    "mov cr4, eax",
    "mov cr3, edi",
    "mov ecx, 0xc0000080",
    "rdmsr",
    "or eax, 0x100",
    "wrmsr",
    "mov eax, cr0",
    "or eax, 0x80000001",
    "mov cr0, eax",
    // ljmp 0x08:__pvh_long_phys (ptr16:32, spelled out)
    ".byte 0xea",
    ".long __pvh_long_phys",
    ".word 0x08",
    ".code64",
    ".global pvh_long_low",
    "pvh_long_low:",
    "mov ax, 0x10",
    "mov ds, ax",
    "mov es, ax",
    "mov ss, ax",
    "xor eax, eax",
    "mov fs, ax",
    "mov gs, ax",
    "movabs rax, offset pvh_long_high",
    "jmp rax",
    "pvh_long_high:",
    // Now at the high VA: keep the start_info address (zero-extended), point the GDT pointer
    // at the high alias, zero .bss, take our stack.
    "mov r15d, esi",
    "lea rax, [rip + pvh_boot + 0x5000]",
    "mov qword ptr [rip + pvh_boot + 0x5042], rax",
    "lgdt [rip + pvh_boot + 0x5040]",
    "lea rdi, [rip + __bss_start]",
    "lea rcx, [rip + __bss_end]",
    "sub rcx, rdi",
    "shr rcx, 3",
    "xor eax, eax",
    "rep stosq",
    "lea rsp, [rip + __stack_top]",
    "xor ebp, ebp",
    "mov rdi, r15",
    "call rust_start_pvh", // extern "C" fn(start_info_pa: u64) -> !, in main.rs
    "ud2",
    block = const BOOT_BLOCK,
);

// Exception stubs: the CPU pushes ss, rsp, rflags, cs, rip and, for some vectors, an error
// code. The stub passes the frame and the vector to `rpvboot_pvh_trap` (pvh/traps.rs), which
// reports and crashes the domain (never returns).
macro_rules! idt_stub {
    ($($v:literal),+) => {
        global_asm!(
            ".section .text.traps,\"ax\",@progbits",
            $(
                concat!(".global rpvboot_pvh_trap_", $v),
                concat!("rpvboot_pvh_trap_", $v, ":"),
                "mov rdi, rsp",
                concat!("mov esi, ", $v),
                "and rsp, -16",
                "call rpvboot_pvh_trap",
                "ud2",
            )+
        );
    };
}

idt_stub!(
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
    31
);

macro_rules! idt_table {
    ($($v:literal => $f:ident),+) => {
        extern "C" { $(fn $f();)+ }
        /// (vector, stub address) for the 32 exception vectors.
        pub fn exception_stubs() -> [(u8, u64); 32] {
            [$(($v, $f as *const () as u64)),+]
        }
    };
}

idt_table!(
    0 => rpvboot_pvh_trap_0, 1 => rpvboot_pvh_trap_1, 2 => rpvboot_pvh_trap_2, 3 => rpvboot_pvh_trap_3,
    4 => rpvboot_pvh_trap_4, 5 => rpvboot_pvh_trap_5, 6 => rpvboot_pvh_trap_6, 7 => rpvboot_pvh_trap_7,
    8 => rpvboot_pvh_trap_8, 9 => rpvboot_pvh_trap_9, 10 => rpvboot_pvh_trap_10, 11 => rpvboot_pvh_trap_11,
    12 => rpvboot_pvh_trap_12, 13 => rpvboot_pvh_trap_13, 14 => rpvboot_pvh_trap_14, 15 => rpvboot_pvh_trap_15,
    16 => rpvboot_pvh_trap_16, 17 => rpvboot_pvh_trap_17, 18 => rpvboot_pvh_trap_18, 19 => rpvboot_pvh_trap_19,
    20 => rpvboot_pvh_trap_20, 21 => rpvboot_pvh_trap_21, 22 => rpvboot_pvh_trap_22, 23 => rpvboot_pvh_trap_23,
    24 => rpvboot_pvh_trap_24, 25 => rpvboot_pvh_trap_25, 26 => rpvboot_pvh_trap_26, 27 => rpvboot_pvh_trap_27,
    28 => rpvboot_pvh_trap_28, 29 => rpvboot_pvh_trap_29, 30 => rpvboot_pvh_trap_30, 31 => rpvboot_pvh_trap_31
);

extern "C" {
    static mut pvh_boot: [u8; BOOT_BLOCK];
}

/// VA of the `.pvh_boot` block (page tables, GDT).
pub fn boot_block_va() -> u64 {
    &raw const pvh_boot as u64
}
