#![no_main]
use libfuzzer_sys::fuzz_target;

// ELF64 headers, Xen notes, BSD symbol table, page accounting and loading; then the kernel
// check every boot path runs (unpacking, notes, layout) in a 32 MiB domain, whose memory
// accounting must hold for any size an ELF header claims.
fuzz_target!(|data: &[u8]| {
    kernelimage::fuzz::elf_notes(data);
    let _ = bootplan::check::check(data.to_vec(), &[], b"", 8192, 512);
});
