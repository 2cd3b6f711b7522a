//! A checked copy of the PVH `hvm_start_info` (xen/include/public/arch-x86/hvm/start_info.h)
//! and of the tables it points to (module list, memory map), parsed from bytes the caller read
//! at the physical addresses. The structure is written by the domain builder; it is trusted
//! only as far as these checks go: the magic, sizes that fit, counts that are bounded.
//!
//! Layout (little endian, all versions):
//!
//! ```text
//!  0 u32 magic 0x336ec578   4 u32 version   8 u32 flags   12 u32 nr_modules
//! 16 u64 modlist_paddr     24 u64 cmdline_paddr          32 u64 rsdp_paddr
//! version >= 1:  40 u64 memmap_paddr   48 u32 memmap_entries   52 u32 reserved
//! module entry (32 bytes): u64 paddr, u64 size, u64 cmdline_paddr, u64 reserved
//! memory map entry (24 bytes): u64 addr, u64 size, u32 type, u32 reserved
//! ```

use core::fmt;

/// `XEN_HVM_START_MAGIC_VALUE`.
pub const MAGIC: u32 = 0x336e_c578;
/// Bytes of the structure up to and including version 1's fields.
pub const SIZE_V1: usize = 56;
/// Bytes of version 0's structure.
pub const SIZE_V0: usize = 40;
/// Bytes of one module list entry.
pub const MODULE_SIZE: usize = 32;
/// Bytes of one memory map entry.
pub const MEMMAP_SIZE: usize = 24;
/// Memory map entries accepted at most (E820 tables are short; this bounds the copy).
pub const MAX_MEMMAP: u32 = 128;
/// Modules accepted at most.
pub const MAX_MODULES: u32 = 16;
/// `XEN_HVM_MEMMAP_TYPE_RAM` (E820 type 1).
pub const TYPE_RAM: u32 = 1;

/// Why `hvm_start_info` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HvmStartInfoError {
    /// Fewer bytes than the version needs.
    Short(usize),
    /// The magic is not `0x336ec578`.
    BadMagic(u32),
    /// A count beyond what we accept: its name and value.
    TooMany(&'static str, u32),
}

impl fmt::Display for HvmStartInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Short(n) => write!(f, "hvm_start_info: only {n} bytes"),
            Self::BadMagic(m) => write!(f, "hvm_start_info magic {m:#x} is not {MAGIC:#x}"),
            Self::TooMany(what, n) => write!(f, "hvm_start_info: {n} {what} is more than rpvboot accepts"),
        }
    }
}

/// The fields rpvboot uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HvmStartInfo {
    pub version: u32,
    pub flags: u32,
    pub nr_modules: u32,
    pub modlist_paddr: u64,
    pub cmdline_paddr: u64,
    pub rsdp_paddr: u64,
    /// Version 1: where the memory map is, and how many entries (0 and 0 for version 0).
    pub memmap_paddr: u64,
    pub memmap_entries: u32,
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off.checked_add(4)?)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off.checked_add(8)?)?.try_into().ok()?))
}

impl HvmStartInfo {
    /// Parses the structure from its first bytes ([`SIZE_V1`] if the caller could read them).
    pub fn parse(b: &[u8]) -> Result<Self, HvmStartInfoError> {
        let short = HvmStartInfoError::Short(b.len());
        let magic = u32_at(b, 0).ok_or(short.clone())?;
        if magic != MAGIC {
            return Err(HvmStartInfoError::BadMagic(magic));
        }
        let version = u32_at(b, 4).ok_or(short.clone())?;
        let mut si = HvmStartInfo {
            version,
            flags: u32_at(b, 8).ok_or(short.clone())?,
            nr_modules: u32_at(b, 12).ok_or(short.clone())?,
            modlist_paddr: u64_at(b, 16).ok_or(short.clone())?,
            cmdline_paddr: u64_at(b, 24).ok_or(short.clone())?,
            rsdp_paddr: u64_at(b, 32).ok_or(short.clone())?,
            memmap_paddr: 0,
            memmap_entries: 0,
        };
        if version >= 1 {
            si.memmap_paddr = u64_at(b, 40).ok_or(short.clone())?;
            si.memmap_entries = u32_at(b, 48).ok_or(short)?;
        }
        if si.nr_modules > MAX_MODULES {
            return Err(HvmStartInfoError::TooMany("modules", si.nr_modules));
        }
        if si.memmap_entries > MAX_MEMMAP {
            return Err(HvmStartInfoError::TooMany("memory map entries", si.memmap_entries));
        }
        Ok(si)
    }
}

/// One memory map entry (E820 numbering of types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemEntry {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
}

impl MemEntry {
    /// Whether this is usable RAM.
    pub fn is_ram(&self) -> bool {
        self.kind == TYPE_RAM
    }
    /// End address (saturating).
    pub fn end(&self) -> u64 {
        self.addr.saturating_add(self.size)
    }
}

/// Parses memory map entries of `stride` bytes (24 for `hvm_start_info`, 20 for the packed
/// E820 entries of `XENMEM_memory_map`): `u64 addr, u64 size, u32 type`. Trailing partial
/// entries are ignored.
pub fn parse_memmap(b: &[u8], stride: usize) -> impl Iterator<Item = MemEntry> + '_ {
    let stride = stride.max(20);
    b.chunks_exact(stride)
        .filter_map(|e| Some(MemEntry { addr: u64_at(e, 0)?, size: u64_at(e, 8)?, kind: u32_at(e, 16)? }))
}

/// One module: where it is and how big.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Module {
    pub paddr: u64,
    pub size: u64,
    pub cmdline_paddr: u64,
}

/// Parses module list entries.
pub fn parse_modules(b: &[u8]) -> impl Iterator<Item = Module> + '_ {
    b.chunks_exact(MODULE_SIZE)
        .filter_map(|e| Some(Module { paddr: u64_at(e, 0)?, size: u64_at(e, 8)?, cmdline_paddr: u64_at(e, 16)? }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes laid out field by field as start_info.h declares them.
    fn v1(magic: u32, nr_modules: u32, memmap_entries: u32) -> [u8; SIZE_V1] {
        let mut b = [0u8; SIZE_V1];
        let mut put = |off: usize, v: &[u8]| b[off..off + v.len()].copy_from_slice(v);
        put(0, &magic.to_le_bytes());
        put(4, &1u32.to_le_bytes());
        put(8, &0u32.to_le_bytes());
        put(12, &nr_modules.to_le_bytes());
        put(16, &0x20_0000u64.to_le_bytes());
        put(24, &0x20_1000u64.to_le_bytes());
        put(32, &0xe_0000u64.to_le_bytes());
        put(40, &0x20_2000u64.to_le_bytes());
        put(48, &memmap_entries.to_le_bytes());
        b
    }

    #[test]
    fn parses_version_1() {
        let si = HvmStartInfo::parse(&v1(MAGIC, 1, 3)).unwrap();
        assert_eq!(si.version, 1);
        assert_eq!(si.nr_modules, 1);
        assert_eq!(si.modlist_paddr, 0x20_0000);
        assert_eq!(si.cmdline_paddr, 0x20_1000);
        assert_eq!(si.rsdp_paddr, 0xe_0000);
        assert_eq!(si.memmap_paddr, 0x20_2000);
        assert_eq!(si.memmap_entries, 3);
    }

    #[test]
    fn version_0_has_no_memmap_and_bad_input_is_refused() {
        let mut b = v1(MAGIC, 0, 3);
        b[4] = 0;
        let si = HvmStartInfo::parse(&b[..SIZE_V0]).unwrap();
        assert_eq!((si.memmap_paddr, si.memmap_entries), (0, 0));
        assert_eq!(HvmStartInfo::parse(&v1(0x1234, 0, 0)), Err(HvmStartInfoError::BadMagic(0x1234)));
        assert_eq!(HvmStartInfo::parse(&v1(MAGIC, 0, 0)[..SIZE_V0]), Err(HvmStartInfoError::Short(SIZE_V0)));
        assert!(matches!(HvmStartInfo::parse(&v1(MAGIC, 0, 1000)), Err(HvmStartInfoError::TooMany(..))));
        assert!(matches!(HvmStartInfo::parse(&v1(MAGIC, 99, 0)), Err(HvmStartInfoError::TooMany(..))));
    }

    #[test]
    fn memory_maps_of_both_strides() {
        let mut b = Vec::new();
        for (a, s, t) in [(0u64, 0x400_0000u64, 1u32), (0xfc00_0000, 0x100_0000, 2)] {
            b.extend_from_slice(&a.to_le_bytes());
            b.extend_from_slice(&s.to_le_bytes());
            b.extend_from_slice(&t.to_le_bytes());
        }
        let packed: Vec<MemEntry> = parse_memmap(&b, 20).collect();
        assert_eq!(packed.len(), 2);
        assert!(packed[0].is_ram() && !packed[1].is_ram());
        assert_eq!(packed[1].end(), 0xfd00_0000);
        let mut padded = Vec::new();
        for e in b.chunks(20) {
            padded.extend_from_slice(e);
            padded.extend_from_slice(&[0; 4]);
        }
        assert_eq!(parse_memmap(&padded, MEMMAP_SIZE).collect::<Vec<_>>(), packed);
        let mut m = Vec::new();
        for v in [0x30_0000u64, 0x1000, 0x20_1100, 0] {
            m.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(
            parse_modules(&m).collect::<Vec<_>>(),
            [Module { paddr: 0x30_0000, size: 0x1000, cmdline_paddr: 0x20_1100 }]
        );
    }
}
