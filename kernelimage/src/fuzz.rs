//! Entry points for fuzz targets (`cargo fuzz`): each runs one parser over arbitrary bytes and
//! must return, never panic or allocate beyond the small limit given.

use super::elf::Elf64;
use super::kernel::PvKernel;
use super::{bzimage, decompress, Format};

/// Output limit for fuzzing decompressors.
pub const FUZZ_LIMIT: usize = 16 << 20;

/// ELF + Xen notes + BSD symtab + the page accounting of the kernel check (whatever size the
/// headers claim) + loading and the handover's page list (image size permitting: both hold
/// the whole image), which must agree with the accounting; and the same ELF read for a PVH
/// domain (`parse_pvh`: physical addresses, the 32-bit entry).
pub fn elf_notes(data: &[u8]) {
    if let Ok(elf) = Elf64::parse(data) {
        if let Ok(k) = PvKernel::parse_pvh(&elf) {
            assert!(k.entry <= u64::from(u32::MAX) && k.virt_kend <= 1 << 32, "PVH kernel above 4 GiB");
            if k.image_len() <= FUZZ_LIMIT as u64 {
                let _ = k.load(&elf);
            }
        }
        if let Ok(k) = PvKernel::parse(&elf) {
            let block_len = k.bsd_symtab.as_ref().map_or(0, |s| s.size);
            let reused = k.reusable_pages(block_len);
            if k.image_len() <= FUZZ_LIMIT as u64 {
                let _ = k.load(&elf);
                let named = k.page_sources(block_len).iter().flatten().count() as u64;
                assert_eq!(named, reused, "page_sources and reusable_pages disagree");
            }
        }
    }
}

/// The bzImage setup header.
pub fn bzimage_header(data: &[u8]) {
    let _ = bzimage::parse(data);
    let _ = bzimage::payload_range(data);
}

/// One decompressor, chosen by the first byte.
pub fn decompressor(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let f = match sel % 4 {
        0 => Format::Gzip,
        1 => Format::Xz,
        2 => Format::Zstd,
        _ => Format::Lz4,
    };
    let _ = decompress(f, rest, FUZZ_LIMIT);
}

/// The whole pipeline.
pub fn unwrap(data: &[u8]) {
    if let Ok(u) = super::unwrap(data, FUZZ_LIMIT) {
        elf_notes(&u.elf);
    }
}
