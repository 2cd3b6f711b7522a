//! Entry points for fuzz targets (`cargo fuzz`): each runs one parser over arbitrary bytes and
//! must return, never panic or allocate beyond the small limit given.

use super::elf::Elf64;
use super::kernel::PvKernel;
use super::{bzimage, decompress, Format};

/// Output limit for fuzzing decompressors.
pub const FUZZ_LIMIT: usize = 16 << 20;

/// ELF + Xen notes + BSD symtab + loading (image size permitting).
pub fn elf_notes(data: &[u8]) {
    if let Ok(elf) = Elf64::parse(data) {
        if let Ok(k) = PvKernel::parse(&elf) {
            if k.image_len() <= FUZZ_LIMIT as u64 {
                let _ = k.load(&elf);
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
