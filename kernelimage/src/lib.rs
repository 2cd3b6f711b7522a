//! Kernel images: format detection, decompression, Xen ELF notes, bzImage, BSD symtab.
//!
//! The pipeline is pure (no_std + alloc, host-tested): [`unwrap`] peels compression and
//! bzImage layers off a kernel file until an ELF64 remains, [`elf::Elf64`] parses it,
//! [`kernel::PvKernel`] applies Xen's loader rules and produces the image bytes.
//!
//! Where rpvboot is stricter than Xen's libelf/libxc, and why (hostile input, no dom0 to log
//! a warning to): program/section headers must have the standard entry sizes and lie inside
//! the file; loadable segment data must lie inside the file and `p_filesz <= p_memsz`; the
//! hypercall page must be inside the image (Xen would fail later); required XENFEAT
//! `supervisor_mode_kernel` and `hvm_callback_vector` are refused by name along with `dom0`
//! and `auto_translated_physmap`; 32-bit and PAE kernels are refused. Like libelf, a kernel
//! that asks for BSD_SYMTAB but has no usable symbol table is loaded without the block.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod bytes;
pub mod bzimage;
pub mod detect;
pub mod elf;
pub mod error;
pub mod fuzz;
pub mod gzip;
pub mod kernel;
pub mod lz4;
pub mod notes;
mod out;
pub mod symtab;
pub mod xz;
pub mod zstd;

pub use detect::{detect, Detected, Format};
pub use error::{Error, Result};
pub use kernel::{Container, PvKernel};

use alloc::borrow::Cow;
use alloc::vec::Vec;

/// How many layers [`unwrap`] follows (bzImage + compression + one spare).
pub const MAX_LAYERS: usize = 4;

/// A kernel file with its layers removed.
#[derive(Debug, Clone)]
pub struct Unwrapped<'a> {
    /// Layers found, outermost first, ending with [`Format::Elf64`]
    /// (e.g. `[BzImage, Xz, Elf64]`).
    pub formats: Vec<Format>,
    /// The ELF64 bytes (borrowed when the file was a plain ELF).
    pub elf: Cow<'a, [u8]>,
}

impl Unwrapped<'_> {
    /// Layer names, outermost first (`["bzImage", "xz", "elf64"]`).
    pub fn format_names(&self) -> Vec<&'static str> {
        self.formats.iter().map(|f| f.name()).collect()
    }
}

/// Decompress one layer of `format` (a compression format) with an output limit.
pub fn decompress(format: Format, input: &[u8], limit: usize) -> Result<Vec<u8>> {
    decompress_hinted(format, input, limit, 0)
}

/// [`decompress`] with an expected output size (untrusted, 0 = unknown): an exact hint means
/// one allocation of the right size instead of doubling (which needs up to 3x the output
/// while the allocator copies).
pub fn decompress_hinted(format: Format, input: &[u8], limit: usize, hint: usize) -> Result<Vec<u8>> {
    let (v, _used) = match format {
        Format::Gzip => gzip::decompress_gzip(input, limit)?,
        Format::Xz => xz::decompress_xz(input, limit, hint)?,
        Format::Zstd => zstd::decompress_zstd(input, limit, hint)?,
        Format::Lz4 => lz4::decompress_lz4(input, limit, hint)?,
        Format::Elf64 | Format::BzImage => {
            return Err(Error::Unsupported { what: alloc::format!("{} is not a compression format", format.name()) })
        }
    };
    Ok(v)
}

fn first8(d: &[u8]) -> [u8; 8] {
    let mut m = [0u8; 8];
    for (dst, src) in m.iter_mut().zip(d) {
        *dst = *src;
    }
    m
}

/// The compression format of `input`, looking inside a bzImage (`None`: a plain ELF or
/// something unknown). Cheap: headers only.
pub fn compression_of(input: &[u8]) -> Option<Format> {
    let inner = match detect(input) {
        Detected::Known(Format::BzImage) => {
            let (start, len) = bzimage::payload_range(input).ok()?;
            input.get(start..start.checked_add(len)?)?
        }
        _ => input,
    };
    match detect(inner) {
        Detected::Known(f) if !matches!(f, Format::Elf64 | Format::BzImage) => Some(f),
        _ => None,
    }
}

/// Peel layers off `input` until an ELF64 x86_64 remains. No layer may produce more than
/// `limit` bytes (the caller passes what the domain can hold).
pub fn unwrap(input: &[u8], limit: usize) -> Result<Unwrapped<'_>> {
    let mut formats = Vec::new();
    let mut cur: Cow<'_, [u8]> = Cow::Borrowed(input);
    let mut hint = 0usize;
    for _ in 0..MAX_LAYERS {
        let f = match detect(&cur) {
            Detected::Known(f) => f,
            Detected::Unsupported(what) => return Err(Error::Unsupported { what: what.into() }),
            Detected::Unknown => return Err(Error::UnknownFormat { magic: first8(&cur), len: cur.len() as u64 }),
        };
        formats.push(f);
        cur = match f {
            Format::Elf64 => return Ok(Unwrapped { formats, elf: cur }),
            Format::BzImage => {
                let (start, len) = bzimage::payload_range(&cur)?;
                // Linux appends the uncompressed size to every payload (`size_append`).
                hint = len.checked_sub(4).and_then(|p| bytes::u32_at(&cur, start + p)).map_or(0, |v| v as usize);
                match cur {
                    Cow::Borrowed(b) => Cow::Borrowed(b.get(start..start + len).unwrap_or_default()),
                    Cow::Owned(v) => Cow::Owned(v.get(start..start + len).unwrap_or_default().to_vec()),
                }
            }
            other => Cow::Owned(decompress_hinted(other, &cur, limit, core::mem::take(&mut hint))?),
        };
    }
    Err(Error::TooManyLayers)
}
