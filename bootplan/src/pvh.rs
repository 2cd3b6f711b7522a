//! The PVH handover's pure half (docs/pvh-handover.md): where a PVH-capable kernel
//! ([`kernelimage::PvKernel::parse_pvh`]), its modules and the `hvm_start_info` block go in the
//! domain's physical memory, the block's bytes, and the order in which the trampoline copies
//! everything into place.
//!
//! Placement follows Xen's own PVH builder (libxc `xc_dom_build_image` with an HVM container,
//! `alloc_magic_pages_hvm`, `bootlate_hvm`): the kernel image at its `p_paddr`s, then each
//! module on the next page boundary, then one segment holding `hvm_start_info`, the command
//! line, the `hvm_modlist_entry` array, the modules' command lines and the memory map (for a
//! kernel with a non-zero `MOD_START_PFN` note, such as Linux, that segment comes before the
//! modules, as libxc orders it then). Where
//! rpvboot differs: the module list and its command lines are sized for the modules given
//! (libxc reserves two slots of 1024 bytes each), and every destination must lie in RAM of
//! the domain's memory map and away from what must survive the handover.
//!
//! Nothing here touches memory: the PV kernel (`rpvboot/src/pvh/`) executes [`Staging`].

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use kernelimage::{Container, PvKernel};

/// `XEN_HVM_START_MAGIC_VALUE`.
pub const START_MAGIC: u32 = 0x336e_c578;
/// The `hvm_start_info` version written (1: with the memory map fields).
pub const START_VERSION: u32 = 1;
/// `sizeof(struct hvm_start_info)`, version 1.
pub const START_INFO_SIZE: u64 = 56;
/// `sizeof(struct hvm_modlist_entry)`.
pub const MODLIST_ENTRY_SIZE: u64 = 32;
/// `sizeof(struct hvm_memmap_table_entry)`.
pub const MEMMAP_ENTRY_SIZE: u64 = 24;
/// `XEN_HVM_MEMMAP_TYPE_RAM`.
pub const MEMMAP_RAM: u32 = 1;
/// Page size.
pub const PAGE: u64 = 4096;
/// Most memory-map entries accepted (libxl's `E820MAX`).
pub const MAX_MEMMAP: usize = 128;
/// Most modules handed over.
pub const MAX_MODULES: usize = 32;
/// Most loadable segments a PVH kernel may have (each is one trampoline copy).
pub const MAX_SEGMENTS: usize = 32;
/// Longest command line passed, NUL included (libxc passes any length; Linux keeps 2048).
pub const MAX_CMDLINE: usize = 4096;
/// The highest address a 32-bit entry can reach.
const FOUR_GIB: u64 = 1 << 32;

/// Offsets of `struct hvm_start_info`'s fields (start_info.h's diagram).
pub mod off {
    #![allow(missing_docs)]
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 4;
    pub const FLAGS: usize = 8;
    pub const NR_MODULES: usize = 12;
    pub const MODLIST_PADDR: usize = 16;
    pub const CMDLINE_PADDR: usize = 24;
    pub const RSDP_PADDR: usize = 32;
    pub const MEMMAP_PADDR: usize = 40;
    pub const MEMMAP_ENTRIES: usize = 48;
    pub const RESERVED: usize = 52;
    /// `hvm_modlist_entry`.
    pub const MOD_PADDR: usize = 0;
    pub const MOD_SIZE: usize = 8;
    pub const MOD_CMDLINE_PADDR: usize = 16;
    /// `hvm_memmap_table_entry`.
    pub const MAP_ADDR: usize = 0;
    pub const MAP_SIZE: usize = 8;
    pub const MAP_TYPE: usize = 16;
}

/// One entry of the memory map (`hvm_memmap_table_entry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemmapEntry {
    /// Base address.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// `XEN_HVM_MEMMAP_TYPE_*`.
    pub ty: u32,
}

impl MemmapEntry {
    /// The entry's byte range; `None` when it wraps.
    pub fn range(&self) -> Option<Range<u64>> {
        Some(self.addr..self.addr.checked_add(self.size)?)
    }
}

/// One module to hand over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleIn<'a> {
    /// Its exact length in bytes.
    pub len: u64,
    /// Its command line (`hvm_modlist_entry.cmdline_paddr`), empty for none.
    pub cmdline: &'a [u8],
}

/// Something that must survive the handover in physical memory (the trampoline page, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep {
    /// What it is, for the refusal message.
    pub what: &'static str,
    /// Its physical byte range.
    pub range: Range<u64>,
}

/// What the planner needs.
#[derive(Debug, Clone, Copy)]
pub struct PvhInput<'a> {
    /// The kernel as [`PvKernel::parse_pvh`] read it.
    pub kernel: &'a PvKernel,
    /// Byte length of the BSD symbol block the kernel gets (0 for none).
    pub symbols_len: u64,
    /// Modules in order (module 0 is Linux's initrd).
    pub modules: &'a [ModuleIn<'a>],
    /// The kernel's command line.
    pub cmdline: &'a [u8],
    /// The domain's memory map (rpvboot's own, from its start info), passed on unchanged.
    pub memmap: &'a [MemmapEntry],
    /// `rsdp_paddr` from rpvboot's own start info, passed on.
    pub rsdp_paddr: u64,
    /// Physical ranges no destination may touch.
    pub keep: &'a [Keep],
}

/// Why a PVH handover cannot be planned; nothing has happened yet, the fallback can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PvhError {
    /// The kernel was not read as a PVH kernel.
    NotPvh,
    /// Too many of something (segments, modules, memory-map entries).
    TooMany {
        /// What.
        what: &'static str,
        /// How many.
        have: u64,
        /// The limit.
        max: u64,
    },
    /// Two of the kernel's loadable segments overlap in memory.
    SegmentsOverlap {
        /// The first segment's physical range.
        a: Range<u64>,
        /// The second's.
        b: Range<u64>,
    },
    /// An address computation overflowed or left the 32-bit space.
    Above4G {
        /// What.
        what: &'static str,
        /// Where it would end.
        end: u64,
    },
    /// A destination is not wholly in RAM of the memory map.
    NotInRam {
        /// What.
        what: &'static str,
        /// Its range.
        range: Range<u64>,
    },
    /// A destination overlaps something that must survive.
    Overlaps {
        /// What.
        what: &'static str,
        /// Its range.
        range: Range<u64>,
        /// What it would overwrite.
        keep: &'static str,
    },
}

impl fmt::Display for PvhError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPvh => write!(f, "the kernel was not checked as a PVH kernel"),
            Self::TooMany { what, have, max } => write!(f, "{have} {what}, at most {max} are handed over"),
            Self::SegmentsOverlap { a, b } => {
                write!(f, "loadable segments {:#x}..{:#x} and {:#x}..{:#x} overlap", a.start, a.end, b.start, b.end)
            }
            Self::Above4G { what, end } => write!(f, "{what} would end at {end:#x}, above 4 GiB"),
            Self::NotInRam { what, range } => {
                write!(f, "{what} at {:#x}..{:#x} is not in RAM of the domain's memory map", range.start, range.end)
            }
            Self::Overlaps { what, range, keep } => {
                write!(f, "{what} at {:#x}..{:#x} would overwrite {keep}", range.start, range.end)
            }
        }
    }
}

/// A destination in physical memory: `len` bytes at `paddr`, of which the first `filesz`
/// come from a source and the rest is zeroed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dest {
    /// What it is.
    pub what: DestKind,
    /// Physical start.
    pub paddr: u64,
    /// Bytes copied from the source.
    pub filesz: u64,
    /// Bytes occupied (`filesz` plus the zeroed rest).
    pub memsz: u64,
}

impl Dest {
    /// The occupied byte range (checked at planning time: it does not wrap).
    pub fn range(&self) -> Range<u64> {
        self.paddr..self.paddr.saturating_add(self.memsz)
    }
}

/// Which source a [`Dest`] is filled from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestKind {
    /// Loadable segment `i` of `kernel.segments` (file bytes at its offset in the ELF).
    Segment(usize),
    /// The BSD symbol block.
    Symbols,
    /// Module `i`.
    Module(usize),
    /// [`PvhLayout::info`].
    StartInfo,
}

/// The plan: every destination, the start-info block and the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvhLayout {
    /// Everything written, in load order (segments, symbols, modules, start info).
    pub dests: Vec<Dest>,
    /// Physical address of each module.
    pub modules: Vec<u64>,
    /// `ebx` at entry: physical address of `hvm_start_info` (page-aligned).
    pub start_info_paddr: u64,
    /// The block's bytes: `hvm_start_info`, command line, module list, module command lines,
    /// memory map.
    pub info: Vec<u8>,
    /// `cmdline_paddr`.
    pub cmdline_paddr: u64,
    /// `modlist_paddr` (0 without modules).
    pub modlist_paddr: u64,
    /// `memmap_paddr` (0 without a map).
    pub memmap_paddr: u64,
    /// The `PHYS32_ENTRY` address.
    pub entry: u32,
    /// The first byte past everything placed (page-aligned).
    pub end: u64,
    /// The command line was cut at [`MAX_CMDLINE`].
    pub cmdline_truncated: bool,
}

fn round_page(v: u64, what: &'static str) -> Result<u64, PvhError> {
    v.checked_next_multiple_of(PAGE).ok_or(PvhError::Above4G { what, end: u64::MAX })
}

fn end_of(start: u64, len: u64, what: &'static str) -> Result<u64, PvhError> {
    match start.checked_add(len) {
        Some(e) if e <= FOUR_GIB => Ok(e),
        e => Err(PvhError::Above4G { what, end: e.unwrap_or(u64::MAX) }),
    }
}

fn overlaps(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end
}

/// Whether `r` lies wholly in RAM entries of `map` and touches no entry of another type
/// (libxl's map marks the ACPI tables NVS and the special pages reserved).
pub fn in_ram(map: &[MemmapEntry], r: &Range<u64>) -> bool {
    if r.start >= r.end {
        return true;
    }
    let ranges = || map.iter().filter_map(|e| e.range().map(|g| (e.ty, g)));
    if ranges().any(|(ty, g)| ty != MEMMAP_RAM && overlaps(&g, r)) {
        return false;
    }
    // Walk forward through RAM entries; each step passes one entry's end, so at most
    // `map.len()` steps.
    let mut at = r.start;
    for _ in 0..=map.len() {
        if at >= r.end {
            return true;
        }
        match ranges().filter(|(ty, g)| *ty == MEMMAP_RAM && g.start <= at && at < g.end).map(|(_, g)| g.end).max() {
            Some(e) => at = e,
            None => return false,
        }
    }
    at >= r.end
}

/// The command line as passed: up to an embedded NUL, cut to [`MAX_CMDLINE`] - 1 bytes, NUL
/// added.
fn terminated(s: &[u8]) -> (Vec<u8>, bool) {
    let nul = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    let keep = nul.min(MAX_CMDLINE - 1);
    let mut v = s.get(..keep).unwrap_or_default().to_vec();
    v.push(0);
    (v, keep < nul)
}

/// Plans the PVH layout. Pure: same input, same plan.
pub fn plan(input: &PvhInput<'_>) -> Result<PvhLayout, PvhError> {
    let k = input.kernel;
    if k.container != Container::Pvh {
        return Err(PvhError::NotPvh);
    }
    let too_many = |what, have: usize, max: usize| PvhError::TooMany { what, have: have as u64, max: max as u64 };
    if k.segments.len() > MAX_SEGMENTS {
        return Err(too_many("loadable segments", k.segments.len(), MAX_SEGMENTS));
    }
    if input.modules.len() > MAX_MODULES {
        return Err(too_many("modules", input.modules.len(), MAX_MODULES));
    }
    if input.memmap.len() > MAX_MEMMAP {
        return Err(too_many("memory-map entries", input.memmap.len(), MAX_MEMMAP));
    }
    // The kernel: each segment at its p_paddr (virt_offset is 0 for PVH).
    let mut dests = Vec::new();
    for (i, s) in k.segments.iter().enumerate() {
        end_of(s.va, s.memsz, "a loadable segment")?;
        let d = Dest { what: DestKind::Segment(i), paddr: s.va, filesz: s.filesz, memsz: s.memsz };
        if let Some(o) = dests.iter().find(|o: &&Dest| overlaps(&o.range(), &d.range())) {
            return Err(PvhError::SegmentsOverlap { a: o.range(), b: d.range() });
        }
        dests.push(d);
    }
    if let Some(b) = k.bsd_block_va().filter(|_| input.symbols_len > 0) {
        end_of(b, input.symbols_len, "the BSD symbol block")?;
        dests.push(Dest { what: DestKind::Symbols, paddr: b, filesz: input.symbols_len, memsz: input.symbols_len });
    }
    // Modules, each on the next page after the image (xc_dom_alloc_segment), and the start-info
    // segment (alloc_magic_pages_hvm, bootlate_hvm): after the modules, or before them for a
    // kernel with a non-zero MOD_START_PFN note (Linux): libelf makes it `unmapped_initrd`, and
    // xc_dom_build_image then loads the modules only after the magic pages.
    let image_end = round_page(end_of(k.virt_kstart, k.image_len(), "the kernel image")?, "the kernel image")?;
    let modules_last = k.notes.mod_start_pfn.is_some_and(|v| v != 0);
    let mut cursor = image_end;
    if modules_last {
        // The block's length depends on neither its address nor the modules' addresses.
        let len = start_info(input, 0, &alloc::vec![0; input.modules.len()]).bytes.len() as u64;
        cursor = round_page(end_of(image_end, len, "the start info")?, "the start info")?;
    }
    let mut modules = Vec::new();
    for (i, m) in input.modules.iter().enumerate() {
        let end = end_of(cursor, m.len, "a module")?;
        dests.push(Dest { what: DestKind::Module(i), paddr: cursor, filesz: m.len, memsz: m.len });
        modules.push(cursor);
        cursor = round_page(end, "a module")?;
    }
    let base = if modules_last { image_end } else { cursor };
    let block = start_info(input, base, &modules);
    let info = block.bytes;
    let info_end = end_of(base, info.len() as u64, "the start info")?;
    dests.push(Dest { what: DestKind::StartInfo, paddr: base, filesz: info.len() as u64, memsz: info.len() as u64 });
    let end = round_page(info_end, "the start info")?.max(cursor);
    for d in &dests {
        check_dest(input, d)?;
    }
    let entry = u32::try_from(k.entry).map_err(|_| PvhError::Above4G { what: "the entry", end: k.entry })?;
    Ok(PvhLayout {
        dests,
        modules,
        start_info_paddr: base,
        info,
        cmdline_paddr: block.cmdline_paddr,
        modlist_paddr: block.modlist_paddr,
        memmap_paddr: block.memmap_paddr,
        entry,
        end,
        cmdline_truncated: block.cmdline_truncated,
    })
}

/// The start-info segment's bytes at `base` and the addresses written into it.
struct StartInfoBlock {
    bytes: Vec<u8>,
    cmdline_paddr: u64,
    modlist_paddr: u64,
    memmap_paddr: u64,
    cmdline_truncated: bool,
}

/// `hvm_start_info`, the command line, the module list (`modules`: each module's address), the
/// modules' command lines and the memory map, as one block at `base` (bootlate_hvm's order).
fn start_info(input: &PvhInput<'_>, base: u64, modules: &[u64]) -> StartInfoBlock {
    let (cmdline, cmdline_truncated) = terminated(input.cmdline);
    let mut info = alloc::vec![0u8; START_INFO_SIZE as usize];
    let cmdline_paddr = base + info.len() as u64;
    info.extend_from_slice(&cmdline);
    pad8(&mut info);
    let modlist_at = info.len();
    let modlist_paddr = if modules.is_empty() { 0 } else { base + modlist_at as u64 };
    info.resize(modlist_at + modules.len() * MODLIST_ENTRY_SIZE as usize, 0);
    for (i, (m, &paddr)) in input.modules.iter().zip(modules).enumerate() {
        let e = modlist_at + i * MODLIST_ENTRY_SIZE as usize;
        put64(&mut info, e + off::MOD_PADDR, paddr);
        put64(&mut info, e + off::MOD_SIZE, m.len);
        if !m.cmdline.is_empty() {
            let (c, _) = terminated(m.cmdline);
            let at = base + info.len() as u64;
            info.extend_from_slice(&c);
            pad8(&mut info);
            put64(&mut info, e + off::MOD_CMDLINE_PADDR, at);
        }
    }
    let memmap_at = info.len();
    let memmap_paddr = if input.memmap.is_empty() { 0 } else { base + memmap_at as u64 };
    for m in input.memmap {
        let e = info.len();
        info.resize(e + MEMMAP_ENTRY_SIZE as usize, 0);
        put64(&mut info, e + off::MAP_ADDR, m.addr);
        put64(&mut info, e + off::MAP_SIZE, m.size);
        put32(&mut info, e + off::MAP_TYPE, m.ty);
    }
    put32(&mut info, off::MAGIC, START_MAGIC);
    put32(&mut info, off::VERSION, START_VERSION);
    put32(&mut info, off::FLAGS, 0);
    put32(&mut info, off::NR_MODULES, modules.len() as u32);
    put64(&mut info, off::MODLIST_PADDR, modlist_paddr);
    put64(&mut info, off::CMDLINE_PADDR, cmdline_paddr);
    put64(&mut info, off::RSDP_PADDR, input.rsdp_paddr);
    put64(&mut info, off::MEMMAP_PADDR, memmap_paddr);
    put32(&mut info, off::MEMMAP_ENTRIES, input.memmap.len() as u32);
    StartInfoBlock { bytes: info, cmdline_paddr, modlist_paddr, memmap_paddr, cmdline_truncated }
}

fn dest_name(d: &Dest) -> &'static str {
    match d.what {
        DestKind::Segment(_) => "a kernel segment",
        DestKind::Symbols => "the BSD symbol block",
        DestKind::Module(_) => "a module",
        DestKind::StartInfo => "the start info",
    }
}

fn check_dest(input: &PvhInput<'_>, d: &Dest) -> Result<(), PvhError> {
    let r = d.range();
    let what = dest_name(d);
    if !in_ram(input.memmap, &r) {
        return Err(PvhError::NotInRam { what, range: r });
    }
    if let Some(k) = input.keep.iter().find(|k| overlaps(&k.range, &r)) {
        return Err(PvhError::Overlaps { what, range: r, keep: k.what });
    }
    Ok(())
}

fn pad8(v: &mut Vec<u8>) {
    let n = v.len().next_multiple_of(8);
    v.resize(n, 0);
}

fn put64(v: &mut [u8], at: usize, x: u64) {
    if let Some(d) = v.get_mut(at..at + 8) {
        d.copy_from_slice(&x.to_le_bytes());
    }
}

fn put32(v: &mut [u8], at: usize, x: u32) {
    if let Some(d) = v.get_mut(at..at + 4) {
        d.copy_from_slice(&x.to_le_bytes());
    }
}

/// One step of the trampoline: copy `len` bytes from `src` to `dst` (physical), or zero them
/// when `src` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    /// Source, or `None` to zero.
    pub src: Option<u64>,
    /// Destination.
    pub dst: u64,
    /// Bytes.
    pub len: u64,
}

/// The trampoline's program: `relocate` lists the copies whose source must first be moved
/// out of every destination (by the loader, before it leaves, into memory below 4 GiB outside
/// every destination); then `ops` run in order. No op's destination overlaps the source of a
/// later op, so no source is overwritten before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staging {
    /// Ops in execution order (indices into the input copies, zeroes last).
    pub ops: Vec<Op>,
    /// Indices of copies whose source must be relocated first.
    pub relocate: Vec<usize>,
}

/// Orders the copies (`src`, `dst`, `len`; destinations pairwise disjoint) so that no copy
/// overwrites a source still to be read; a source that is in a destination and cannot be
/// ordered around (a cycle), or lies above 4 GiB (the trampoline copies with paging off), is
/// listed in [`Staging::relocate`]. After relocation the caller replaces those sources and
/// calls this again to get a program with no relocations left. `zeroes` (`dst`, `len`) run
/// after every copy.
pub fn stage(copies: &[Op], zeroes: &[(u64, u64)]) -> Staging {
    let n = copies.len();
    let src_range = |o: &Op| o.src.map(|s| s..s.saturating_add(o.len));
    let dst_range = |o: &Op| o.dst..o.dst.saturating_add(o.len);
    let mut relocate: Vec<usize> =
        (0..n).filter(|&i| copies.get(i).and_then(src_range).is_some_and(|r| r.end > FOUR_GIB)).collect();
    let mut done = alloc::vec![false; n];
    let mut ops = Vec::new();
    // Each round schedules one copy or relocates one: at most 2n rounds.
    for _ in 0..2 * n + 1 {
        let pending = |j: usize, done: &[bool], relocate: &[usize]| {
            !done.get(j).copied().unwrap_or(true) && !relocate.contains(&j)
        };
        let blocks = |i: usize, j: usize| {
            i != j
                && match (copies.get(i), copies.get(j).and_then(src_range)) {
                    (Some(a), Some(s)) => overlaps(&dst_range(a), &s),
                    _ => false,
                }
        };
        let ready = (0..n)
            .find(|&i| pending(i, &done, &relocate) && !(0..n).any(|j| pending(j, &done, &relocate) && blocks(i, j)));
        match ready {
            Some(i) => {
                if let (Some(d), Some(o)) = (done.get_mut(i), copies.get(i)) {
                    *d = true;
                    ops.push(*o);
                }
            }
            None => {
                // A cycle: relocate the smallest pending source that another copy overwrites.
                let victim = (0..n)
                    .filter(|&j| pending(j, &done, &relocate) && (0..n).any(|i| blocks(i, j)))
                    .min_by_key(|&j| copies.get(j).map_or(0, |o| o.len));
                match victim {
                    Some(j) => relocate.push(j),
                    None => break,
                }
            }
        }
    }
    if !relocate.is_empty() {
        // The program is only final once nothing is to be relocated.
        ops.clear();
    } else {
        ops.extend(zeroes.iter().map(|&(dst, len)| Op { src: None, dst, len }));
    }
    relocate.sort_unstable();
    Staging { ops, relocate }
}

/// The copies and zeroes that fill `layout`'s destinations, given where each source's bytes
/// are now (`source(dest)`: physical address of the first of `filesz` contiguous bytes).
pub fn fill_ops(layout: &PvhLayout, mut source: impl FnMut(&Dest) -> u64) -> (Vec<Op>, Vec<(u64, u64)>) {
    let mut copies = Vec::new();
    let mut zeroes = Vec::new();
    for d in &layout.dests {
        if d.filesz > 0 {
            copies.push(Op { src: Some(source(d)), dst: d.paddr, len: d.filesz });
        }
        if d.memsz > d.filesz {
            zeroes.push((d.paddr + d.filesz, d.memsz - d.filesz));
        }
    }
    (copies, zeroes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(src: u64, dst: u64, len: u64) -> Op {
        Op { src: Some(src), dst, len }
    }

    /// Runs a program on a byte array, as the trampoline would.
    fn run(mem: &mut [u8], ops: &[Op]) {
        for o in ops {
            let (d, l) = (o.dst as usize, o.len as usize);
            match o.src {
                Some(s) => mem.copy_within(s as usize..s as usize + l, d),
                None => mem[d..d + l].fill(0),
            }
        }
    }

    #[test]
    fn staging_orders_chains_and_relocates_cycles() {
        // A chain: copy 0 writes where copy 1 reads, so copy 1 must go first.
        let copies = [op(100, 200, 50), op(210, 300, 20), op(0, 60, 30)];
        let s = stage(&copies, &[(400, 10)]);
        assert!(s.relocate.is_empty());
        let mut mem: Vec<u8> = (0..=255).cycle().take(512).map(|x| x as u8).collect();
        let orig = mem.clone();
        run(&mut mem, &s.ops);
        for c in &copies {
            let (src, dst, len) = (c.src.unwrap() as usize, c.dst as usize, c.len as usize);
            assert_eq!(mem[dst..dst + len], orig[src..src + len]);
        }
        assert!(mem[400..410].iter().all(|&b| b == 0));
        assert_eq!(s.ops.last(), Some(&Op { src: None, dst: 400, len: 10 }));
        // A swap is a cycle: one side is relocated, no program yet.
        let swap = [op(100, 200, 50), op(200, 100, 60)];
        let s = stage(&swap, &[]);
        assert_eq!(s.relocate, vec![0]);
        assert!(s.ops.is_empty());
        // After relocating copy 0's source elsewhere the program is complete and correct.
        let moved = [op(400, 200, 50), op(200, 100, 60)];
        let s = stage(&moved, &[]);
        assert!(s.relocate.is_empty());
        let mut mem: Vec<u8> = (0..512).map(|x| (x * 7) as u8).collect();
        let orig = mem.clone();
        run(&mut mem, &s.ops);
        assert_eq!(mem[200..250], orig[400..450]);
        assert_eq!(mem[100..160], orig[200..260]);
        // An in-place overlap with itself is fine (copy_within / memmove).
        assert!(stage(&[op(100, 120, 50)], &[]).relocate.is_empty());
        // Sources above 4 GiB are relocated.
        assert_eq!(stage(&[op(FOUR_GIB, 0x1000, 10)], &[]).relocate, vec![0]);
    }

    #[test]
    fn in_ram_follows_the_map() {
        let map = [
            MemmapEntry { addr: 0, size: 0x10_0000, ty: MEMMAP_RAM },
            MemmapEntry { addr: 0x10_0000, size: 0xf00_0000, ty: MEMMAP_RAM },
            MemmapEntry { addr: 0xfc00_0000, size: 0x1000, ty: 4 },
            MemmapEntry { addr: 0x8000, size: 0x1000, ty: 2 },
        ];
        assert!(in_ram(&map, &(0x9000..0x20_0000)), "spans two adjacent RAM entries");
        assert!(!in_ram(&map, &(0x7000..0x9000)), "touches a reserved entry inside RAM");
        assert!(!in_ram(&map, &(0xff0_0000..0x1001_0000)), "runs past RAM");
        assert!(!in_ram(&map, &(0xfc00_0000..0xfc00_0010)));
        let wrap = [MemmapEntry { addr: u64::MAX - 10, size: 100, ty: MEMMAP_RAM }];
        assert!(!in_ram(&wrap, &(u64::MAX - 5..u64::MAX)));
    }
}
