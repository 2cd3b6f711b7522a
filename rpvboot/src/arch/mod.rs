//! The code that touches the CPU and the PV MMU: entry, ELF notes, hypercall page, traps,
//! page tables, heap, the console instance. Only built for the PV kernel (`target_os = "none"`).

pub mod x86_64;
