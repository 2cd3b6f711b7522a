//! The layout planner against figures measured under Xen (docs/handover.md §6: libxc's own
//! layouts for a tiny kernel and Debian's Linux) and property tests over seeded random inputs:
//! packed, inside the domain, 4 MiB rule, and a walk of the generated page tables.

use bootplan::layout::{self, Layout, LayoutError, LayoutInput, PAGE_SIZE};

const VB: u64 = 0xffff_ffff_8000_0000;

fn input(kstart: u64, kend: u64, modules: &[u64], nr_pages: u64) -> LayoutInput<'_> {
    LayoutInput {
        virt_base: VB,
        kernel_start: kstart,
        kernel_end: kend,
        modules,
        nr_pages,
        pages_in_use: 0,
        cmdline: b"root=xbd0a -v",
    }
}

#[test]
fn tiny_kernel_like_xl() {
    // docs/handover.md §6: small kernel: 5 tables (1+1+1+2), end at 4 MiB, M = 1024.
    let l = layout::plan(&input(VB, VB + 0x5000, &[], 16384)).unwrap();
    assert_eq!(l.nr_pt_frames(), 5);
    assert_eq!(l.levels.map(|v| v.count), [2, 1, 1, 1], "L1, L2, L3, L4 counts");
    assert_eq!(l.virt_pgtab_end, VB + (4 << 20));
    assert_eq!(l.region_pages, 1024);
    // libxc order: kernel, p2m, start_info, xenstore, console, tables, stack.
    assert_eq!(l.kernel.pfn, 0);
    assert_eq!(l.p2m.pfn, 5);
    assert_eq!(l.p2m.pages, 32); // 16384 * 8 bytes
    assert_eq!(l.start_info_pfn, 37);
    assert_eq!((l.xenstore_pfn, l.console_pfn), (38, 39));
    assert_eq!(l.pgtables.pfn, 40);
    assert_eq!(l.bootstack_pfn, 45);
    assert_eq!(l.stack_top(), VB + 46 * 4096);
    assert_eq!(l.cmdline, b"root=xbd0a -v\0");
}

#[test]
fn linux_figures_from_the_handover_run() {
    // Debian 6.1.0-56: kernel at 0xffffffff81000000 up to 0xffffffff84a00000, initrd of
    // 1676 KiB, 256 MiB: p2m at 0xffffffff84ba3000, 43 tables, end 0xffffffff85000000.
    let initrd = 1676 * 1024;
    let l = layout::plan(&input(0xffff_ffff_8100_0000, 0xffff_ffff_84a0_0000, &[initrd], 65536)).unwrap();
    assert_eq!(l.module0(), (0xffff_ffff_84a0_0000, initrd));
    assert_eq!(l.mfn_list(), 0xffff_ffff_84ba_3000);
    assert_eq!(l.nr_pt_frames(), 43);
    assert_eq!(l.virt_pgtab_end, 0xffff_ffff_8500_0000);
    assert_eq!(l.region_pages, 20480);
    assert_eq!(l.kernel.pfn, 0x1000, "16 MiB of padding below the kernel");
}

#[test]
fn errors_are_typed() {
    assert!(matches!(layout::plan(&input(VB + 1, VB + 0x5000, &[], 16384)), Err(LayoutError::NotPageAligned { .. })));
    assert!(matches!(layout::plan(&input(VB, VB + (64 << 20), &[], 8192)), Err(LayoutError::DomainTooSmall { .. })));
    let mut i = input(VB, VB + 0x5000, &[], 2048);
    i.pages_in_use = 1500;
    let e = layout::plan(&i).unwrap_err();
    assert!(e.to_string().contains("domain too small"), "{e}");
    // The command line is cut to 1023 bytes + NUL, like libxc's strncpy.
    let long = vec![b'x'; 2000];
    let mut i = input(VB, VB + 0x5000, &[], 16384);
    i.cmdline = &long;
    let l = layout::plan(&i).unwrap();
    assert_eq!(l.cmdline.len(), 1024);
    assert!(l.cmdline_truncated);
}

use testimages::rng::Rng;

const MFN_BASE: u64 = 0x10_0000;

/// Walk the generated tables like the MMU: VA → L4 → L3 → L2 → L1 → (mfn, writable).
fn walk(l: &Layout, frames: &[[u64; 512]], va: u64) -> Option<(u64, bool)> {
    let frame_of = |e: u64| -> Option<&[u64; 512]> {
        let mfn = (e & 0x000f_ffff_ffff_f000) >> 12;
        let idx = mfn.checked_sub(MFN_BASE + l.pgtables.pfn)?;
        frames.get(idx as usize)
    };
    let mut table = frames.first()?;
    for level in (1..4).rev() {
        let e = table[((va >> (12 + 9 * level)) & 511) as usize];
        if e & 1 == 0 {
            return None;
        }
        assert_eq!(e & 0xfff, layout::UPPER_PROT);
        table = frame_of(e)?;
    }
    let e = table[((va >> 12) & 511) as usize];
    if e & 1 == 0 {
        return None;
    }
    Some(((e >> 12) & 0xff_ffff_ffff, e & 2 != 0))
}

/// Independent table count: one L3 per 512 GiB slot, one L2 per GiB, one L1 per 2 MiB.
fn expected_tables(from: u64, last: u64) -> u64 {
    let n = |bits: u32| ((last >> bits) - (from >> bits)) + 1;
    1 + n(39) + n(30) + n(21)
}

#[test]
fn property_invariants_over_random_inputs() {
    let mut rng = Rng(0x1a70_07ed);
    let mut ok = 0;
    for case in 0..400 {
        let vb = match rng.below(3) {
            0 => VB,
            1 => 0,
            _ => rng.below(1 << 35) << 12,
        };
        let pad = rng.below(4096) * PAGE_SIZE * u64::from(rng.below(2) == 0);
        let kstart = vb + pad;
        let klen = 1 + rng.below(24 << 20);
        let nmod = rng.below(3) as usize;
        let modules: Vec<u64> = (0..nmod).map(|_| rng.below(6 << 20)).collect();
        let nr_pages = 2048 + rng.below(1 << 17);
        let in_use = rng.below(4096);
        let inp = LayoutInput {
            virt_base: vb,
            kernel_start: kstart,
            kernel_end: kstart + klen,
            modules: &modules,
            nr_pages,
            pages_in_use: in_use,
            cmdline: b"x",
        };
        let l = match layout::plan(&inp) {
            Ok(l) => l,
            Err(LayoutError::DomainTooSmall { region_pages, pages_in_use, nr_pages: n }) => {
                assert!(region_pages + pages_in_use > n, "case {case}: refused although it fits");
                continue;
            }
            Err(e) => panic!("case {case}: {e}"),
        };
        ok += 1;
        // Packed, in libxc order, page-aligned, no overlaps.
        let mut segs = vec![(0, l.kernel.pfn)];
        segs.push((l.kernel.pfn, l.kernel.pfn_end()));
        for m in &l.modules {
            segs.push((m.pfn, m.pfn_end()));
        }
        segs.push((l.p2m.pfn, l.p2m.pfn_end()));
        for p in [l.start_info_pfn, l.xenstore_pfn, l.console_pfn] {
            segs.push((p, p + 1));
        }
        segs.push((l.pgtables.pfn, l.pgtables.pfn_end()));
        segs.push((l.bootstack_pfn, l.bootstack_pfn + 1));
        for w in segs.windows(2) {
            assert_eq!(w[0].1, w[1].0, "case {case}: gap or overlap in {segs:?}");
        }
        assert_eq!(l.kernel.pfn, pad / PAGE_SIZE);
        assert_eq!(l.kernel.pages, klen.div_ceil(PAGE_SIZE));
        for (m, len) in l.modules.iter().zip(&modules) {
            assert_eq!(m.vend - m.vstart, *len);
            assert_eq!(m.vstart, l.va(m.pfn));
        }
        assert_eq!(l.p2m.pages, (nr_pages * 8).div_ceil(PAGE_SIZE));
        // Inside the domain; the 4 MiB rule with at least 512 KiB after the stack.
        assert!(l.region_pages + in_use <= nr_pages);
        assert_eq!(l.virt_pgtab_end % (4 << 20), 0);
        assert_eq!(l.virt_pgtab_end - vb, l.region_pages * PAGE_SIZE);
        assert!(l.virt_pgtab_end - l.stack_top() >= 512 * 1024, "case {case}");
        // Tables: the independent count, and a walk of every page.
        let last = (l.virt_pgtab_end - 1) & ((1 << 48) - 1);
        let first = vb & ((1 << 48) - 1);
        assert_eq!(l.nr_pt_frames(), expected_tables(first, last), "case {case}");
        let frames = l.page_tables(|pfn| MFN_BASE + pfn);
        assert_eq!(frames.len() as u64, l.nr_pt_frames());
        let step = if l.region_pages > 20000 { 7 } else { 1 };
        for pfn in (0..l.region_pages).step_by(step).chain([l.region_pages - 1]) {
            let va = l.va(pfn);
            let (mfn, rw) = walk(&l, &frames, va).unwrap_or_else(|| panic!("case {case}: {va:#x} not mapped"));
            assert_eq!(mfn, MFN_BASE + pfn, "case {case}: {va:#x}");
            assert_eq!(rw, !l.is_pgtable(pfn), "case {case}: RW of {va:#x}");
        }
        // Nothing beyond the region (unless the next 2 MiB is in an L1 we don't have).
        if l.virt_pgtab_end != 0 && l.virt_pgtab_end & ((1 << 48) - 1) != 0 {
            assert_eq!(walk(&l, &frames, l.virt_pgtab_end), None, "case {case}");
        }
        if vb >= PAGE_SIZE {
            assert_eq!(walk(&l, &frames, vb - PAGE_SIZE), None, "case {case}");
        }
    }
    assert!(ok > 150, "only {ok} plans succeeded");
}
