//! The `rpvboot` PV kernel: start-up, banner, devices, menu, and the handover to the chosen kernel.
//!
//! On the host this binary only explains what it is; the real one is built for
//! `x86_64-unknown-none` by `cargo xtask build`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("rpvboot is a Xen PV kernel image; build it with `cargo xtask build`");
    std::process::exit(2);
}

#[cfg(target_os = "none")]
mod kernel {
    extern crate alloc;
    use alloc::string::String;
    use core::fmt;

    use rpvboot::devices::XenStart;
    use rpvboot::hypervisor::hypercall;
    use rpvboot::hypervisor::platform::GrantFrames;
    use rpvboot::hypervisor::shared::Shared;
    use rpvboot::println;
    use rpvboot::pv::{self, traps};
    use rpvboot::{exit, heap, pvh};
    use xenfront::raw::ShutdownReason;

    /// Shown on the first line of the console: the workspace version and the source revision
    /// `cargo xtask build` passes in `RPVBOOT_REV` (`unknown` in a plain `cargo build`).
    const VERSION: &str = env!("CARGO_PKG_VERSION");
    const REV: &str = match option_env!("RPVBOOT_REV") {
        Some(r) => r,
        None => "unknown",
    };

    /// Command-line bytes for display: printable ASCII as is, the rest as `\xNN`.
    struct Shown<'a>(&'a [u8]);

    impl fmt::Display for Shown<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for &b in self.0 {
                if (0x20..0x7f).contains(&b) {
                    fmt::Write::write_char(f, char::from(b))?;
                } else {
                    write!(f, "\\x{b:02x}")?;
                }
            }
            Ok(())
        }
    }

    /// What a start-up path hands to the common flow ([`run`]).
    struct Started<'a> {
        /// The `extra=` line's bytes.
        cmdline: &'a [u8],
        /// Pages of the domain (RAM pages for PVH).
        nr_pages: u64,
        shared: Shared,
        console: &'static rpvboot::console::XenConsole,
        /// Where the device stage finds xenstore and the grant table.
        xen: XenStart,
        /// How a chosen kernel is started, and what to say about start-up under verbose.
        path: Path<'a>,
    }

    /// The start-up path that ran.
    enum Path<'a> {
        Pv(&'a pv::Boot, Option<core::ops::Range<u64>>),
        Pvh(&'a pvh::Boot),
    }

    /// Called by the PV entry stub (pv/entry.rs) on our own stack, .bss zeroed.
    #[no_mangle]
    extern "C" fn rust_start(start_info_va: u64) -> ! {
        // SAFETY: called once, from _start, with Xen's rsi.
        let boot = match unsafe { pv::init(start_info_va) } {
            Ok(b) => b,
            Err(e) => {
                println!("rpvboot: start-up failed: {e}");
                exit::shutdown(ShutdownReason::Crash);
            }
        };
        let si = &boot.start_info;
        // libxc maps its bootstrap region up to a 4 MiB boundary; after its last page (the boot
        // stack, after the page tables) the rest is padding nobody uses: give it to the heap.
        let padding = rpvboot::memory::va_to_pfn(si.pt_base).map(|pt| {
            let pad = pt.saturating_add(si.nr_pt_frames).saturating_add(1)..boot.memory.bootstrap_end;
            heap::donate(pad.clone());
            pad
        });
        run(Started {
            cmdline: si.cmd_line_bytes(),
            nr_pages: si.nr_pages,
            shared: boot.shared,
            console: boot.console,
            xen: XenStart {
                store_frame: si.store_mfn,
                store_port: si.store_evtchn,
                grant_frames: GrantFrames::Listed,
                nr_pages: si.nr_pages,
                container: bootplan::plan::Container::Pv,
            },
            path: Path::Pv(&boot, padding),
        })
    }

    /// Called by the PVH entry stub (pvh/entry.rs) in long mode at the high VA, on our own
    /// stack, .bss zeroed.
    #[no_mangle]
    extern "C" fn rust_start_pvh(start_info_pa: u64) -> ! {
        // SAFETY: called once, from pvh_start32, with Xen's ebx.
        let boot = match unsafe { pvh::init(start_info_pa) } {
            Ok(b) => b,
            Err(e) => {
                println!("rpvboot: PVH start-up failed: {e}");
                exit::shutdown(ShutdownReason::Crash);
            }
        };
        run(Started {
            cmdline: boot.cmdline,
            nr_pages: boot.ram_pages,
            shared: boot.shared,
            console: boot.console,
            xen: XenStart {
                store_frame: boot.store.0,
                store_port: boot.store.1,
                grant_frames: GrantFrames::PlacedAt(boot.grant_gfn),
                nr_pages: boot.ram_pages,
                container: bootplan::plan::Container::Pvh,
            },
            path: Path::Pvh(&boot),
        })
    }

    /// Start-up figures for developers (`rpvboot.verbose`).
    fn report_start(s: &Started<'_>) {
        println!("rpvboot: t={}", s.shared.now_ns());
        match &s.path {
            Path::Pv(boot, padding) => {
                let m = &boot.memory;
                if let Some(pad) = padding {
                    println!("rpvboot: bootstrap padding pfn {:#x}..{:#x} given to the heap", pad.start, pad.end);
                }
                println!(
                    "rpvboot: memory pfn 0..{:#x} (bootstrap to {:#x}, {} page tables reserved, mapped on demand) in {} us, heap from pfn {:#x}; start-up {} us",
                    m.nr_pages,
                    m.bootstrap_end,
                    m.new_tables.end - m.new_tables.start,
                    boot.map_ns / 1000,
                    m.free.start,
                    boot.t_ready_ns.saturating_sub(boot.t0_ns) / 1000
                );
            }
            Path::Pvh(boot) => println!(
                "rpvboot: PVH: hvm_start_info v{}, {} RAM pages, heap pfn {:#x}..{:#x}, shared_info and grant table at gfn {:#x}..; start-up {} us",
                boot.info.version,
                boot.ram_pages,
                boot.heap.start,
                boot.heap.end,
                boot.grant_gfn - 1,
                boot.t_ready_ns.saturating_sub(boot.t0_ns) / 1000
            ),
        }
    }

    /// The flow both start-up paths share: banner, `extra=` options and test hooks, the
    /// device stage, the handover of the chosen kernel, power off.
    fn run(s: Started<'_>) -> ! {
        let (major, minor) = hypercall::xen_version();
        println!("rpvboot {VERSION} ({REV}) Xen PV bootloader");
        let kind = if matches!(s.path, Path::Pvh(_)) { ", PVH" } else { "" };
        println!("rpvboot: memory {} MiB ({} pages), Xen {major}.{minor}{kind}", s.nr_pages >> 8, s.nr_pages);
        if !s.cmdline.is_empty() {
            println!("rpvboot: cmdline \"{}\"", Shown(s.cmdline));
        }
        // The `extra=` line, parsed once; every option below and in the stages comes from it.
        let line = match core::str::from_utf8(s.cmdline) {
            Ok(l) => l,
            Err(e) => core::str::from_utf8(s.cmdline.get(..e.valid_up_to()).unwrap_or(&[])).unwrap_or(""),
        };
        let extra = bootconfig::extra::parse(line);
        rpvboot::trace::enable(extra.dev.trace);
        rpvboot::trace::mark("banner, options", 0);
        if extra.dev.trace && !rpvboot::trace::BUILT {
            println!("rpvboot: rpvboot.trace: this image has no trace (build it with RPVBOOT_FEATURES=trace)");
        }
        // Start-up figures for developers; a domU owner's console starts with the disks.
        if extra.verbose {
            report_start(&s);
        }
        let test = extra.dev.test;
        if test.panic {
            panic!("test panic requested");
        }
        if test.fault {
            let v = traps::fault_by_reading_page_zero();
            println!("rpvboot: read page 0 without a fault ({v:#x}): page 0 is mapped!");
            exit::shutdown(ShutdownReason::Crash);
        }
        if test.heap {
            heap_check();
        }
        if test.flood {
            // 400 numbered lines (~32 KiB) through the 2 KiB ring: flow control must not drop any.
            let t = s.shared.now_ns();
            for i in 0..400 {
                println!("rpvboot: flood line {i:03} ........................................");
            }
            let ms = s.shared.now_ns().saturating_sub(t) / 1_000_000;
            println!("rpvboot: flood done, 400 lines in {ms} ms");
        }

        if test.keys {
            keys_echo(s.console);
        }

        let mut outcome = rpvboot::devices::run_xen(&s.xen, s.shared, &extra);
        rpvboot::trace::mark("device stage", 0);
        // The disks' close began after their last read; it completes just before the jump
        // (or here, when there is no jump).
        let mut closing = outcome.closing.take();
        if let Some(sel) = outcome.selected {
            // Pages a backend still has granted must not become the next kernel's RAM.
            let mut finish = || {
                rpvboot::trace::mark("handover built", 0);
                let r = match closing.take() {
                    Some(c) => c.finish(&mut rpvboot::devices::ConsoleOut).refusal().map_or(Ok(()), Err),
                    None => Ok(()),
                };
                rpvboot::trace::mark("close finished", 0);
                r
            };
            let why = match &s.path {
                Path::Pv(boot, _) => {
                    rpvboot::pv::handover::boot_selected(&boot.start_info, extra.verbose, &sel, &mut finish)
                }
                Path::Pvh(boot) => rpvboot::pvh::handover::boot_selected(
                    &rpvboot::pvh::handover::platform(boot),
                    extra.verbose,
                    &sel,
                    &mut finish,
                ),
            };
            println!("rpvboot: boot failed: {why}");
        }
        if let Some(c) = closing.take() {
            let _ = c.finish(&mut rpvboot::devices::ConsoleOut);
        }
        if test.ramdisk {
            let why = match &s.path {
                Path::Pv(boot, _) => rpvboot::pv::handover::boot_ramdisk(&boot.start_info, &extra),
                Path::Pvh(_) => String::from("rpvboot.test=ramdisk is a PV-only test option"),
            };
            println!("rpvboot: boot failed: {why}");
        }
        println!("rpvboot: nothing left to boot, powering off");
        exit::shutdown(ShutdownReason::Poweroff)
    }

    /// `rpvboot.test=heap`: allocate, fill and verify a 64 MiB buffer (the size of a big kernel),
    /// plus many small allocations, and report how far the heap grew.
    fn heap_check() {
        extern crate alloc;
        use alloc::vec::Vec;
        let t = rpvboot::console::get().map(|c| pvconsole::Platform::now_ns(c.platform()));
        let n = 64usize << 20;
        let mut big: Vec<u8> = Vec::new();
        if big.try_reserve_exact(n).is_err() {
            println!("rpvboot: heap: cannot allocate {n} bytes");
            return;
        }
        big.extend((0..n).map(|i| (i % 251) as u8));
        let ok = big.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
        let small: Vec<Vec<u32>> = (0..10_000u32).map(|i| alloc::vec![i; (i % 64) as usize]).collect();
        let ok2 = small.iter().enumerate().all(|(i, v)| v.iter().all(|&x| x as usize == i));
        let dt = t.zip(rpvboot::console::get().map(|c| pvconsole::Platform::now_ns(c.platform())));
        println!(
            "rpvboot: heap: 64 MiB at {:#x} {}, 10000 small {}, heap top pfn {:#x}, {} ms",
            big.as_ptr() as usize,
            if ok { "ok" } else { "CORRUPT" },
            if ok2 { "ok" } else { "CORRUPT" },
            heap::heap_top_pfn(),
            dt.map_or(0, |(a, b)| b.saturating_sub(a) / 1_000_000)
        );
    }

    /// `rpvboot.test=keys`: report console input bytes until `q` or 30 s without input.
    fn keys_echo(con: &rpvboot::console::XenConsole) {
        println!("rpvboot: keys: waiting for input (q ends)");
        let mut buf = [0u8; 64];
        'outer: loop {
            let n = con.read_timeout(&mut buf, 30_000_000_000);
            if n == 0 {
                println!("rpvboot: keys: timeout");
                break;
            }
            for &b in buf.iter().take(n) {
                println!("rpvboot: key {b:#04x}");
                if b == b'q' {
                    break 'outer;
                }
            }
        }
        println!("rpvboot: keys done");
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        exit::panic_report(info)
    }
}
