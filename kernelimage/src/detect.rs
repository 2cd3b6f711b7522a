//! Content-based detection of kernel file formats (never by file name).

use super::bytes::{u16_at, u32_at, u8_at};
use core::fmt;

/// A layer rpvboot can unwrap or load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ELF64 little-endian x86_64: the kernel itself.
    Elf64,
    /// gzip (possibly several members).
    Gzip,
    /// xz container.
    Xz,
    /// Zstandard.
    Zstd,
    /// LZ4 legacy or standard frame.
    Lz4,
    /// Linux bzImage: boot sector + setup + compressed payload.
    BzImage,
}

impl Format {
    /// Short lowercase-ish name, as `rpvboot-inspect boot --json` reports it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Elf64 => "elf64",
            Format::Gzip => "gzip",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Lz4 => "lz4",
            Format::BzImage => "bzImage",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the first bytes say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    /// A format rpvboot handles.
    Known(Format),
    /// Recognised, but refused: the text names it and says why.
    Unsupported(&'static str),
    /// Nothing recognised.
    Unknown,
}

const EM_X86_64: u16 = 62;
const EM_386: u16 = 3;

/// Look at the start of `d`.
pub fn detect(d: &[u8]) -> Detected {
    use Detected::*;
    if d.starts_with(b"\x7fELF") {
        return match (u8_at(d, 4), u8_at(d, 5), u16_at(d, 18)) {
            (Some(2), Some(1), Some(EM_X86_64)) => Known(Format::Elf64),
            (Some(2), Some(1), _) => Unsupported("ELF64 for another machine than x86_64"),
            (Some(1), _, Some(EM_386)) => {
                Unsupported("ELF32 i386 kernel: 32-bit (and PAE) PV kernels are not supported, use an x86_64 kernel")
            }
            (Some(1), _, _) => Unsupported("ELF32 for another machine than x86_64"),
            (_, Some(2), _) => Unsupported("big-endian ELF"),
            _ => Unsupported("ELF with an invalid class or data encoding"),
        };
    }
    if u32_at(d, 0x202) == Some(u32::from_le_bytes(*b"HdrS")) && u16_at(d, 0x1fe) == Some(0xAA55) {
        return Known(Format::BzImage);
    }
    if super::gzip::is_gzip(d) {
        return Known(Format::Gzip);
    }
    if super::xz::is_xz(d) {
        return Known(Format::Xz);
    }
    if super::zstd::is_zstd(d) {
        return Known(Format::Zstd);
    }
    if super::lz4::is_lz4(d) {
        return Known(Format::Lz4);
    }
    if d.len() >= 4 && d.starts_with(b"BZh") && matches!(d.get(3), Some(b'1'..=b'9')) {
        return Unsupported(
            "bzip2: no no_std bzip2 decoder serves rpvboot (bzip2-rs needs std); recompress the kernel with gzip, xz or zstd",
        );
    }
    if d.starts_with(b"MZ") {
        return Unsupported("PE/COFF executable (EFI application) without a Linux boot header");
    }
    if d.starts_with(&[0x5d, 0, 0]) {
        return Unsupported("LZMA-alone (.lzma); use xz");
    }
    if d.starts_with(&[0x89, b'L', b'Z', b'O']) {
        return Unsupported("lzop");
    }
    if d.starts_with(&[0x1f, 0x9d]) {
        return Unsupported("compress(1) .Z");
    }
    if d.starts_with(&[0x1f, 0x8b]) {
        return Unsupported("gzip with a compression method other than deflate");
    }
    if d.starts_with(&[0xfe, 0xed, 0xfa, 0xcf]) || d.starts_with(&[0xcf, 0xfa, 0xed, 0xfe]) {
        return Unsupported("Mach-O");
    }
    Unknown
}
