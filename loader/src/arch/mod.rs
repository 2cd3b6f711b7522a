//! x86_64 PV entry, ELF notes, hypercall page, page tables: the code that touches the CPU.
