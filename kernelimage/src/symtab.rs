//! The BSD symbol-table block that libelf appends after the kernel when it declares
//! `BSD_SYMTAB` (`elf_parse_bsdsyms` / `elf_load_bsdsyms`, Xen 4.17): a size word, then an
//! in-memory ELF file (adjusted header, 3 section headers, .symtab, .strtab). NetBSD reads it at
//! its `end` symbol (`ksyms_addsyms_elf(*(int *)&end, (int *)&end + 1, esym)`).

use super::bytes::round_up;
use super::elf::{Elf64, EHDR_SIZE, SHDR_SIZE, SHT_STRTAB, SHT_SYMTAB};
use super::error::{Error, Result};
use alloc::vec::Vec;

/// Offset of the symbol table in the block: `round8(4 + 64 + 3*64)`.
pub const SYMTAB_OFFSET: u64 = 264;
/// Offset of the ELF header in the block (after the size word).
pub const EHDR_OFFSET: usize = 4;
const ALIGN: u64 = 8;

/// Where the block goes and which sections it copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BsdSymtab {
    /// Block start in the ELF's p_paddr space: `round8(pend)`.
    pub pstart: u64,
    /// Reserved size (the kernel segment grows by `pstart + size - pend`).
    pub size: u64,
    /// Index of the SHT_SYMTAB section.
    pub symtab: usize,
    /// Index of its string table (`sh_link`).
    pub strtab: usize,
    /// Offset of the string table in the block.
    pub strtab_offset: u64,
    /// The value of the size word: end of the string table minus the ELF header start.
    pub size_word: u32,
}

/// libelf `elf_init`'s symbol table search: the first SHT_SYMTAB whose `sh_link` is valid.
fn find_symtab(elf: &Elf64<'_>) -> Option<(usize, usize)> {
    let count = elf.shdrs.len();
    for (i, s) in elf.shdrs.iter().enumerate().skip(1) {
        if s.sh_type != SHT_SYMTAB {
            continue;
        }
        let link = usize::try_from(s.sh_link).ok()?;
        if link == 0 || link >= count {
            return None;
        }
        return Some((i, link));
    }
    None
}

/// libelf `elf_parse_bsdsyms`: plan the block for a kernel whose loadable segments end at
/// `pend`. `None` when the kernel has no usable symbol table (libelf then loads no block).
pub fn plan(elf: &Elf64<'_>, pend: u64) -> Result<Option<BsdSymtab>> {
    let Some((si, li)) = find_symtab(elf) else {
        return Ok(None);
    };
    let (Some(sym), Some(str_)) = (elf.shdrs.get(si), elf.shdrs.get(li)) else {
        return Ok(None);
    };
    if str_.sh_type != SHT_STRTAB {
        return Ok(None);
    }
    // The bytes must exist in the file.
    elf.section_data(sym)?;
    elf.section_data(str_)?;
    let overflow = || Error::BadElf { what: "symbol table size overflows", value: sym.sh_size };
    let pstart = round_up(pend, ALIGN).ok_or_else(overflow)?;
    let strtab_offset =
        round_up(SYMTAB_OFFSET.checked_add(sym.sh_size).ok_or_else(overflow)?, ALIGN).ok_or_else(overflow)?;
    let str_end = strtab_offset.checked_add(str_.sh_size).ok_or_else(overflow)?;
    let size = round_up(str_end, ALIGN).ok_or_else(overflow)?;
    pstart.checked_add(size).ok_or_else(overflow)?;
    let size_word = u32::try_from(str_end - EHDR_OFFSET as u64).map_err(|_| overflow())?;
    Ok(Some(BsdSymtab { pstart, size, symtab: si, strtab: li, strtab_offset, size_word }))
}

fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(off..off + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// libelf `elf_load_bsdsyms`: the block's bytes (`plan.size` long, gaps zero).
pub fn build(elf: &Elf64<'_>, plan: &BsdSymtab) -> Result<Vec<u8>> {
    let len = usize::try_from(plan.size).map_err(|_| Error::OutOfMemory { bytes: plan.size })?;
    let mut b = Vec::new();
    b.try_reserve_exact(len).map_err(|_| Error::OutOfMemory { bytes: plan.size })?;
    b.resize(len, 0);
    let sym = elf.shdrs.get(plan.symtab).ok_or(Error::BadElf { what: "symtab index", value: plan.symtab as u64 })?;
    let strs = elf.shdrs.get(plan.strtab).ok_or(Error::BadElf { what: "strtab index", value: plan.strtab as u64 })?;
    let e = EHDR_OFFSET;
    put(&mut b, 0, &plan.size_word.to_le_bytes());
    // ELF header copy, adjusted (offsets are from the header, B+4).
    put(&mut b, e, &elf.ehdr.raw);
    put(&mut b, e + 20, &1u32.to_le_bytes()); // e_version = EV_CURRENT
    put(&mut b, e + 32, &0u64.to_le_bytes()); // e_phoff
    put(&mut b, e + 40, &(EHDR_SIZE as u64).to_le_bytes()); // e_shoff
    put(&mut b, e + 52, &(EHDR_SIZE as u16).to_le_bytes()); // e_ehsize
    put(&mut b, e + 54, &0u16.to_le_bytes()); // e_phentsize
    put(&mut b, e + 56, &0u16.to_le_bytes()); // e_phnum
    put(&mut b, e + 58, &(SHDR_SIZE as u16).to_le_bytes()); // e_shentsize
    put(&mut b, e + 60, &3u16.to_le_bytes()); // e_shnum
    put(&mut b, e + 62, &0u16.to_le_bytes()); // e_shstrndx
                                              // Section header 0 stays zero (libelf leaves it uninitialised: we write zeros).
    let sh1 = e + EHDR_SIZE + SHDR_SIZE;
    put(&mut b, sh1, &sym.raw);
    put(&mut b, sh1 + 24, &(SYMTAB_OFFSET - e as u64).to_le_bytes());
    put(&mut b, sh1 + 40, &2u32.to_le_bytes());
    let sh2 = sh1 + SHDR_SIZE;
    put(&mut b, sh2, &strs.raw);
    put(&mut b, sh2 + 24, &(plan.strtab_offset - e as u64).to_le_bytes());
    put(&mut b, SYMTAB_OFFSET as usize, elf.section_data(sym)?);
    put(&mut b, plan.strtab_offset as usize, elf.section_data(strs)?);
    Ok(b)
}
