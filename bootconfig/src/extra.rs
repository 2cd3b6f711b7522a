//! The domU's `extra=` line, which is rpvboot's own command line.
//!
//! Accepted words (separated by blanks):
//! - pvgrub's form: a configuration path, with or without device,
//!   `(hd0,0)/boot/grub/menu.lst`;
//! - `rpvboot.config=PATH`: the same, spelled out;
//! - `rpvboot.kernel=PATH [args…]`: boot that kernel, no menu; every following word that is
//!   not an `rpvboot.` option is its command line;
//! - `rpvboot.entry=N`: boot entry N (0-based, like GRUB legacy's `default`);
//! - `rpvboot.timeout=S`: override the menu's timeout (seconds);
//! - `rpvboot.verbose`: debug logging;
//! - `rpvboot.nobootdev`: do not add `bootdev=` to NetBSD command lines.
//!
//! pvgrub's `--vtpm-label=` is accepted and ignored with a note (rpvboot has no vTPM); anything
//! else is reported and ignored.

use alloc::string::String;
use alloc::vec::Vec;

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
    /// Debug logging.
    pub verbose: bool,
    /// Do not add `bootdev=` to NetBSD command lines.
    pub nobootdev: bool,
    /// Problems with the line.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses the `extra=` line.
pub fn parse(line: &str) -> ExtraOptions {
    let mut o = ExtraOptions::default();
    let mut d = Diags::new(EXTRA_FILE);
    let mut in_kernel_args = false;
    let mut pos = 0usize;
    for word in line.split([' ', '\t', '\n', '\r']) {
        let col = u32::try_from(pos).unwrap_or(u32::MAX).saturating_add(1);
        pos = pos.saturating_add(word.len()).saturating_add(1);
        if word.is_empty() {
            continue;
        }
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        if key == "--vtpm-label" && !in_kernel_args {
            d.note(1, col, DiagKind::Ignored(String::from("--vtpm-label")));
            continue;
        }
        if !key.starts_with("rpvboot.") {
            if in_kernel_args {
                if let Some((_, args)) = o.kernel.as_mut() {
                    if !args.is_empty() {
                        args.push(' ');
                    }
                    args.push_str(word);
                }
            } else if (word.starts_with('(') || word.starts_with('/')) && o.config.is_none() {
                match file_ref(word) {
                    Ok(f) => o.config = Some(f),
                    Err(k) => d.error(1, col, k),
                }
            } else {
                d.warn(1, col, DiagKind::Other(alloc::format!("'{word}' on the extra= line ignored")));
            }
            continue;
        }
        in_kernel_args = false;
        let need = |d: &mut Diags| -> Option<&str> {
            match value {
                Some(v) if !v.is_empty() => Some(v),
                _ => {
                    d.error(1, col, DiagKind::MissingArgument(String::from(key)));
                    None
                }
            }
        };
        match key {
            "rpvboot.config" => {
                if let Some(v) = need(&mut d) {
                    match file_ref(v) {
                        Ok(f) => o.config = Some(f),
                        Err(k) => d.error(1, col, k),
                    }
                }
            }
            "rpvboot.kernel" => {
                if let Some(v) = need(&mut d) {
                    match file_ref(v) {
                        Ok(f) => {
                            o.kernel = Some((f, String::new()));
                            in_kernel_args = true;
                        }
                        Err(k) => d.error(1, col, k),
                    }
                }
            }
            "rpvboot.entry" | "rpvboot.timeout" => {
                if let Some(v) = need(&mut d) {
                    match small_number(v) {
                        Some(n) if key == "rpvboot.entry" => o.entry = usize::try_from(n).ok(),
                        Some(n) => o.timeout = u32::try_from(n).ok(),
                        None => d.error(1, col, DiagKind::BadNumber(String::from(key), String::from(v))),
                    }
                }
            }
            "rpvboot.verbose" => o.verbose = true,
            "rpvboot.nobootdev" => o.nobootdev = true,
            _ => d.warn(1, col, DiagKind::UnknownCommand(String::from(key))),
        }
    }
    o.diagnostics = d.list;
    o
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
            "rpvboot.config=(hd1,a)/boot.cfg rpvboot.entry=2 rpvboot.timeout=0 rpvboot.verbose rpvboot.nobootdev",
        );
        assert_eq!(o.config.unwrap().path, "/boot.cfg");
        assert_eq!(o.entry, Some(2));
        assert_eq!(o.timeout, Some(0));
        assert!(o.verbose && o.nobootdev);
        assert!(o.diagnostics.is_empty());
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
        let o = parse("console=hvc0 rpvboot.entry=x rpvboot.bogus rpvboot.config= rpvboot.kernel=vmlinuz (hd0,q)/x");
        let got: Vec<_> = o.diagnostics.iter().map(|d| (d.col, d.kind.to_string())).collect();
        assert_eq!(
            got,
            alloc::vec![
                (1, "'console=hvc0' on the extra= line ignored".into()),
                (14, "'rpvboot.entry': 'x' is not a valid number".into()),
                (30, "unknown command 'rpvboot.bogus', line skipped".into()),
                (44, "'rpvboot.config' needs an argument".into()),
                (60, "'vmlinuz' is not an absolute path".into()),
                (83, "'(hd0,q)' is not a device name like (hd0,0)".into()),
            ]
        );
        assert!(o.config.is_none() && o.kernel.is_none() && o.entry.is_none());
    }
}
