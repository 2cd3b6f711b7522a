//! Xen ELF notes (`xen/include/public/elfnote.h`) and the legacy `__xen_guest` string, parsed
//! and checked the way Xen's libelf does (`elf_xen_parse`, `elf_xen_parse_note`,
//! `elf_xen_parse_guest_info`, `elf_xen_parse_features`, `elf_xen_note_check`).

use super::bytes::{round_up, u16_at, u32_at, u64_at, u8_at};
use super::elf::{Elf64, PT_NOTE, SHT_NOTE};
use super::error::{Error, Result};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Note types (elfnote.h, Xen 4.17 numbering).
pub mod ty {
    #![allow(missing_docs)]
    pub const INFO: u32 = 0;
    pub const ENTRY: u32 = 1;
    pub const HYPERCALL_PAGE: u32 = 2;
    pub const VIRT_BASE: u32 = 3;
    pub const PADDR_OFFSET: u32 = 4;
    pub const XEN_VERSION: u32 = 5;
    pub const GUEST_OS: u32 = 6;
    pub const GUEST_VERSION: u32 = 7;
    pub const LOADER: u32 = 8;
    pub const PAE_MODE: u32 = 9;
    pub const FEATURES: u32 = 10;
    pub const BSD_SYMTAB: u32 = 11;
    pub const HV_START_LOW: u32 = 12;
    pub const L1_MFN_VALID: u32 = 13;
    pub const SUSPEND_CANCEL: u32 = 14;
    pub const INIT_P2M: u32 = 15;
    pub const MOD_START_PFN: u32 = 16;
    pub const SUPPORTED_FEATURES: u32 = 17;
    pub const PHYS32_ENTRY: u32 = 18;
    pub const PHYS32_RELOC: u32 = 19;
}

/// XENFEAT names libelf accepts in the FEATURES string, by bit number.
pub const FEATURE_NAMES: [(u32, &str); 7] = [
    (0, "writable_page_tables"),
    (1, "writable_descriptor_tables"),
    (2, "auto_translated_physmap"),
    (3, "supervisor_mode_kernel"),
    (4, "pae_pgdir_above_4gb"),
    (8, "hvm_callback_vector"),
    (11, "dom0"),
];

/// Where the Xen parameters came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoteSource {
    /// No Xen notes and no `__xen_guest` section.
    #[default]
    None,
    /// `PT_NOTE` segments.
    Segments,
    /// `SHT_NOTE` sections (libelf's fallback).
    Sections,
    /// The legacy `__xen_guest` string section.
    LegacyGuestSection,
}

/// Everything the kernel declared to the domain builder. `None` = not declared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XenNotes {
    /// Source of the values.
    pub source: NoteSource,
    /// Number of Xen notes parsed.
    pub count: u32,
    /// `ENTRY` (legacy `VIRT_ENTRY`).
    pub entry: Option<u64>,
    /// `HYPERCALL_PAGE` as a VA (the legacy PFN form is converted like libelf does).
    pub hypercall_page: Option<u64>,
    /// `VIRT_BASE`.
    pub virt_base: Option<u64>,
    /// `PADDR_OFFSET` (legacy `ELF_PADDR_OFFSET`).
    pub paddr_offset: Option<u64>,
    /// `XEN_VERSION` (legacy `XEN_VER`).
    pub xen_version: Option<String>,
    /// `GUEST_OS`.
    pub guest_os: Option<String>,
    /// `GUEST_VERSION` (legacy `GUEST_VER`).
    pub guest_version: Option<String>,
    /// `LOADER`.
    pub loader: Option<String>,
    /// `PAE_MODE` (legacy `PAE`).
    pub pae_mode: Option<String>,
    /// `FEATURES`, raw string.
    pub features: Option<String>,
    /// `BSD_SYMTAB` = "yes" (legacy: present).
    pub bsd_symtab: bool,
    /// `HV_START_LOW`.
    pub hv_start_low: Option<u64>,
    /// `L1_MFN_VALID` (mask/value pairs, raw; libelf does not use it).
    pub l1_mfn_valid: Option<Vec<u64>>,
    /// `SUSPEND_CANCEL`.
    pub suspend_cancel: Option<u64>,
    /// `INIT_P2M`.
    pub init_p2m: Option<u64>,
    /// `MOD_START_PFN`.
    pub mod_start_pfn: Option<u64>,
    /// `SUPPORTED_FEATURES` bitmap (first submap).
    pub supported_features: Option<u32>,
    /// `PHYS32_ENTRY` (PVH only; kept for reporting).
    pub phys32_entry: Option<u64>,
    /// XENFEAT bits the kernel supports (FEATURES + SUPPORTED_FEATURES).
    pub f_supported: u32,
    /// XENFEAT bits the kernel requires (`!name` in FEATURES).
    pub f_required: u32,
}

/// libelf's `ELF_MAX_TOTAL_NOTE_COUNT`.
const MAX_NOTES: u32 = 65536;

fn string_of(desc: &[u8]) -> String {
    let end = desc.iter().position(|&b| b == 0).unwrap_or(desc.len());
    String::from_utf8_lossy(desc.get(..end).unwrap_or_default()).into_owned()
}

/// libelf `elf_note_numeric`: 1, 2, 4 or 8 bytes; any other size reads as 0.
fn numeric(desc: &[u8]) -> u64 {
    match desc.len() {
        1 => u8_at(desc, 0).map_or(0, u64::from),
        2 => u16_at(desc, 0).map_or(0, u64::from),
        4 => u32_at(desc, 0).map_or(0, u64::from),
        8 => u64_at(desc, 0).unwrap_or(0),
        _ => 0,
    }
}

/// libelf `elf_xen_parse_features`: `name|!name|...`; an unknown *required* name is an error.
pub fn parse_features(s: &str, supported: &mut u32, required: &mut u32) -> Result<()> {
    for tok in s.split('|').filter(|t| !t.is_empty()) {
        let (req, name) = match tok.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, tok),
        };
        match FEATURE_NAMES.iter().find(|(_, n)| *n == name) {
            Some(&(bit, _)) => {
                *supported |= 1 << bit;
                if req {
                    *required |= 1 << bit;
                }
            }
            None if req => {
                return Err(Error::NotPvKernel {
                    what: format!("the kernel requires the unknown Xen feature \"{name}\""),
                })
            }
            None => {}
        }
    }
    Ok(())
}

impl XenNotes {
    fn note(&mut self, ty: u32, desc: &[u8]) -> Result<()> {
        match ty {
            ty::ENTRY => self.entry = Some(numeric(desc)),
            ty::HYPERCALL_PAGE => self.hypercall_page = Some(numeric(desc)),
            ty::VIRT_BASE => self.virt_base = Some(numeric(desc)),
            ty::PADDR_OFFSET => self.paddr_offset = Some(numeric(desc)),
            ty::XEN_VERSION => self.xen_version = Some(string_of(desc)),
            ty::GUEST_OS => self.guest_os = Some(string_of(desc)),
            ty::GUEST_VERSION => self.guest_version = Some(string_of(desc)),
            ty::LOADER => self.loader = Some(string_of(desc)),
            ty::PAE_MODE => self.pae_mode = Some(string_of(desc)),
            ty::FEATURES => {
                let s = string_of(desc);
                parse_features(&s, &mut self.f_supported, &mut self.f_required)?;
                self.features = Some(s);
            }
            ty::BSD_SYMTAB if string_of(desc) == "yes" => self.bsd_symtab = true,
            ty::HV_START_LOW => self.hv_start_low = Some(numeric(desc)),
            ty::L1_MFN_VALID => {
                let v = desc.chunks_exact(8).filter_map(|c| u64_at(c, 0)).collect();
                self.l1_mfn_valid = Some(v);
            }
            ty::SUSPEND_CANCEL => self.suspend_cancel = Some(numeric(desc)),
            ty::INIT_P2M => self.init_p2m = Some(numeric(desc)),
            ty::MOD_START_PFN => self.mod_start_pfn = Some(numeric(desc)),
            ty::SUPPORTED_FEATURES => {
                let v = u32_at(desc, 0).unwrap_or(0);
                self.f_supported |= v;
                self.supported_features = Some(v);
            }
            ty::PHYS32_ENTRY => self.phys32_entry = Some(numeric(desc)),
            _ => {} // INFO, PHYS32_RELOC, unknown: ignored, as libelf does for PV.
        }
        Ok(())
    }

    /// Parse a run of ELF notes; returns how many were Xen notes.
    fn parse_notes(&mut self, d: &[u8], total: &mut u32) -> Result<u32> {
        let mut pos = 0usize;
        let mut xen = 0;
        while pos < d.len() {
            if *total >= MAX_NOTES {
                return Err(Error::BadElf { what: "too many ELF notes", value: u64::from(*total) });
            }
            *total += 1;
            let (Some(namesz), Some(descsz), Some(ty)) = (u32_at(d, pos), u32_at(d, pos + 4), u32_at(d, pos + 8))
            else {
                break; // A truncated note ends the list (libelf reads it as absent).
            };
            let name_at = pos + 12;
            let desc_at = round_up(name_at as u64 + u64::from(namesz), 4).unwrap_or(u64::MAX);
            let next = round_up(desc_at.saturating_add(u64::from(descsz)), 4).unwrap_or(u64::MAX);
            let name = super::bytes::range(d, name_at as u64, u64::from(namesz));
            let desc = super::bytes::range(d, desc_at, u64::from(descsz));
            let (Some(name), Some(desc)) = (name, desc) else {
                break;
            };
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            if name == b"Xen" {
                self.note(ty, desc)?;
                xen += 1;
            }
            pos = usize::try_from(next).unwrap_or(usize::MAX);
        }
        Ok(xen)
    }

    /// libelf `elf_xen_parse` (PV): PT_NOTE segments, else SHT_NOTE sections, else
    /// `__xen_guest`. Values only; the checks are in [`XenNotes::check`].
    pub fn from_elf(elf: &Elf64<'_>) -> Result<Self> {
        let mut n = XenNotes::default();
        let mut total = 0u32;
        let mut xen = 0u32;
        for p in elf.phdrs.iter().filter(|p| p.p_type == PT_NOTE && p.p_offset != 0) {
            if let Some(d) = super::bytes::range(elf.data, p.p_offset, p.p_filesz) {
                xen += n.parse_notes(d, &mut total)?;
            }
        }
        if xen > 0 {
            n.source = NoteSource::Segments;
        } else {
            for s in elf.shdrs.iter().skip(1).filter(|s| s.sh_type == SHT_NOTE) {
                if let Ok(d) = elf.section_data(s) {
                    xen += n.parse_notes(d, &mut total)?;
                }
            }
            if xen > 0 {
                n.source = NoteSource::Sections;
            }
        }
        n.count = xen;
        if xen == 0 {
            if let Some(s) = elf.section_by_name(b"__xen_guest") {
                let d = elf.section_data(s)?;
                n = XenNotes::default();
                n.parse_guest_info(d)?;
                n.source = NoteSource::LegacyGuestSection;
            }
        }
        Ok(n)
    }

    /// libelf `elf_xen_parse_guest_info`: `NAME=VALUE,...` with names up to 31 and values up
    /// to 127 characters (longer ones are cut where libelf cuts them).
    pub fn parse_guest_info(&mut self, d: &[u8]) -> Result<()> {
        let at = |h: usize| d.get(h).copied().unwrap_or(0);
        let mut h = 0usize;
        while at(h) != 0 {
            let mut name = Vec::new();
            let mut value = Vec::new();
            loop {
                if name.len() >= 31 || at(h) == 0 {
                    break;
                }
                if at(h) == b',' {
                    h += 1;
                    break;
                }
                if at(h) == b'=' {
                    h += 1;
                    loop {
                        if value.len() >= 127 || at(h) == 0 {
                            break;
                        }
                        if at(h) == b',' {
                            h += 1;
                            break;
                        }
                        value.push(at(h));
                        h += 1;
                    }
                    break;
                }
                name.push(at(h));
                h += 1;
            }
            let v = String::from_utf8_lossy(&value).into_owned();
            match &name[..] {
                b"LOADER" => self.loader = Some(v),
                b"GUEST_OS" => self.guest_os = Some(v),
                b"GUEST_VER" => self.guest_version = Some(v),
                b"XEN_VER" => self.xen_version = Some(v),
                b"PAE" => self.pae_mode = Some(v),
                b"BSD_SYMTAB" => self.bsd_symtab = true,
                b"VIRT_BASE" => self.virt_base = Some(strtoull(&value)),
                b"VIRT_ENTRY" => self.entry = Some(strtoull(&value)),
                b"ELF_PADDR_OFFSET" => self.paddr_offset = Some(strtoull(&value)),
                b"HYPERCALL_PAGE" => self.hypercall_page = Some(strtoull(&value) << 12),
                b"FEATURES" => {
                    parse_features(&v, &mut self.f_supported, &mut self.f_required)?;
                    self.features = Some(v);
                }
                _ => {}
            }
        }
        // The legacy HYPERCALL_PAGE is a PFN relative to VIRT_BASE.
        if let (Some(base), Some(hp)) = (self.virt_base, self.hypercall_page) {
            self.hypercall_page = Some(hp.wrapping_add(base));
        }
        Ok(())
    }

    /// libelf `elf_xen_note_check` (PV): notes or `__xen_guest` present, LOADER "generic" or
    /// GUEST_OS "linux", XEN_VERSION "xen-3.0"; then libxc's feature checks.
    pub fn check(&self) -> Result<()> {
        let fail = |what: String| Err(Error::NotPvKernel { what });
        if self.source == NoteSource::None {
            return fail("no Xen ELF notes and no __xen_guest section".into());
        }
        let loader = self.loader.as_deref().unwrap_or("");
        let os = self.guest_os.as_deref().unwrap_or("");
        if !loader.starts_with("generic") && !os.starts_with("linux") {
            return fail(format!(
                "LOADER is \"{loader}\" and GUEST_OS is \"{os}\": only the generic loader or Linux images are loaded"
            ));
        }
        let ver = self.xen_version.as_deref().unwrap_or("");
        if !ver.starts_with("xen-3.0") {
            return fail(format!("XEN_VERSION is \"{ver}\", not xen-3.0"));
        }
        // Features a PV domU cannot have: refused by name (libxc refuses dom0 and
        // auto_translated_physmap; the other two Xen would refuse later).
        for (bit, name) in FEATURE_NAMES {
            let unavailable = matches!(bit, 2 | 3 | 8 | 11);
            if unavailable && self.f_required & (1 << bit) != 0 {
                return fail(format!(
                    "the kernel requires the Xen feature \"{name}\", which a PV domU does not provide"
                ));
            }
        }
        Ok(())
    }
}

/// The kernel's `__NetBSD_Version__` from its `.note.netbsd.ident` (an `SHT_NOTE` section:
/// owner `NetBSD`, type 1, a 4-byte little-endian number such as 799000400 for 7.99.4), which
/// NetBSD's boot(8) reads to find the kernel's modules. `None` when there is none.
pub fn netbsd_version(elf: &Elf64<'_>) -> Option<u32> {
    for s in elf.shdrs.iter().skip(1).filter(|s| s.sh_type == SHT_NOTE) {
        let Ok(d) = elf.section_data(s) else { continue };
        let mut pos = 0usize;
        // Each note moves `pos` forward by at least 12 bytes, or the walk ends.
        while let (Some(namesz), Some(descsz), Some(ty)) =
            (u32_at(d, pos), u32_at(d, pos.saturating_add(4)), u32_at(d, pos.saturating_add(8)))
        {
            let name_at = pos.saturating_add(12) as u64;
            let desc_at = round_up(name_at.saturating_add(u64::from(namesz)), 4)?;
            let name = super::bytes::range(d, name_at, u64::from(namesz))?;
            let desc = super::bytes::range(d, desc_at, u64::from(descsz))?;
            if name.split(|&b| b == 0).next() == Some(b"NetBSD".as_slice()) && ty == 1 && descsz == 4 {
                return u32_at(desc, 0);
            }
            let next = round_up(desc_at.saturating_add(u64::from(descsz)), 4)?;
            pos = usize::try_from(next).ok()?;
        }
    }
    None
}

/// C `strtoull(s, NULL, 0)`: optional sign, `0x` hex, leading-`0` octal, else decimal; stops
/// at the first invalid digit, saturates on overflow.
pub fn strtoull(s: &[u8]) -> u64 {
    let mut i = 0;
    while s.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    let mut neg = false;
    if let Some(&c @ (b'+' | b'-')) = s.get(i) {
        neg = c == b'-';
        i += 1;
    }
    let mut base = 10u64;
    if s.get(i) == Some(&b'0') {
        if matches!(s.get(i + 1), Some(b'x' | b'X')) && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit) {
            base = 16;
            i += 2;
        } else {
            base = 8;
        }
    }
    let mut v: u64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(base as u32)) {
        match v.checked_mul(base).and_then(|x| x.checked_add(u64::from(d))) {
            Some(n) => v = n,
            None => overflow = true,
        }
        i += 1;
    }
    if overflow {
        u64::MAX
    } else if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoull_like_c() {
        assert_eq!(strtoull(b"0xffffffff80000000"), 0xffff_ffff_8000_0000);
        assert_eq!(strtoull(b"010"), 8);
        assert_eq!(strtoull(b"  42junk"), 42);
        assert_eq!(strtoull(b"0x"), 0);
        assert_eq!(strtoull(b""), 0);
        assert_eq!(strtoull(b"-1"), u64::MAX);
        assert_eq!(strtoull(b"99999999999999999999999"), u64::MAX);
    }

    #[test]
    fn guest_info_like_libelf() {
        let mut n = XenNotes::default();
        n.parse_guest_info(
            b"GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0xffffffff80000000,HYPERCALL_PAGE=0x2,LOADER=generic,BSD_SYMTAB\0ignored",
        )
        .unwrap();
        assert_eq!(n.guest_os.as_deref(), Some("linux"));
        assert_eq!(n.xen_version.as_deref(), Some("xen-3.0"));
        assert_eq!(n.virt_base, Some(0xffff_ffff_8000_0000));
        // HYPERCALL_PAGE is a PFN, scaled and rebased.
        assert_eq!(n.hypercall_page, Some(0xffff_ffff_8000_2000));
        assert!(n.bsd_symtab);
        // Over-long names and values are cut where libelf cuts them, without panicking.
        let long = [b'A'; 300];
        let mut n = XenNotes::default();
        n.parse_guest_info(&long).unwrap();
        let mut v = b"LOADER=".to_vec();
        v.extend([b'g'; 200]);
        let mut n = XenNotes::default();
        n.parse_guest_info(&v).unwrap();
        assert_eq!(n.loader.map(|s| s.len()), Some(127));
    }

    #[test]
    fn features_required_and_unknown() {
        let (mut s, mut r) = (0, 0);
        parse_features("!writable_page_tables|pae_pgdir_above_4gb|whatever", &mut s, &mut r).unwrap();
        assert_eq!((s, r), (0b10001, 0b1));
        let e = parse_features("!frobnicate", &mut s, &mut r).unwrap_err();
        assert!(e.to_string().contains("frobnicate"));
    }

    #[test]
    fn note_walk_survives_garbage() {
        let mut n = XenNotes::default();
        let mut total = 0;
        // namesz huge, descsz huge, truncated: stops, no panic.
        let d = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, b'X'];
        assert_eq!(n.parse_notes(&d, &mut total).unwrap(), 0);
        // A well-formed ENTRY note with an odd descsz reads as 0, as in libelf.
        let mut d = vec![4, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0];
        d.extend(b"Xen\0");
        d.extend([1, 2, 3, 0]);
        assert_eq!(n.parse_notes(&d, &mut total).unwrap(), 1);
        assert_eq!(n.entry, Some(0));
    }
}
