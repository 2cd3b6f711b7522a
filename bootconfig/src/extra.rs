//! The domU's `extra=` line, which is rpvboot's own command line: parsed once, here, into
//! [`ExtraOptions`], which the loader passes down as a value (the device stage, the menu, the
//! handover, the test hooks). Nothing else looks at the raw line.
//!
//! User options (README, "The `extra=` line"):
//! - pvgrub's form: a configuration path, with or without device,
//!   `(hd0,0)/boot/grub/menu.lst`;
//! - `rpvboot.config=PATH`: the same, spelled out;
//! - `rpvboot.kernel=PATH [args…]`: boot that kernel, no menu; every following word that is
//!   not an `rpvboot.` option is its command line;
//! - `rpvboot.entry=N`: boot entry N (0-based, like GRUB legacy's `default`);
//! - `rpvboot.timeout=S`: override the menu's timeout (seconds);
//! - `rpvboot.menu`: show the menu even with `timeout 0`;
//! - `rpvboot.console=dumb`: plain numbered menu lines, no escape sequences;
//! - `rpvboot.verbose`: developer lines on the console (start-up figures, step times, disk
//!   backends, memory, the handover plan); without it a domU owner sees the banner, the disks,
//!   the configuration, the menu, what is loaded and the problems;
//! - `rpvboot.nobootdev`: do not add `bootdev=` to NetBSD command lines;
//! - `rpvboot.nowrite`: never write to the disks (GRUB's `next_entry` one-shot is then not
//!   honoured: the saved default boots, with a warning).
//!
//! Developer and test options ([`DevOptions`]): `rpvboot.noboot`, `rpvboot.test=NAME`,
//! `rpvboot.bench=MiB`, `rpvboot.benchfile=PATH`, `rpvboot.blkpages=N`, `rpvboot.blksegs=N`,
//! `rpvboot.readahead=KiB`, `rpvboot.spin=us`, `rpvboot.trace`, and ` -- ` (the rest of the line is the
//! command line of the `rpvboot.test=ramdisk` kernel).
//!
//! pvgrub's `--vtpm-label=` is accepted and ignored with a note (rpvboot has no vTPM); anything
//! else is reported once and ignored.

use alloc::string::String;
use alloc::vec::Vec;
use core::str::FromStr;

use super::error::{DiagKind, Diagnostic, Diags};
use super::menulst::file_ref;
use super::{small_number, FileRef};

/// The file name diagnostics about the `extra=` line carry.
pub const EXTRA_FILE: &str = "extra=";

/// What the `extra=` line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraOptions {
    /// The configuration file to read first.
    pub config: Option<FileRef>,
    /// A kernel to boot directly, with its command line.
    pub kernel: Option<(FileRef, String)>,
    /// The entry to boot instead of the menu's default (0-based).
    pub entry: Option<usize>,
    /// Seconds to wait instead of the menu's timeout.
    pub timeout: Option<u32>,
    /// `rpvboot.menu`: show the menu even when the configuration says `timeout 0`.
    pub menu: bool,
    /// `rpvboot.console=dumb`: a menu of plain numbered lines.
    pub dumb_console: bool,
    /// `rpvboot.verbose`: developer lines on the console (start-up figures, step times, disk
    /// backends, memory figures, the plan); off: the quiet console a domU owner reads.
    pub verbose: bool,
    /// Do not add `bootdev=` to NetBSD command lines.
    pub nobootdev: bool,
    /// `rpvboot.nowrite`: rpvboot writes nothing to the domU's disks (no `next_entry` clear).
    pub nowrite: bool,
    /// Options for developers and the e2e tests.
    pub dev: DevOptions,
    /// Problems with the line.
    pub diagnostics: Vec<Diagnostic>,
}

/// The `extra=` options that exist for developers, the e2e scenarios and `cargo xtask bench`
/// (README, "Developer and test options"). Numbers that do not parse take the value noted
/// on each field (and are reported).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevOptions {
    /// `rpvboot.noboot`: run the device stage, choose nothing, power off.
    pub noboot: bool,
    /// `rpvboot.trace`: record a timing trace of the boot and print it before the jump
    /// (docs/loader-time.md).
    pub trace: bool,
    /// `rpvboot.test=NAME` hooks.
    pub test: TestHooks,
    /// `rpvboot.bench=MiB`: time raw reads of this many MiB of each disk (bad number: 64).
    pub bench_mib: Option<u32>,
    /// `rpvboot.benchfile=PATH`: time reading this file (`(hdN,M)/path` or `/path`).
    pub bench_file: Option<String>,
    /// `rpvboot.blkpages=N`: blkfront data pages (bad number: the default; the device stage
    /// clamps).
    pub blk_pages: Option<usize>,
    /// `rpvboot.blksegs=N`: segments per indirect request (0: none; bad number: 0).
    pub blk_segs: Option<u32>,
    /// `rpvboot.readahead=KiB`: blkfront read-ahead (bad number: 256).
    pub readahead_kib: Option<usize>,
    /// `rpvboot.spin=us`: how long a wait for dom0 spins before it blocks (bad number: unset).
    pub spin_us: Option<u64>,
    /// After ` -- `: the command line of the `rpvboot.test=ramdisk` kernel, verbatim.
    pub ramdisk_cmdline: Option<String>,
}

/// The `rpvboot.test=NAME` hooks: each exercises one part of rpvboot in an e2e scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestHooks {
    /// `panic`: panic at once (the panic report).
    pub panic: bool,
    /// `fault`: read page 0 (the fault report).
    pub fault: bool,
    /// `heap`: allocate and verify 64 MiB and many small blocks.
    pub heap: bool,
    /// `flood`: 400 console lines through the 2 KiB ring.
    pub flood: bool,
    /// `keys`: echo console input bytes.
    pub keys: bool,
    /// `ramdisk`: boot the xl `ramdisk=` as the kernel, skipping the disks' choice.
    pub ramdisk: bool,
    /// `reconnect`: after closing, connect every disk again, read sector 0, close again.
    pub reconnect: bool,
}

impl TestHooks {
    /// The hook named `name`, to switch on; `None` for an unknown name.
    fn flag(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "panic" => &mut self.panic,
            "fault" => &mut self.fault,
            "heap" => &mut self.heap,
            "flood" => &mut self.flood,
            "keys" => &mut self.keys,
            "ramdisk" => &mut self.ramdisk,
            "reconnect" => &mut self.reconnect,
            _ => return None,
        })
    }
}

impl ExtraOptions {
    /// Whether rpvboot chooses a kernel from the disks: not under `rpvboot.noboot` nor
    /// `rpvboot.test=ramdisk`, which only exercise the device stage.
    pub fn boots_from_disk(&self) -> bool {
        !self.dev.noboot && !self.dev.test.ramdisk
    }
}

/// Parses the `extra=` line.
pub fn parse(line: &str) -> ExtraOptions {
    let mut p =
        Parser { o: ExtraOptions::default(), d: Diags::new(EXTRA_FILE), in_kernel_args: false, unknown: Vec::new() };
    let mut pos = 0usize;
    for word in line.split([' ', '\t', '\n', '\r']) {
        let start = pos;
        let col = u32::try_from(pos).unwrap_or(u32::MAX).saturating_add(1);
        pos = pos.saturating_add(word.len()).saturating_add(1);
        if word.is_empty() {
            continue;
        }
        if word == "--" && !p.in_kernel_args {
            // The rest, after "-- ", verbatim (a kernel command line keeps its spacing).
            p.o.dev.ramdisk_cmdline = Some(String::from(line.get(start.saturating_add(3)..).unwrap_or("")));
            if !p.o.dev.test.ramdisk {
                p.d.warn(
                    1,
                    col,
                    DiagKind::Other(String::from("the words after '--' are only for rpvboot.test=ramdisk, ignored")),
                );
            }
            break;
        }
        p.word(word, col);
    }
    let mut o = p.o;
    o.diagnostics = p.d.list;
    o
}

/// The parse in progress.
struct Parser {
    o: ExtraOptions,
    d: Diags,
    /// After `rpvboot.kernel=`: plain words are the kernel's command line.
    in_kernel_args: bool,
    /// Unknown words reported so far (each is reported once).
    unknown: Vec<String>,
}

impl Parser {
    fn word(&mut self, word: &str, col: u32) {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        if key == "--vtpm-label" && !self.in_kernel_args {
            self.d.note(1, col, DiagKind::Ignored(String::from("--vtpm-label")));
            return;
        }
        if !key.starts_with("rpvboot.") {
            self.plain(word, col);
            return;
        }
        self.in_kernel_args = false;
        match key {
            "rpvboot.config" | "rpvboot.kernel" => self.file(key, value, col),
            "rpvboot.entry" | "rpvboot.timeout" => self.menu_number(key, value, col),
            "rpvboot.menu" | "rpvboot.verbose" | "rpvboot.nobootdev" | "rpvboot.nowrite" | "rpvboot.noboot"
            | "rpvboot.trace" => self.flag(key, value, col),
            "rpvboot.console" if value == Some("dumb") => self.o.dumb_console = true,
            "rpvboot.console" => self.unknown(word, col),
            "rpvboot.test" => match value.and_then(|v| self.o.dev.test.flag(v)) {
                Some(on) => *on = true,
                None => self.unknown(word, col),
            },
            _ => self.dev_value(key, value, col),
        }
    }

    /// A word that is not an `rpvboot.` option: the direct kernel's command line, pvgrub's
    /// configuration path, or nothing we know.
    fn plain(&mut self, word: &str, col: u32) {
        if self.in_kernel_args {
            if let Some((_, args)) = self.o.kernel.as_mut() {
                if !args.is_empty() {
                    args.push(' ');
                }
                args.push_str(word);
            }
        } else if (word.starts_with('(') || word.starts_with('/')) && self.o.config.is_none() {
            match file_ref(word) {
                Ok(f) => self.o.config = Some(f),
                Err(k) => self.d.error(1, col, k),
            }
        } else {
            self.d.warn(1, col, DiagKind::Other(alloc::format!("'{word}' on the extra= line ignored")));
        }
    }

    /// The option's value; a missing or empty one is reported.
    fn need<'v>(&mut self, key: &str, value: Option<&'v str>, col: u32) -> Option<&'v str> {
        match value {
            Some(v) if !v.is_empty() => Some(v),
            _ => {
                self.d.error(1, col, DiagKind::MissingArgument(String::from(key)));
                None
            }
        }
    }

    /// `rpvboot.config=` and `rpvboot.kernel=`.
    fn file(&mut self, key: &str, value: Option<&str>, col: u32) {
        let Some(v) = self.need(key, value, col) else {
            return;
        };
        match file_ref(v) {
            Ok(f) if key == "rpvboot.kernel" => {
                self.o.kernel = Some((f, String::new()));
                self.in_kernel_args = true;
            }
            Ok(f) => self.o.config = Some(f),
            Err(k) => self.d.error(1, col, k),
        }
    }

    /// `rpvboot.entry=` and `rpvboot.timeout=`.
    fn menu_number(&mut self, key: &str, value: Option<&str>, col: u32) {
        let Some(v) = self.need(key, value, col) else {
            return;
        };
        match small_number(v) {
            Some(n) if key == "rpvboot.entry" => self.o.entry = usize::try_from(n).ok(),
            Some(n) => self.o.timeout = u32::try_from(n).ok(),
            None => self.d.error(1, col, DiagKind::BadNumber(String::from(key), String::from(v))),
        }
    }

    /// Options that are a word alone.
    fn flag(&mut self, key: &str, value: Option<&str>, col: u32) {
        if value.is_some() {
            self.d.warn(1, col, DiagKind::Other(alloc::format!("'{key}' takes no value, ignored")));
            return;
        }
        *match key {
            "rpvboot.menu" => &mut self.o.menu,
            "rpvboot.verbose" => &mut self.o.verbose,
            "rpvboot.nobootdev" => &mut self.o.nobootdev,
            "rpvboot.nowrite" => &mut self.o.nowrite,
            "rpvboot.trace" => &mut self.o.dev.trace,
            _ => &mut self.o.dev.noboot,
        } = true;
    }

    /// The bench and tuning options (their fallbacks for bad numbers are documented on
    /// [`DevOptions`]), or an unknown option.
    fn dev_value(&mut self, key: &str, value: Option<&str>, col: u32) {
        let v = value.unwrap_or("");
        match key {
            "rpvboot.bench" => self.o.dev.bench_mib = Some(self.number(key, v, col).unwrap_or(64)),
            "rpvboot.benchfile" => self.o.dev.bench_file = self.need(key, value, col).map(String::from),
            "rpvboot.blkpages" => self.o.dev.blk_pages = self.number(key, v, col).or(self.o.dev.blk_pages),
            "rpvboot.blksegs" => self.o.dev.blk_segs = Some(self.number(key, v, col).unwrap_or(0)),
            "rpvboot.readahead" => self.o.dev.readahead_kib = Some(self.number(key, v, col).unwrap_or(256)),
            "rpvboot.spin" => self.o.dev.spin_us = self.number(key, v, col),
            _ => self.unknown(key, col),
        }
    }

    fn number<T: FromStr>(&mut self, key: &str, v: &str, col: u32) -> Option<T> {
        let n = v.parse().ok();
        if n.is_none() {
            self.d.error(1, col, DiagKind::BadNumber(String::from(key), String::from(v)));
        }
        n
    }

    /// Reports an unknown option, once per spelling.
    fn unknown(&mut self, what: &str, col: u32) {
        if !self.unknown.iter().any(|u| u == what) {
            self.unknown.push(String::from(what));
            self.d.warn(1, col, DiagKind::UnknownOption(String::from(what)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pvgrub_form() {
        let o = parse("(hd0,0)/boot/grub/menu.lst");
        assert_eq!(o.config.as_ref().unwrap().device.as_ref().unwrap().as_str(), "(hd0,0)");
        assert_eq!(o.config.unwrap().path, "/boot/grub/menu.lst");
        assert!(o.diagnostics.is_empty());
        let o = parse("/grub/menu.lst");
        assert_eq!(o.config.unwrap().device, None);
    }

    #[test]
    fn pvgrub_vtpm_label_then_config() {
        let o = parse("--vtpm-label=domu1 (hd0,1)/grub/menu.lst");
        assert_eq!(o.config.unwrap().path, "/grub/menu.lst");
        assert_eq!(o.diagnostics.len(), 1);
        assert_eq!(o.diagnostics[0].severity, crate::Severity::Note);
    }

    #[test]
    fn rpvboot_options() {
        let o = parse(
            "rpvboot.config=(hd1,a)/boot.cfg rpvboot.entry=2 rpvboot.timeout=0 rpvboot.verbose rpvboot.nobootdev rpvboot.nowrite \
             rpvboot.menu rpvboot.console=dumb",
        );
        assert_eq!(o.config.unwrap().path, "/boot.cfg");
        assert_eq!(o.entry, Some(2));
        assert_eq!(o.timeout, Some(0));
        assert!(o.verbose && o.nobootdev && o.nowrite && o.menu && o.dumb_console);
        assert_eq!(o.dev, DevOptions::default());
        assert!(o.diagnostics.is_empty(), "{:?}", o.diagnostics);
        let o = parse("");
        assert!(!o.menu && !o.dumb_console && !o.verbose && o.boots_from_disk());
    }

    /// Every developer option the loader acts on, spelled as the e2e scenarios and
    /// `cargo xtask bench` spell them.
    #[test]
    fn developer_options() {
        let o = parse(
            "rpvboot.bench=64 rpvboot.benchfile=(hd0)/big.bin rpvboot.blkpages=32 rpvboot.blksegs=8 \
             rpvboot.readahead=512 rpvboot.spin=20 rpvboot.noboot rpvboot.test=reconnect rpvboot.test=heap \
             rpvboot.trace",
        );
        assert!(o.diagnostics.is_empty(), "{:?}", o.diagnostics);
        let d = &o.dev;
        assert_eq!(d.bench_mib, Some(64));
        assert_eq!(d.bench_file.as_deref(), Some("(hd0)/big.bin"));
        assert_eq!((d.blk_pages, d.blk_segs, d.readahead_kib, d.spin_us), (Some(32), Some(8), Some(512), Some(20)));
        assert!(d.noboot && d.test.reconnect && d.test.heap && !d.test.panic && d.trace);
        assert!(!o.boots_from_disk());
        assert!(!parse("rpvboot.verbose").dev.trace);
        for (name, get) in [
            ("panic", (|t: &TestHooks| t.panic) as fn(&TestHooks) -> bool),
            ("fault", |t| t.fault),
            ("heap", |t| t.heap),
            ("flood", |t| t.flood),
            ("keys", |t| t.keys),
            ("ramdisk", |t| t.ramdisk),
            ("reconnect", |t| t.reconnect),
        ] {
            let o = parse(&alloc::format!("rpvboot.test={name}"));
            assert!(get(&o.dev.test) && o.diagnostics.is_empty(), "{name}");
            assert_eq!(o.boots_from_disk(), name != "ramdisk", "{name}");
        }
    }

    /// Bad numbers keep the effect they always had, and are now reported.
    #[test]
    fn developer_numbers_fall_back() {
        let o = parse("rpvboot.blkpages=40 rpvboot.blkpages=x rpvboot.bench=y rpvboot.blksegs= rpvboot.readahead=-1 rpvboot.spin=z");
        let d = &o.dev;
        assert_eq!(
            (d.blk_pages, d.bench_mib, d.blk_segs, d.readahead_kib, d.spin_us),
            (Some(40), Some(64), Some(0), Some(256), None)
        );
        assert_eq!(o.diagnostics.len(), 5, "{:?}", o.diagnostics);
    }

    /// ` -- `: the rest of the line is the ramdisk kernel's, verbatim; inside `rpvboot.kernel=`
    /// arguments `--` belongs to the kernel.
    #[test]
    fn double_dash() {
        let o = parse("rpvboot.test=ramdisk -- probe.name=x  rpvboot.verbose");
        assert_eq!(o.dev.ramdisk_cmdline.as_deref(), Some("probe.name=x  rpvboot.verbose"));
        assert!(!o.verbose && o.diagnostics.is_empty());
        assert_eq!(parse("rpvboot.test=ramdisk --").dev.ramdisk_cmdline.as_deref(), Some(""));
        let o = parse("rpvboot.kernel=/vmlinuz ro -- single");
        assert_eq!(o.kernel.unwrap().1, "ro -- single");
        assert_eq!(o.dev.ramdisk_cmdline, None);
        assert_eq!(parse("-- a").diagnostics.len(), 1);
    }

    #[test]
    fn direct_kernel() {
        let o = parse("rpvboot.kernel=(hd0,0)/boot/vmlinuz root=/dev/xvda1  ro console=hvc0 rpvboot.verbose");
        let (f, args) = o.kernel.unwrap();
        assert_eq!(f.path, "/boot/vmlinuz");
        assert_eq!(args, "root=/dev/xvda1 ro console=hvc0");
        assert!(o.verbose);
        let o = parse("rpvboot.kernel=/netbsd -s");
        assert_eq!(o.kernel.unwrap().1, "-s");
    }

    #[test]
    fn problems() {
        let o = parse(
            "console=hvc0 rpvboot.entry=x rpvboot.bogus rpvboot.config= rpvboot.kernel=vmlinuz (hd0,q)/x \
             rpvboot.bogus rpvboot.test=nope rpvboot.console=vga rpvboot.verbose=1",
        );
        let got: Vec<_> = o.diagnostics.iter().map(|d| (d.col, d.kind.to_string())).collect();
        assert_eq!(
            got,
            alloc::vec![
                (1, "'console=hvc0' on the extra= line ignored".into()),
                (14, "'rpvboot.entry': 'x' is not a valid number".into()),
                (30, "unknown option 'rpvboot.bogus', ignored".into()),
                (44, "'rpvboot.config' needs an argument".into()),
                (60, "'vmlinuz' is not an absolute path".into()),
                (83, "'(hd0,q)' is not a device name like (hd0,0)".into()),
                (107, "unknown option 'rpvboot.test=nope', ignored".into()),
                (125, "unknown option 'rpvboot.console=vga', ignored".into()),
                (145, "'rpvboot.verbose' takes no value, ignored".into()),
            ]
        );
        assert!(o.config.is_none() && o.kernel.is_none() && o.entry.is_none());
        assert!(!o.verbose && !o.dumb_console);
    }
}
