//! The checks (module docs in main.rs, the why in docs/pvh-probe.md).
#![allow(unsafe_code)]

use core::fmt::Write;

use super::entry::{self, slot, FLAT_MAGIC, PUSH_MARK};
use super::ring;
use super::xen::{self, Console, Pvh};

/// `hvm_start_info.magic` (`XEN_HVM_START_MAGIC_VALUE`).
const START_MAGIC: u32 = 0x336e_c578;
/// Bytes of `hvm_start_info` version 1 (version 0: 48).
const START_INFO_V1: u64 = 56;
const MODLIST_ENTRY: u64 = 32;
const MEMMAP_ENTRY: u64 = 24;
const MEMMAP_TYPE_RAM: u32 = 1;
const MAX_MODS: usize = 16;
const MAX_MEMMAP: usize = 128;
const MAX_CMDLINE: u64 = 4096;
/// The probe reads and writes physical memory only below this (entry.rs maps [0, 4 GiB)).
const MAPPED: u64 = 1 << 32;
const CR0_PE: u32 = 1;
const CR0_ET: u32 = 1 << 4;
const EFLAGS_TF: u32 = 1 << 8;
const EFLAGS_IF: u32 = 1 << 9;
const EFLAGS_VM: u32 = 1 << 17;

struct Fail(&'static str, u64);

fn rd8(pa: u64) -> u8 {
    // SAFETY: callers check `pa < MAPPED` (identity-mapped; non-RAM reads return ~0 in PVH).
    unsafe { core::ptr::read_volatile(pa as *const u8) }
}
fn rd32(pa: u64) -> u32 {
    // SAFETY: as rd8.
    unsafe { core::ptr::read_volatile(pa as *const u32) }
}
fn rd64(pa: u64) -> u64 {
    // SAFETY: as rd8.
    unsafe { core::ptr::read_volatile(pa as *const u64) }
}
fn wr64(pa: u64, v: u64) {
    // SAFETY: callers write only RAM pages no region of the boot occupies.
    unsafe { core::ptr::write_volatile(pa as *mut u64, v) }
}

/// `[start, start + len)` when it lies below [`MAPPED`].
fn mapped(start: u64, len: u64, what: &'static str) -> Result<(u64, u64), Fail> {
    match start.checked_add(len) {
        Some(end) if end <= MAPPED => Ok((start, end)),
        _ => Err(Fail(what, start)),
    }
}

#[derive(Clone, Copy)]
struct Range {
    start: u64,
    end: u64,
}

/// The memory map as handed over (sorted, no overlaps, checked by [`read_memmap`]).
struct Memmap {
    e: [(u64, u64, u32); MAX_MEMMAP],
    n: usize,
}

impl Memmap {
    fn entries(&self) -> &[(u64, u64, u32)] {
        self.e.get(..self.n).unwrap_or_default()
    }
    /// `[start, end)` inside one RAM entry.
    fn in_ram(&self, start: u64, end: u64) -> bool {
        self.entries().iter().any(|&(a, s, t)| t == MEMMAP_TYPE_RAM && a <= start && end <= a.saturating_add(s))
    }
}

/// The regions the boot occupies: they must lie in RAM and not overlap.
struct Regions {
    r: [Range; 8 + 2 * MAX_MODS],
    n: usize,
}

impl Regions {
    fn add(&mut self, mm: &Memmap, what: &'static str, start: u64, len: u64) -> Result<(), Fail> {
        if len == 0 {
            return Ok(());
        }
        let (start, end) = mapped(start, len, what)?;
        if !mm.in_ram(start, end) {
            return Err(Fail(what, start));
        }
        if self.hits(start, end) {
            return Err(Fail(what, start));
        }
        let slot = self.r.get_mut(self.n).ok_or(Fail("too many regions", start))?;
        *slot = Range { start, end };
        self.n += 1;
        Ok(())
    }
    fn all(&self) -> &[Range] {
        self.r.get(..self.n).unwrap_or_default()
    }
    fn hits(&self, start: u64, end: u64) -> bool {
        self.all().iter().any(|o| start < o.end && o.start < end)
    }
}

fn words<'a>(cmd: &'a [u8], key: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    cmd.split(|&b| b == b' ').filter_map(move |w| w.strip_prefix(key))
}

fn parse_u64(s: &[u8], radix: u32) -> Option<u64> {
    u64::from_str_radix(core::str::from_utf8(s).ok()?, radix).ok()
}

fn fnv1a(start: u64, len: u64) -> u64 {
    (0..len).fold(0xcbf2_9ce4_8422_2325, |h, i| (h ^ u64::from(rd8(start + i))).wrapping_mul(0x100_0000_01b3))
}

/// A NUL-terminated string at `pa` (which [`Regions::add`] checked for its first byte):
/// its length, at most [`MAX_CMDLINE`].
fn strlen(pa: u64) -> Result<u64, Fail> {
    mapped(pa, MAX_CMDLINE, "command line above 4 GiB")?;
    (0..MAX_CMDLINE).find(|&i| rd8(pa + i) == 0).ok_or(Fail("command line not terminated", pa))
}

fn bytes(pa: u64, len: u64) -> &'static [u8] {
    // SAFETY: a checked, identity-mapped range the probe never writes.
    unsafe { core::slice::from_raw_parts(pa as *const u8, len as usize) }
}

#[no_mangle]
extern "C" fn pvh_main() -> ! {
    if !xen::init_hypercalls() {
        // No Xen: nothing to print to, nobody to tell.
        loop {
            // SAFETY: interrupts are off; this parks the CPU.
            unsafe { core::arch::asm!("cli", "hlt") };
        }
    }
    let (Some(pfn), Some(port)) =
        (xen::hvm_param(xen::HVM_PARAM_CONSOLE_PFN), xen::hvm_param(xen::HVM_PARAM_CONSOLE_EVTCHN))
    else {
        xen::shutdown(3)
    };
    let mut con = Console { ring: pfn.wrapping_mul(4096), port: port as u32, notify: Pvh };
    // For a future PVH `cargo xtask bench`: ns since the vCPU was created, as the PV probe's
    // `RPVBOOT-PROBE T` line (offline = before the toolstack unpaused the domain).
    if let Some([run, rnb, blk, off]) = xen::runstate() {
        let up = run.wrapping_add(rnb).wrapping_add(blk).wrapping_add(off);
        let _ =
            writeln!(con, "RPVBOOT-PROBE-PVH T vcpu_ns={up} running={run} runnable={rnb} blocked={blk} offline={off}");
    }
    report_entry(&mut con);
    if let Err(Fail(what, v)) = run(&mut con) {
        let _ = writeln!(con, "RPVBOOT-PROBE-PVH FAIL {what} ({v:#x})");
    }
    con.drain();
    xen::shutdown(0)
}

fn report_entry(con: &mut Console) {
    let s = entry::state;
    let via = match s(slot::VIA) {
        1 => "phys32",
        2 => "e_entry",
        _ => "?",
    };
    let _ = writeln!(
        con,
        "RPVBOOT-PROBE-PVH ENTRY via={via} ebx={:#x} eax={:#x} esi={:#x} edi={:#x} esp={:#x} cr0={:#x} cr4={:#x} \
         eflags={:#x} cs={:#x} ds={:#x} es={:#x} ss={:#x} fs={:#x} gs={:#x} tr={:#x}",
        s(slot::EBX),
        s(slot::EAX),
        s(slot::ESI),
        s(slot::EDI),
        s(slot::ESP),
        s(slot::CR0),
        s(slot::CR4),
        s(slot::EFLAGS),
        s(slot::CS),
        s(slot::DS),
        s(slot::ES),
        s(slot::SS),
        s(slot::FS),
        s(slot::GS),
        s(slot::TR),
    );
}

/// The machine state the ABI promises at the PHYS32 entry (docs/pvh-probe.md).
fn check_entry() -> Result<(), Fail> {
    let s = entry::state;
    let cr0 = s(slot::CR0);
    if cr0 & !CR0_ET != CR0_PE {
        return Err(Fail("cr0 is not PE only", u64::from(cr0)));
    }
    if s(slot::CR4) != 0 {
        return Err(Fail("cr4 not 0", u64::from(s(slot::CR4))));
    }
    let fl = s(slot::EFLAGS);
    if fl & (EFLAGS_TF | EFLAGS_IF | EFLAGS_VM) != 0 {
        return Err(Fail("eflags TF/IF/VM set", u64::from(fl)));
    }
    for (i, what) in [
        (slot::FLAT_DS, "ds not flat"),
        (slot::FLAT_CS, "cs not flat"),
        (slot::FLAT_ES, "es not flat"),
        (slot::FLAT_SS, "ss not flat"),
    ] {
        if s(i) != FLAT_MAGIC {
            return Err(Fail(what, u64::from(s(i))));
        }
    }
    if s(slot::PUSHED) != PUSH_MARK {
        return Err(Fail("ss is not a 32-bit stack segment", u64::from(s(slot::PUSHED))));
    }
    if s(slot::BSS_DIRTY) != 0 {
        return Err(Fail(".bss not zeroed by the loader (offset + 1)", u64::from(s(slot::BSS_DIRTY))));
    }
    Ok(())
}

/// The memory map as handed over (Xen's is not sorted: RAM, then the special pages, then
/// ACPI); [`check_memmap`] validates it.
fn read_memmap(si: u64, version: u32) -> Result<Memmap, Fail> {
    if version < 1 {
        return Err(Fail("start info version 0 (no memory map)", 0));
    }
    let pa = rd64(si + 40);
    let n = u64::from(rd32(si + 48));
    if n == 0 || n > MAX_MEMMAP as u64 {
        return Err(Fail("memmap_entries", n));
    }
    mapped(pa, n * MEMMAP_ENTRY, "memory map above 4 GiB")?;
    let mut mm = Memmap { e: [(0, 0, 0); MAX_MEMMAP], n: 0 };
    for (i, e) in mm.e.iter_mut().take(n as usize).enumerate() {
        let at = pa + i as u64 * MEMMAP_ENTRY;
        *e = (rd64(at), rd64(at + 8), rd32(at + 16));
    }
    mm.n = n as usize;
    Ok(mm)
}

/// No entry empty, wrapping, or overlapping another (in any order).
fn check_memmap(mm: &Memmap) -> Result<(), Fail> {
    for (i, &(a, s, _)) in mm.entries().iter().enumerate() {
        let end = a.checked_add(s).ok_or(Fail("memmap entry wraps", a))?;
        if s == 0 {
            return Err(Fail("memmap entry of size 0", a));
        }
        let others = mm.entries().iter().skip(i + 1);
        if let Some(o) = others.into_iter().find(|o| o.0 < end && a < o.0.saturating_add(o.1)) {
            return Err(Fail("memmap entries overlap", o.0));
        }
    }
    Ok(())
}

fn run(con: &mut Console) -> Result<(), Fail> {
    // First: entered some other way, nothing else the loader handed over means what the PVH
    // ABI says (e.g. GRUB's multiboot: ebx is a multiboot info).
    let via = entry::state(slot::VIA);
    if via != 1 {
        return Err(Fail("not entered at XEN_ELFNOTE_PHYS32_ENTRY", u64::from(via)));
    }
    let si = u64::from(entry::state(slot::EBX));
    mapped(si, START_INFO_V1, "start info above 4 GiB")?;
    if si == 0 {
        return Err(Fail("ebx (start info) is 0", 0));
    }
    let magic = rd32(si);
    if magic != START_MAGIC {
        return Err(Fail("start info magic", u64::from(magic)));
    }
    let version = rd32(si + 4);
    let mm = read_memmap(si, version)?;
    let _ = write!(con, "RPVBOOT-PROBE-PVH MEMMAP");
    for &(a, s, t) in mm.entries() {
        let _ = write!(con, " {a:#x}+{s:#x}:{t}");
    }
    let _ = writeln!(con);
    check_memmap(&mm)?;
    check_entry()?;

    let ram: u64 = mm.entries().iter().filter(|e| e.2 == MEMMAP_TYPE_RAM).map(|e| e.1).sum();
    let mut regs = Regions { r: [Range { start: 0, end: 0 }; 8 + 2 * MAX_MODS], n: 0 };
    let (img_start, img_end) = entry::image();
    regs.add(&mm, "kernel image not in RAM or overlapping", img_start, img_end - img_start)?;
    regs.add(&mm, "start info not in RAM or overlapping", si, START_INFO_V1)?;
    regs.add(&mm, "memory map not in RAM or overlapping", rd64(si + 40), u64::from(rd32(si + 48)) * MEMMAP_ENTRY)?;
    let cmd_pa = rd64(si + 24);
    let cmd: &[u8] = if cmd_pa == 0 {
        &[]
    } else {
        let n = strlen(cmd_pa)?;
        regs.add(&mm, "command line not in RAM or overlapping", cmd_pa, n + 1)?;
        bytes(cmd_pa, n)
    };
    let nmods = u64::from(rd32(si + 12));
    if nmods > MAX_MODS as u64 {
        return Err(Fail("nr_modules", nmods));
    }
    let modlist = rd64(si + 16);
    regs.add(&mm, "module list not in RAM or overlapping", modlist, nmods * MODLIST_ENTRY)?;
    let mut want = words(cmd, b"probe.mod=").filter(|w| *w != b"none");
    let none = words(cmd, b"probe.mod=").any(|w| w == b"none");
    let mut first_len = 0;
    for i in 0..nmods {
        let e = modlist + i * MODLIST_ENTRY;
        let (pa, len, mcmd) = (rd64(e), rd64(e + 8), rd64(e + 16));
        regs.add(&mm, "module not in RAM or overlapping", pa, len)?;
        if mcmd != 0 {
            let n = strlen(mcmd)?;
            regs.add(&mm, "module command line not in RAM or overlapping", mcmd, n + 1)?;
        }
        if i == 0 {
            first_len = len;
        }
        if none {
            return Err(Fail("unexpected module", len));
        }
        if let Some(spec) = want.next() {
            let mut it = spec.splitn(2, |&b| b == b':');
            let wlen = it.next().and_then(|s| parse_u64(s, 10));
            let wsum = it.next().and_then(|s| parse_u64(s, 16));
            let (Some(wlen), Some(wsum)) = (wlen, wsum) else {
                return Err(Fail("bad probe.mod= word", i));
            };
            if len != wlen {
                return Err(Fail("module length", len));
            }
            let h = fnv1a(pa, len);
            if h != wsum {
                return Err(Fail("module checksum", h));
            }
        }
    }
    if want.next().is_some() {
        return Err(Fail("fewer modules than probe.mod= words", nmods));
    }
    if let Some(w) = words(cmd, b"probe.mib=").next() {
        let mib = parse_u64(w, 10).ok_or(Fail("bad probe.mib= word", 0))?;
        if Some(ram) != mib.checked_mul(1 << 20) {
            return Err(Fail("RAM in the memory map differs from probe.mib", ram));
        }
    }
    if let Some(w) = words(cmd, b"probe.pages=").next() {
        let pages = parse_u64(w, 10).ok_or(Fail("bad probe.pages= word", 0))?;
        if Some(ram) != pages.checked_mul(4096) {
            return Err(Fail("RAM in the memory map differs from probe.pages", ram));
        }
    }
    let tested = touch_ram(&mm, &regs)?;
    let mut name = [0u8; 64];
    let name = xenstore_name(&mut name)?;
    if let Some(want) = words(cmd, b"probe.name=").next() {
        if want != name {
            return Err(Fail("domain name differs from probe.name", name.len() as u64));
        }
    }
    let _ = writeln!(
        con,
        "RPVBOOT-PROBE-PVH PASS name={} version={version} ram={ram} e820={} mods={nmods} mod0={first_len} \
         start_info={si:#x} tested_pages={tested} cmdline=\"{}\"",
        core::str::from_utf8(name).unwrap_or("?"),
        mm.n,
        core::str::from_utf8(cmd).unwrap_or("?")
    );
    Ok(())
}

/// The domain's name, read from xenstore (`name`, relative to the domain's home): xenstore
/// must still answer after the handover (a loader that used it, e.g. for its disks, must leave
/// the ring consistent).
fn xenstore_name(buf: &mut [u8; 64]) -> Result<&[u8], Fail> {
    let (Some(pfn), Some(port)) =
        (xen::hvm_param(xen::HVM_PARAM_STORE_PFN), xen::hvm_param(xen::HVM_PARAM_STORE_EVTCHN))
    else {
        return Err(Fail("no xenstore HVM params", 0));
    };
    let ring = pfn.checked_mul(4096).filter(|&r| r < MAPPED).ok_or(Fail("xenstore page above 4 GiB", pfn))?;
    let n = ring::xs_read(&Pvh, ring, port as u32, b"name", buf).map_err(|e| Fail(e, 0))?;
    Ok(buf.get(..n).unwrap_or_default())
}

/// Every RAM page below 4 GiB that no region of the boot occupies takes a write and reads it
/// back: memory the map calls RAM must be RAM (an unpopulated or foreign page is not).
fn touch_ram(mm: &Memmap, regs: &Regions) -> Result<u64, Fail> {
    let mut n = 0;
    for &(a, s, t) in mm.entries() {
        if t != MEMMAP_TYPE_RAM {
            continue;
        }
        let first = a.div_ceil(4096);
        let last = a.saturating_add(s).min(MAPPED) / 4096;
        for pfn in first..last {
            let pa = pfn * 4096;
            if regs.hits(pa, pa + 4096) {
                continue;
            }
            let v = pa ^ 0x5a5a_0000_0000_0a5a;
            wr64(pa, v);
            wr64(pa + 4088, !v);
            if rd64(pa) != v || rd64(pa + 4088) != !v {
                return Err(Fail("RAM page does not keep a write", pa));
            }
            n += 1;
        }
    }
    Ok(n)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    xen::shutdown(3)
}
