//! GRUB legacy `menu.lst`, as pvgrub (GRUB 0.97) read it and as distributions wrote it.
//!
//! Semantics follow the GRUB legacy manual: a line is a command and its argument, separated by
//! blanks or `=` (GRUB's `skip_to(1, …)`); lines starting with `#` are comments; commands
//! before the first `title` are menu settings, the rest belong to the entry the last `title`
//! opened. `default` and `fallback` count entries from 0.

use alloc::string::String;
use alloc::vec::Vec;

use nom::bytes::complete::{take_till, take_while};
use nom::{IResult, Parser};

use super::device::{split_path, Device, PathError};
use super::error::{DiagKind, Diags};
use super::{
    col_of, first_word, line_text, lines, looks_netbsd, small_number, Entry, Format, Kernel, Menu, Module, ModuleKind,
    OsHint, Password, MAX_ENTRIES,
};

/// Commands accepted and ignored: they only change the look of GRUB's menu or the BIOS disks.
const IGNORED: &[&str] = &[
    "color",
    "splashimage",
    "serial",
    "terminal",
    "makeactive",
    "gfxmenu",
    "foreground",
    "background",
    "shade",
    "viewport",
    "hide",
    "unhide",
    "map",
    "setkey",
    "debug",
    "verbose",
    "quiet",
    "uppermem",
    "geometry",
    "pause",
    "clear",
];
/// Commands that exist in GRUB legacy but that rpvboot cannot carry out.
const UNSUPPORTED: &[&str] = &[
    "chainloader",
    "configfile",
    "install",
    "setup",
    "embed",
    "halt",
    "reboot",
    "find",
    "partnew",
    "parttype",
    "cmp",
    "md5crypt",
    "ifconfig",
    "dhcp",
    "bootp",
    "rarp",
    "tftpserver",
];

/// `command[ \t=]+argument`: the command ends at a blank or `=`, then any run of blanks and `=`
/// is skipped (GRUB legacy's `skip_to(1, cmdline)`).
fn command(line: &str) -> IResult<&str, &str> {
    let (rest, cmd) = take_till(|c| c == ' ' || c == '\t' || c == '=').parse(line)?;
    let (rest, _) = take_while(|c| c == ' ' || c == '\t' || c == '=').parse(rest)?;
    Ok((rest, cmd))
}

/// Parses `menu.lst` text into a [`Menu`]; `d` names the file in diagnostics.
pub(crate) fn parse(bytes: &[u8], mut d: Diags) -> Menu {
    let mut menu = Menu::empty(Format::MenuLst);
    let mut default: Option<(u64, String)> = None;
    let mut default_line = 0;
    let mut fallback: Vec<(u64, u32)> = Vec::new();
    let mut current: Option<Entry> = None;
    let mut dropped = false;

    for (n, raw) in lines(bytes) {
        let text = line_text(raw, n, &mut d);
        let line = text.trim_start_matches([' ', '\t']).trim_end_matches([' ', '\t', '\r']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Ok((arg, cmd)) = command(line) else {
            continue;
        };
        let col = col_of(&text, cmd);
        let acol = col_of(&text, arg);
        let in_entry = current.is_some() || dropped;

        match cmd {
            "title" => {
                if let Some(e) = current.take() {
                    menu.entries.push(e);
                }
                if menu.entries.len() >= MAX_ENTRIES {
                    if !dropped {
                        d.warn(n, col, DiagKind::TooMany("entries", MAX_ENTRIES));
                    }
                    dropped = true;
                } else {
                    current = Some(Entry::new(String::from(arg), n));
                }
            }
            "default" | "timeout" | "fallback" | "hiddenmenu" if in_entry => {
                d.warn(n, col, DiagKind::Other(alloc::format!("menu command '{cmd}' inside an entry, ignored")));
            }
            "default" => {
                default_line = n;
                let (w, _) = first_word(arg);
                if w == "saved" {
                    menu.default_saved = true;
                    d.warn(n, acol, DiagKind::SavedDefault);
                } else if let Some(v) = small_number(w) {
                    default = Some((v, String::from(w)));
                } else {
                    d.error(n, acol, DiagKind::BadNumber(String::from(cmd), String::from(w)));
                }
            }
            "timeout" => {
                let (w, _) = first_word(arg);
                match small_number(w).and_then(|v| u32::try_from(v).ok()) {
                    Some(v) => menu.timeout = Some(v),
                    None => d.error(n, acol, DiagKind::BadNumber(String::from(cmd), String::from(w))),
                }
            }
            "fallback" => {
                let mut rest = arg;
                // A bounded line holds a bounded number of words.
                while !rest.is_empty() {
                    let (w, r) = first_word(rest);
                    if w.is_empty() {
                        break;
                    }
                    match small_number(w) {
                        Some(v) => fallback.push((v, n)),
                        None => d.error(n, col_of(&text, w), DiagKind::BadNumber(String::from(cmd), String::from(w))),
                    }
                    rest = r;
                }
                if arg.is_empty() {
                    d.error(n, col, DiagKind::MissingArgument(String::from(cmd)));
                }
            }
            "hiddenmenu" => menu.hidden = true,
            "password" => {
                let pw = match password(arg) {
                    Some(p) => p,
                    None => {
                        d.error(n, col, DiagKind::MissingArgument(String::from(cmd)));
                        continue;
                    }
                };
                match current.as_mut() {
                    Some(e) => e.password = Some(pw),
                    None if !dropped => menu.password = Some(pw),
                    None => {}
                }
            }
            _ if !in_entry && is_entry_command(cmd) => {
                d.error(n, col, DiagKind::OutsideEntry(String::from(cmd)));
            }
            "root" | "rootnoverify" => {
                let (w, _) = first_word(arg);
                let Some(e) = current.as_mut() else { continue };
                if w.is_empty() {
                    d.error(n, col, DiagKind::MissingArgument(String::from(cmd)));
                } else if let Some(dev) = Device::parse(w) {
                    e.root = Some(dev);
                } else {
                    d.error(n, acol, DiagKind::BadDevice(String::from(w)));
                }
            }
            "kernel" => {
                let Some(e) = current.as_mut() else { continue };
                // GRUB legacy options before the file: `--type=netbsd`, `--no-mem-option`.
                let mut rest = arg;
                let mut netbsd_type = false;
                while rest.starts_with("--") {
                    let (opt, r) = first_word(rest);
                    if opt == "--type=netbsd" {
                        netbsd_type = true;
                    }
                    rest = r;
                }
                let (path, args) = first_word(rest);
                if path.is_empty() {
                    d.error(n, col, DiagKind::MissingArgument(String::from(cmd)));
                    continue;
                }
                if e.kernel.is_some() {
                    d.warn(n, col, DiagKind::DuplicateKernel);
                    continue;
                }
                match file_ref(path) {
                    Ok(file) => {
                        if netbsd_type || looks_netbsd(&file.path) {
                            e.os = OsHint::NetBsd;
                        }
                        e.kernel = Some(Kernel { file, args: String::from(args), alternatives: Vec::new() });
                    }
                    Err(k) => d.error(n, col_of(&text, path), k),
                }
            }
            "initrd" | "module" | "modulenounzip" => {
                let Some(e) = current.as_mut() else { continue };
                let (path, args) = first_word(arg);
                if path.is_empty() {
                    d.error(n, col, DiagKind::MissingArgument(String::from(cmd)));
                    continue;
                }
                let kind = match cmd {
                    "initrd" => ModuleKind::Initrd,
                    "module" => ModuleKind::Module,
                    _ => ModuleKind::ModuleNoUnzip,
                };
                match file_ref(path) {
                    Ok(file) => e.add_module(Module { kind, file, args: String::from(args) }, &mut d, n, col),
                    Err(k) => d.error(n, col_of(&text, path), k),
                }
            }
            "lock" => {
                if let Some(e) = current.as_mut() {
                    e.lock = true;
                }
            }
            "savedefault" => d.note(n, col, DiagKind::SaveDefaultIgnored),
            "boot" => {}
            c if IGNORED.contains(&c) => d.note(n, col, DiagKind::Ignored(String::from(c))),
            c if UNSUPPORTED.contains(&c) => d.error(n, col, DiagKind::Unsupported(String::from(c))),
            c => d.warn(n, col, DiagKind::UnknownCommand(String::from(c))),
        }
    }
    if let Some(e) = current.take() {
        menu.entries.push(e);
    }
    menu.finish(default, default_line, &fallback, &mut d);
    menu
}

/// Commands that only make sense inside an entry.
fn is_entry_command(cmd: &str) -> bool {
    matches!(
        cmd,
        "root"
            | "rootnoverify"
            | "kernel"
            | "initrd"
            | "module"
            | "modulenounzip"
            | "lock"
            | "boot"
            | "chainloader"
            | "makeactive"
            | "savedefault"
    )
}

/// `password [--md5] PASSWD [FILE]`: the hash or text is the first word after the option.
fn password(arg: &str) -> Option<Password> {
    let (w, rest) = first_word(arg);
    if w == "--md5" {
        let (h, _) = first_word(rest);
        (!h.is_empty()).then(|| Password::Md5(String::from(h)))
    } else {
        (!w.is_empty()).then(|| Password::Plain(String::from(w)))
    }
}

/// `(dev)/path` or `/path` to a [`super::FileRef`], with a diagnostic kind on failure.
pub(crate) fn file_ref(path: &str) -> Result<super::FileRef, DiagKind> {
    match split_path(path) {
        Ok(f) if f.path == "/" => Err(DiagKind::BadPath(String::from(path))),
        Ok(f) => Ok(f),
        Err(PathError::BadDevice(dv)) => Err(DiagKind::BadDevice(dv)),
        Err(PathError::NotAbsolute(p)) => Err(DiagKind::BadPath(p)),
    }
}

/// Parses one entry's lines (menu.lst commands, as [`entry_lines`] prints them and as the
/// menu's `e` editor or `c` command line collects them) into an entry, with the problems found;
/// `file` names the source in diagnostics (e.g. `editor`). Line numbers count from 1 at the
/// first of `lines`.
pub fn parse_entry(title: &str, lines: &[&str], file: &str) -> (Option<Entry>, Vec<super::Diagnostic>) {
    let mut text = String::from("title ");
    text.push_str(title);
    for l in lines {
        text.push('\n');
        text.push_str(l);
    }
    text.push('\n');
    let mut m = parse(text.as_bytes(), Diags::new(file));
    let mut diags = core::mem::take(&mut m.diagnostics);
    for d in &mut diags {
        d.line = d.line.saturating_sub(1);
    }
    (m.entries.into_iter().next(), diags)
}

/// `(dev)/path` as menu.lst writes it.
fn file_text(f: &super::FileRef) -> String {
    let mut s = String::new();
    if let Some(d) = &f.device {
        s.push_str(d.as_str());
    }
    s.push_str(&f.path);
    s
}

fn with_args(cmd: &str, f: &super::FileRef, args: &str) -> String {
    let mut s = alloc::format!("{cmd} {}", file_text(f));
    if !args.is_empty() {
        s.push(' ');
        s.push_str(args);
    }
    s
}

fn password_line(p: &Password) -> String {
    match p {
        Password::Plain(t) => alloc::format!("password {t}"),
        Password::Md5(h) => alloc::format!("password --md5 {h}"),
    }
}

/// An entry's lines in menu.lst syntax, after its `title` line: what the menu's `e` editor
/// shows, and what [`parse`] reads back into the same entry.
pub fn entry_lines(e: &Entry) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = &e.root {
        out.push(alloc::format!("root {r}"));
    }
    if let Some(k) = &e.kernel {
        out.push(with_args("kernel", &k.file, &k.args));
    }
    for m in &e.modules {
        let cmd = match m.kind {
            ModuleKind::Initrd => "initrd",
            ModuleKind::Module | ModuleKind::NetbsdLoad | ModuleKind::NetbsdModule => "module",
            ModuleKind::ModuleNoUnzip => "modulenounzip",
        };
        out.push(with_args(cmd, &m.file, &m.args));
    }
    if let Some(p) = &e.password {
        out.push(password_line(p));
    }
    if e.lock {
        out.push(String::from("lock"));
    }
    out
}

/// Prints a menu as menu.lst (any format's menu: a boot.cfg or grub.cfg menu becomes the
/// equivalent menu.lst, without what menu.lst cannot say: banners, prompt entries' meaning).
pub fn print(m: &Menu) -> String {
    let mut s = String::new();
    let mut line = |l: &str| {
        s.push_str(l);
        s.push('\n');
    };
    if m.default_saved {
        line("default saved");
    } else {
        line(&alloc::format!("default {}", m.default));
    }
    if let Some(t) = m.timeout {
        line(&alloc::format!("timeout {t}"));
    }
    if !m.fallback.is_empty() {
        let f: Vec<String> = m.fallback.iter().map(|i| alloc::format!("{i}")).collect();
        line(&alloc::format!("fallback {}", f.join(" ")));
    }
    if m.hidden {
        line("hiddenmenu");
    }
    if let Some(p) = &m.password {
        line(&password_line(p));
    }
    for e in &m.entries {
        line("");
        line(&alloc::format!("title {}", e.title));
        for l in entry_lines(e) {
            line(&alloc::format!("\t{l}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse as parse_any, Severity};

    fn p(s: &str) -> Menu {
        parse_any(Format::MenuLst, s.as_bytes(), "menu.lst")
    }

    /// A Debian etch/lenny domU menu.lst as update-grub wrote it (pvgrub's main audience).
    const DEBIAN: &str = "\
# menu.lst - See: grub(8), info grub, update-grub(8)
#            grub-install(8), grub-floppy(8),
#            grub-md5-crypt, /usr/share/doc/grub
#            and /usr/share/doc/grub-doc/.

## default num
# Set the default entry to the entry number NUM. Numbering starts from 0, and
# the entry number 0 is the default if the command is not used.
default\t\t0

## timeout sec
timeout\t\t5

# Pretty colours
#color cyan/blue white/blue

## password ['--md5'] passwd
# password topsecret
# password --md5 $1$gLhU0/$aW78kHK1QfV3P2b2znUoe/

### BEGIN AUTOMAGIC KERNELS LIST
## lines between the AUTOMAGIC KERNELS LIST markers will be modified
## by the debian update-grub script except for the default options below
# kopt=root=/dev/xvda1 ro console=hvc0
# groot=(hd0,0)
## ## End Default Options ##

title\t\tDebian GNU/Linux, kernel 2.6.26-2-xen-amd64
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-2.6.26-2-xen-amd64 root=/dev/xvda1 ro console=hvc0
initrd\t\t/boot/initrd.img-2.6.26-2-xen-amd64

title\t\tDebian GNU/Linux, kernel 2.6.26-2-xen-amd64 (single-user mode)
root\t\t(hd0,0)
kernel\t\t/boot/vmlinuz-2.6.26-2-xen-amd64 root=/dev/xvda1 ro console=hvc0 single
initrd\t\t/boot/initrd.img-2.6.26-2-xen-amd64

### END DEBIAN AUTOMAGIC KERNELS LIST
";

    #[test]
    fn debian_update_grub() {
        let m = p(DEBIAN);
        assert!(m.diagnostics.is_empty(), "{:?}", m.diagnostics);
        assert_eq!(m.entries.len(), 2);
        assert_eq!(m.timeout, Some(5));
        assert_eq!(m.default, 0);
        let e = &m.entries[1];
        assert_eq!(e.title, "Debian GNU/Linux, kernel 2.6.26-2-xen-amd64 (single-user mode)");
        assert_eq!(e.root.as_ref().unwrap().as_str(), "(hd0,0)");
        let k = e.kernel.as_ref().unwrap();
        assert_eq!(k.file.path, "/boot/vmlinuz-2.6.26-2-xen-amd64");
        assert_eq!(k.args, "root=/dev/xvda1 ro console=hvc0 single");
        assert_eq!(e.modules.len(), 1);
        assert_eq!(e.modules[0].kind, ModuleKind::Initrd);
        assert_eq!(e.modules[0].file.path, "/boot/initrd.img-2.6.26-2-xen-amd64");
        assert_eq!(e.line, 33);
    }

    /// Amazon EC2's pvgrub menus (hd0 without partition, hiddenmenu, timeout 1), CRLF.
    #[test]
    fn ec2_style_crlf() {
        let s = "default 0\r\ntimeout 1\r\nhiddenmenu\r\n\r\ntitle Amazon Linux 2014.09 (3.14.27-25.47.amzn1.x86_64)\r\nroot (hd0)\r\nkernel /boot/vmlinuz-3.14.27-25.47.amzn1.x86_64 root=LABEL=/ console=hvc0\r\ninitrd /boot/initramfs-3.14.27-25.47.amzn1.x86_64.img\r\n";
        let m = p(s);
        assert!(m.diagnostics.is_empty(), "{:?}", m.diagnostics);
        assert!(m.hidden);
        assert_eq!(m.timeout, Some(1));
        let e = &m.entries[0];
        assert_eq!(e.title, "Amazon Linux 2014.09 (3.14.27-25.47.amzn1.x86_64)");
        assert_eq!(e.root.as_ref().unwrap().as_str(), "(hd0)");
        assert_eq!(e.kernel.as_ref().unwrap().args, "root=LABEL=/ console=hvc0");
        assert_eq!(e.modules[0].file.path, "/boot/initramfs-3.14.27-25.47.amzn1.x86_64.img");
    }

    /// A NetBSD domU menu as the NetBSD Xen HOWTO shows it: `=` separators, device in the path,
    /// disklabel partitions, fallback chain, md5 password and a locked entry.
    #[test]
    fn netbsd_domu() {
        let s = "default=1\ntimeout=10\nfallback 0 2\npassword --md5 $1$gLhU0/$aW78kHK1QfV3P2b2znUoe/\n\ntitle NetBSD 10 (XEN3_DOMU)\n  kernel (hd0,0,a)/netbsd-XEN3_DOMU.gz root=xbd0a\n\ntitle NetBSD 10 single user\n  root (hd0,a)\n  kernel /netbsd-XEN3_DOMU -s\n  lock\n\ntitle old kernel\n\tkernel=(hd0,a)/onetbsd\n";
        let m = p(s);
        assert!(m.diagnostics.is_empty(), "{:?}", m.diagnostics);
        assert_eq!(m.default, 1);
        assert_eq!(m.fallback, alloc::vec![0, 2]);
        assert_eq!(m.timeout, Some(10));
        assert_eq!(m.password, Some(Password::Md5("$1$gLhU0/$aW78kHK1QfV3P2b2znUoe/".into())));
        let k0 = m.entries[0].kernel.as_ref().unwrap();
        assert_eq!(k0.file.device.as_ref().unwrap().as_str(), "(hd0,0,a)");
        assert_eq!(k0.file.path, "/netbsd-XEN3_DOMU.gz");
        assert_eq!(m.entries[0].os, OsHint::NetBsd);
        assert!(m.entries[1].lock);
        assert_eq!(m.entries[1].kernel.as_ref().unwrap().args, "-s");
        assert_eq!(m.entries[2].kernel.as_ref().unwrap().file.path, "/onetbsd");
        let plan = m.plan(1, None, None, false).unwrap();
        assert_eq!(plan.cmdline, "-s bootdev=xbd0a");
    }

    #[test]
    fn modules_and_ignored_commands() {
        let s = "color cyan/blue white/blue\nsplashimage=(hd0,0)/grub/splash.xpm.gz\nserial --unit=0 --speed=9600\nterminal serial\n\ntitle Xen-style\nroot (hd0,1)\nkernel --type=netbsd /boot/kern\nmodule /boot/mod1 arg=1 b\nmodulenounzip (hd1,0)/mod2\nmakeactive\nsavedefault\nboot\ntitle Windows\nrootnoverify (hd0,0)\nchainloader +1\n";
        let m = p(s);
        let kinds: Vec<_> = m.diagnostics.iter().map(|d| (d.line, d.severity, d.kind.clone())).collect();
        assert_eq!(
            kinds,
            alloc::vec![
                (1, Severity::Note, DiagKind::Ignored("color".into())),
                (2, Severity::Note, DiagKind::Ignored("splashimage".into())),
                (3, Severity::Note, DiagKind::Ignored("serial".into())),
                (4, Severity::Note, DiagKind::Ignored("terminal".into())),
                (11, Severity::Note, DiagKind::Ignored("makeactive".into())),
                (12, Severity::Note, DiagKind::SaveDefaultIgnored),
                (14, Severity::Error, DiagKind::NoKernel("Windows".into())),
                (16, Severity::Error, DiagKind::Unsupported("chainloader".into())),
            ]
        );
        let e = &m.entries[0];
        assert_eq!(e.os, OsHint::NetBsd);
        assert_eq!(e.modules.len(), 2);
        assert_eq!(e.modules[0].args, "arg=1 b");
        assert_eq!(e.modules[1].kind, ModuleKind::ModuleNoUnzip);
        assert_eq!(e.modules[1].file.device.as_ref().unwrap().as_str(), "(hd1,0)");
        assert_eq!(m.entries[1].root.as_ref().unwrap().as_str(), "(hd0,0)");
    }

    #[test]
    fn bad_lines_keep_the_rest() {
        let s = "default 7\ntimeout five\nfallback 0 x 9\nkernel /early\nfrobnicate 1\n\ntitle good\nroot (hd0,0)\nkernel /vmlinuz ro\ntitle bad device\nroot (sd0,1)\nkernel (hd0,z)/vmlinuz\ninitrd\ntitle relative\nkernel vmlinuz\ntitle good2\nkernel /vmlinuz2\nkernel /again\ndefault 1\n";
        let m = p(s);
        let got: Vec<_> = m.diagnostics.iter().map(|d| (d.line, d.col, d.kind.clone())).collect();
        assert_eq!(
            got,
            alloc::vec![
                (1, 0, DiagKind::DefaultOutOfRange("7".into(), 4)),
                (2, 9, DiagKind::BadNumber("timeout".into(), "five".into())),
                (3, 12, DiagKind::BadNumber("fallback".into(), "x".into())),
                (3, 0, DiagKind::FallbackRepeated(0)),
                (3, 0, DiagKind::FallbackOutOfRange(9, 4)),
                (4, 1, DiagKind::OutsideEntry("kernel".into())),
                (5, 1, DiagKind::UnknownCommand("frobnicate".into())),
                (10, 0, DiagKind::NoKernel("bad device".into())),
                (11, 6, DiagKind::BadDevice("(sd0,1)".into())),
                (12, 8, DiagKind::BadDevice("(hd0,z)".into())),
                (13, 1, DiagKind::MissingArgument("initrd".into())),
                (14, 0, DiagKind::NoKernel("relative".into())),
                (15, 8, DiagKind::BadPath("vmlinuz".into())),
                (18, 1, DiagKind::DuplicateKernel),
                (19, 1, DiagKind::Other("menu command 'default' inside an entry, ignored".into())),
            ]
        );
        assert_eq!(m.entries.len(), 4);
        assert_eq!(m.default, 0);
        assert_eq!(m.timeout, None);
        assert_eq!(m.entries[3].kernel.as_ref().unwrap().file.path, "/vmlinuz2");
    }

    #[test]
    fn saved_default_and_entry_password() {
        let m = p("default saved\ntitle a\npassword s3cret\nkernel /k\n");
        assert!(m.default_saved);
        assert_eq!(m.default, 0);
        assert_eq!(m.entries[0].password, Some(Password::Plain("s3cret".into())));
        assert_eq!(m.diagnostics[0].kind, DiagKind::SavedDefault);
    }

    #[test]
    fn entry_limit() {
        let mut s = String::new();
        for i in 0..(MAX_ENTRIES + 5) {
            s.push_str(&alloc::format!("title t{i}\nkernel /k{i}\n"));
        }
        let m = p(&s);
        assert_eq!(m.entries.len(), MAX_ENTRIES);
        assert_eq!(m.diagnostics.len(), 1);
    }

    /// parse(print(m)) == m for random models, and printing is stable.
    /// CentOS 5 as anaconda wrote it for a Xen domU with a separate /boot (so the file is
    /// `/grub/grub.conf` on (hd0,0), `menu.lst` a symlink to it).
    #[test]
    fn centos5_anaconda() {
        let s = "# grub.conf generated by anaconda\n#\n# Note that you do not have to rerun grub after making changes to this file\n# NOTICE:  You have a /boot partition.  This means that\n#          all kernel and initrd paths are relative to /boot/, eg.\n#          root (hd0,0)\n#          kernel /vmlinuz-version ro root=/dev/VolGroup00/LogVol00\n#          initrd /initrd-version.img\n#boot=/dev/xvda\ndefault=0\ntimeout=5\nsplashimage=(hd0,0)/grub/splash.xpm.gz\nhiddenmenu\ntitle CentOS (2.6.18-398.el5xen)\n\troot (hd0,0)\n\tkernel /vmlinuz-2.6.18-398.el5xen ro root=/dev/VolGroup00/LogVol00\n\tinitrd /initrd-2.6.18-398.el5xen.img\n";
        let m = p(s);
        assert_eq!(m.diagnostics.len(), 1);
        assert_eq!(m.diagnostics[0].line, 12);
        assert_eq!(m.diagnostics[0].kind, DiagKind::Ignored("splashimage".into()));
        assert!(m.hidden);
        let e = &m.entries[0];
        assert_eq!(e.title, "CentOS (2.6.18-398.el5xen)");
        assert_eq!(e.kernel.as_ref().unwrap().args, "ro root=/dev/VolGroup00/LogVol00");
        assert_eq!(e.modules[0].file.path, "/initrd-2.6.18-398.el5xen.img");
    }

    #[test]
    fn print_parse_roundtrip() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: usize| -> usize {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % u64::try_from(n.max(1)).unwrap()).unwrap()
        };
        const WORDS: &[&str] =
            &["ro", "quiet", "root=/dev/xvda1", "console=hvc0", "-s", "a=b=c", "x#y", "caf\u{e9}", "(hd0,0)", "--x"];
        const DEVS: &[&str] = &["(hd0)", "(hd0,0)", "(hd1,4)", "(hd0,a)", "(hd2,0,e)"];
        for _ in 0..500 {
            let mut text = String::new();
            let words = |rnd: &mut dyn FnMut(usize) -> usize| -> String {
                let n = rnd(4);
                (0..n).map(|_| WORDS[rnd(WORDS.len())]).collect::<Vec<_>>().join(" ")
            };
            let file = |rnd: &mut dyn FnMut(usize) -> usize| -> String {
                let dev = if rnd(2) == 0 { DEVS[rnd(DEVS.len())] } else { "" };
                alloc::format!("{dev}/boot/{}-{}", ["vmlinuz", "netbsd", "initrd"][rnd(3)], rnd(100))
            };
            let n = rnd(6);
            if n > 0 {
                let def = rnd(n);
                text.push_str(&alloc::format!("default {def}\n"));
                let mut fb: Vec<usize> = (0..n).filter(|&i| i != def && rnd(2) == 0).collect();
                if !fb.is_empty() {
                    fb.reverse();
                    let f: Vec<String> = fb.iter().map(|i| alloc::format!("{i}")).collect();
                    text.push_str(&alloc::format!("fallback {}\n", f.join(" ")));
                }
            }
            if rnd(2) == 0 {
                text.push_str(&alloc::format!("timeout {}\n", rnd(30)));
            }
            if rnd(3) == 0 {
                text.push_str("hiddenmenu\npassword --md5 $1$abc$xyz\n");
            }
            for i in 0..n {
                text.push_str(&alloc::format!("title Entry {i} {}\n", words(&mut rnd)));
                if rnd(2) == 0 {
                    text.push_str(&alloc::format!("root {}\n", DEVS[rnd(DEVS.len())]));
                }
                if rnd(5) != 0 {
                    text.push_str(&alloc::format!("kernel {} {}\n", file(&mut rnd), words(&mut rnd)));
                }
                for _ in 0..rnd(3) {
                    let cmd = ["initrd", "module", "modulenounzip"][rnd(3)];
                    text.push_str(&alloc::format!("{cmd} {} {}\n", file(&mut rnd), words(&mut rnd)));
                }
                if rnd(4) == 0 {
                    text.push_str("lock\n");
                }
                if rnd(4) == 0 {
                    text.push_str("password s3cret\n");
                }
            }
            let m1 = p(&text);
            let printed = print(&m1);
            let m2 = p(&printed);
            let strip = |m: &Menu| {
                let mut m = m.clone();
                m.diagnostics.clear();
                for e in &mut m.entries {
                    e.line = 0;
                }
                m
            };
            assert_eq!(strip(&m1), strip(&m2), "{text}\n---\n{printed}");
            assert_eq!(print(&m2), printed);
            assert!(
                m1.diagnostics
                    .iter()
                    .all(|d| d.severity != Severity::Error
                        || matches!(d.kind, DiagKind::NoKernel(_) | DiagKind::NoEntries)),
                "{text}: {:?}",
                m1.diagnostics
            );
        }
    }

    #[test]
    fn edited_entry_lines() {
        let m = p(DEBIAN);
        let lines = entry_lines(&m.entries[0]);
        assert_eq!(
            lines,
            [
                "root (hd0,0)",
                "kernel /boot/vmlinuz-2.6.26-2-xen-amd64 root=/dev/xvda1 ro console=hvc0",
                "initrd /boot/initrd.img-2.6.26-2-xen-amd64"
            ]
        );
        let mut edited: Vec<&str> = lines.iter().map(String::as_str).collect();
        edited[1] = "kernel /boot/vmlinuz-2.6.26-2-xen-amd64 root=/dev/xvda1 ro single";
        let (e, d) = parse_entry(&m.entries[0].title, &edited, "editor");
        assert!(d.is_empty());
        assert_eq!(e.unwrap().kernel.unwrap().args, "root=/dev/xvda1 ro single");
        let (e, d) = parse_entry("typed", &["root (hd0,0)", "kernal /x"], "command line");
        assert!(e.unwrap().kernel.is_none());
        assert_eq!((d[0].line, d[1].line), (0, 2)); // no kernel (the entry), typo on line 2
    }

    #[test]
    fn invalid_utf8_and_nul() {
        let m = parse_any(Format::MenuLst, b"title caf\xe9\nkernel /k\0x a\xff\n", "f");
        assert_eq!(m.entries[0].title, "caf\u{fffd}");
        assert_eq!(m.diagnostics.iter().filter(|d| d.kind == DiagKind::InvalidUtf8).count(), 2);
    }
}
