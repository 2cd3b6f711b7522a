//! NetBSD's `/boot.cfg` (boot.cfg(5)): `keyword=value` lines, `#` comments.
//!
//! `menu=Label:cmd;cmd` defines an entry whose commands run in order; rpvboot understands the
//! commands that matter for a PV domU: `boot [dev:][path] [-flags]` (no path: `/netbsd`, then
//! `/netbsd.gz`, …, as NetBSD's /boot tries them; flags go on the kernel command line, where
//! NetBSD's Xen startup reads them), `load path [args]` (a module), `dev hdNx:` (the default
//! device) and `prompt` (drop to the command line). `default=` counts from 1 as in boot.cfg(5);
//! the model counts from 0. A negative or non-numeric `timeout=` means no time limit.

use alloc::string::String;
use alloc::vec::Vec;

use nom::bytes::complete::take_till;
use nom::character::complete::char as nchar;
use nom::{IResult, Parser};

use super::device::{Device, DeviceSpec};
use super::error::{DiagKind, Diags};
use super::{
    col_of, first_word, line_text, lines, Entry, FileRef, Format, Kernel, Menu, Module, ModuleKind, OsHint,
    MAX_ENTRIES, MAX_MODULES,
};

/// The kernels NetBSD's /boot tries when `boot` names none, in order
/// (sys/arch/i386/stand/boot/boot2.c, `names[][2]`: each name, then it gzipped); also what
/// rpvboot boots with no configuration at all ([`crate::search`]).
pub const DEFAULT_KERNELS: [&str; 6] =
    ["/netbsd", "/netbsd.gz", "/onetbsd", "/onetbsd.gz", "/netbsd.old", "/netbsd.old.gz"];
/// At most this many `banner=` lines are shown, as in NetBSD.
const MAX_BANNER: usize = 10;

/// `keyword=value`.
fn key_value(line: &str) -> IResult<&str, &str> {
    let (rest, key) = take_till(|c| c == '=').parse(line)?;
    let (rest, _) = nchar('=').parse(rest)?;
    Ok((rest, key))
}

/// Parses `/boot.cfg` text into a [`Menu`].
pub(crate) fn parse(bytes: &[u8], mut d: Diags) -> Menu {
    let mut menu = Menu::empty(Format::BootCfg);
    let mut default: Option<(u64, String)> = None;
    let mut default_line = 0;
    let mut global_loads: Vec<Module> = Vec::new();
    for (n, raw) in lines(bytes) {
        let text = line_text(raw, n, &mut d);
        let line = text.trim_start_matches([' ', '\t']).trim_end_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Ok((value, key)) = key_value(line) else {
            d.warn(n, 1, DiagKind::Syntax("expected keyword=value"));
            continue;
        };
        let col = col_of(&text, key);
        let vcol = col_of(&text, value);
        match key.trim_end() {
            "menu" => {
                if menu.entries.len() >= MAX_ENTRIES {
                    d.warn(n, col, DiagKind::TooMany("entries", MAX_ENTRIES));
                    continue;
                }
                let (label, cmds) = match value.split_once(':') {
                    Some(x) => x,
                    None => {
                        d.error(n, vcol, DiagKind::Syntax("menu= needs 'label:commands'"));
                        continue;
                    }
                };
                let title = if label.is_empty() { cmds } else { label };
                let mut e = Entry::new(String::from(title), n);
                e.os = OsHint::NetBsd;
                for cmd in cmds.split(';') {
                    command(&mut e, cmd, &text, n, &mut d);
                }
                menu.entries.push(e);
            }
            "default" => {
                default_line = n;
                match super::small_number(value.trim()) {
                    Some(v) if v >= 1 => default = Some((v.saturating_sub(1), String::from(value))),
                    _ => d.error(n, vcol, DiagKind::BadNumber(String::from("default"), String::from(value))),
                }
            }
            "timeout" => {
                let v = value.trim();
                if let Some(t) = super::small_number(v) {
                    menu.timeout = u32::try_from(t).ok();
                } else if v.starts_with('-') && v.len() > 1 && v.bytes().skip(1).all(|b| b.is_ascii_digit()) {
                    menu.timeout = None;
                } else {
                    menu.timeout = None;
                    d.note(n, vcol, DiagKind::Other(alloc::format!("timeout '{v}' is not a number: no time limit")));
                }
            }
            "banner" => {
                if menu.banner.len() < MAX_BANNER {
                    menu.banner.push(String::from(value));
                } else {
                    d.note(n, col, DiagKind::TooMany("banner lines", MAX_BANNER));
                }
            }
            "load" => match module(value) {
                Ok(m) if global_loads.len() < MAX_MODULES => global_loads.push(m),
                Ok(_) => d.warn(n, col, DiagKind::TooMany("modules", MAX_MODULES)),
                Err(k) => d.error(n, vcol, k),
            },
            k @ ("clear" | "consdev" | "format") => d.note(n, col, DiagKind::Ignored(String::from(k))),
            "userconf" => d.note(
                n,
                col,
                DiagKind::Other(String::from(
                    "userconf: NetBSD reads it from bootinfo, which a PV kernel does not get; ignored",
                )),
            ),
            k => d.warn(n, col, DiagKind::UnknownCommand(String::from(k))),
        }
    }
    if !global_loads.is_empty() {
        for e in menu.entries.iter_mut().filter(|e| e.kernel.is_some()) {
            let mut mods = global_loads.clone();
            mods.append(&mut e.modules);
            mods.truncate(MAX_MODULES);
            e.modules = mods;
        }
    }
    menu.finish(default, default_line, &[], &mut d);
    menu
}

/// One command of a `menu=` line.
fn command(e: &mut Entry, cmd: &str, text: &str, n: u32, d: &mut Diags) {
    let (name, args) = first_word(cmd);
    if name.is_empty() {
        return;
    }
    let col = col_of(text, name);
    if e.kernel.is_some() || e.prompt {
        // `boot` does not return: nothing after it runs.
        d.note(n, col, DiagKind::Other(alloc::format!("'{name}' after boot never runs, ignored")));
        return;
    }
    match name {
        "boot" => {
            let (first, rest) = first_word(args);
            let (spec, flags) = if first.starts_with('-') { ("", args) } else { (first, rest) };
            let (dev, path) = match boot_spec(spec) {
                Ok(x) => x,
                Err(k) => {
                    d.error(n, col, k);
                    return;
                }
            };
            let (path, alternatives) = match path {
                Some(p) => (p, Vec::new()),
                None => (String::from("/netbsd"), DEFAULT_KERNELS.iter().skip(1).map(|s| String::from(*s)).collect()),
            };
            e.kernel = Some(Kernel {
                file: FileRef { device: dev.or_else(|| e.root.clone()), path },
                args: String::from(flags.trim()),
                alternatives,
            });
        }
        "load" => match module(args) {
            Ok(m) => e.add_module(m, d, n, col),
            Err(k) => d.error(n, col, k),
        },
        "dev" => match boot_spec(args.trim()) {
            Ok((Some(dev), _)) => e.root = Some(dev),
            Ok((None, _)) => d.error(n, col, DiagKind::MissingArgument(String::from("dev"))),
            Err(k) => d.error(n, col, k),
        },
        "prompt" => e.prompt = true,
        "multiboot" => d.error(n, col, DiagKind::Other(String::from("multiboot: a domU cannot start a hypervisor"))),
        "userconf" => d.note(
            n,
            col,
            DiagKind::Other(String::from(
                "userconf: NetBSD reads it from bootinfo, which a PV kernel does not get; ignored",
            )),
        ),
        "rndseed" => d.note(
            n,
            col,
            DiagKind::Other(String::from(
                "rndseed: NetBSD reads it from bootinfo, which a PV kernel does not get; ignored",
            )),
        ),
        c @ ("consdev" | "splash" | "vesa" | "gop" | "mode" | "modules" | "fs" | "pkboot" | "root") => {
            d.note(n, col, DiagKind::Ignored(String::from(c)))
        }
        c => d.warn(n, col, DiagKind::UnknownCommand(String::from(c))),
    }
}

/// `load PATH [args]`: an absolute path is used as is ([`ModuleKind::NetbsdLoad`]); a bare
/// name is a [`ModuleKind::NetbsdModule`], found where boot(8) finds it ([`module_paths`]).
/// A module that cannot be read is a warning.
fn module(args: &str) -> Result<Module, DiagKind> {
    let (p, rest) = first_word(args);
    if p.is_empty() {
        return Err(DiagKind::MissingArgument(String::from("load")));
    }
    let bare = !p.split_once(':').map_or(p, |(_, n)| n).starts_with('/');
    let (dev, path) = boot_spec(p)?;
    let path = path.ok_or_else(|| DiagKind::MissingArgument(String::from("load")))?;
    let kind = if bare { ModuleKind::NetbsdModule } else { ModuleKind::NetbsdLoad };
    Ok(Module { kind, file: FileRef { device: dev, path }, args: String::from(rest) })
}

/// Where boot(8) looks for `load NAME` (sys/arch/i386/stand/lib/exec.c: `module_path` and
/// `module_open`), given `path` = `/NAME` as parsed and the kernel's `__NetBSD_Version__`:
/// first `BASE/NAME/NAME.kmod`, BASE being `module_base_path`'s `/stand/amd64/R/modules` (an
/// ELF64 kernel is `amd64`; R is `M.m.p` for a -current version, whose minor is 99, else
/// `M.m`; with no version BASE is empty), then the name as written, `/NAME`.
pub fn module_paths(path: &str, netbsd_version: Option<u32>) -> [String; 2] {
    let name = path.trim_start_matches('/');
    let base = match netbsd_version {
        Some(v) if v / 1_000_000 % 100 == 99 => {
            alloc::format!("/stand/amd64/{}.{}.{}/modules", v / 100_000_000, v / 1_000_000 % 100, v / 100 % 10_000)
        }
        Some(v) if v != 0 => alloc::format!("/stand/amd64/{}.{}/modules", v / 100_000_000, v / 1_000_000 % 100),
        _ => String::new(),
    };
    [alloc::format!("{base}/{name}/{name}.kmod"), String::from(path)]
}

/// NetBSD's `[dev:][path]`: `hd1a:netbsd`, `hd0a:`, `netbsd`, `/netbsd.gz`. `hdNx` (and the PV
/// name `xbdNx`) is disk N in xenstore order, disklabel partition x: GRUB-legacy `(hdN,x)`.
fn boot_spec(s: &str) -> Result<(Option<Device>, Option<String>), DiagKind> {
    let (dev, path) = match s.split_once(':') {
        Some((dv, p)) => (Some(dv), p),
        None => (None, s),
    };
    let dev = match dev {
        Some(dv) => Some(netbsd_device(dv).ok_or_else(|| DiagKind::BadDevice(String::from(dv)))?),
        None => None,
    };
    let path = if path.is_empty() {
        None
    } else if path.starts_with('/') {
        Some(String::from(path))
    } else {
        let mut p = String::from("/");
        p.push_str(path);
        Some(p)
    };
    Ok((dev, path))
}

/// `hd0a` / `xbd0a` / `hd0` to a [`Device`].
fn netbsd_device(s: &str) -> Option<Device> {
    let rest = s.strip_prefix("hd").or_else(|| s.strip_prefix("xbd"))?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let num = rest.get(..digits)?;
    let disk: u32 = super::small_number(num).and_then(|v| u32::try_from(v).ok())?;
    let label = match rest.get(digits..)? {
        "" => None,
        l if l.len() == 1 => l.chars().next().filter(|c| ('a'..='p').contains(c)),
        _ => return None,
    };
    if rest.len() > digits && label.is_none() {
        return None;
    }
    Some(Device::from_spec(DeviceSpec { disk, part: None, letter: label }))
}

#[cfg(test)]
mod tests {

    #[test]
    fn module_paths_follow_boot8() {
        // exec.c module_base_path: ELF64 is "amd64"; a version whose minor is 99 is -current,
        // M.m.p with p = v / 100 % 10000; a release is M.m; no version: an empty base.
        // module_path: BASE/NAME/NAME.kmod; module_open: then the name as written.
        assert_eq!(module_paths("/foo", Some(799_000_400)), ["/stand/amd64/7.99.4/modules/foo/foo.kmod", "/foo"]);
        assert_eq!(module_paths("/foo", Some(999_010_000))[0], "/stand/amd64/9.99.100/modules/foo/foo.kmod");
        assert_eq!(module_paths("/foo", Some(1_000_000_000))[0], "/stand/amd64/10.0/modules/foo/foo.kmod");
        assert_eq!(module_paths("/foo", Some(902_000_000))[0], "/stand/amd64/9.2/modules/foo/foo.kmod");
        assert_eq!(module_paths("/foo", None)[0], "/foo/foo.kmod");
        let m = parse(b"menu=A:load foo;load /abs.kmod;load hd0a:bar;boot\n", Diags::new("t"));
        let kinds: Vec<ModuleKind> = m.entries[0].modules.iter().map(|x| x.kind).collect();
        assert_eq!(kinds, [ModuleKind::NetbsdModule, ModuleKind::NetbsdLoad, ModuleKind::NetbsdModule]);
    }

    use super::*;
    use crate::parse as parse_any;

    fn p(s: &str) -> Menu {
        parse_any(Format::BootCfg, s.as_bytes(), "/boot.cfg")
    }

    /// What sysinst writes on NetBSD 10.
    const SYSINST: &str = "menu=Boot normally:rndseed /var/db/entropy-file;boot
menu=Boot single user:rndseed /var/db/entropy-file;boot -s
menu=Disable ACPI:rndseed /var/db/entropy-file;boot -2
menu=Disable ACPI and SMP:rndseed /var/db/entropy-file;boot -12
menu=Drop to boot prompt:prompt
default=1
timeout=5
clear=1
";

    #[test]
    fn sysinst() {
        let m = p(SYSINST);
        assert_eq!(m.entries.len(), 5);
        assert_eq!(m.default, 0);
        assert_eq!(m.timeout, Some(5));
        let e = &m.entries[1];
        assert_eq!(e.title, "Boot single user");
        let k = e.kernel.as_ref().unwrap();
        assert_eq!(k.file.path, "/netbsd");
        assert_eq!(k.file.device, None);
        assert_eq!(k.args, "-s");
        assert_eq!(k.alternatives[0], "/netbsd.gz");
        assert!(m.entries[4].prompt && m.entries[4].kernel.is_none());
        // rndseed notes for the four entries and clear=1; nothing worse.
        assert!(m.diagnostics.iter().all(|d| d.severity == crate::Severity::Note), "{:?}", m.diagnostics);
        assert_eq!(m.diagnostics.len(), 5);
    }

    #[test]
    fn boot_netbsd_dash_s() {
        let m = p("menu=Single:boot netbsd -s\n");
        let k = m.entries[0].kernel.as_ref().unwrap();
        assert_eq!(k.file.path, "/netbsd");
        assert_eq!(k.args, "-s");
        assert!(k.alternatives.is_empty());
        let plan = m.plan(0, Device::parse("(hd0,0,a)").as_ref(), None, false).unwrap();
        assert_eq!(plan.cmdline, "-s bootdev=xbd0a");
    }

    /// The boot.cfg(5) example, plus a domU-style one with devices and modules.
    #[test]
    fn man_page_example() {
        let s = "banner=Welcome to NetBSD\nbanner==================\nbanner=\nbanner=Please choose an option from the following menu:\nmenu=Boot normally:boot\nmenu=Boot single-user:boot -s\nmenu=Boot from second disk:boot hd1a:\nmenu=Boot with module foo:load /foo.kmod;boot\nmenu=Boot with modules foo and bar:load /foo.kmod;load /bar.kmod;boot\nmenu=Boot Xen with 256MB for dom0:load /netbsd-XEN3_DOM0 console=pc;multiboot /usr/pkg/xen3-kernel/xen.gz dom0_mem=256M\nmenu=Go to command line (advanced users only):prompt\nmenu=:boot hd1a:netbsd -as\nclear=1\ntimeout=-1\ndefault=1\n# Always load ramdisk module\nload=/miniroot.kmod\n";
        let m = p(s);
        assert_eq!(m.banner.len(), 4);
        assert_eq!(m.banner[1], "=================");
        assert_eq!(m.banner[2], "");
        assert_eq!(m.timeout, None);
        assert_eq!(m.entries.len(), 8);
        let e2 = m.entries[2].kernel.as_ref().unwrap();
        assert_eq!(e2.file.device.as_ref().unwrap().as_str(), "(hd1,a)");
        assert_eq!(e2.file.path, "/netbsd");
        let e4 = &m.entries[4];
        let paths: Vec<_> = e4.modules.iter().map(|m| m.file.path.as_str()).collect();
        assert_eq!(paths, ["/miniroot.kmod", "/foo.kmod", "/bar.kmod"]);
        assert!(m.entries[5].kernel.is_none());
        assert_eq!(m.entries[5].modules.len(), 1); // no kernel: global loads not added
        assert_eq!(m.entries[5].modules[0].args, "console=pc");
        let e7 = &m.entries[7];
        assert_eq!(e7.title, "boot hd1a:netbsd -as");
        assert_eq!(e7.kernel.as_ref().unwrap().args, "-as");
        let errs: Vec<_> =
            m.diagnostics.iter().filter(|d| d.severity == crate::Severity::Error).map(|d| d.line).collect();
        assert_eq!(errs, [10, 10]); // multiboot, and the entry has no kernel
    }

    #[test]
    fn problems() {
        let s = "menu=no colon here\ndefault=0\ntimeout=soon\nbogus\nfrob=1\nmenu=Bad dev:boot sd0a:netbsd\nmenu=After:boot;load /x\nmenu=Dev:dev hd1e:;boot netbsd.gz\ndefault=9\n";
        let m = p(s);
        let got: Vec<_> = m.diagnostics.iter().map(|d| (d.line, d.kind.to_string())).collect();
        assert_eq!(
            got,
            alloc::vec![
                (1, "syntax error: menu= needs 'label:commands'".into()),
                (2, "'default': '0' is not a valid number".into()),
                (3, "timeout 'soon' is not a number: no time limit".into()),
                (4, "syntax error: expected keyword=value".into()),
                (5, "unknown command 'frob', line skipped".into()),
                (6, "'sd0a' is not a device name like (hd0,0)".into()),
                (6, "entry 'Bad dev' has no kernel and cannot boot".into()),
                (7, "'load' after boot never runs, ignored".into()),
                (9, "default '9' is not one of the 3 entries, using the first".into()),
            ]
        );
        let k = m.entries[2].kernel.as_ref().unwrap();
        assert_eq!(k.file.device.as_ref().unwrap().as_str(), "(hd1,e)");
        assert_eq!(k.file.path, "/netbsd.gz");
    }
}
