//! The handover's pure half: from a [`Layout`] and the loader's own p2m to everything that
//! must be written and sent to Xen (docs/handover.md §1–§4).
//!
//! Split so that nothing here touches memory or Xen: [`plan`] computes the new p2m (a
//! permutation of the old one), the page-table frames, the start_info page and the m2p
//! updates; the PV kernel (`rpvboot/src/pv/handover.rs`, `pv::trampoline`) does the writing and the jump.
//!
//! The permutation: the loader has taken `M` = `region_pages` free pages at old PFNs
//! `[t, t+M)` (top of RAM). The new kernel's PFNs `[0, M)` get their MFNs, and the MFNs of
//! `[0, M)` move to `[t, t+M)` (or the prefix is rotated when the two overlap, see
//! [`permute`]). So the loader's live pages are never
//! copied or moved: only their PFN *numbers* change (they become free memory for the new
//! kernel). Then pvgrub's `do_exchange` moves three MFNs that must keep their identity into
//! their target PFNs: the console ring, the xenstore ring (xenconsoled/xenstored map them)
//! and the trampoline page (it becomes the boot-stack page, mapped at the same VA in both
//! address spaces).

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use super::layout::Layout;

/// `MMU_MACHPHYS_UPDATE`, in the low bits of `mmu_update.ptr`.
pub const MMU_MACHPHYS_UPDATE: u64 = 1;

/// Why a handover cannot be planned. Nothing irreversible has happened when one of these is
/// returned: the loader keeps running and can try the fallback entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoverError {
    /// The p2m given is not `nr_pages` long.
    P2mLength { have: u64, want: u64 },
    /// The reserved pages are not `region_pages` pages inside the domain.
    BadReservation { start: u64, end: u64, want: u64 },
    /// An MFN that must keep its identity is not in the p2m.
    MfnNotFound { what: &'static str, mfn: u64 },
    /// Two exchanges want the same MFN or target (the layout is broken).
    ExchangeClash { what: &'static str, pfn: u64 },
}

impl fmt::Display for HandoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::P2mLength { have, want } => {
                write!(f, "p2m has {have} entries, domain has {want} pages")
            }
            Self::BadReservation { start, end, want } => {
                write!(f, "reserved pages {start:#x}..{end:#x} are not {want} pages inside the domain")
            }
            Self::MfnNotFound { what, mfn } => write!(f, "{what} MFN {mfn:#x} is not ours"),
            Self::ExchangeClash { what, pfn } => {
                write!(f, "{what}: PFN {pfn:#x} is already taken by another exchange")
            }
        }
    }
}

/// What the new kernel inherits from the loader's own start_info (docs/handover.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Inherited {
    /// Domain pages (the p2m length).
    pub nr_pages: u64,
    /// Machine address of shared_info.
    pub shared_info: u64,
    /// xenstore ring MFN and port (still bound).
    pub store_mfn: u64,
    /// xenstore event channel.
    pub store_evtchn: u32,
    /// Console ring MFN.
    pub console_mfn: u64,
    /// Console event channel.
    pub console_evtchn: u32,
}

/// Everything the mutate step needs, computed without side effects.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The new kernel's p2m (`new[pfn]` = MFN), `nr_pages` long.
    pub p2m: Vec<u64>,
    /// Page-table frames in PFN order (L4 first), for `new`.
    pub tables: Vec<[u64; 512]>,
    /// The start_info page's first 1168 bytes.
    pub start_info: [u8; START_INFO_SIZE],
    /// `(ptr, val)` pairs for `mmu_update`: one `MMU_MACHPHYS_UPDATE` per PFN whose MFN changed.
    pub m2p: Vec<(u64, u64)>,
    /// Old PFN (loader numbering) of every new PFN `< region_pages` whose page is written
    /// through the loader's own mapping (the page tables: they must be filled and then made
    /// read-only before the pin).
    pub table_old_pfns: Vec<u64>,
}

/// Size of `struct start_info` (x86_64).
pub const START_INFO_SIZE: usize = 1168;

/// The new p2m: `new[i] = old[reserved.start + i]` for `i < M`. A permutation of `old`, so no
/// MFN is lost or duplicated. When the reservation does not overlap `[0, M)`, the two blocks
/// are swapped, so only `2M` PFNs change owner (fewer M2P updates: 2048 instead of 262144
/// for a small kernel in 1 GiB); otherwise the prefix `[0, end)` is rotated.
pub fn permute(old: &[u64], reserved: Range<u64>) -> Result<Vec<u64>, HandoverError> {
    let n = old.len() as u64;
    let m = reserved.end.saturating_sub(reserved.start);
    if reserved.end > n || reserved.start > reserved.end {
        return Err(HandoverError::BadReservation { start: reserved.start, end: reserved.end, want: m });
    }
    let (s, e) = (reserved.start as usize, reserved.end as usize);
    if reserved.start >= m {
        let mut new = old.to_vec();
        for i in 0..(e - s) {
            new.swap(i, s + i);
        }
        return Ok(new);
    }
    let mut new = Vec::with_capacity(old.len());
    new.extend_from_slice(old.get(s..e).unwrap_or_default());
    new.extend_from_slice(old.get(..s).unwrap_or_default());
    new.extend_from_slice(old.get(e..).unwrap_or_default());
    Ok(new)
}

/// The new p2m when new PFN `i < sources.len()` takes the page at old PFN `sources[i]` (any
/// distinct PFNs: pages already holding the new kernel's bytes are given to it where they
/// are). The MFNs of `[0, M)` that no source kept go to the PFNs whose MFN moved into the
/// region, in order, so the result is a permutation of `old`.
pub fn permute_sources(old: &[u64], sources: &[u64]) -> Result<Vec<u64>, HandoverError> {
    let n = old.len();
    let m = sources.len();
    let bad = |s: u64| HandoverError::BadReservation { start: s, end: s.saturating_add(1), want: m as u64 };
    if m > n {
        return Err(bad(n as u64));
    }
    let mut used = alloc::vec![false; n];
    let mut new = old.to_vec();
    for (i, &s) in sources.iter().enumerate() {
        let si = usize::try_from(s).map_err(|_| bad(s))?;
        match (used.get_mut(si), old.get(si), new.get_mut(i)) {
            (Some(u), Some(&mfn), Some(slot)) if !*u => {
                *u = true;
                *slot = mfn;
            }
            _ => return Err(bad(s)),
        }
    }
    let mut freed = old.iter().zip(&used).take(m).filter(|(_, &u)| !u).map(|(&mfn, _)| mfn);
    for (slot, _) in new.iter_mut().zip(&used).skip(m).filter(|(_, &u)| u) {
        *slot = freed.next().ok_or(bad(0))?;
    }
    Ok(new)
}

/// pvgrub's `do_exchange`: make `new[target] = mfn` by swapping with the PFN that holds it.
pub fn exchange(new: &mut [u64], target: u64, mfn: u64, what: &'static str) -> Result<(), HandoverError> {
    let at = new.iter().position(|&m| m == mfn).ok_or(HandoverError::MfnNotFound { what, mfn })?;
    let t = usize::try_from(target).map_err(|_| HandoverError::ExchangeClash { what, pfn: target })?;
    if t >= new.len() {
        return Err(HandoverError::ExchangeClash { what, pfn: target });
    }
    new.swap(at, t);
    Ok(())
}

/// One `MMU_MACHPHYS_UPDATE` per PFN whose MFN changed: `m2p[new[pfn]] = pfn`.
pub fn m2p_updates(old: &[u64], new: &[u64]) -> Vec<(u64, u64)> {
    old.iter()
        .zip(new)
        .enumerate()
        .filter(|(_, (o, n))| o != n)
        .map(|(pfn, (_, &n))| ((n << 12) | MMU_MACHPHYS_UPDATE, pfn as u64))
        .collect()
}

/// The start_info page for the new kernel (docs/handover.md §4): flags 0, module as a VA with
/// its exact length, no INIT_P2M.
pub fn start_info_bytes(layout: &Layout, inh: &Inherited) -> [u8; START_INFO_SIZE] {
    let mut b = [0u8; START_INFO_SIZE];
    let mut put = |off: usize, v: &[u8]| {
        if let Some(d) = b.get_mut(off..off + v.len()) {
            d.copy_from_slice(v);
        }
    };
    put(0, b"xen-3.0-x86_64\0");
    put(32, &inh.nr_pages.to_le_bytes());
    put(40, &inh.shared_info.to_le_bytes());
    put(48, &0u32.to_le_bytes());
    put(56, &inh.store_mfn.to_le_bytes());
    put(64, &inh.store_evtchn.to_le_bytes());
    put(72, &inh.console_mfn.to_le_bytes());
    put(80, &inh.console_evtchn.to_le_bytes());
    put(88, &layout.pt_base().to_le_bytes());
    put(96, &layout.nr_pt_frames().to_le_bytes());
    put(104, &layout.mfn_list().to_le_bytes());
    let (ms, ml) = layout.module0();
    put(112, &ms.to_le_bytes());
    put(120, &ml.to_le_bytes());
    // layout.cmdline is NUL-terminated and at most 1024 bytes.
    put(128, layout.cmdline.get(..1024).unwrap_or(&layout.cmdline));
    b
}

/// Plans the handover. `old` is the loader's p2m, `reserved` the old PFNs of the
/// `layout.region_pages` pages taken for the region, `trampoline_mfn` the MFN of the
/// trampoline page.
pub fn plan(
    layout: &Layout,
    old: &[u64],
    reserved: Range<u64>,
    inh: &Inherited,
    trampoline_mfn: u64,
) -> Result<Plan, HandoverError> {
    if old.len() as u64 != layout.nr_pages || inh.nr_pages != layout.nr_pages {
        return Err(HandoverError::P2mLength { have: old.len() as u64, want: layout.nr_pages });
    }
    if reserved.end.saturating_sub(reserved.start) != layout.region_pages {
        return Err(HandoverError::BadReservation {
            start: reserved.start,
            end: reserved.end,
            want: layout.region_pages,
        });
    }
    let new = permute(old, reserved.clone())?;
    let sources: Vec<u64> = reserved.collect();
    finish(layout, old, new, &sources, inh, trampoline_mfn)
}

/// [`plan`] with the old PFN of every region page given one by one (`sources[pfn]`, see
/// [`permute_sources`]): pages already holding kernel bytes are handed over without a copy.
pub fn plan_sources(
    layout: &Layout,
    old: &[u64],
    sources: &[u64],
    inh: &Inherited,
    trampoline_mfn: u64,
) -> Result<Plan, HandoverError> {
    if old.len() as u64 != layout.nr_pages || inh.nr_pages != layout.nr_pages {
        return Err(HandoverError::P2mLength { have: old.len() as u64, want: layout.nr_pages });
    }
    if sources.len() as u64 != layout.region_pages {
        return Err(HandoverError::BadReservation { start: 0, end: sources.len() as u64, want: layout.region_pages });
    }
    let new = permute_sources(old, sources)?;
    finish(layout, old, new, sources, inh, trampoline_mfn)
}

fn finish(
    layout: &Layout,
    old: &[u64],
    mut new: Vec<u64>,
    sources: &[u64],
    inh: &Inherited,
    trampoline_mfn: u64,
) -> Result<Plan, HandoverError> {
    // The three targets are distinct pages of the region (layout invariant); check anyway.
    let targets = [
        (layout.console_pfn, inh.console_mfn, "console ring"),
        (layout.xenstore_pfn, inh.store_mfn, "xenstore ring"),
        (layout.bootstack_pfn, trampoline_mfn, "trampoline page"),
    ];
    for (i, &(t, m, what)) in targets.iter().enumerate() {
        if targets.iter().take(i).any(|&(t2, m2, _)| t2 == t || m2 == m) {
            return Err(HandoverError::ExchangeClash { what, pfn: t });
        }
        if layout.is_pgtable(t) {
            return Err(HandoverError::ExchangeClash { what, pfn: t });
        }
        exchange(&mut new, t, m, what)?;
    }
    let tables = layout.page_tables(|pfn| new.get(pfn as usize).copied().unwrap_or(0));
    // Page tables are never exchanged, so their old PFN is their source.
    let table_old_pfns = (layout.pgtables.pfn..layout.pgtables.pfn_end())
        .map(|p| {
            sources.get(p as usize).copied().ok_or(HandoverError::BadReservation {
                start: p,
                end: p + 1,
                want: layout.region_pages,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Plan {
        m2p: m2p_updates(old, &new),
        start_info: start_info_bytes(layout, inh),
        tables,
        table_old_pfns,
        p2m: new,
    })
}

#[cfg(test)]
mod tests {
    use super::super::layout::{plan as layout_plan, LayoutInput};
    use super::*;

    const VB: u64 = 0xffff_ffff_8000_0000;

    fn layout(nr: u64, kernel_pages: u64, module: Option<u64>, cmd: &[u8]) -> Layout {
        let mods: Vec<u64> = module.into_iter().collect();
        layout_plan(&LayoutInput {
            virt_base: VB,
            kernel_start: VB + 0x20_0000,
            kernel_end: VB + 0x20_0000 + kernel_pages * 4096 - 100,
            modules: &mods,
            nr_pages: nr,
            pages_in_use: 2048,
            cmdline: cmd,
        })
        .unwrap()
    }

    /// A p2m that looks like a real one: scattered, unique MFNs.
    fn fake_p2m(n: u64) -> Vec<u64> {
        (0..n).map(|i| 0x10_0000 + i * 7919 % (n * 2) * 3 + i % 3).collect()
    }

    #[test]
    fn permutation_is_a_bijection_and_rotates() {
        let old: Vec<u64> = (0..100).map(|i| 1000 + i).collect();
        // Disjoint: the blocks are swapped.
        let new = permute(&old, 70..100).unwrap();
        assert_eq!(new.len(), 100);
        assert_eq!(&new[..30], &old[70..]);
        assert_eq!(&new[30..70], &old[30..70]);
        assert_eq!(&new[70..], &old[..30]);
        // Overlapping: the prefix is rotated.
        let new = permute(&old, 40..100).unwrap();
        assert_eq!(&new[..60], &old[40..]);
        assert_eq!(&new[60..], &old[..40]);
        let new = permute(&old, 10..30).unwrap();
        assert_eq!(&new[..20], &old[10..30]);
        assert_eq!(&new[20..30], &old[..10]);
        assert_eq!(&new[30..], &old[30..]);
        let mut s = new.clone();
        s.sort_unstable();
        assert_eq!(s, old);
        assert!(permute(&old, 90..101).is_err());
    }

    #[test]
    fn plan_keeps_identities_and_m2p_matches() {
        let nr = 16384u64; // 64 MiB
        let l = layout(nr, 300, Some(100_003), b"root=xbd0a -v");
        let old = fake_p2m(nr);
        let m = l.region_pages;
        let reserved = nr - m..nr;
        let inh = Inherited {
            nr_pages: nr,
            shared_info: 0x1234_5000,
            store_mfn: old[10],
            store_evtchn: 1,
            console_mfn: old[11],
            console_evtchn: 2,
        };
        let tramp = old[5];
        let p = plan(&l, &old, reserved.clone(), &inh, tramp).unwrap();
        // A permutation.
        let mut a = p.p2m.clone();
        a.sort_unstable();
        let mut b = old.clone();
        b.sort_unstable();
        assert_eq!(a, b);
        assert_eq!(p.p2m[l.console_pfn as usize], inh.console_mfn);
        assert_eq!(p.p2m[l.xenstore_pfn as usize], inh.store_mfn);
        assert_eq!(p.p2m[l.bootstack_pfn as usize], tramp);
        // Region pages other than the exchanged ones come from the reservation.
        for pfn in 0..m {
            let mfn = p.p2m[pfn as usize];
            let oldpfn = old.iter().position(|&x| x == mfn).unwrap() as u64;
            let special = [l.console_pfn, l.xenstore_pfn, l.bootstack_pfn].contains(&pfn);
            assert_eq!(special, !reserved.contains(&oldpfn), "pfn {pfn}");
        }
        // Applying the m2p updates to the old m2p gives new's inverse.
        let mut m2p: std::collections::HashMap<u64, u64> =
            old.iter().enumerate().map(|(i, &m)| (m, i as u64)).collect();
        for &(ptr, val) in &p.m2p {
            assert_eq!(ptr & 3, MMU_MACHPHYS_UPDATE);
            m2p.insert(ptr >> 12, val);
        }
        for (pfn, &mfn) in p.p2m.iter().enumerate() {
            assert_eq!(m2p[&mfn], pfn as u64);
        }
        // Only changed PFNs are sent.
        let changed = old.iter().zip(&p.p2m).filter(|(a, b)| a != b).count();
        assert_eq!(changed, p.m2p.len());
        assert!(p.m2p.len() as u64 <= 2 * m + 6, "{} updates for {m} pages", p.m2p.len());
        // Table frames: the L4 maps slot 511 to the first L3 through new[].
        assert_eq!(p.tables.len() as u64, l.nr_pt_frames());
        let l3 = p.p2m[(l.pgtables.pfn + 1) as usize];
        assert_eq!(p.tables[0][511], (l3 << 12) | 0x67);
        assert_eq!(p.table_old_pfns[0], reserved.start + l.pgtables.pfn);
        assert_eq!(old[p.table_old_pfns[0] as usize], p.p2m[l.pgtables.pfn as usize]);
    }

    #[test]
    fn sources_give_a_permutation_with_the_chosen_pages_first() {
        let old: Vec<u64> = (0..100).map(|i| 1000 + i * 3).collect();
        // Scattered sources, some inside [0, M), some above.
        let src = [50u64, 3, 97, 10, 11, 60, 2, 99];
        let new = permute_sources(&old, &src).unwrap();
        for (i, &s) in src.iter().enumerate() {
            assert_eq!(new[i], old[s as usize]);
        }
        let mut a = new.clone();
        a.sort_unstable();
        assert_eq!(a, old, "not a permutation");
        // PFNs neither in the region nor a source keep their MFN.
        for p in 8..100u64 {
            if !src.contains(&p) {
                assert_eq!(new[p as usize], old[p as usize], "pfn {p}");
            }
        }
        // A contiguous disjoint reservation gives the same p2m as `permute`.
        let r: Vec<u64> = (70..100).collect();
        assert_eq!(permute_sources(&old, &r).unwrap(), permute(&old, 70..100).unwrap());
        // Duplicates, out-of-range PFNs and too many sources are refused.
        assert!(permute_sources(&old, &[5, 6, 5]).is_err());
        assert!(permute_sources(&old, &[5, 100]).is_err());
        assert!(permute_sources(&old[..2], &[0, 1, 1]).is_err());
    }

    #[test]
    fn plan_sources_matches_plan_for_a_top_reservation_and_takes_scattered_pages() {
        let nr = 16384u64;
        let l = layout(nr, 300, Some(100_003), b"x");
        let old = fake_p2m(nr);
        let m = l.region_pages;
        let inh = Inherited { nr_pages: nr, store_mfn: old[10], console_mfn: old[11], ..Inherited::default() };
        let top: Vec<u64> = (nr - m..nr).collect();
        let a = plan(&l, &old, nr - m..nr, &inh, old[5]).unwrap();
        let b = plan_sources(&l, &old, &top, &inh, old[5]).unwrap();
        assert_eq!(a.p2m, b.p2m);
        assert_eq!(a.m2p, b.m2p);
        assert_eq!(a.table_old_pfns, b.table_old_pfns);
        // Kernel pages taken from the middle of RAM (where a decompressed image lies).
        let mut src = top.clone();
        for (i, s) in src.iter_mut().enumerate().skip(l.kernel.pfn as usize).take(l.kernel.pages as usize) {
            *s = 5000 + i as u64;
        }
        let p = plan_sources(&l, &old, &src, &inh, old[5]).unwrap();
        for pfn in l.kernel.pfn..l.kernel.pfn_end() {
            assert_eq!(p.p2m[pfn as usize], old[src[pfn as usize] as usize]);
        }
        assert_eq!(p.table_old_pfns[0], src[l.pgtables.pfn as usize]);
        let mut m2p: std::collections::HashMap<u64, u64> =
            old.iter().enumerate().map(|(i, &m)| (m, i as u64)).collect();
        for &(ptr, val) in &p.m2p {
            m2p.insert(ptr >> 12, val);
        }
        for (pfn, &mfn) in p.p2m.iter().enumerate() {
            assert_eq!(m2p[&mfn], pfn as u64);
        }
        assert!(plan_sources(&l, &old, &src[1..], &inh, old[5]).is_err());
    }

    #[test]
    fn start_info_fields_at_abi_offsets() {
        let nr = 8192;
        let l = layout(nr, 10, Some(5000), b"a b c");
        let inh = Inherited {
            nr_pages: nr,
            shared_info: 0xabc000,
            store_mfn: 77,
            store_evtchn: 3,
            console_mfn: 78,
            console_evtchn: 4,
        };
        let b = start_info_bytes(&l, &inh);
        let q = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let d = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        assert_eq!(&b[..15], b"xen-3.0-x86_64\0");
        assert_eq!(q(32), nr);
        assert_eq!(q(40), 0xabc000);
        assert_eq!(d(48), 0);
        assert_eq!((q(56), d(64), q(72), d(80)), (77, 3, 78, 4));
        assert_eq!(q(88), l.pt_base());
        assert_eq!(q(96), l.nr_pt_frames());
        assert_eq!(q(104), l.mfn_list());
        assert_eq!(q(112), l.modules[0].vstart);
        assert_eq!(q(120), 5000, "exact module length (docs/handover.md P8)");
        assert_eq!(&b[128..134], b"a b c\0");
        assert_eq!((q(1152), q(1160)), (0, 0));
    }

    #[test]
    fn refuses_bad_inputs() {
        let nr = 8192;
        let l = layout(nr, 10, None, b"");
        let old = fake_p2m(nr);
        let inh = Inherited { nr_pages: nr, store_mfn: old[1], console_mfn: old[2], ..Inherited::default() };
        let m = l.region_pages;
        assert!(matches!(plan(&l, &old[..100], nr - m..nr, &inh, old[3]), Err(HandoverError::P2mLength { .. })));
        assert!(matches!(plan(&l, &old, nr - m - 1..nr, &inh, old[3]), Err(HandoverError::BadReservation { .. })));
        assert!(matches!(plan(&l, &old, nr - m..nr, &inh, 0xdead_beef), Err(HandoverError::MfnNotFound { .. })));
        assert!(matches!(plan(&l, &old, nr - m..nr, &inh, old[1]), Err(HandoverError::ExchangeClash { .. })));
    }
}
