#![no_main]
use libfuzzer_sys::fuzz_target;

// ELF64 headers, Xen notes, BSD symbol table and loading.
fuzz_target!(|data: &[u8]| {
    kernelimage::fuzz::elf_notes(data);
});
