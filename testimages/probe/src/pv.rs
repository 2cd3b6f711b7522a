//! The probe kernel proper (module docs in main.rs).
#![allow(unsafe_code)]

use core::arch::{asm, global_asm};
use core::fmt::Write;

use crate::ring::{self, Notify};

const KERNBASE: u64 = 0xffff_ffff_8000_0000;
const M2P: u64 = 0xffff_8000_0000_0000;
const STACK: usize = 64 * 1024;

macro_rules! xen_note {
    ($ty:literal, $label:literal, $($desc:literal),+) => {
        concat!(
            ".balign 4\n",
            ".long 4, .Lnote_", $label, "_end - .Lnote_", $label, "_start, ", $ty, "\n",
            ".asciz \"Xen\"\n",
            ".Lnote_", $label, "_start:\n",
            $($desc, "\n",)+
            ".Lnote_", $label, "_end:\n",
            ".balign 4\n",
        )
    };
}

// NetBSD amd64 locore.S notes (docs/xen-pv-abi.md §6.5).
global_asm!(
    ".section .note.Xen,\"a\",@note",
    xen_note!("6", "guest_os", ".asciz \"NetBSD\""),
    xen_note!("7", "guest_version", ".asciz \"4.99\""),
    xen_note!("5", "xen_version", ".asciz \"xen-3.0\""),
    xen_note!("3", "virt_base", ".quad 0xffffffff80000000"),
    xen_note!("4", "paddr_offset", ".quad 0xffffffff80000000"),
    xen_note!("1", "entry", ".quad start"),
    xen_note!("2", "hypercall_page", ".quad hypercall_page"),
    xen_note!("12", "hv_start_low", ".quad 0xffff800000000000"),
    xen_note!("10", "features", ".asciz \"\""),
    xen_note!("9", "pae_mode", ".asciz \"yes\""),
    xen_note!("13", "l1_mfn_valid", ".quad 1, 1"),
    xen_note!("8", "loader", ".asciz \"generic\""),
    xen_note!("14", "suspend_cancel", ".long 0"),
    xen_note!("11", "bsd_symtab", ".asciz \"yes\""),
    ".section .hypercall_page,\"ax\",@progbits",
    ".balign 4096",
    ".global hypercall_page",
    "hypercall_page:",
    ".skip 4096",
    ".section .bss.stack,\"aw\",@nobits",
    ".balign 4096",
    "probe_stack:",
    ".skip {stack}",
    "probe_stack_top:",
    ".section .text.entry,\"ax\",@progbits",
    ".global start",
    "start:",
    "mov r14, rsp",
    "mov r15, rsi",
    "lea rdi, [rip + __probe_bss_start]",
    "lea rcx, [rip + end]",
    "sub rcx, rdi",
    "xor eax, eax",
    "cld",
    "rep stosb",
    "lea rsp, [rip + probe_stack_top]",
    "mov rdi, r15",
    "mov rsi, r14",
    "call probe_main",
    "ud2",
    stack = const STACK,
);

extern "C" {
    static hypercall_page: [u8; 4096];
    static end: u8;
}

/// The `pad` feature's data (empty without it), file bytes of the data segment: see build.rs.
#[repr(C, align(4096))]
struct Pad([u8; include_bytes!(concat!(env!("OUT_DIR"), "/pad.bin")).len()]);
#[used]
#[link_section = ".data.pad"]
static PAD: Pad = Pad(*include_bytes!(concat!(env!("OUT_DIR"), "/pad.bin")));

include!(concat!(env!("OUT_DIR"), "/pad_file.rs"));

/// A file pad (`PROBE_PAD_FILE`, e.g. Debian's vmlinux): FNV-1a 64 over the loaded segment
/// against the sum build.rs took of the file, so that a partial or wrong load cannot pass.
/// Runs before the layout checks: pvgrub2 lays the domain out differently (it fails those),
/// yet the bench needs to know that it, too, loaded every byte. `None`: not a file pad.
fn check_payload() -> Option<Result<(u64, u64), Fail>> {
    let want = PAD_FILE_FNV1A?;
    let (base, len) = (PAD.0.as_ptr() as u64, PAD.0.len() as u64);
    // Eight bytes per volatile load (the compiler knows the static's value), hashed byte by
    // byte in memory order: the same FNV-1a as over single bytes.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let words = len / 8;
    for i in 0..words {
        for b in rd64(base + i * 8).to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    for i in words * 8..len {
        h = (h ^ u64::from(rd8(base + i))).wrapping_mul(0x100_0000_01b3);
    }
    Some(if h == want { Ok((len, h)) } else { Err(Fail("payload checksum", h)) })
}

/// Every byte of the pad as build.rs wrote it (read volatile: the compiler knows the value).
/// A file pad was checked by [`check_payload`] already.
fn check_pad() -> Result<u64, Fail> {
    if PAD_FILE_FNV1A.is_some() {
        return Ok(PAD.0.len() as u64);
    }
    let base = PAD.0.as_ptr() as u64;
    let pages = PAD.0.len() as u64 / 4096;
    for i in 0..pages {
        let page = base + i * 4096;
        if rd64(page) != i {
            return Err(Fail("pad page index", i));
        }
        for j in (8..4096u64).step_by(8) {
            let want = (0..8).fold(0u64, |w, b| w | (u64::from(((j + b) * 31 + i) as u8) << (8 * b)));
            if rd64(page + j) != want {
                return Err(Fail("pad bytes", i * 4096 + j));
            }
        }
    }
    Ok(PAD.0.len() as u64)
}

/// Raw hypercall through `syscall` (what the hypercall page stubs do).
unsafe fn hcall(nr: u64, a1: u64, a2: u64, a3: u64, a4: u64) -> i64 {
    let rc: i64;
    // SAFETY: the caller passes valid arguments for hypercall `nr`.
    unsafe {
        asm!("syscall", inlateout("rax") nr as i64 => rc, in("rdi") a1, in("rsi") a2,
             in("rdx") a3, in("r10") a4, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    rc
}

fn rd64(va: u64) -> u64 {
    // SAFETY: callers read mapped addresses (start_info, p2m, m2p, page tables, image).
    unsafe { core::ptr::read_volatile(va as *const u64) }
}
fn rd32(va: u64) -> u32 {
    // SAFETY: as rd64.
    unsafe { core::ptr::read_volatile(va as *const u32) }
}
fn rd8(va: u64) -> u8 {
    // SAFETY: as rd64.
    unsafe { core::ptr::read_volatile(va as *const u8) }
}

fn send(port: u32) {
    let p = port;
    // SAFETY: EVTCHNOP_send (4) with a live struct.
    unsafe { hcall(32, 4, &raw const p as u64, 0, 0) };
}

fn yield_cpu() {
    // SAFETY: SCHEDOP_yield.
    unsafe { hcall(29, 0, 0, 0, 0) };
}

fn shutdown(reason: u32) -> ! {
    let r = reason;
    loop {
        // SAFETY: SCHEDOP_shutdown with a live reason.
        unsafe { hcall(29, 2, &raw const r as u64, 0, 0) };
    }
}

/// The PV probe's event-channel kick and yield (hypercalls through `syscall`).
struct Pv;

impl Notify for Pv {
    fn send(&self, port: u32) {
        send(port);
    }
    fn yield_cpu(&self) {
        yield_cpu();
    }
}

type Console = ring::Console<Pv>;

struct Si {
    va: u64,
}
impl Si {
    fn q(&self, off: u64) -> u64 {
        rd64(self.va + off)
    }
    fn d(&self, off: u64) -> u32 {
        rd32(self.va + off)
    }
    fn cmdline(&self) -> &'static [u8] {
        let p = self.va + 128;
        let mut n = 0;
        while n < 1024 && rd8(p + n) != 0 {
            n += 1;
        }
        // SAFETY: the start_info page stays mapped; n <= 1024.
        unsafe { core::slice::from_raw_parts(p as *const u8, n as usize) }
    }
}

fn word<'a>(cmd: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    cmd.split(|&b| b == b' ').find_map(|w| w.strip_prefix(key))
}

fn parse_u64(s: &[u8], radix: u32) -> Option<u64> {
    let s = core::str::from_utf8(s).ok()?;
    u64::from_str_radix(s, radix).ok()
}

fn fnv1a(va: u64, len: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..len {
        h ^= u64::from(rd8(va + i));
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Walks the page tables from `pt_base`: every page of `[KERNBASE, KERNBASE + span)` must map
/// `p2m[pfn]`, read-only iff it is a page-table frame.
fn check_tables(pt_base: u64, nr_pt: u64, p2m: u64, span_pages: u64) -> Result<(), Fail> {
    let va_of = |entry: u64| -> u64 {
        let mfn = (entry & 0x000f_ffff_ffff_f000) >> 12;
        KERNBASE + rd64(M2P + mfn * 8) * 4096
    };
    let pt_first = (pt_base - KERNBASE) / 4096;
    for pfn in 0..span_pages {
        let va = KERNBASE + pfn * 4096;
        let mut t = pt_base;
        let mut e = 0;
        for lvl in (0..4).rev() {
            let idx = (va >> (12 + 9 * lvl)) & 511;
            e = rd64(t + idx * 8);
            if e & 1 == 0 {
                return Err(Fail("page not mapped", va));
            }
            if lvl > 0 {
                t = va_of(e);
            }
        }
        let mfn = (e & 0x000f_ffff_ffff_f000) >> 12;
        if mfn != rd64(p2m + pfn * 8) {
            return Err(Fail("PTE MFN differs from p2m", va));
        }
        let is_pt = pfn >= pt_first && pfn < pt_first + nr_pt;
        if (e & 2 != 0) == is_pt {
            return Err(Fail("page-table protection wrong", va));
        }
    }
    // One past the end: unmapped (the mapping ends at a 4 MiB boundary).
    Ok(())
}

struct Fail(&'static str, u64);

/// Finds `name` in the BSD symbol block at round8(end); returns (its value, symbol count).
fn bsd_lookup(name: &[u8]) -> Result<(u64, u64), Fail> {
    let b = ((&raw const end as u64) + 7) & !7;
    let eh = b + 4;
    if rd32(eh) != 0x464c_457f {
        return Err(Fail("no ELF header in the BSD symbol block", b));
    }
    let shoff = rd64(eh + 0x28);
    let shnum = u64::from(rd32(eh + 0x3c) & 0xffff);
    if shoff != 64 || shnum != 3 {
        return Err(Fail("BSD block: bad section headers", shnum));
    }
    let sh = |i: u64| eh + 64 + i * 64;
    if rd32(sh(1) + 4) != 2 || rd32(sh(2) + 4) != 3 {
        return Err(Fail("BSD block: sections are not SYMTAB/STRTAB", 0));
    }
    let sym_off = rd64(sh(1) + 24);
    let sym_size = rd64(sh(1) + 32);
    let str_off = rd64(sh(2) + 24);
    let str_size = rd64(sh(2) + 32);
    let size_word = u64::from(rd32(b));
    if str_off + str_size != size_word {
        return Err(Fail("BSD block: size word != strtab end", size_word));
    }
    let count = sym_size / 24;
    for i in 0..count {
        let s = eh + sym_off + i * 24;
        let n = u64::from(rd32(s));
        if n >= str_size {
            continue;
        }
        let p = eh + str_off + n;
        let mut ok = true;
        for (j, &c) in name.iter().enumerate() {
            if rd8(p + j as u64) != c {
                ok = false;
                break;
            }
        }
        if ok && rd8(p + name.len() as u64) == 0 {
            return Ok((rd64(s + 8), count));
        }
    }
    Err(Fail("own symbol not in the BSD symbol table", count))
}

#[no_mangle]
extern "C" fn probe_main(si_va: u64, entry_rsp: u64) -> ! {
    let si = Si { va: si_va };
    // The console first: without it no verdict can be printed.
    let con_mfn = si.q(72);
    let con_pfn = rd64(M2P + con_mfn * 8);
    let mut con = Console { ring: KERNBASE + con_pfn * 4096, port: si.d(80), notify: Pv };
    // `cargo xtask bench`: ns since this vCPU was created (xl create building the domain), as
    // the sum of its runstate times (VCPUOP_get_runstate_info), and the module length.
    let mut rs = [0u64; 6];
    // SAFETY: VCPUOP_get_runstate_info (4) for vCPU 0 into a live 48-byte buffer.
    if unsafe { hcall(24, 4, 0, rs.as_mut_ptr() as u64, 0) } == 0 {
        let up = rs.iter().skip(2).fold(0u64, |a, &t| a.wrapping_add(t));
        let [_, _, run, rnb, blk, off] = rs;
        // offline = before the toolstack unpaused the domain; the rest is the loader + us.
        let _ = writeln!(
            con,
            "RPVBOOT-PROBE T vcpu_ns={up} mod={} running={run} runnable={rnb} blocked={blk} offline={off}",
            si.q(120)
        );
    }
    let r = match check_payload() {
        None => run(&si, entry_rsp),
        Some(Ok((len, h))) => {
            let _ = writeln!(con, "RPVBOOT-PROBE PAYLOAD ok bytes={len} fnv1a={h:x}");
            run(&si, entry_rsp)
        }
        Some(Err(e)) => Err(e),
    };
    match r {
        Ok(()) => {}
        Err(Fail(what, v)) => {
            let _ = writeln!(con, "RPVBOOT-PROBE FAIL {what} ({v:#x})");
        }
    }
    // Wait for the console to drain so that the verdict is not lost at poweroff.
    con.drain();
    shutdown(0)
}

fn run(si: &Si, entry_rsp: u64) -> Result<(), Fail> {
    let magic = b"xen-3.0-x86_64\0";
    for (i, &c) in magic.iter().enumerate() {
        if rd8(si.va + i as u64) != c {
            return Err(Fail("start_info magic", i as u64));
        }
    }
    if si.va & 0xfff != 0 || si.va < KERNBASE {
        return Err(Fail("start_info VA", si.va));
    }
    let nr = si.q(32);
    let cmd = si.cmdline();
    if let Some(p) = word(cmd, b"probe.pages=") {
        if parse_u64(p, 10) != Some(nr) {
            return Err(Fail("nr_pages differs from probe.pages", nr));
        }
    }
    if si.d(48) != 0 {
        return Err(Fail("start_info flags not 0", u64::from(si.d(48))));
    }
    let si_pfn = (si.va - KERNBASE) / 4096;
    let p2m = si.q(104);
    let (store_mfn, con_mfn) = (si.q(56), si.q(72));
    if rd64(p2m + (si_pfn + 1) * 8) != store_mfn {
        return Err(Fail("xenstore page is not start_info+1", store_mfn));
    }
    if rd64(p2m + (si_pfn + 2) * 8) != con_mfn {
        return Err(Fail("console page is not start_info+2", con_mfn));
    }
    let pt_base = si.q(88);
    let nr_pt = si.q(96);
    if pt_base != si.va + 3 * 4096 {
        return Err(Fail("pt_base is not start_info+3", pt_base));
    }
    if entry_rsp != pt_base + (nr_pt + 1) * 4096 {
        return Err(Fail("rsp is not the top of the boot stack", entry_rsp));
    }
    // m2p[p2m[pfn]] == pfn for every page (docs/handover.md P1).
    for pfn in 0..nr {
        let mfn = rd64(p2m + pfn * 8);
        if rd64(M2P + mfn * 8) != pfn {
            return Err(Fail("m2p[p2m[pfn]] != pfn", pfn));
        }
    }
    // The p2m follows the module (or the kernel + symbols).
    let (mod_start, mod_len) = (si.q(112), si.q(120));
    let sym_end = {
        let b = ((&raw const end as u64) + 7) & !7;
        let size = u64::from(rd32(b));
        b + 4 + size
    };
    let after_kernel = (sym_end + 4095) & !4095;
    let mod_word = word(cmd, b"probe.mod=");
    if mod_word.is_none() && mod_len != 0 {
        // No expectation given (boot.cfg cannot pass one): check the placement only.
        if mod_start != after_kernel || p2m != (mod_start + mod_len + 4095) & !4095 {
            return Err(Fail("module not between the symbols and the p2m", mod_start));
        }
    }
    match mod_word.filter(|s| *s != b"none") {
        None if mod_len != 0 && mod_word.is_none() => {}
        None => {
            if mod_len != 0 {
                return Err(Fail("unexpected module", mod_len));
            }
            if p2m != after_kernel {
                return Err(Fail("p2m not right after the kernel and symbols", p2m));
            }
        }
        Some(spec) => {
            let mut it = spec.splitn(2, |&b| b == b':');
            let len = it.next().and_then(|s| parse_u64(s, 10));
            let sum = it.next().and_then(|s| parse_u64(s, 16));
            let (Some(len), Some(sum)) = (len, sum) else {
                return Err(Fail("bad probe.mod= word", 0));
            };
            if mod_start != after_kernel {
                return Err(Fail("mod_start not right after the kernel and symbols", mod_start));
            }
            if mod_len != len {
                return Err(Fail("mod_len", mod_len));
            }
            if fnv1a(mod_start, mod_len) != sum {
                return Err(Fail("module checksum", fnv1a(mod_start, mod_len)));
            }
            if p2m != (mod_start + mod_len + 4095) & !4095 {
                return Err(Fail("p2m not right after the module", p2m));
            }
        }
    }
    let span = (pt_base - KERNBASE) / 4096 + nr_pt + 1;
    check_tables(pt_base, nr_pt, p2m, span)?;
    // The hypercall page was filled (stub for hypercall 1: mov eax, 1 ; syscall).
    // SAFETY: our own page.
    let hp = unsafe { &hypercall_page };
    if hp[32..40] != [0x51, 0x41, 0x53, 0xb8, 1, 0, 0, 0] {
        return Err(Fail("hypercall page not filled", u64::from(hp[32])));
    }
    let (sym, nsyms) = bsd_lookup(b"probe_main")?;
    if sym != probe_main as *const () as u64 {
        return Err(Fail("probe_main's symbol value differs", sym));
    }
    // Xenstore still works.
    let store_pfn = rd64(M2P + store_mfn * 8);
    let mut name = [0u8; 64];
    let n = ring::xs_read(&Pv, KERNBASE + store_pfn * 4096, si.d(64), b"name", &mut name).map_err(|e| Fail(e, 0))?;
    let name = name.get(..n).unwrap_or_default();
    if let Some(want) = word(cmd, b"probe.name=") {
        if want != name {
            return Err(Fail("domain name differs from probe.name", n as u64));
        }
    }
    let pad = check_pad()?;
    let mut con = Console { ring: KERNBASE + rd64(M2P + con_mfn * 8) * 4096, port: si.d(80), notify: Pv };
    if pad > 0 {
        let _ = writeln!(con, "RPVBOOT-PROBE PAD ok bytes={pad}");
    }
    let _ = writeln!(
        con,
        "RPVBOOT-PROBE PASS name={} pages={nr} mod={mod_len} syms={nsyms} pt={nr_pt} cmdline=\"{}\"",
        core::str::from_utf8(name).unwrap_or("?"),
        core::str::from_utf8(cmd).unwrap_or("?")
    );
    Ok(())
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    shutdown(2)
}
