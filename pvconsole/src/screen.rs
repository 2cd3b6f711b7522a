//! Drawing on the console without flicker, and without depending on the terminal's size.
//!
//! [`Screen`] keeps what each of the 24 rows shows. A frame is built by setting rows; only the
//! rows that changed are sent, each as "move to row, write, erase to end of line" — the screen
//! is cleared once when a view opens, never on each tick. Nothing is ever written past column
//! 79 or row 24, so an 80×24 terminal (what `xl console` assumes) shows everything.
//!
//! In [`Mode::Dumb`] (`rpvboot.console=dumb`) no escape sequence is ever sent: callers print
//! plain lines, and a line being edited is redrawn with carriage returns ([`dumb_line`]).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// Rows on the screen.
pub const ROWS: usize = 24;
/// Columns on the screen.
pub const COLS: usize = 80;

/// How the terminal is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// VT100/xterm: cursor positioning, erase to end of line, reverse video.
    Vt100,
    /// A dumb terminal or a log: plain text lines only.
    Dumb,
}

/// One row: its text and whether it is shown in reverse video (the highlighted entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Row {
    text: String,
    reverse: bool,
}

/// The shadow of a VT100 screen.
#[derive(Debug, Clone)]
pub struct Screen {
    shown: Vec<Row>,
    next: Vec<Row>,
    /// The screen must be cleared before the next frame (a new view, or output scrolled it).
    dirty: bool,
    /// Where the cursor was left by the last flush.
    cursor: (usize, usize),
}

impl Default for Screen {
    fn default() -> Self {
        Self::new()
    }
}

/// Printable ASCII only, at most `COLS - 1` columns (the last column is left alone so that no
/// terminal wraps).
pub fn clip(text: &str) -> String {
    text.chars().map(|c| if (' '..='~').contains(&c) { c } else { '?' }).take(COLS - 1).collect()
}

impl Screen {
    /// A screen that will be cleared on the first frame.
    pub fn new() -> Self {
        Screen {
            shown: alloc::vec![Row::default(); ROWS],
            next: alloc::vec![Row::default(); ROWS],
            dirty: true,
            cursor: (ROWS - 1, 0),
        }
    }

    /// Forget what is shown: the next [`Screen::flush`] clears and redraws everything (after
    /// scrolling output such as the command line).
    pub fn invalidate(&mut self) {
        self.dirty = true;
    }

    /// Starts a frame: every row blank until set.
    pub fn begin(&mut self) {
        for r in &mut self.next {
            *r = Row::default();
        }
    }

    /// Sets row `row` (0-based) of the frame being built; rows past the screen are ignored.
    pub fn set(&mut self, row: usize, text: &str, reverse: bool) {
        if let Some(r) = self.next.get_mut(row) {
            r.text = clip(text);
            r.reverse = reverse;
        }
    }

    /// Sends the rows that changed to `out`, then puts the cursor at `cursor` (row, column,
    /// 0-based) or parks it at the bottom-left. Sends nothing at all when nothing changed.
    pub fn flush(&mut self, out: &mut String, cursor: Option<(usize, usize)>) {
        let (r, c) = cursor.unwrap_or((ROWS - 1, 0));
        let cursor = (r.min(ROWS - 1), c.min(COLS - 1));
        if !self.dirty && self.shown == self.next && self.cursor == cursor {
            return;
        }
        if self.dirty {
            out.push_str("\x1b[0m\x1b[H\x1b[2J");
            for r in &mut self.shown {
                *r = Row::default();
            }
        }
        for (i, (old, new)) in self.shown.iter_mut().zip(&self.next).enumerate() {
            if !self.dirty && old == new {
                continue;
            }
            if self.dirty && new.text.is_empty() && !new.reverse {
                continue;
            }
            let _ = write!(out, "\x1b[{};1H", i.saturating_add(1));
            if new.reverse {
                // The highlight bar spans the line, as in GRUB.
                let _ = write!(out, "\x1b[7m{:<w$}\x1b[0m", new.text, w = COLS - 1);
            } else {
                out.push_str(&new.text);
                out.push_str("\x1b[K");
            }
            *old = new.clone();
        }
        self.dirty = false;
        self.cursor = cursor;
        let _ = write!(out, "\x1b[{};{}H", cursor.0.saturating_add(1), cursor.1.saturating_add(1));
    }
}

/// Redraws a line being edited on a dumb terminal: carriage return, prompt and text, blanks
/// over what was longer before, carriage return, and the text up to the cursor again so the
/// terminal's cursor is where the editor's is. `shown` is the window from
/// [`crate::editor::LineEditor::window`]; `prev_len` the length drawn last time (returned
/// value for the next call).
pub fn dumb_line(out: &mut String, prompt: &str, shown: &str, cursor_col: usize, prev_len: usize) -> usize {
    let len = prompt.len().saturating_add(shown.len());
    out.push('\r');
    out.push_str(prompt);
    out.push_str(shown);
    for _ in len..prev_len {
        out.push(' ');
    }
    out.push('\r');
    out.push_str(prompt);
    out.push_str(shown.get(..cursor_col.min(shown.len())).unwrap_or(""));
    len
}

/// Below these a speed says nothing: a read served from the cache in a few microseconds would
/// show as hundreds of thousands of MiB/s.
const SPEED_MIN_BYTES: u64 = 1 << 20;
const SPEED_MIN_NS: u64 = 10_000_000;

/// A progress line for a long load: `label: 12.3 of 40.0 MiB (30%), 55.1 MiB/s`. `total` may be
/// unknown (0); `ns` is the time since the start. The speed is left out for reads under 1 MiB
/// or 10 ms ([`SPEED_MIN_BYTES`], [`SPEED_MIN_NS`]).
pub fn progress(label: &str, bytes: u64, total: u64, ns: u64) -> String {
    let mib10 = |b: u64| b.saturating_mul(10) >> 20;
    let mut s = String::new();
    let d = mib10(bytes);
    let _ = write!(s, "{label}: {}.{} ", d / 10, d % 10);
    if total > 0 {
        let t = mib10(total);
        // Printed as u64: u128's Display would add its own 1 KB formatter to the image.
        let pct = u64::try_from(u128::from(bytes).saturating_mul(100) / u128::from(total)).unwrap_or(u64::MAX);
        let _ = write!(s, "of {}.{} MiB ({}%)", t / 10, t % 10, pct.min(100));
    } else {
        s.push_str("MiB");
    }
    if ns >= SPEED_MIN_NS && bytes >= SPEED_MIN_BYTES {
        let tenths = u128::from(bytes).saturating_mul(10_000_000_000) / u128::from(ns) / (1 << 20);
        let tenths = u64::try_from(tenths).unwrap_or(u64::MAX);
        let _ = write!(s, ", {}.{} MiB/s", tenths / 10, tenths % 10);
    }
    clip(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_rows_are_sent() {
        let mut s = Screen::new();
        let mut out = String::new();
        s.begin();
        s.set(0, "title", false);
        s.set(2, "entry one", true);
        s.set(3, "entry two", false);
        s.flush(&mut out, None);
        assert!(out.starts_with("\x1b[0m\x1b[H\x1b[2J"));
        assert!(out.contains("\x1b[3;1H\x1b[7mentry one"));
        // Same frame again: only the cursor parking.
        out.clear();
        s.begin();
        s.set(0, "title", false);
        s.set(2, "entry one", true);
        s.set(3, "entry two", false);
        s.flush(&mut out, None);
        assert_eq!(out, "");
        // Move the highlight: two rows redrawn, no clear.
        out.clear();
        s.begin();
        s.set(0, "title", false);
        s.set(2, "entry one", false);
        s.set(3, "entry two", true);
        s.flush(&mut out, Some((3, 5)));
        assert!(!out.contains("\x1b[2J"));
        assert_eq!(out.matches(";1H").count(), 2, "{out:?}");
        assert!(out.ends_with("\x1b[4;6H"));
    }

    #[test]
    fn never_beyond_80x24() {
        let mut s = Screen::new();
        let mut out = String::new();
        s.begin();
        let long: String = "x".repeat(200);
        for r in 0..40 {
            s.set(r, &long, r % 2 == 0);
        }
        s.flush(&mut out, Some((99, 500)));
        for piece in out.split('\x1b').skip(1) {
            if let Some(pos) = piece.strip_prefix('[') {
                if let Some((rc, _)) = pos.split_once('H') {
                    if let Some((r, c)) = rc.split_once(';') {
                        assert!(r.parse::<usize>().unwrap() <= ROWS);
                        assert!(c.parse::<usize>().unwrap() <= COLS);
                    }
                }
            }
        }
        for line in out.split("\x1b[") {
            assert!(line.len() < COLS + 10, "{line}");
        }
        assert_eq!(clip("a\u{e9}\x1bb"), "a??b");
    }

    #[test]
    fn dumb_line_and_progress() {
        let mut out = String::new();
        let n = dumb_line(&mut out, "> ", "abcdef", 6, 0);
        assert_eq!(out, "\r> abcdef\r> abcdef");
        out.clear();
        dumb_line(&mut out, "> ", "abc", 1, n);
        assert_eq!(out, "\r> abc   \r> a");
        assert_eq!(progress("kernel", 3 << 20, 12 << 20, 1_000_000_000), "kernel: 3.0 of 12.0 MiB (25%), 3.0 MiB/s");
        assert_eq!(progress("x", 1 << 19, 0, 0), "x: 0.5 MiB");
        // A cached read (1.6 MiB in 4 us) and a small one: no speed.
        assert_eq!(progress("initrd", 1_677_722, 1_677_722, 4_000), "initrd: 1.6 of 1.6 MiB (100%)");
        assert_eq!(progress("x", 1 << 19, 1 << 19, 1_000_000_000), "x: 0.5 of 0.5 MiB (100%)");
        assert_eq!(progress("k", 8 << 20, 8 << 20, 10_000_000), "k: 8.0 of 8.0 MiB (100%), 800.0 MiB/s");
    }
}
