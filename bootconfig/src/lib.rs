//! Boot configuration: menu.lst, a grub.cfg subset and NetBSD /boot.cfg parsed into one model.
//!
//! Every format becomes a [`Menu`]: settings (default, timeout, fallback chain, hidden menu,
//! password) and [`Entry`]s (title, root device, kernel with command line, modules, lock). The
//! parsers never stop at a bad line: each problem becomes a [`Diagnostic`] with file, line and
//! column, and the rest of the file is still used. Where the file comes from is [`search`];
//! the domU's `extra=` options are [`extra`].
//!
//! All of it is pure `no_std` + `alloc`, never panics and allocates at most a bounded multiple
//! of the input (files are cut at [`MAX_CONFIG_BYTES`], entries at [`MAX_ENTRIES`]).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod bls;
pub mod bootcfg;
pub mod device;
pub mod envblk;
pub mod error;
pub mod extra;
pub mod grubcfg;
pub mod menulst;
pub mod search;

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

pub use device::{netbsd_bootdev, split_path, Device, FileRef};
pub use error::{DiagKind, Diagnostic, Severity};
pub use extra::ExtraOptions;
pub use search::{load, ConfigSource, FsKind, Loaded, ReadError, Volume, Volumes};

use error::Diags;

/// The largest configuration file read; the rest is ignored with a diagnostic.
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;
/// The most entries one menu keeps.
pub const MAX_ENTRIES: usize = 256;
/// The most modules (initrd included) one entry keeps.
pub const MAX_MODULES: usize = 32;

/// Which syntax a menu came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GRUB legacy / pvgrub `menu.lst`.
    MenuLst,
    /// The GRUB 2 `grub.cfg` subset.
    GrubCfg,
    /// NetBSD's `/boot.cfg`.
    BootCfg,
    /// `rpvboot.kernel=` on the `extra=` line: one entry, no file.
    Extra,
    /// No configuration found: `/netbsd` from the first FFS partition.
    Builtin,
}

impl Format {
    /// The name used in `rpvboot-inspect menu` output.
    pub fn name(self) -> &'static str {
        match self {
            Format::MenuLst => "menu.lst",
            Format::GrubCfg => "grub.cfg",
            Format::BootCfg => "boot.cfg",
            Format::Extra => "extra",
            Format::Builtin => "builtin",
        }
    }

    /// The format a file name implies; unknown names are sniffed with [`Format::sniff`].
    pub fn from_path(path: &str) -> Option<Format> {
        let base = path.rsplit('/').next().unwrap_or(path);
        match base {
            "menu.lst" | "grub.conf" => Some(Format::MenuLst),
            "grub.cfg" => Some(Format::GrubCfg),
            "boot.cfg" => Some(Format::BootCfg),
            _ => None,
        }
    }

    /// Guesses the format of a file with an unusual name from its first lines.
    pub fn sniff(bytes: &[u8]) -> Format {
        for (_, line) in lines(bytes).take(200) {
            let l = String::from_utf8_lossy(line);
            let t = l.trim_start();
            if t.starts_with("menuentry") || t.starts_with("set default") {
                return Format::GrubCfg;
            }
            if t.starts_with("menu=") {
                return Format::BootCfg;
            }
            if t.starts_with("title") {
                return Format::MenuLst;
            }
        }
        Format::MenuLst
    }
}

/// A password as GRUB legacy keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// `password secret`.
    Plain(String),
    /// `password --md5 $1$salt$hash`: an MD5-crypt hash, compared after crypting the input.
    Md5(String),
}

/// How a module is passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    /// `initrd`: Linux's initial ramdisk.
    Initrd,
    /// `module` / `load`: decompressed if compressed.
    Module,
    /// `modulenounzip`: passed as stored.
    ModuleNoUnzip,
    /// boot.cfg's `load`: a NetBSD kernel module, decompressed like [`ModuleKind::Module`];
    /// one that cannot be read is a warning and the kernel boots without it, as boot(8)
    /// ("WARNING: couldn't open", sys/arch/i386/stand/lib/exec.c, module_open).
    NetbsdLoad,
    /// boot.cfg's `load NAME` with a bare name: as [`ModuleKind::NetbsdLoad`], read from
    /// `/stand/<machine>/<release>/modules/NAME/NAME.kmod` (the release from the kernel), else
    /// from `/NAME` ([`bootcfg::module_paths`]).
    NetbsdModule,
}

/// The kernel of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// Where the kernel is.
    pub file: FileRef,
    /// Its command line as written (without the path).
    pub args: String,
    /// Paths tried, in order, when `file.path` does not exist (NetBSD: `/netbsd.gz`).
    pub alternatives: Vec<String>,
}

/// A module or initrd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// What kind.
    pub kind: ModuleKind,
    /// Where it is.
    pub file: FileRef,
    /// Its argument string.
    pub args: String,
}

/// Which kernel an entry looks like, before its image is read (the loader knows better from
/// the ELF notes and may override it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsHint {
    /// Nothing known.
    Unknown,
    /// NetBSD: from `/boot.cfg`, `knetbsd`, or a kernel named `netbsd*`.
    NetBsd,
}

/// One boot entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The title shown in the menu.
    pub title: String,
    /// The line the entry starts at.
    pub line: u32,
    /// `root`/`rootnoverify`/`set root`: the device for paths without one.
    pub root: Option<Device>,
    /// The kernel; `None` when the entry cannot boot (diagnosed).
    pub kernel: Option<Kernel>,
    /// Modules and initrds, in order.
    pub modules: Vec<Module>,
    /// `lock`: booting needs the menu password.
    pub lock: bool,
    /// Entry `password`: booting needs this password.
    pub password: Option<Password>,
    /// The entry asks to drop to the command line (boot.cfg `prompt`).
    pub prompt: bool,
    /// What the kernel looks like.
    pub os: OsHint,
}

impl Entry {
    fn new(title: String, line: u32) -> Self {
        Entry {
            title,
            line,
            root: None,
            kernel: None,
            modules: Vec::new(),
            lock: false,
            password: None,
            prompt: false,
            os: OsHint::Unknown,
        }
    }

    fn add_module(&mut self, m: Module, d: &mut Diags, line: u32, col: u32) {
        if self.modules.len() < MAX_MODULES {
            self.modules.push(m);
        } else {
            d.warn(line, col, DiagKind::TooMany("modules", MAX_MODULES));
        }
    }
}

/// A parsed configuration: settings, entries and everything that was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// Which syntax it came from.
    pub format: Format,
    /// The entry booted when the timeout runs out: a valid index when `entries` is not empty.
    pub default: usize,
    /// The file asked for `default saved` (resolved to 0: nothing is ever saved).
    pub default_saved: bool,
    /// Seconds before booting the default; `None` waits forever.
    pub timeout: Option<u32>,
    /// Entries tried in turn when the default fails to boot, validated.
    pub fallback: Vec<usize>,
    /// `hiddenmenu`: show the menu only when a key is pressed during the timeout.
    pub hidden: bool,
    /// The menu password (`e`, `c` and locked entries need it).
    pub password: Option<Password>,
    /// Text shown above the menu (boot.cfg `banner=`).
    pub banner: Vec<String>,
    /// The entries, in file order (GRUB 2 submenus flattened).
    pub entries: Vec<Entry>,
    /// Every problem found, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The environment block rewrite the file asked for (`save_env next_entry` after a
    /// `next_entry` one-shot was honoured); the loader does it just before the handover.
    pub env_write: Option<envblk::EnvWrite>,
}

impl Menu {
    /// The entries the loader tries, in order, when `first` is chosen: `first`, then the
    /// `fallback` chain without repeats. The one place this order is decided: the unattended
    /// boot, the dry run and the menu's fallback after a failed boot all follow it.
    pub fn boot_order(&self, first: usize) -> Vec<usize> {
        let mut order = alloc::vec![first];
        for &f in &self.fallback {
            if !order.contains(&f) {
                order.push(f);
            }
        }
        order
    }

    fn empty(format: Format) -> Self {
        Menu {
            format,
            default: 0,
            default_saved: false,
            timeout: None,
            fallback: Vec::new(),
            hidden: false,
            password: None,
            banner: Vec::new(),
            entries: Vec::new(),
            diagnostics: Vec::new(),
            env_write: None,
        }
    }

    /// Checks what only makes sense once all entries are known: the default index, the fallback
    /// chain and entries without a kernel. `default` is the 0-based index as written (or
    /// `None`), `default_line` where it was written.
    fn finish(&mut self, default: Option<(u64, String)>, default_line: u32, fallback: &[(u64, u32)], d: &mut Diags) {
        let n = self.entries.len();
        if n == 0 {
            d.error(0, 0, DiagKind::NoEntries);
        }
        self.default = 0;
        if let Some((idx, text)) = default {
            match usize::try_from(idx) {
                Ok(i) if i < n => self.default = i,
                _ if n > 0 => d.warn(default_line, 0, DiagKind::DefaultOutOfRange(text, n)),
                _ => {}
            }
        }
        let mut chain: Vec<usize> = Vec::new();
        for &(idx, line) in fallback {
            let i = match usize::try_from(idx) {
                Ok(i) if i < n => i,
                _ => {
                    d.warn(line, 0, DiagKind::FallbackOutOfRange(usize::try_from(idx).unwrap_or(usize::MAX), n));
                    continue;
                }
            };
            if i == self.default || chain.contains(&i) {
                d.warn(line, 0, DiagKind::FallbackRepeated(i));
                continue;
            }
            chain.push(i);
        }
        self.fallback = chain;
        for e in &self.entries {
            if e.kernel.is_none() && !e.prompt {
                d.error(e.line, 0, DiagKind::NoKernel(e.title.clone()));
            }
            if e.lock && self.password.is_none() {
                d.warn(e.line, 0, DiagKind::Other(String::from("'lock' without a menu 'password' has no effect")));
            }
        }
        self.diagnostics.append(&mut d.list);
        fs::order::sort_by_key(&mut self.diagnostics, &|x| u64::from(x.line));
    }

    /// The file and device each part of entry `index` is read from, and the final command line.
    /// `config_dev` is the device the configuration was read from (the default root, as in
    /// pvgrub); `os` overrides the entry's [`OsHint`] once the loader has seen the image.
    ///
    /// # Errors
    /// [`DiagKind::NoKernel`] when the entry has no kernel, [`DiagKind::Other`] for a bad index.
    pub fn plan(
        &self,
        index: usize,
        config_dev: Option<&Device>,
        os: Option<OsHint>,
        nobootdev: bool,
    ) -> Result<BootPlan, DiagKind> {
        self.plan_with(index, config_dev, os, nobootdev, &netbsd_bootdev)
    }

    /// [`Menu::plan`] with the disk layer's NetBSD naming: `bootdev` gives the `xbdN<letter>`
    /// NetBSD's kernel will call a device (see [`search::Volumes::netbsd_bootdev`]).
    ///
    /// # Errors
    /// As [`Menu::plan`].
    pub fn plan_with(
        &self,
        index: usize,
        config_dev: Option<&Device>,
        os: Option<OsHint>,
        nobootdev: bool,
        bootdev: &dyn Fn(&Device) -> Option<String>,
    ) -> Result<BootPlan, DiagKind> {
        let e = self.entries.get(index).ok_or_else(|| DiagKind::Other(String::from("no such entry")))?;
        let k = e.kernel.as_ref().ok_or_else(|| DiagKind::NoKernel(e.title.clone()))?;
        let dev_of = |f: &FileRef| -> Option<Device> {
            f.device.clone().or_else(|| e.root.clone()).or_else(|| config_dev.cloned())
        };
        let kdev = dev_of(&k.file);
        let mut cmdline = k.args.clone();
        if os.unwrap_or(e.os) == OsHint::NetBsd && !nobootdev && !has_netbsd_root(&cmdline) {
            if let Some(bd) = kdev.as_ref().and_then(bootdev) {
                if !cmdline.is_empty() {
                    cmdline.push(' ');
                }
                cmdline.push_str("bootdev=");
                cmdline.push_str(&bd);
            }
        }
        Ok(BootPlan {
            entry: index,
            kernel: PlannedFile { device: kdev.clone(), path: k.file.path.clone() },
            alternatives: k
                .alternatives
                .iter()
                .map(|p| PlannedFile { device: kdev.clone(), path: p.clone() })
                .collect(),
            cmdline,
            modules: e
                .modules
                .iter()
                .map(|m| PlannedModule {
                    kind: m.kind,
                    file: PlannedFile { device: dev_of(&m.file), path: m.file.path.clone() },
                    args: m.args.clone(),
                })
                .collect(),
        })
    }
}

/// Whether a NetBSD command line already names its root: NetBSD's `xen_parse_cmdline` takes
/// `bootdev=` and `root=` (case-insensitive) from space-separated words.
pub fn has_netbsd_root(cmdline: &str) -> bool {
    cmdline.split(' ').any(|w| {
        let lw = w.get(..8).map(|p| p.eq_ignore_ascii_case("bootdev=")).unwrap_or(false);
        let lr = w.get(..5).map(|p| p.eq_ignore_ascii_case("root=")).unwrap_or(false);
        lw || lr
    })
}

/// A file with the device it is read from (`None`: no device known at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// The device.
    pub device: Option<Device>,
    /// The path on it.
    pub path: String,
}

/// A module to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedModule {
    /// What kind.
    pub kind: ModuleKind,
    /// Where.
    pub file: PlannedFile,
    /// Its argument string.
    pub args: String,
}

/// What booting one entry reads and passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootPlan {
    /// The entry index.
    pub entry: usize,
    /// The kernel.
    pub kernel: PlannedFile,
    /// Tried in turn when the kernel is not found.
    pub alternatives: Vec<PlannedFile>,
    /// The final command line given to the kernel.
    pub cmdline: String,
    /// Modules in order.
    pub modules: Vec<PlannedModule>,
}

/// Parses a configuration file of a known format. `file` names it in diagnostics.
pub fn parse(format: Format, bytes: &[u8], file: &str) -> Menu {
    let mut d = Diags::new(file);
    let bytes = match bytes.get(..MAX_CONFIG_BYTES) {
        Some(b) if bytes.len() > MAX_CONFIG_BYTES => {
            d.warn(0, 0, DiagKind::TooLarge(MAX_CONFIG_BYTES));
            b
        }
        _ => bytes,
    };
    match format {
        Format::MenuLst => menulst::parse(bytes, d),
        Format::GrubCfg => grubcfg::parse(bytes, d),
        Format::BootCfg => bootcfg::parse(bytes, d),
        Format::Extra | Format::Builtin => {
            let mut m = Menu::empty(format);
            m.finish(None, 0, &[], &mut d);
            m
        }
    }
}

/// Parses a `grub.cfg` read from `dev`/`path` the way GRUB 2 runs it there: `$root` and
/// `$prefix` name its device and directory, and `[ -s FILE ]`, `load_env`, `search` and
/// `source`/`configfile` look at the domU's disks through `host`.
pub(crate) fn parse_grubcfg_on(
    bytes: &[u8],
    file: &str,
    dev: &Device,
    path: &str,
    host: &mut dyn grubcfg::Host,
) -> Menu {
    let mut d = Diags::new(file);
    let bytes = match bytes.get(..MAX_CONFIG_BYTES) {
        Some(b) if bytes.len() > MAX_CONFIG_BYTES => {
            d.warn(0, 0, DiagKind::TooLarge(MAX_CONFIG_BYTES));
            b
        }
        _ => bytes,
    };
    grubcfg::parse_on(bytes, d, Some((dev, path)), host)
}

/// One fuzzing step for `format` (the body of the per-format fuzz targets in fuzz/fuzz_targets/):
/// parse, then plan every entry. Returns the entry count so the work is not optimised away.
pub fn fuzz_format(format: Format, data: &[u8]) -> usize {
    let m = parse(format, data, "fuzz");
    let dev = Device::parse("(hd0,0)");
    for i in 0..m.entries.len() {
        let _ = m.plan(i, dev.as_ref(), Some(OsHint::NetBsd), false);
    }
    let _ = menulst::print(&m);
    m.entries.len()
}

/// One fuzzing step for the `extra=` line and the device and path syntax.
pub fn fuzz_extra(data: &[u8]) -> usize {
    let text = String::from_utf8_lossy(data);
    let o = extra::parse(&text);
    let _ = grubcfg::grub2_device(&text);
    let _ = split_path(&text);
    let _ = Format::sniff(data);
    o.diagnostics.len()
}

/// Splits into `(1-based line number, line)` at `\n`, dropping a `\r` before it (CRLF files).
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    bytes.split(|&b| b == b'\n').enumerate().map(|(i, l)| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        (u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1), l)
    })
}

/// A line as text; invalid UTF-8 is replaced and reported.
pub(crate) fn line_text<'a>(line: &'a [u8], n: u32, d: &mut Diags) -> Cow<'a, str> {
    let t = String::from_utf8_lossy(line);
    if matches!(t, Cow::Owned(_)) {
        d.warn(n, 0, DiagKind::InvalidUtf8);
    }
    t
}

/// 1-based byte column of `part` inside `line` (both from the same string).
pub(crate) fn col_of(line: &str, part: &str) -> u32 {
    let off = (part.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
    if off <= line.len() {
        u32::try_from(off).unwrap_or(u32::MAX).saturating_add(1)
    } else {
        0
    }
}

/// Splits off the first space/tab-separated word; returns (word, rest with leading blanks removed).
pub(crate) fn first_word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    match s.find([' ', '\t']) {
        Some(i) => (s.get(..i).unwrap_or(s), s.get(i..).unwrap_or("").trim_start_matches([' ', '\t'])),
        None => (s, ""),
    }
}

/// Parses a decimal count, at most 9 digits so it cannot overflow.
pub(crate) fn small_number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Whether a kernel path looks like NetBSD's (`/netbsd`, `/netbsd-XEN3_DOMU.gz`).
pub(crate) fn looks_netbsd(path: &str) -> bool {
    path.rsplit('/').next().map(|b| b.starts_with("netbsd")).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    use testimages::rng::Rng;

    /// The model's invariants after any input: bounded, consistent, plannable.
    fn check(m: &Menu) {
        assert!(m.entries.len() <= MAX_ENTRIES);
        assert!(m.entries.is_empty() || m.default < m.entries.len());
        assert!(m.fallback.iter().all(|&f| f < m.entries.len() && f != m.default));
        let mut f = m.fallback.clone();
        f.sort_unstable();
        f.dedup();
        assert_eq!(f.len(), m.fallback.len());
        assert!(m.diagnostics.len() <= error::MAX_DIAGNOSTICS + 1);
        assert!(m.entries.iter().all(|e| e.modules.len() <= MAX_MODULES));
        for i in 0..m.entries.len() {
            let _ = m.plan(i, Device::parse("(hd0,0)").as_ref(), Some(OsHint::NetBsd), false);
        }
    }

    fn all_formats(bytes: &[u8]) {
        for f in [Format::MenuLst, Format::GrubCfg, Format::BootCfg] {
            check(&parse(f, bytes, "fuzz"));
            let _ = fuzz_format(f, bytes);
        }
        let _ = fuzz_extra(bytes);
        // BootLoaderSpec pieces on the same bytes (what an entry file or a grubenv holds).
        let t = String::from_utf8_lossy(bytes);
        let e = bls::parse_entry("f", bytes);
        let _ = bls::entry_source(&e, &|_| Some(t.to_string()), 4096);
        let _ = bls::expand_val(&t, &|n| Some(n.to_string()), 4096);
        let _ = bls::vercmp(&t, "1.0~rc1+git2-3.el9");
        let _ = bls::id_cmp(&t, &t.chars().rev().collect::<String>());
    }

    const VOCAB: &[&str] = &[
        "title",
        "kernel",
        "initrd",
        "module",
        "root",
        "(hd0,0)",
        "(hd0,",
        "(hd1,0,a)",
        "default",
        "saved",
        "fallback",
        "timeout",
        "password",
        "--md5",
        "lock",
        "hiddenmenu",
        "chainloader",
        "menuentry",
        "submenu",
        "set",
        "root=",
        "default=",
        "timeout=",
        "linux",
        "if",
        "then",
        "elif",
        "else",
        "fi",
        "for",
        "do",
        "done",
        "function",
        "{",
        "}",
        "'",
        "\"",
        "\\",
        "$",
        "${",
        "$root",
        ";",
        "\n",
        "\r\n",
        "\t",
        " ",
        "=",
        ":",
        "menu=",
        "boot",
        "load",
        "dev",
        "hd0a:",
        "netbsd",
        "-s",
        "#",
        "/",
        "/boot/netbsd",
        "9",
        "0",
        "-1",
        "99999999999999999999",
        ">",
        "1>0",
        "rpvboot.kernel=",
        "rpvboot.entry=",
        "\u{e9}",
        "\0",
        "\u{fffd}",
        "knetbsd",
        "--id",
        "--class",
        "blscfg",
        "~",
        "+",
    ];

    /// Random bytes, random keyword soup and mutated real samples: never a panic, a hang or a
    /// broken invariant. (The fuzz targets run the same `all_formats` body.)
    #[test]
    fn random_inputs_never_panic() {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        let samples: [&[u8]; 4] = [
            include_bytes!("../../testimages/configs/debian-lenny-menu.lst"),
            include_bytes!("../../testimages/configs/debian12-grub.cfg"),
            include_bytes!("../../testimages/configs/netbsd-sysinst-boot.cfg"),
            include_bytes!("../../testimages/configs/netbsd-domu-menu.lst"),
        ];
        for round in 0..3000 {
            let mut buf: Vec<u8> = Vec::new();
            match round % 3 {
                0 => {
                    for _ in 0..r.index(600) {
                        buf.push(u8::try_from(r.next() & 0xff).unwrap());
                    }
                }
                1 => {
                    for _ in 0..r.index(300) {
                        buf.extend_from_slice(VOCAB[r.index(VOCAB.len())].as_bytes());
                        if r.index(3) == 0 {
                            buf.push(b' ');
                        }
                    }
                }
                _ => {
                    buf.extend_from_slice(samples[r.index(samples.len())]);
                    for _ in 0..1 + r.index(8) {
                        let i = r.index(buf.len());
                        match r.index(3) {
                            0 => buf[i] = u8::try_from(r.next() & 0xff).unwrap(),
                            1 => buf.truncate(i),
                            _ => {
                                let w = VOCAB[r.index(VOCAB.len())].as_bytes();
                                let tail = buf.split_off(i);
                                buf.extend_from_slice(w);
                                buf.extend_from_slice(&tail);
                            }
                        }
                        if buf.is_empty() {
                            break;
                        }
                    }
                }
            }
            all_formats(&buf);
        }
    }

    /// Deep nesting, long lines, many entries and diagnostics stay bounded.
    #[test]
    fn pathological_inputs_are_bounded() {
        let deep_if = "if x; then\n".repeat(100_000);
        check(&parse(Format::GrubCfg, deep_if.as_bytes(), "f"));
        let deep_brace = "submenu 'x' {\n".repeat(100_000);
        check(&parse(Format::GrubCfg, deep_brace.as_bytes(), "f"));
        let deep_loop = "for x in y; do\n".repeat(100_000);
        check(&parse(Format::GrubCfg, deep_loop.as_bytes(), "f"));
        let mixed = "if a; then { for b; do\n".repeat(30_000);
        check(&parse(Format::GrubCfg, mixed.as_bytes(), "f"));
        let blowup =
            "set a=xxxxxxxx\n".to_string() + &"set a=$a$a$a$a\n".repeat(1000) + "menuentry $a { linux /$a$a$a }\n";
        let m = parse(Format::GrubCfg, blowup.as_bytes(), "f");
        assert!(m.entries[0].title.len() <= 4200);
        let junk = "junk\n".repeat(10_000);
        let m = parse(Format::MenuLst, junk.as_bytes(), "f");
        assert_eq!(m.diagnostics.len(), error::MAX_DIAGNOSTICS + 1);
        let many = "menu=x:boot\n".repeat(1000);
        check(&parse(Format::BootCfg, many.as_bytes(), "f"));
        let huge = alloc::vec![b'a'; MAX_CONFIG_BYTES + 10];
        let m = parse(Format::MenuLst, &huge, "f");
        assert_eq!(m.diagnostics[0].kind, DiagKind::TooLarge(MAX_CONFIG_BYTES));
        let modules = "title t\nkernel /k\n".to_string() + &"module /m\n".repeat(100);
        let m = parse(Format::MenuLst, modules.as_bytes(), "f");
        assert_eq!(m.entries[0].modules.len(), MAX_MODULES);
    }

    #[test]
    fn netbsd_root_detection() {
        assert!(has_netbsd_root("root=xbd0a"));
        assert!(has_netbsd_root("-s BOOTDEV=xbd1a"));
        assert!(!has_netbsd_root("-s console=pc"));
        assert!(!has_netbsd_root("nfsroot=x"));
    }

    #[test]
    fn plan_appends_bootdev() {
        let m = menulst::parse(
            b"title n\nroot (hd0,0,a)\nkernel /netbsd -s\ntitle n2\nkernel (hd1,e)/netbsd root=xbd0a\ntitle l\nroot (hd0,0)\nkernel /vmlinuz ro\n",
            Diags::new("t"),
        );
        let p = m.plan(0, None, None, false).unwrap();
        assert_eq!(p.cmdline, "-s bootdev=xbd0a");
        assert_eq!(p.kernel.device.unwrap().as_str(), "(hd0,0,a)");
        assert_eq!(m.plan(0, None, None, true).unwrap().cmdline, "-s");
        assert_eq!(m.plan(1, None, None, false).unwrap().cmdline, "root=xbd0a");
        assert_eq!(m.plan(2, None, None, false).unwrap().cmdline, "ro");
        assert_eq!(m.plan(2, None, Some(OsHint::NetBsd), false).unwrap().cmdline, "ro");
        assert!(m.plan(9, None, None, false).is_err());
    }
}
