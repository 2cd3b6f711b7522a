//! The e2e scenario list: each entry is one domU that dom0 starts with `xl create` in the
//! shared QEMU boot. To add one, push a [`Scenario`] in [`all`]; disks come from a recipe fn
//! (built on the host before QEMU starts) or an existing image path.

use std::path::PathBuf;

use anyhow::Result;

/// How a domain ended, as `xl` logs it (`Domain N has shut down, reason code C`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// `SHUTDOWN_poweroff` (0).
    Poweroff,
    /// `SHUTDOWN_crash` (3): a panic, or Xen crashing the domain.
    Crash,
}

impl Shutdown {
    /// Xen's `SHUTDOWN_*` reason code.
    pub fn code(self) -> u32 {
        match self {
            Shutdown::Poweroff => 0,
            Shutdown::Crash => 3,
        }
    }

    /// Name for a reason code.
    pub fn name_of(code: u32) -> &'static str {
        match code {
            0 => "poweroff",
            1 => "reboot",
            2 => "suspend",
            3 => "crash",
            4 => "watchdog",
            5 => "soft_reset",
            _ => "unknown",
        }
    }
}

/// The PV kernel a scenario boots.
#[derive(Clone, Debug)]
pub enum Kernel {
    /// rpvboot as built by `crate::build::build_rpvboot()` (or `--kernel` on the command line).
    Rpvboot,
    /// Debian's grub-xen-bin pvgrub2 image built by setup (a baseline).
    Pvgrub2,
    /// Any other PV kernel file.
    File(PathBuf),
    /// A file made on the host before QEMU starts (e.g. `rpvboot.xz`); returns its path.
    Recipe(fn() -> Result<PathBuf>),
}

/// Which QEMU the boot that runs a scenario uses (all scenarios of a run share one boot; one
/// that needs [`QemuKind::Bookworm`] moves the whole boot there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QemuKind {
    /// The host's QEMU 10.0 (bookworm-backports).
    Host,
    /// bookworm's QEMU 7.2, unpacked by setup: Linux as a PVH guest needs it
    /// (docs/pvh-linux.md).
    Bookworm,
}

/// A disk attached to the domU (xvda, xvdb, … in order), through a dom0 loop device.
#[derive(Clone, Debug)]
pub enum Disk {
    /// An image file that exists already.
    Path(PathBuf),
    /// A recipe run on the host before QEMU starts; returns the image path.
    Recipe(fn() -> Result<PathBuf>),
}

/// One domU run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Unique, `[a-z0-9-]`: also the Xen domain name and the log file names.
    pub name: String,
    pub kernel: Kernel,
    pub disks: Vec<Disk>,
    /// Also passed to the kernel as `ramdisk=` when set.
    pub ramdisk: Option<PathBuf>,
    pub memory_mib: u32,
    /// The `extra=` command line.
    pub extra: String,
    /// Bytes typed into the guest console shortly after it starts (empty: none).
    pub keys: Vec<u8>,
    /// Regexes (multi-line mode: `^`/`$` match at line ends) that must all match the console.
    pub expect: Vec<String>,
    /// Expected shutdown reason; `None` accepts any.
    pub shutdown: Option<Shutdown>,
    /// Whether `(XEN) Domain N (vcpu#M) crashed` is acceptable (Xen killed the guest).
    pub allow_crash: bool,
    /// Seconds dom0 gives `xl create -c` before destroying the domain.
    pub timeout_secs: u32,
    /// The domain must still be running at the timeout (it waits for ever by design, e.g. in
    /// a kernel debugger that cannot read the console); being destroyed then is the success
    /// path, and [`Scenario::shutdown`] is not checked.
    pub ends_by_timeout: bool,
    /// Runs in a plain `cargo xtask e2e`; others only by `--scenario NAME`.
    pub default: bool,
    /// Attach the disks as xl `file:` disks (Debian's `block` hotplug script sets up the loop
    /// device) instead of `phy:` loop devices through the fast `block-lite` script.
    pub file_disks: bool,
    /// The ad-hoc contract (`cargo xtask e2e --disk IMG --expect RE`, [`Scenario::adhoc`]): as
    /// soon as every [`Scenario::expect`] matches the live console, the harness types Ctrl-]
    /// (xl's detach key) into dom0's `xl create -c` and dom0 destroys the domain; the scenario
    /// then passes on its expectations alone, whatever the domain would have done next (e.g. a
    /// menu waiting for a key). A domain that ends by itself is judged as usual.
    pub stop_when_matched: bool,
    /// Run on the host after the domU passed its expectations, with the disk images it booted
    /// and its console (e.g. the dry run over the same images); an error fails the scenario.
    pub host_check: Option<HostCheck>,
    /// A dom0 shell script (made on the host from the disk images, in xvda.. order) run after
    /// the domain ended, with its disks still on /dev/loop0..: its output is appended to the
    /// scenario's console (e.g. sectors the guest wrote, for the expectations and the host
    /// check).
    pub dom0_after: Option<Dom0Script>,
    /// Attach the disks read-only (xl `access=ro`: the backend's `mode` is `r`).
    pub read_only: bool,
    /// The scenario that must run before this one in the same QEMU boot: the disks are the same
    /// dom0 files (staged once per path), so this one sees what that one's guest wrote, as a
    /// second `xl create` of the same disk would.
    pub follows: Option<&'static str>,
    /// Start the domU as `type = "pvh"` (an HVM container without device model, entered
    /// through the kernel's `XEN_ELFNOTE_PHYS32_ENTRY`) instead of `type = "pv"`.
    pub pvh: bool,
    /// Extra lines for the xl config, verbatim (e.g. `cpuid = "host,rdtscp=0"`).
    pub xl_extra: Vec<String>,
    /// The QEMU the boot needs.
    pub qemu: QemuKind,
}

/// See [`Scenario::dom0_after`].
pub type Dom0Script = fn(&[PathBuf]) -> Result<String>;

/// See [`Scenario::host_check`]: (scenario, disk images in xvda.. order, guest console).
pub type HostCheck = fn(&Scenario, &[PathBuf], &str) -> Result<()>;

impl Scenario {
    /// An rpvboot domU with no disks, 64 MiB, 60 s, expecting a clean poweroff.
    pub fn rpvboot(name: &str, extra: &str) -> Self {
        Self {
            name: name.to_string(),
            kernel: Kernel::Rpvboot,
            disks: Vec::new(),
            ramdisk: None,
            memory_mib: 64,
            extra: extra.to_string(),
            keys: Vec::new(),
            expect: Vec::new(),
            shutdown: Some(Shutdown::Poweroff),
            allow_crash: false,
            timeout_secs: 60,
            ends_by_timeout: false,
            default: true,
            file_disks: false,
            stop_when_matched: false,
            host_check: None,
            dom0_after: None,
            read_only: false,
            follows: None,
            pvh: false,
            xl_extra: Vec::new(),
            qemu: QemuKind::Host,
        }
    }

    /// The scenario `cargo xtask e2e --disk IMG… --expect RE…` runs: rpvboot with these disks,
    /// `extra=` line, memory and typed keys, 120 s, any shutdown; it stops as soon as every
    /// expectation matched ([`Scenario::stop_when_matched`]).
    pub fn adhoc(
        name: &str,
        disks: Vec<Disk>,
        extra: &str,
        memory_mib: u32,
        keys: Vec<u8>,
        expect: Vec<String>,
    ) -> Self {
        Self {
            disks,
            memory_mib,
            keys,
            expect,
            shutdown: None,
            timeout_secs: 120,
            stop_when_matched: true,
            ..Self::rpvboot(name, extra)
        }
    }

    /// Adds an expected console regex.
    pub fn expect(mut self, re: &str) -> Self {
        self.expect.push(re.to_string());
        self
    }
}

/// Every scenario, in run order.
pub fn all() -> Vec<Scenario> {
    let mut v = vec![
        // The banner names this source's version and revision (`git rev-parse`, the oracle).
        Scenario::rpvboot("banner", "hello-from-e2e root=xvda1")
            .expect(&banner_re())
            .expect(r"rpvboot: memory \d+ MiB")
            .expect(r#"rpvboot: cmdline "hello-from-e2e root=xvda1""#)
            .expect(r"rpvboot: nothing left to boot, powering off"),
        Scenario {
            shutdown: Some(Shutdown::Crash),
            // rpvboot's panic handler shuts down with reason crash; Xen crashing it is not
            // expected, but the panic message is what this scenario checks.
            allow_crash: true,
            ..Scenario::rpvboot("panic", "rpvboot.test=panic")
                .expect(r"rpvboot: panic at .*src.*:\d+:\d+: test panic requested")
        },
        // Baseline: Debian's pvgrub2 boots the Debian kernel from an ext2 disk.
        Scenario {
            kernel: Kernel::Pvgrub2,
            disks: vec![Disk::Recipe(crate::e2e::images::linux_boot_disk)],
            memory_mib: 256,
            extra: String::new(),
            timeout_secs: 120,
            default: false,
            ..Scenario::rpvboot("pvgrub2", "").expect(r"DOMU-DISK-READ: DISK-FILE-CONTENT-42").expect(r"DOMU-BOOTED-OK")
        },
    ];
    v.extend(linux_direct_scenarios());
    v.extend(handover_scenarios());
    v.extend(super::grubenv::scenarios());
    v.extend(image_form_scenarios());
    v.push(crate::demo::installed_scenario());
    v.extend(menu_scenarios());
    v.extend(pvh_scenarios());
    v.extend(device_scenarios());
    v.extend(memory_scenarios());
    // Issue 22, the ad-hoc contract as users run it: the disk's only entry has no kernel, so
    // the menu shows the error and then waits for a key for ever; the run passes on seeing the
    // error, and stops the domain at once (else it would fail at the timeout).
    v.push(Scenario::adhoc(
        "adhoc-menu-error",
        vec![Disk::Recipe(crate::e2e::corrupt::disk_menu_error)],
        "",
        64,
        Vec::new(),
        vec![String::from(r"Error: kernel \(hd0\)/nope\.gz not found")],
    ));
    v.extend(super::distro::scenarios());
    v.extend(super::netbsd::scenarios());
    v.extend(super::netbsd::pvgrub2_scenarios());
    v.extend(super::pvh_probe::scenarios());
    v.extend(super::pvh_handover::scenarios());
    v.extend(super::pvh_linux::scenarios());
    v
}

/// Issue 20: hostile disks in a 32 MiB domain. Each asked rpvboot for more memory than the
/// domain has (an abort, the domain crashed, the fallback never tried); now the reason is
/// printed and the probe boots from the fallback entry or the next disk.
fn memory_scenarios() -> Vec<Scenario> {
    use crate::e2e::corrupt;
    let pass = |name: &str| format!(r"^RPVBOOT-PROBE PASS name={name} pages=8192 mod=100003");
    let s = |name: &str, disks: Vec<Disk>| Scenario {
        disks,
        memory_mib: 32,
        timeout_secs: 120,
        ..Scenario::rpvboot(name, "")
    };
    let good = || Disk::Recipe(crate::probe::disk_ext2_bare);
    vec![
        s("mem-zstd-window", vec![Disk::Recipe(corrupt::disk_zstd_window)])
            // zstd decodes into the output, its window: the 128 MiB asked for costs nothing, and the
            // frames' empty payload is what gets refused.
            .expect(r#"^rpvboot: entry 0 "hostile" cannot boot: kernel image: unknown kernel format .*0 bytes"#)
            .expect(r#"^rpvboot: booting entry 1 "probe": gzip\+elf64 kernel"#)
            .expect(&pass("mem-zstd-window")),
        s("mem-elf-1tib", vec![Disk::Recipe(corrupt::disk_elf_1tib)])
            .expect(r#"^rpvboot: entry 0 "hostile" cannot boot: .*(not enough|too small).*"#)
            .expect(r#"^rpvboot: booting entry 1 "probe": gzip\+elf64 kernel"#)
            .expect(&pass("mem-elf-1tib")),
        // 8192 partitions over one ext2 without configuration: the search goes on to (hd1).
        s("mem-gpt-8192", vec![Disk::Recipe(corrupt::disk_gpt_8192), good()])
            .expect(r"^rpvboot: configuration \(hd1\)/grub/menu.lst ")
            .expect(r#"^rpvboot: booting entry 0 "probe \(gzip\)""#)
            .expect(&pass("mem-gpt-8192")),
        // menu.lst of 4 GiB over a looping chain: refused as larger than the volume (named),
        // the search goes on to (hd1).
        s("mem-fat-loop", vec![Disk::Recipe(corrupt::disk_fat_loop), good()])
            .expect(r"\(hd0\)/boot/grub/menu.lst.*more than the volume's \d+-byte data area")
            .expect(r"^rpvboot: configuration \(hd1\)/grub/menu.lst ")
            .expect(r#"^rpvboot: booting entry 0 "probe \(gzip\)""#)
            .expect(&pass("mem-fat-loop")),
    ]
}

/// The xl `cpuid` line a Linux PVH guest needs under the harness (docs/pvh-linux.md §3):
/// bookworm's QEMU 7.2 reports an intercepted RDTSCP to Xen as RDTSC, whose length check then
/// fails and Xen crashes the domain, so Linux must not see RDTSCP; and with PKU, Linux 6.12
/// kills its first process at `rt_sigreturn` ("bad frame").
pub const PVH_CPUID: &str = "cpuid = \"host,rdtscp=0,pku=0\"";

/// Debian's Linux and the e2e initrd booted by xl itself, no bootloader: as PV (the control)
/// and as PVH (issue 24, docs/pvh-linux.md).
fn linux_direct_scenarios() -> Vec<Scenario> {
    let initrd = crate::util::e2e_dir().join("out/domu-initrd.gz");
    let direct = |name: &str, pvh: bool| Scenario {
        kernel: Kernel::Recipe(|| Ok(crate::setup::ensure_e2e()?.vmlinuz)),
        ramdisk: Some(initrd.clone()),
        disks: vec![Disk::Recipe(crate::e2e::images::linux_boot_disk)],
        memory_mib: 256,
        timeout_secs: 180,
        default: false,
        pvh,
        ..Scenario::rpvboot(name, "console=hvc0 earlyprintk=xen")
            .expect(r"DOMU-DISK-READ: DISK-FILE-CONTENT-42")
            .expect(r"DOMU-BOOTED-OK")
    };
    // PVH needs bookworm's QEMU and no RDTSCP in the guest's CPUID (docs/pvh-linux.md §3).
    let pvh = Scenario {
        qemu: QemuKind::Bookworm,
        xl_extra: vec![PVH_CPUID.to_string()],
        ..direct("linux-pvh-direct", true)
    };
    vec![direct("linux-pv-direct", false), pvh]
}

/// Issue 8, the handover: the probe kernel (testimages/probe) booted directly by xl as the
/// control (so its checks agree with libxc's real layout), then through rpvboot's handover.
fn handover_scenarios() -> Vec<Scenario> {
    let (plain, gz) = crate::probe::probe_paths_for_scenarios();
    let probe = |name: &str| format!("probe.mod=none probe.name={name} probe.pages=16384");
    let pass = r"^RPVBOOT-PROBE PASS name=";
    let mut v = vec![
        Scenario {
            kernel: Kernel::File(plain.clone()),
            ..Scenario::rpvboot("probe-direct", &probe("probe-direct")).expect(pass)
        },
        Scenario {
            ramdisk: Some(gz),
            ..Scenario::rpvboot("ho-probe-gz", &format!("rpvboot.test=ramdisk -- {}", probe("ho-probe-gz")))
                .expect(r"rpvboot: handover: .*jumping to 0x")
                .expect(pass)
        },
        Scenario {
            ramdisk: Some(plain),
            ..Scenario::rpvboot("ho-probe", &format!("rpvboot.test=ramdisk -- {}", probe("ho-probe"))).expect(pass)
        },
    ];
    // Control for the module placement: xl loads module.bin as the probe's ramdisk.
    v.push(Scenario {
        kernel: Kernel::File(crate::probe::paths().0),
        ramdisk: Some(crate::probe::module_path()),
        ..Scenario::rpvboot("probe-direct-mod", &format!("{} probe.name=probe-direct-mod", crate::probe::module_word()))
            .expect(r"^RPVBOOT-PROBE PASS name=probe-direct-mod pages=16384 mod=100003")
    });
    // From disks made by the real tools: menu.lst → probe.gz + module, through blkfront.
    let disk = |name: &str, recipe: fn() -> Result<PathBuf>| Scenario {
        disks: vec![Disk::Recipe(recipe)],
        ..Scenario::rpvboot(name, "")
            .expect(r"rpvboot: booting entry 0 .*gzip\+elf64 kernel")
            .expect(&format!(r"^RPVBOOT-PROBE PASS name={name} pages=16384 mod=100003 syms=\d+"))
    };
    v.push(disk("ho-disk-ext2", crate::probe::disk_ext2_bare));
    v.push(disk("ho-disk-ffs2", crate::probe::disk_ffs2_bare));
    v.push(disk("ho-disk-ffs1-mbr", crate::probe::disk_ffs1_mbr));
    v.push(disk("ho-disk-ffs2-gpt", crate::probe::disk_ffs2_gpt));
    v.push(disk("ho-disk-fat-mbr", crate::probe::disk_fat_mbr));
    v.push(disk("ho-disk-ffs2-label", crate::probe::disk_ffs2_disklabel));
    v.push(disk("ho-disk-ffs1-mbr-label", crate::probe::disk_ffs1_mbr_disklabel));
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_fallback)],
        ..Scenario::rpvboot("ho-fallback", "")
            .expect(r"rpvboot: entry 0 .* cannot boot: .*no-such-kernel.gz not found")
            .expect(r"rpvboot: entry 1 .* cannot boot: kernel image")
            .expect(r"rpvboot: booting entry 2 ")
            .expect(r"^RPVBOOT-PROBE PASS name=ho-fallback pages=16384 mod=100003")
    });
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_grubcfg)],
        ..Scenario::rpvboot("ho-grubcfg", "")
            .expect(r"rpvboot: booting entry 0 .*gzip\+elf64 kernel")
            .expect(r"^RPVBOOT-PROBE PASS name=ho-grubcfg pages=16384 mod=100003")
    });
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_bootcfg)],
        ..Scenario::rpvboot("ho-bootcfg", "")
            .expect(r"rpvboot: booting entry 0 .*gzip\+elf64 kernel")
            .expect(r"^RPVBOOT-PROBE PASS name=ho-bootcfg pages=16384 mod=100003 .*bootdev=")
    });
    // Debian's pvgrub2 (grub-xen-bin, VIRT_BASE 0) as the menu entry's kernel: a second real PV
    // kernel nobody here wrote. It must come up, reconnect the vbd rpvboot's blkfront left, read
    // its grub.cfg from the same disk and boot Debian's Linux + the test initrd, which mounts
    // the disk and prints the command line pvgrub2's config gave it.
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_pvgrub2)],
        memory_mib: 256,
        timeout_secs: 300,
        ..Scenario::rpvboot("ho-pvgrub2", "")
            .expect(r#"rpvboot: booting entry 0 "pvgrub2""#)
            .expect(r"rpvboot: handover: .*jumping to 0x0\b")
            .expect(r"PVGRUB2: embedded config running")
            .expect(r"PVGRUB2: loading Linux from the disk rpvboot read")
            .expect(r"DOMU-DISK-READ: DISK-FILE-CONTENT-42")
            .expect(r"DOMU-CMDLINE: .*booted\.by=pvgrub2")
            .expect(r"DOMU-BOOTED-OK")
    });
    // Issue 12: the plan rpvboot hands over (printed with rpvboot.verbose) is the plan
    // `rpvboot-inspect boot` prints on the host for the very same image and memory.
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_ext2_bare)],
        memory_mib: 96,
        host_check: Some(dry_run_matches),
        ..Scenario::rpvboot("plan-dry-run", "rpvboot.verbose")
            .expect(r"^rpvboot: plan: loader_pages \d+ pages_in_use \d+")
            .expect(r"^rpvboot: plan: region module0 first_page \d+ pages 25$")
            .expect(r"^RPVBOOT-PROBE PASS name=plan-dry-run pages=24576 mod=100003")
    });
    // The same for Debian's Linux (bzImage > xz > elf64, an initrd), 256 MiB.
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::e2e::images::linux_boot_disk)],
        memory_mib: 256,
        timeout_secs: 300,
        default: false,
        host_check: Some(dry_run_matches),
        ..Scenario::rpvboot("plan-dry-run-linux", "rpvboot.verbose")
            .expect(r"^rpvboot: plan: region module0 first_page \d+ pages \d+$")
            .expect(r"DOMU-BOOTED-OK")
    });
    // 1 GiB: the same probe disk.
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_ext2_bare)],
        memory_mib: 1024,
        ..Scenario::rpvboot("ho-disk-1g", "").expect(r"^RPVBOOT-PROBE PASS name=ho-disk-1g pages=262144 mod=100003")
    });
    // 1.5 GiB: the region is taken from the top of RAM, in the second GiB, whose L2 rpvboot's
    // on-demand mapping adds (libxc's bootstrap tables cover only the first GiB).
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_ext2_bare)],
        memory_mib: 1536,
        ..Scenario::rpvboot("ho-disk-1536m", "")
            .expect(r"^RPVBOOT-PROBE PASS name=ho-disk-1536m pages=393216 mod=100003")
    });
    // rpvboot is linked at 0x7f8000000000 (L4 slot 255) and VA 0 is not mapped at all: a read
    // near NULL traps, and Xen's bounce frame shows the faulting code at rpvboot's base.
    v.push(Scenario {
        shutdown: Some(Shutdown::Crash),
        allow_crash: true,
        ..Scenario::rpvboot("null-fault", "rpvboot.test=fault")
            .expect(r"^rpvboot: fatal trap #PF \(vector 14\) at rip=0x7f80[0-9a-f]{8}: err=0x[0-9a-f]+ cr2=0x8 ")
    });
    // Too big: Debian's kernel (58 MiB in memory) in a 64 MiB domain is refused with a reason,
    // and rpvboot stays alive to say so.
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::e2e::images::linux_boot_disk)],
        timeout_secs: 200,
        ..Scenario::rpvboot("ho-too-big", "rpvboot.timeout=0")
            .expect(r"rpvboot: entry 0 .* cannot boot: kernel image: xz: output exceeds the memory limit")
            .expect(r"rpvboot: no entry could be booted")
    });
    // Issue 8, "a kernel whose uncompressed image is > 32 MiB": the probe with 34 MiB of
    // page-stamped data in its data segment (gzipped: ~0.3 MiB), in 64 MiB. Loaded as
    // decompressed, its pages are handed over in place (a copy would need 2 x 34 MiB); the
    // probe checks every byte of the data.
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_big)],
        timeout_secs: 120,
        ..Scenario::rpvboot("ho-big-64m", "")
            .expect(r#"rpvboot: booting entry 0 "big probe .*": gzip\+elf64 kernel, 3\d{7} bytes loaded"#)
            .expect(r"^RPVBOOT-PROBE PAD ok bytes=35651584")
            .expect(r"^RPVBOOT-PROBE PASS name=ho-big-64m pages=16384 mod=0 ")
    });
    // The same probe uncompressed (a 34 MiB file): kept as read, not copied, and handed over
    // in place, so it boots in 64 MiB too.
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_big_plain)],
        timeout_secs: 120,
        ..Scenario::rpvboot("ho-big-plain-64m", "")
            .expect(r#"rpvboot: booting entry 0 "big probe .*": elf64 kernel, 3\d{7} bytes loaded"#)
            .expect(r"^RPVBOOT-PROBE PAD ok bytes=35651584")
            .expect(r"^RPVBOOT-PROBE PASS name=ho-big-plain-64m pages=16384 mod=0 ")
    });
    // Issue 10 figure 1's kernel: the probe whose data segment is Debian's decompressed
    // vmlinux (63 MiB), xz'd as Debian does (CRC32, BCJ x86, 32 MiB dictionary: ~7.8 MiB).
    // The probe recomputes the FNV-1a that build.rs took of the file over its loaded segment
    // (`PAYLOAD ok`), then checks the handover as usual (`PASS`).
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_vmlinux_xz)],
        memory_mib: crate::probe::VMLINUX_MEM_MIB,
        timeout_secs: 180,
        ..Scenario::rpvboot("ho-vmlinux-xz", "")
            .expect(r#"rpvboot: booting entry 0 "probe \+ Debian vmlinux payload \(xz\)": xz\+elf64 kernel, \d+ bytes loaded"#)
            .expect(r"^RPVBOOT-PROBE PAYLOAD ok bytes=\d+ fnv1a=[0-9a-f]+$")
            .expect(r"^RPVBOOT-PROBE PASS name=ho-vmlinux-xz ")
    });
    // The payload check can fail: the same probe (uncompressed) with one payload byte flipped
    // on the disk. Opt-in (the 80 MiB disk and the 63 MiB check take ~10 s).
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_vmlinux_corrupt)],
        memory_mib: crate::probe::VMLINUX_MEM_MIB,
        timeout_secs: 180,
        default: false,
        ..Scenario::rpvboot("ho-vmlinux-corrupt", "")
            .expect(r#"rpvboot: booting entry 0 "vmlinux probe, one payload byte flipped": elf64 kernel"#)
            .expect(r"^RPVBOOT-PROBE FAIL payload checksum \(0x[0-9a-f]+\)")
    });
    // The same disk in 32 MiB: the big probe cannot fit; refused with the reason while the
    // disks are open, and the fallback (the plain probe) boots.
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::probe::disk_big)],
        memory_mib: 32,
        timeout_secs: 120,
        ..Scenario::rpvboot("ho-big-32m", "")
            .expect(r#"rpvboot: entry 0 "big probe .*" cannot boot: .*(memory|domain too small)"#)
            .expect(r#"rpvboot: booting entry 1 "probe \(fallback\)""#)
            .expect(r"^RPVBOOT-PROBE PASS name=ho-big-32m pages=8192 mod=0 ")
    });
    // Issue 21: Debian's Linux from an XFS /boot (RHEL 7's grub2.cfg shape, found by the
    // config search at /grub2/grub.cfg) and from a btrfs subvolume layout (`/@/boot/…` paths
    // from the top level, as GRUB reads them, grub.cfg found by the search at /@/boot/grub/grub.cfg;
    // rootflags=subvol=@ passed on to Linux).
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::e2e::images::linux_xfs_boot_disk)],
        memory_mib: 256,
        timeout_secs: 300,
        ..Scenario::rpvboot("linux-xfs-boot", "")
            .expect(r"rpvboot: handover: .*jumping to 0x")
            .expect(r"DOMU-BOOTED-OK")
    });
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::e2e::images::linux_btrfs_layout_disk)],
        memory_mib: 256,
        timeout_secs: 300,
        ..Scenario::rpvboot("linux-btrfs-subvol", "")
            .expect(r"rpvboot: configuration \(hd0\)/@/boot/grub/grub\.cfg \(first configuration file found by the search order\)")
            .expect(r"rpvboot: handover: .*jumping to 0x")
            .expect(r"DOMU-CMDLINE: .*rootflags=subvol=@")
            .expect(r"DOMU-BOOTED-OK")
    });
    // Debian's Linux PV kernel (xz bzImage) + initrd from the ext2 disk, via the menu.
    v.push(Scenario {
        disks: vec![Disk::Recipe(crate::e2e::images::linux_boot_disk)],
        memory_mib: 256,
        timeout_secs: 300,
        ..Scenario::rpvboot("ho-linux", "")
            .expect(r"rpvboot: handover: .*jumping to 0x")
            .expect(r"DOMU-DISK-READ: DISK-FILE-CONTENT-42")
            .expect(r"DOMU-BOOTED-OK")
    });
    v
}

/// The console's first line for the rpvboot this run builds ([`crate::build::banner`]).
fn banner_re() -> String {
    format!("^{}", regex::escape(&crate::build::banner()))
}

/// Issue 10, figure 3: the compressed forms of the image that `kernel =` may name. Xen's
/// domain builder gunzips `rpvboot.gz` and takes `rpvboot.xz` apart as a bzImage (xz payload)
/// in dom0; either way the rpvboot ELF runs and boots the probe from a disk.
fn image_form_scenarios() -> Vec<Scenario> {
    let form = |name: &str, kernel: fn() -> Result<PathBuf>| Scenario {
        kernel: Kernel::Recipe(kernel),
        disks: vec![Disk::Recipe(crate::probe::disk_ext2_bare)],
        ..Scenario::rpvboot(name, "")
            .expect(&banner_re())
            .expect(r"rpvboot: booting entry 0 .*gzip\+elf64 kernel")
            .expect(&format!(r"^RPVBOOT-PROBE PASS name={name} pages=16384 mod=100003"))
    };
    vec![
        // Off by default: `dist-demo` boots the same bytes (`cargo xtask dist --check` compares
        // them) from the unpacked package, through to Debian's Linux.
        Scenario { default: false, ..form("image-gz", crate::build::build_rpvboot_gz) },
        form("image-xz", crate::build::build_rpvboot_xz),
        // rpvboot.xz boots Debian's Linux (xz bzImage + initrd) as the plain image does (ho-linux).
        Scenario {
            kernel: Kernel::Recipe(crate::build::build_rpvboot_xz),
            disks: vec![Disk::Recipe(crate::e2e::images::linux_boot_disk)],
            memory_mib: 256,
            timeout_secs: 300,
            default: false,
            ..Scenario::rpvboot("image-xz-linux", "")
                .expect(r"rpvboot: handover: .*jumping to 0x")
                .expect(r"DOMU-DISK-READ: DISK-FILE-CONTENT-42")
                .expect(r"DOMU-BOOTED-OK")
        },
    ]
}

/// Issue 9, the console menu: an ext2 disk (mke2fs -d) whose menu.lst has three entries
/// booting the probe kernel, driven by keys typed into the guest console.
fn menu_scenarios() -> Vec<Scenario> {
    let pass = |name: &str| format!(r"^RPVBOOT-PROBE PASS name={name} ");
    let menu = |name: &str, keys: &[u8]| Scenario {
        disks: vec![Disk::Recipe(menu_disk)],
        keys: keys.to_vec(),
        timeout_secs: 120,
        ..Scenario::rpvboot(name, "")
    };
    vec![
        // Nobody types: the countdown runs out and the default (entry 0) boots.
        menu("menu-countdown", b"")
            .expect(r"rpvboot: configuration \(hd0\)/grub/menu.lst .*, menu")
            .expect(r#"rpvboot: booting entry 0 "probe first""#)
            .expect(&pass("menu-countdown")),
        // Arrow down, Enter: the second entry.
        menu("menu-down", b"\x1b[B\r")
            .expect(r#"rpvboot: booting entry 1 "probe second""#)
            .expect(r#"cmdline=".*menu-second-entry"#)
            .expect(&pass("menu-down")),
        // `e` on the default, End, add the domain's name for the probe to check, Ctrl-X.
        menu("menu-edit", b"e\x1b[F probe.name=menu-edit\x18")
            .expect(r#"rpvboot: booting entry 0 "probe first""#)
            // The probe's notes say NetBSD: bootdev= follows the edited line (rpvboot.nobootdev drops it).
            .expect(r#"rpvboot: command line ".*menu-first-entry probe.name=menu-edit bootdev=xbd0a""#)
            .expect(&pass("menu-edit")),
        // `c`: `ls /`, then kernel + boot typed by hand.
        menu("menu-cmd", b"cls /\rkernel /probe.gz probe.mod=none probe.pages=16384 probe.name=menu-cmd\rboot\r")
            .expect(r"grub/\s+lost\+found/\s+probe\.gz")
            .expect(r#"rpvboot: booting entry 3 "command line""#)
            .expect(&pass("menu-cmd")),
        // rpvboot.console=dumb: numbered lines; entry 2's kernel is missing, the error is
        // shown and the menu is back; the keys typed ahead then pick entry 1.
        Scenario { extra: String::from("rpvboot.console=dumb"), ..menu("menu-dumb", b"2\r1\r") }
            .expect(r"^> 0 probe first\s*$")
            .expect(r"^  2 missing kernel\s*$")
            .expect(r"^Error: kernel \(hd0\)/nope.gz not found")
            .expect(r#"rpvboot: booting entry 1 "probe second""#)
            .expect(&pass("menu-dumb")),
    ]
}

/// Issue 24: the same rpvboot image as `type = "pvh"`: it starts through the PVH entry, finds
/// the disks the same way and shows the same menu as the PV scenarios over the same images
/// (the titles expected are the ones `menu_disk` and the probe disks write into menu.lst).
/// Those disks hold the PV probe, which a PVH domain refuses (PV-only, no `PHYS32_ENTRY`):
/// the menu shows the reason and waits, so the harness stops the domain once it matched (the
/// PVH boots themselves are xtask/src/e2e/pvh_handover.rs).
fn pvh_scenarios() -> Vec<Scenario> {
    let pvh = |name: &str, extra: &str| Scenario { pvh: true, ..Scenario::rpvboot(name, extra) };
    let refused = r"(?m)^Error: kernel: not a PVH-capable kernel: no PHYS32_ENTRY";
    vec![
        // No disks: banner, the command line from hvm_start_info, nothing to boot.
        pvh("pvh-start", "hello-from-pvh")
            .expect(&banner_re())
            .expect(r"^rpvboot: memory \d+ MiB \(\d+ pages\), Xen \d+\.\d+, PVH")
            .expect(r#"rpvboot: cmdline "hello-from-pvh""#)
            .expect(r"rpvboot: nothing left to boot, powering off"),
        // The IDT reports a fault (page 0 is not mapped in either alias) and crashes the domain.
        // cr2 is not checked: Xen 4.17 under QEMU TCG delivers this #PF with CR2 = 0 (seen in
        // the e2e run; the rip is the read of address 8).
        Scenario {
            shutdown: Some(Shutdown::Crash),
            allow_crash: true,
            ..pvh("pvh-null-fault", "rpvboot.test=fault")
                .expect(r"^rpvboot: fatal trap #PF \(vector 14\) at rip=0x7f80[0-9a-f]{8}: err=0x[0-9a-f]+ cr2=")
                .expect(r"^rpvboot: crashing the domain")
        },
        // The compressed forms: the domain builder unpacks rpvboot.gz / rpvboot.xz for PVH too.
        Scenario { kernel: Kernel::Recipe(crate::build::build_rpvboot_gz), ..pvh("pvh-image-gz", "") }
            .expect(&banner_re())
            .expect(r"^rpvboot: memory \d+ MiB \(\d+ pages\), Xen \d+\.\d+, PVH"),
        Scenario { kernel: Kernel::Recipe(crate::build::build_rpvboot_xz), ..pvh("pvh-image-xz", "") }
            .expect(&banner_re())
            .expect(r"^rpvboot: memory \d+ MiB \(\d+ pages\), Xen \d+\.\d+, PVH"),
        // 1.5 GiB: RAM beyond the entry stub's first GiB is mapped (pvh/paging.rs) and the heap
        // holds a 64 MiB buffer; off by default (memory in the e2e host is scarce).
        Scenario { memory_mib: 1536, default: false, ..pvh("pvh-1536m", "rpvboot.verbose rpvboot.test=heap") }
            .expect(r"^rpvboot: memory 1536 MiB \(393216 pages\), Xen \d+\.\d+, PVH")
            .expect(r"^rpvboot: heap: 64 MiB at 0x[0-9a-f]+ ok, 10000 small ok"),
        // ext2: menu_disk's three entries in the dumb menu, `1` Enter picks the second.
        Scenario {
            disks: vec![Disk::Recipe(menu_disk)],
            keys: b"1\r".to_vec(),
            timeout_secs: 120,
            stop_when_matched: true,
            ..pvh("pvh-menu-ext", "rpvboot.console=dumb")
        }
        .expect(r"rpvboot: configuration \(hd0\)/grub/menu.lst .*, menu")
        .expect(r"^> 0 probe first\s*$")
        .expect(r"^  1 probe second\s*$")
        .expect(r"^  2 missing kernel\s*$")
        .expect(refused),
        // FFSv2: the probe disk's menu.lst (timeout 0) shown anyway (`rpvboot.menu`).
        Scenario {
            disks: vec![Disk::Recipe(crate::probe::disk_ffs2_bare)],
            keys: b"0\r".to_vec(),
            timeout_secs: 120,
            stop_when_matched: true,
            ..pvh("pvh-menu-ffs", "rpvboot.menu rpvboot.console=dumb")
        }
        .expect(r"rpvboot: xvda = \(hd0\), 16 MiB: \(hd0\)=ffs")
        .expect(r"^> 0 probe \(gzip\)\s*$")
        .expect(r"^  1 probe \(plain\)\s*$")
        .expect(r#"rpvboot: entry 0 "probe \(gzip\)" cannot boot: kernel: not a PVH-capable kernel: .*PV-only"#)
        .expect(refused),
    ]
}

/// `/grub/menu.lst` (timeout 10, three entries) and `/probe.gz` on a bare ext2 image.
fn menu_disk() -> Result<PathBuf> {
    let (_, gz) = crate::probe::build_probe()?;
    let dir = crate::util::e2e_dir().join("images");
    let tree = dir.join("menu-ext2.tree");
    if tree.exists() {
        std::fs::remove_dir_all(&tree)?;
    }
    std::fs::create_dir_all(tree.join("grub"))?;
    std::fs::copy(&gz, tree.join("probe.gz"))?;
    let args = "probe.mod=none probe.pages=16384";
    std::fs::write(
        tree.join("grub/menu.lst"),
        format!(
            "default 0\ntimeout 10\n\
             title probe first\n  kernel /probe.gz {args} menu-first-entry\n\
             title probe second\n  kernel /probe.gz {args} menu-second-entry\n\
             title missing kernel\n  kernel /nope.gz\n"
        ),
    )?;
    let img = dir.join("menu-ext2.img");
    let _ = std::fs::remove_file(&img);
    let st = std::process::Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-d"])
        .arg(&tree)
        .arg(&img)
        .arg("8M")
        .status()?;
    anyhow::ensure!(st.success(), "mke2fs {} failed: {st}", img.display());
    Ok(img)
}

/// Issues 7 and 11: several disks, no configuration, a garbage disk, and images damaged in one
/// place (recipes in `e2e/corrupt.rs`). Each ends with a console message and either the
/// fallback booting or a clean poweroff. Not here: a `file:` disk (the xl configs use
/// block-lite on loop devices; `file:` needs a qdisk backend dom0 lacks) and a backend that
/// reports more sectors than the image has. The `-message` variants are off by default: they
/// ask for a message naming the unreadable disk, which rpvboot does not print yet.
fn device_scenarios() -> Vec<Scenario> {
    use crate::e2e::corrupt;
    let pass = |name: &str| format!(r"^RPVBOOT-PROBE PASS name={name} pages=16384 mod=100003");
    let s = |name: &str, disks: Vec<Disk>| Scenario { disks, timeout_secs: 120, ..Scenario::rpvboot(name, "") };
    let good = || Disk::Recipe(crate::probe::disk_ext2_bare);
    let garbage = || vec![Disk::Recipe(corrupt::disk_garbage), good()];
    let bad_sb = || vec![Disk::Recipe(corrupt::disk_menu_hd1_then_own), Disk::Recipe(corrupt::disk_bad_superblock)];
    let no_fs = |hd: &str| {
        format!(r"(?i)rpvboot: .*\(hd{hd}\).*(superblock|no (recogni[sz]ed |known )?file ?system|unknown file ?system)")
    };
    vec![
        // Config only on xvdb: found there, its default entry boots from (hd1).
        s("dev-two-disks", vec![Disk::Recipe(corrupt::disk_no_config), good()])
            .expect(r"^rpvboot: xvda = \(hd0\), \d+ [KMG]iB: \(hd0\)=")
            .expect(r"^rpvboot: configuration \(hd1\)/grub/menu.lst \(first configuration file found by the search order\)")
            .expect(r#"^rpvboot: booting entry 0 "probe \(gzip\)": gzip\+elf64 kernel"#)
            .expect(&pass("dev-two-disks")),
        // The same good disk as an xl `file:` disk: Debian's own block script attaches it.
        Scenario { file_disks: true, ..s("dev-file-disk", vec![good()]) }
            .expect(r#"^rpvboot: booting entry 0 "probe \(gzip\)": gzip\+elf64 kernel"#)
            .expect(&pass("dev-file-disk")),
        s("dev-no-config", vec![Disk::Recipe(corrupt::disk_no_config)])
            .expect(r"^rpvboot: configuration builtin \(no configuration file and no FFS partition\)")
            .expect(r"^rpvboot: no entry could be booted")
            .expect(r"^rpvboot: nothing left to boot, powering off"),
        s("dev-garbage-disk", garbage())
            .expect(r"^rpvboot: configuration \(hd1\)/grub/menu.lst ")
            .expect(r#"^rpvboot: booting entry 0 "probe \(gzip\)""#)
            .expect(&pass("dev-garbage-disk")),
        s("dev-garbage-disk-message", garbage())
            .expect(&no_fs("0"))
            .expect(&pass("dev-garbage-disk-message")),
        // xvdb's FFSv2 superblock is noise: entry 0 on (hd1) fails, the fallback on (hd0) boots.
        s("bad-superblock", bad_sb())
            .expect(r#"^rpvboot: entry 0 "probe on hd1" cannot boot: kernel \(hd1\)/probe\.gz"#)
            .expect(r#"^rpvboot: booting entry 1 "probe on hd0": gzip\+elf64 kernel"#)
            .expect(&pass("bad-superblock")),
        s("bad-superblock-message", bad_sb())
            .expect(&no_fs("1"))
            .expect(&pass("bad-superblock-message")),
        // /d/up is the root again: a path through the loop ends (not found / the probe).
        s("bad-dirloop", vec![Disk::Recipe(corrupt::disk_dirloop)])
            .expect(r#"^rpvboot: entry 0 "loop to nothing" cannot boot: kernel \(hd0\)(/d/up){12}/missing\.gz not found"#)
            .expect(r#"^rpvboot: booting entry 1 "probe through the loop": gzip\+elf64 kernel"#)
            .expect(&pass("bad-dirloop")),
        // /s1 → s2 → s1 and /me → me: refused with a reason, the third entry boots.
        s("bad-symlink-loop", vec![Disk::Recipe(corrupt::disk_symloop)])
            .expect(r#"^rpvboot: entry 0 "two links" cannot boot: kernel \(hd0\)/s1/probe\.gz: too many levels of symbolic links"#)
            .expect(r#"^rpvboot: entry 1 "self link" cannot boot: kernel \(hd0\)/me: too many levels of symbolic links"#)
            .expect(r#"^rpvboot: booting entry 2 "probe": gzip\+elf64 kernel"#)
            .expect(&pass("bad-symlink-loop")),
        // Without `rpvboot.timeout=0` the same menu.lst opens the command line: `ls /`, `halt`.
        Scenario { keys: b"ls /\rhalt\r".to_vec(), ..s("bad-random-menu-prompt", vec![Disk::Recipe(corrupt::disk_random_menu)]) }
            .expect(r"^No boot entries: the command line is open \('help' lists commands\)\.")
            .expect(r"grub/\s+lost\+found/\s+module\.bin\s+probe\s+probe\.gz")
            .expect(r"^rpvboot: halt requested on the command line")
            .expect(r"^rpvboot: nothing left to boot, powering off"),
        s("bad-indirect", vec![Disk::Recipe(corrupt::disk_bad_indirect)])
            .expect(r#"^rpvboot: entry 0 "indirect past the disk" cannot boot: kernel \(hd0\)/probe: corrupt ext: indirect block outside the filesystem \(block \d+\)"#)
            .expect(r#"^rpvboot: booting entry 1 "good copy": elf64 kernel"#)
            .expect(&pass("bad-indirect")),
        s("bad-truncated-kernel", vec![Disk::Recipe(corrupt::disk_truncated_kernel)])
            .expect(r#"^rpvboot: entry 0 "truncated" cannot boot: kernel image: truncated input: deflate data missing at byte \d+"#)
            .expect(r#"^rpvboot: booting entry 1 "whole": gzip\+elf64 kernel"#)
            .expect(&pass("bad-truncated-kernel")),
        // A misspelled command: the console names the file and line (found in the text we
        // wrote), the entry without a kernel is refused and the fallback boots.
        s("bad-typo-menu", vec![Disk::Recipe(corrupt::disk_typo_menu)])
            .expect(&format!(
                r"^rpvboot: \(hd0\)/grub/menu\.lst:{}: warning: unknown command 'kernal'",
                corrupt::typo_menu().lines().position(|l| l.trim_start().starts_with("kernal ")).map_or(0, |i| i + 1)
            ))
            .expect(r#"^rpvboot: booting entry 1 "good": gzip\+elf64 kernel"#)
            .expect(&pass("bad-typo-menu")),
        // 4 KiB of noise as menu.lst: found by the search, no entry, poweroff.
        Scenario { extra: String::from("rpvboot.timeout=0"), ..s("bad-random-menu", vec![Disk::Recipe(corrupt::disk_random_menu)]) }
            .expect(r"^rpvboot: configuration \(hd0\)/grub/menu.lst \(first configuration file found by the search order\)")
            .expect(r"^rpvboot: \(hd0\)/grub/menu\.lst:0: error: no boot entries")
            .expect(r"^rpvboot: no entry could be booted")
            .expect(r"^rpvboot: nothing left to boot, powering off"),
    ]
}

/// [`HostCheck`] of the `plan-dry-run` scenarios: runs `rpvboot-inspect boot` over the disk
/// images the domU booted, with its memory, `extra=` line and the `loader_pages` it printed,
/// and requires the `plan:` lines of both to be the same, in order (the pages the fit check
/// counted, the region, each region, start_info).
pub(super) fn dry_run_matches(s: &Scenario, disks: &[PathBuf], console: &str) -> Result<()> {
    use anyhow::Context;
    let guest = guest_plan(console);
    let loader_pages = loader_pages(&guest).context("the guest printed no `plan: loader_pages` line")?;
    let st = crate::build::with_rev(&mut std::process::Command::new(env!("CARGO")))
        .args(["build", "-q", "-p", "rpvboot-inspect"])
        .current_dir(crate::util::project_root())
        .status()?;
    anyhow::ensure!(st.success(), "cargo build -p rpvboot-inspect failed: {st}");
    let tool = crate::build::target_dir().join("debug/rpvboot-inspect");
    let out = std::process::Command::new(&tool)
        .arg("boot")
        .args(disks)
        .args(["--memory", &s.memory_mib.to_string(), "--loader-pages", loader_pages, "--extra", &s.extra])
        .output()
        .with_context(|| format!("running {}", tool.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "the dry run does not boot: {text}{}", String::from_utf8_lossy(&out.stderr));
    let host: Vec<&str> = text.lines().filter(|l| l.starts_with("plan: ")).collect();
    same_plan(&guest, &host)?;
    println!("     host: the dry run's {} plan lines match the guest's", host.len());
    Ok(())
}

/// The `plan:` lines rpvboot printed (`rpvboot: plan: …`), without the prefix.
fn guest_plan(console: &str) -> Vec<&str> {
    console.lines().filter_map(|l| l.trim_end().strip_prefix("rpvboot: ")).filter(|l| l.starts_with("plan: ")).collect()
}

/// `N` of the `plan: loader_pages N …` line.
fn loader_pages<'a>(plan: &[&'a str]) -> Option<&'a str> {
    plan.iter().find_map(|l| l.strip_prefix("plan: loader_pages "))?.split_whitespace().next()
}

/// Both lists equal, or the first line where they part.
fn same_plan(guest: &[&str], host: &[&str]) -> Result<()> {
    if guest == host {
        return Ok(());
    }
    let at = guest.iter().zip(host).position(|(a, b)| a != b).unwrap_or(guest.len().min(host.len()));
    anyhow::bail!(
        "the dry run's plan differs from the guest's at line {at}: guest {:?}, dry run {:?} ({} vs {} lines)",
        guest.get(at),
        host.get(at),
        guest.len(),
        host.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSOLE: &str = "rpvboot: booting entry 0 \"probe\": gzip+elf64 kernel\r\n\
        rpvboot: plan: loader_pages 590 pages_in_use 617\n\
        rpvboot: memory: heap ...\n\
        rpvboot: plan: memory_pages 24576 region_pages 1024 pt_frames 5 virt_base 0xffffffff80000000\n\
        rpvboot: plan: region kernel first_page 512 pages 23\n\
        RPVBOOT-PROBE PASS\n";

    #[test]
    fn plan_lines_compare_line_by_line() {
        let guest = guest_plan(CONSOLE);
        assert_eq!(guest.len(), 3);
        assert_eq!(loader_pages(&guest), Some("590"));
        assert!(loader_pages(&guest[1..]).is_none());
        let host = guest.clone();
        assert!(same_plan(&guest, &host).is_ok());
        // A region one page off, a line missing: named.
        let mut off = host.clone();
        off[2] = "plan: region kernel first_page 513 pages 23";
        let e = same_plan(&guest, &off).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("first_page 513"), "{e}");
        let e = same_plan(&guest, &host[..2]).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("3 vs 2 lines"), "{e}");
    }
}
