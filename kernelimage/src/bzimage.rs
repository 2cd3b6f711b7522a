//! Linux bzImage: the x86 boot protocol's setup header (Documentation/arch/x86/boot.rst) and
//! the compressed payload it points at (`payload_offset`/`payload_length`, protocol >= 2.08),
//! as libxc's `xc_dom_probe_bzimage_kernel` finds it.

use super::bytes::{u16_at, u32_at, u64_at, u8_at};
use super::error::{Error, Result};
use alloc::format;

/// The setup-header fields a PV loader needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupHeader {
    /// Setup sectors after the boot sector (0 means 4).
    pub setup_sects: u8,
    /// Boot protocol version (0x020f = 2.15).
    pub version: u16,
    /// Payload offset, from the start of the protected-mode code.
    pub payload_offset: u32,
    /// Payload length.
    pub payload_length: u32,
    /// Memory the kernel needs while decompressing itself (informational).
    pub init_size: u32,
    /// xloadflags (bit 0: 64-bit entry).
    pub xloadflags: u16,
    /// Preferred load address (informational).
    pub pref_address: u64,
}

impl SetupHeader {
    /// Byte offset of the payload in the file.
    pub fn payload_start(&self) -> u64 {
        let sects = if self.setup_sects == 0 { 4 } else { self.setup_sects };
        (u64::from(sects) + 1) * 512 + u64::from(self.payload_offset)
    }
}

fn field<T>(v: Option<T>, what: &'static str, offset: usize) -> Result<T> {
    v.ok_or(Error::Truncated { what, offset: offset as u64 })
}

/// Parse the setup header of a bzImage.
pub fn parse(d: &[u8]) -> Result<SetupHeader> {
    if u32_at(d, 0x202) != Some(u32::from_le_bytes(*b"HdrS")) {
        return Err(Error::Unsupported { what: "bzImage without the \"HdrS\" setup header".into() });
    }
    let version = field(u16_at(d, 0x206), "bzImage version", 0x206)?;
    if version < 0x0208 {
        return Err(Error::Unsupported {
            what: format!(
                "bzImage boot protocol {}.{:02} (2.08 or later needed for the payload fields)",
                version >> 8,
                version & 0xff
            ),
        });
    }
    Ok(SetupHeader {
        setup_sects: field(u8_at(d, 0x1f1), "bzImage setup_sects", 0x1f1)?,
        version,
        payload_offset: field(u32_at(d, 0x248), "bzImage payload_offset", 0x248)?,
        payload_length: field(u32_at(d, 0x24c), "bzImage payload_length", 0x24c)?,
        init_size: field(u32_at(d, 0x260), "bzImage init_size", 0x260)?,
        xloadflags: field(u16_at(d, 0x236), "bzImage xloadflags", 0x236)?,
        pref_address: field(u64_at(d, 0x258), "bzImage pref_address", 0x258)?,
    })
}

/// The payload bytes as a `(start, len)` range of `d`, checked against the file size.
pub fn payload_range(d: &[u8]) -> Result<(usize, usize)> {
    let h = parse(d)?;
    let start = h.payload_start();
    let end = start + u64::from(h.payload_length);
    if h.payload_length == 0 || end > d.len() as u64 {
        return Err(Error::Truncated { what: "bzImage payload", offset: end });
    }
    Ok((start as usize, h.payload_length as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u16, setup_sects: u8, off: u32, len: u32, total: usize) -> alloc::vec::Vec<u8> {
        let mut d = alloc::vec![0u8; total];
        d[0x1f1] = setup_sects;
        d[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
        d[0x202..0x206].copy_from_slice(b"HdrS");
        d[0x206..0x208].copy_from_slice(&version.to_le_bytes());
        d[0x248..0x24c].copy_from_slice(&off.to_le_bytes());
        d[0x24c..0x250].copy_from_slice(&len.to_le_bytes());
        d
    }

    #[test]
    fn payload_position() {
        let d = header(0x020f, 3, 0x10, 0x20, 0x1000);
        assert_eq!(payload_range(&d).unwrap(), (4 * 512 + 0x10, 0x20));
        // setup_sects 0 means 4.
        let d = header(0x020f, 0, 0, 0x20, 0x1000);
        assert_eq!(payload_range(&d).unwrap(), (5 * 512, 0x20));
    }

    #[test]
    fn bad_headers_are_errors() {
        assert!(payload_range(&header(0x0206, 3, 0, 0x20, 0x1000)).is_err());
        assert!(payload_range(&header(0x020f, 3, 0, 0x2000, 0x1000)).is_err());
        assert!(payload_range(&header(0x020f, 3, u32::MAX, u32::MAX, 0x1000)).is_err());
        assert!(payload_range(&header(0x020f, 3, 0, 0, 0x1000)).is_err());
        assert!(parse(&[0u8; 0x100]).is_err());
    }
}
