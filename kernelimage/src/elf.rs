//! A minimal, bounds-checked ELF64 (little-endian, x86_64) reader: headers, program and
//! section headers, section names. Only what the PV loader needs.

use super::bytes::{range, u16_at, u32_at, u64_at};
use super::error::{Error, Result};
use alloc::vec::Vec;

/// `PT_LOAD`.
pub const PT_LOAD: u32 = 1;
/// `PT_NOTE`.
pub const PT_NOTE: u32 = 4;
/// `SHT_SYMTAB`.
pub const SHT_SYMTAB: u32 = 2;
/// `SHT_STRTAB`.
pub const SHT_STRTAB: u32 = 3;
/// `SHT_NOTE`.
pub const SHT_NOTE: u32 = 7;
/// `SHT_NOBITS`.
pub const SHT_NOBITS: u32 = 8;
/// Size of `Elf64_Ehdr`.
pub const EHDR_SIZE: usize = 64;
/// Size of `Elf64_Phdr`.
pub const PHDR_SIZE: usize = 56;
/// Size of `Elf64_Shdr`.
pub const SHDR_SIZE: usize = 64;

/// The ELF header fields used here (plus its raw bytes for the BSD symbol block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ehdr {
    /// `e_type`.
    pub e_type: u16,
    /// `e_machine`.
    pub e_machine: u16,
    /// `e_entry`.
    pub e_entry: u64,
    /// `e_phoff`.
    pub e_phoff: u64,
    /// `e_shoff`.
    pub e_shoff: u64,
    /// `e_phnum`.
    pub e_phnum: u16,
    /// `e_shnum`.
    pub e_shnum: u16,
    /// `e_shstrndx`.
    pub e_shstrndx: u16,
    /// The 64 header bytes as in the file.
    pub raw: [u8; EHDR_SIZE],
}

/// A program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phdr {
    /// `p_type`.
    pub p_type: u32,
    /// `p_flags`.
    pub p_flags: u32,
    /// `p_offset`.
    pub p_offset: u64,
    /// `p_vaddr`.
    pub p_vaddr: u64,
    /// `p_paddr`.
    pub p_paddr: u64,
    /// `p_filesz`.
    pub p_filesz: u64,
    /// `p_memsz`.
    pub p_memsz: u64,
    /// `p_align`.
    pub p_align: u64,
}

impl Phdr {
    /// libelf `elf_phdr_is_loadable`: PT_LOAD with at least one of R, W, X.
    pub fn is_loadable(&self) -> bool {
        self.p_type == PT_LOAD && self.p_flags & 7 != 0
    }
}

/// A section header (plus its raw bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shdr {
    /// `sh_name`.
    pub sh_name: u32,
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_offset`.
    pub sh_offset: u64,
    /// `sh_size`.
    pub sh_size: u64,
    /// `sh_link`.
    pub sh_link: u32,
    /// The 64 header bytes as in the file.
    pub raw: [u8; SHDR_SIZE],
}

/// A parsed ELF64 file borrowing its bytes.
#[derive(Debug, Clone)]
pub struct Elf64<'a> {
    /// The whole file.
    pub data: &'a [u8],
    /// The ELF header.
    pub ehdr: Ehdr,
    /// Program headers.
    pub phdrs: Vec<Phdr>,
    /// Section headers (empty if the file has none).
    pub shdrs: Vec<Shdr>,
}

fn bad(what: &'static str, value: u64) -> Error {
    Error::BadElf { what, value }
}

impl<'a> Elf64<'a> {
    /// Parse and bounds-check the headers.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let raw: [u8; EHDR_SIZE] = data
            .get(..EHDR_SIZE)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::Truncated { what: "ELF header", offset: data.len() as u64 })?;
        if !data.starts_with(b"\x7fELF") {
            return Err(bad("no ELF magic", 0));
        }
        let h = &raw[..];
        let class = h.get(4).copied().unwrap_or(0);
        let enc = h.get(5).copied().unwrap_or(0);
        if class != 2 {
            return Err(Error::Unsupported {
                what: "ELF32 kernel: 32-bit (and PAE) PV kernels are not supported".into(),
            });
        }
        if enc != 1 {
            return Err(Error::Unsupported { what: "big-endian ELF".into() });
        }
        let g16 = |o| u16_at(h, o).unwrap_or(0);
        let g64 = |o| u64_at(h, o).unwrap_or(0);
        let ehdr = Ehdr {
            e_type: g16(16),
            e_machine: g16(18),
            e_entry: g64(24),
            e_phoff: g64(32),
            e_shoff: g64(40),
            e_phnum: g16(56),
            e_shnum: g16(60),
            e_shstrndx: g16(62),
            raw,
        };
        if ehdr.e_machine != 62 {
            return Err(Error::Unsupported {
                what: alloc::format!("ELF64 for machine {} (not x86_64)", ehdr.e_machine),
            });
        }
        let phentsize = g16(54);
        let shentsize = g16(58);
        let mut phdrs = Vec::new();
        if ehdr.e_phnum > 0 {
            if usize::from(phentsize) != PHDR_SIZE {
                return Err(bad("e_phentsize", u64::from(phentsize)));
            }
            let table = range(data, ehdr.e_phoff, u64::from(ehdr.e_phnum) * PHDR_SIZE as u64)
                .ok_or(bad("program headers outside the file (e_phoff)", ehdr.e_phoff))?;
            for p in table.chunks_exact(PHDR_SIZE) {
                phdrs.push(Phdr {
                    p_type: u32_at(p, 0).unwrap_or(0),
                    p_flags: u32_at(p, 4).unwrap_or(0),
                    p_offset: u64_at(p, 8).unwrap_or(0),
                    p_vaddr: u64_at(p, 16).unwrap_or(0),
                    p_paddr: u64_at(p, 24).unwrap_or(0),
                    p_filesz: u64_at(p, 32).unwrap_or(0),
                    p_memsz: u64_at(p, 40).unwrap_or(0),
                    p_align: u64_at(p, 48).unwrap_or(0),
                });
            }
        }
        let mut shdrs = Vec::new();
        if ehdr.e_shnum > 0 && ehdr.e_shoff != 0 {
            if usize::from(shentsize) != SHDR_SIZE {
                return Err(bad("e_shentsize", u64::from(shentsize)));
            }
            let table = range(data, ehdr.e_shoff, u64::from(ehdr.e_shnum) * SHDR_SIZE as u64)
                .ok_or(bad("section headers outside the file (e_shoff)", ehdr.e_shoff))?;
            for s in table.chunks_exact(SHDR_SIZE) {
                shdrs.push(Shdr {
                    sh_name: u32_at(s, 0).unwrap_or(0),
                    sh_type: u32_at(s, 4).unwrap_or(0),
                    sh_offset: u64_at(s, 24).unwrap_or(0),
                    sh_size: u64_at(s, 32).unwrap_or(0),
                    sh_link: u32_at(s, 40).unwrap_or(0),
                    raw: s.try_into().unwrap_or([0; SHDR_SIZE]),
                });
            }
        }
        Ok(Elf64 { data, ehdr, phdrs, shdrs })
    }

    /// The file bytes of a segment (`p_offset`, `p_filesz`).
    pub fn segment_data(&self, p: &Phdr) -> Result<&'a [u8]> {
        range(self.data, p.p_offset, p.p_filesz)
            .ok_or(bad("segment data outside the file (p_offset + p_filesz)", p.p_offset))
    }

    /// The file bytes of a section (empty for SHT_NOBITS).
    pub fn section_data(&self, s: &Shdr) -> Result<&'a [u8]> {
        if s.sh_type == SHT_NOBITS {
            return Ok(&[]);
        }
        range(self.data, s.sh_offset, s.sh_size)
            .ok_or(bad("section data outside the file (sh_offset + sh_size)", s.sh_offset))
    }

    /// The name of a section, from the section-name string table (`None` if unavailable).
    pub fn section_name(&self, s: &Shdr) -> Option<&'a [u8]> {
        let strtab = self.shdrs.get(usize::from(self.ehdr.e_shstrndx))?;
        let names = self.section_data(strtab).ok()?;
        let rest = names.get(usize::try_from(s.sh_name).ok()?..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        rest.get(..end)
    }

    /// The first section called `name`.
    pub fn section_by_name(&self, name: &[u8]) -> Option<&Shdr> {
        self.shdrs.iter().skip(1).find(|s| self.section_name(s) == Some(name))
    }
}
