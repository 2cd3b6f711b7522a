//! Diagnostics: every problem found in a boot configuration, with the file, line and column it
//! comes from. Parsing never stops at a bad line; it records a [`Diagnostic`] and goes on, so a
//! menu with some bad entries still offers the good ones.

use alloc::string::String;
use core::fmt;

/// How much a diagnostic matters for booting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Accepted and ignored on purpose (a command with no meaning in a PV domU).
    Note,
    /// Used with a guess or a correction (a `default` past the last entry, an unknown command).
    Warning,
    /// The line or entry cannot be used (a missing kernel, a `chainloader`).
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// What is wrong. Each kind carries the offending text so the message says what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiagKind {
    /// A command this format does not know; the line is skipped.
    UnknownCommand(String),
    /// An `extra=` option rpvboot does not know; ignored.
    UnknownOption(String),
    /// A known command that means nothing for a PV domU; accepted and ignored.
    Ignored(String),
    /// A command rpvboot cannot carry out (`chainloader`, GRUB 2 `--users`).
    Unsupported(String),
    /// A command without its required argument.
    MissingArgument(String),
    /// A number that does not parse or is out of range: (command, text).
    BadNumber(String, String),
    /// A device name that is not GRUB-legacy `(hdN[,P][,x])` syntax.
    BadDevice(String),
    /// An entry command (`kernel`, `root`, …) before the first `title`/`menuentry`.
    OutsideEntry(String),
    /// A second `kernel` line in one entry; the first one is kept.
    DuplicateKernel,
    /// An entry without a kernel: shown, but cannot boot.
    NoKernel(String),
    /// `default` names an entry that does not exist: (value as written, entry count).
    DefaultOutOfRange(String, usize),
    /// `fallback` names an entry that does not exist: (0-based index, entry count).
    FallbackOutOfRange(usize, usize),
    /// `fallback` repeats an entry already in the chain, or the default itself.
    FallbackRepeated(usize),
    /// `default saved`: rpvboot never writes to the disk, so nothing was saved.
    SavedDefault,
    /// `savedefault`: rpvboot never writes to the disk.
    SaveDefaultIgnored,
    /// The file defines no entries at all.
    NoEntries,
    /// More entries (or diagnostics, modules) than rpvboot keeps; the rest are dropped.
    TooMany(&'static str, usize),
    /// Bytes that are not UTF-8; replaced with U+FFFD.
    InvalidUtf8,
    /// A quote that is never closed (grub.cfg).
    UnterminatedQuote,
    /// A `{`/`}` that does not match (grub.cfg).
    UnbalancedBrace,
    /// A grub.cfg block (`if`, `function`, …) skipped as a whole.
    SkippedBlock(String),
    /// A malformed line, with what was expected.
    Syntax(&'static str),
    /// A path that does not start with `/` (after an optional device).
    BadPath(String),
    /// The configuration file named on the `extra=` line was not found: (device/path).
    ConfigNotFound(String),
    /// Reading a file failed: (device/path, reason).
    ReadFailed(String, String),
    /// A file is larger than rpvboot reads for a configuration: (limit in bytes).
    TooLarge(usize),
    /// Anything else, spelled out.
    Other(String),
}

impl fmt::Display for DiagKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiagKind::UnknownCommand(c) => write!(f, "unknown command '{c}', line skipped"),
            DiagKind::UnknownOption(c) => write!(f, "unknown option '{c}', ignored"),
            DiagKind::Ignored(c) => write!(f, "'{c}' has no meaning for a PV domU, ignored"),
            DiagKind::Unsupported(c) => write!(f, "'{c}' is not supported by rpvboot"),
            DiagKind::MissingArgument(c) => write!(f, "'{c}' needs an argument"),
            DiagKind::BadNumber(c, v) => write!(f, "'{c}': '{v}' is not a valid number"),
            DiagKind::BadDevice(d) => write!(f, "'{d}' is not a device name like (hd0,0)"),
            DiagKind::OutsideEntry(c) => write!(f, "'{c}' outside of an entry, ignored"),
            DiagKind::DuplicateKernel => f.write_str("second kernel in one entry, ignored"),
            DiagKind::NoKernel(t) => write!(f, "entry '{t}' has no kernel and cannot boot"),
            DiagKind::DefaultOutOfRange(v, n) => {
                write!(f, "default '{v}' is not one of the {n} entries, using the first")
            }
            DiagKind::FallbackOutOfRange(i, n) => {
                write!(f, "fallback {i} is not one of the {n} entries, dropped")
            }
            DiagKind::FallbackRepeated(i) => write!(f, "fallback {i} repeats an entry, dropped"),
            DiagKind::SavedDefault => f.write_str("'default saved': rpvboot does not save a default, using the first"),
            DiagKind::SaveDefaultIgnored => f.write_str("'savedefault' ignored: rpvboot never writes to the disk"),
            DiagKind::NoEntries => f.write_str("no boot entries"),
            DiagKind::TooMany(what, n) => write!(f, "more than {n} {what}, the rest dropped"),
            DiagKind::InvalidUtf8 => f.write_str("invalid UTF-8, replaced"),
            DiagKind::UnterminatedQuote => f.write_str("unterminated quote"),
            DiagKind::UnbalancedBrace => f.write_str("unbalanced brace"),
            DiagKind::SkippedBlock(w) => write!(f, "'{w}' block not supported, skipped"),
            DiagKind::Syntax(what) => write!(f, "syntax error: {what}"),
            DiagKind::BadPath(p) => write!(f, "'{p}' is not an absolute path"),
            DiagKind::ConfigNotFound(p) => write!(f, "configuration '{p}' not found"),
            DiagKind::ReadFailed(p, why) => write!(f, "cannot read '{p}': {why}"),
            DiagKind::TooLarge(n) => write!(f, "file larger than {n} bytes, truncated"),
            DiagKind::Other(s) => f.write_str(s),
        }
    }
}

/// One problem: where (file as `(hd0,0)/boot/grub/menu.lst`, 1-based line and byte column; 0
/// when the problem is about the whole file) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, with its device, or `extra=` for the domU's command line.
    pub file: String,
    /// 1-based line; 0 for the whole file.
    pub line: u32,
    /// 1-based byte column in the line; 0 when not meaningful.
    pub col: u32,
    /// How much it matters.
    pub severity: Severity,
    /// What is wrong.
    pub kind: DiagKind,
}

impl fmt::Display for Diagnostic {
    /// `FILE:LINE: message`, the form compilers use, so editors can jump to it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.severity, self.kind)
    }
}

/// The most diagnostics one file keeps; past it one [`DiagKind::TooMany`] is recorded.
pub const MAX_DIAGNOSTICS: usize = 500;

/// Collects diagnostics for one file, bounded by [`MAX_DIAGNOSTICS`].
#[derive(Debug, Clone)]
pub(crate) struct Diags {
    pub(crate) file: String,
    pub(crate) list: alloc::vec::Vec<Diagnostic>,
    overflowed: bool,
}

impl Diags {
    pub(crate) fn new(file: &str) -> Self {
        Diags { file: String::from(file), list: alloc::vec::Vec::new(), overflowed: false }
    }

    pub(crate) fn push(&mut self, line: u32, col: u32, severity: Severity, kind: DiagKind) {
        if self.list.len() < MAX_DIAGNOSTICS {
            self.list.push(Diagnostic { file: self.file.clone(), line, col, severity, kind });
        } else if !self.overflowed {
            self.overflowed = true;
            self.list.push(Diagnostic {
                file: self.file.clone(),
                line,
                col,
                severity: Severity::Warning,
                kind: DiagKind::TooMany("diagnostics", MAX_DIAGNOSTICS),
            });
        }
    }

    pub(crate) fn error(&mut self, line: u32, col: u32, kind: DiagKind) {
        self.push(line, col, Severity::Error, kind);
    }
    pub(crate) fn warn(&mut self, line: u32, col: u32, kind: DiagKind) {
        self.push(line, col, Severity::Warning, kind);
    }
    pub(crate) fn note(&mut self, line: u32, col: u32, kind: DiagKind) {
        self.push(line, col, Severity::Note, kind);
    }
}
