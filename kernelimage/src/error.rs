//! Errors of the kernel-image pipeline: each says what was found and where, so that a menu can
//! print it as is ("gzip: CRC mismatch at byte 1234", "ELF32 kernel: 32-bit PV kernels are not
//! supported").

use alloc::string::String;
use core::fmt;

/// Everything that can go wrong between "these are the kernel file's bytes" and a loaded image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ends before a structure it declares (`what`), at byte `offset`.
    Truncated {
        /// The structure that was cut off.
        what: &'static str,
        /// Byte offset (in the current layer's input) where it was expected.
        offset: u64,
    },
    /// A compressed stream is invalid.
    Corrupt {
        /// Format name ("gzip", "xz", ...).
        format: &'static str,
        /// What the decoder found.
        detail: String,
        /// Byte offset in the compressed input, when known.
        offset: u64,
    },
    /// The output would grow beyond the caller's memory limit.
    TooLarge {
        /// Format name of the layer that grew too large.
        format: &'static str,
        /// The limit in bytes.
        limit: u64,
    },
    /// An allocation failed (the heap is smaller than the limit said).
    OutOfMemory {
        /// Bytes requested.
        bytes: u64,
    },
    /// A recognised format that rpvboot cannot use (named).
    Unsupported {
        /// What was found and why it is refused.
        what: String,
    },
    /// No known signature.
    UnknownFormat {
        /// The first bytes of the input (up to 8).
        magic: [u8; 8],
        /// Input length.
        len: u64,
    },
    /// The ELF structure is invalid.
    BadElf {
        /// What is wrong.
        what: &'static str,
        /// The offending value.
        value: u64,
    },
    /// The Xen PV checks (libelf `elf_xen_note_check` / `elf_xen_addr_calc_check`, libxc) failed.
    NotPvKernel {
        /// Which check failed, with the values involved.
        what: String,
    },
    /// The kernel cannot boot in a PVH domain (no `PHYS32_ENTRY` note: a PV-only kernel, or
    /// addresses a 32-bit entry cannot reach).
    NotPvhKernel {
        /// Which check failed, with the values involved.
        what: String,
    },
    /// Compression layers nested deeper than rpvboot follows.
    TooManyLayers,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { what, offset } => {
                write!(f, "truncated input: {what} missing at byte {offset}")
            }
            Error::Corrupt { format, detail, offset } => {
                write!(f, "{format}: corrupt stream at byte {offset}: {detail}")
            }
            Error::TooLarge { format, limit } => {
                write!(f, "{format}: output exceeds the memory limit of {limit} bytes")
            }
            Error::OutOfMemory { bytes } => write!(f, "out of memory allocating {bytes} bytes"),
            Error::Unsupported { what } => write!(f, "unsupported: {what}"),
            Error::UnknownFormat { magic, len } => {
                write!(f, "unknown kernel format (magic")?;
                let n = usize::try_from(*len).unwrap_or(8).min(8);
                for b in magic.iter().take(n) {
                    write!(f, " {b:02x}")?;
                }
                write!(f, ", {len} bytes)")
            }
            Error::BadElf { what, value } => write!(f, "bad ELF: {what} ({value:#x})"),
            Error::NotPvKernel { what } => write!(f, "not a usable Xen PV kernel: {what}"),
            Error::NotPvhKernel { what } => write!(f, "not a PVH-capable kernel: {what}"),
            Error::TooManyLayers => write!(f, "too many nested compression layers"),
        }
    }
}

impl Error {
    /// Whether the error is about memory (the output, its dictionary or an allocation does not
    /// fit in what the caller allowed) rather than about the bytes.
    pub fn is_memory(&self) -> bool {
        matches!(self, Error::TooLarge { .. } | Error::OutOfMemory { .. })
    }

    /// The byte offset the error points at, when it names one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Truncated { offset, .. } | Error::Corrupt { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

impl core::error::Error for Error {}

/// Results of this module.
pub type Result<T> = core::result::Result<T, Error>;
