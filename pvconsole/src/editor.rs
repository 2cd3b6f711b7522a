//! A one-line editor over [`Key`]s: what the menu's entry editor and command line use.
//!
//! Emacs/readline keys as GRUB has them: Left/Right (Ctrl-B/F), Home/End (Ctrl-A/E),
//! Backspace, Delete (Ctrl-D), Ctrl-K (kill to end), Ctrl-U (kill to start), printable ASCII
//! inserted at the cursor. The text is ASCII only, so byte and column positions agree.

use alloc::string::String;
use alloc::vec::Vec;

use crate::term::Key;

/// The longest line kept (GRUB legacy's limit is 1600 for a whole command line).
pub const MAX_LINE: usize = 1024;

/// The editor: a line and a cursor (`0..=len`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineEditor {
    buf: Vec<u8>,
    cursor: usize,
}

impl LineEditor {
    /// An editor holding `text` (non-ASCII and control characters become `?`), cursor at the end.
    pub fn new(text: &str) -> Self {
        let buf: Vec<u8> =
            text.bytes().take(MAX_LINE).map(|b| if (0x20..0x7f).contains(&b) { b } else { b'?' }).collect();
        let cursor = buf.len();
        LineEditor { buf, cursor }
    }

    /// The text.
    pub fn text(&self) -> &str {
        // Only printable ASCII is ever stored.
        core::str::from_utf8(&self.buf).unwrap_or("")
    }

    /// The text, owned.
    pub fn to_owned_text(&self) -> String {
        String::from(self.text())
    }

    /// The cursor position (0 = before the first character).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Replaces the text (completion), cursor at the end.
    pub fn set(&mut self, text: &str) {
        *self = LineEditor::new(text);
    }

    /// Applies an editing key; returns whether it was one (Enter, Esc, Up/Down and other
    /// keys are the caller's and return false).
    pub fn key(&mut self, k: Key) -> bool {
        match k {
            Key::Char(c) => {
                if self.buf.len() < MAX_LINE && self.cursor <= self.buf.len() {
                    self.buf.insert(self.cursor, c);
                    self.cursor = self.cursor.saturating_add(1);
                }
            }
            Key::Left | Key::Ctrl(b'b') => self.cursor = self.cursor.saturating_sub(1),
            Key::Right | Key::Ctrl(b'f') => self.cursor = self.cursor.saturating_add(1).min(self.buf.len()),
            Key::Home | Key::Ctrl(b'a') => self.cursor = 0,
            Key::End | Key::Ctrl(b'e') => self.cursor = self.buf.len(),
            Key::Backspace => {
                if self.cursor > 0 && self.cursor <= self.buf.len() {
                    self.cursor -= 1;
                    self.buf.remove(self.cursor);
                }
            }
            Key::Delete | Key::Ctrl(b'd') => {
                if self.cursor < self.buf.len() {
                    self.buf.remove(self.cursor);
                }
            }
            Key::Ctrl(b'k') => self.buf.truncate(self.cursor),
            Key::Ctrl(b'u') => {
                let end = self.cursor.min(self.buf.len());
                self.buf.drain(..end);
                self.cursor = 0;
            }
            _ => return false,
        }
        true
    }

    /// The part of the line to show in `width` columns with the cursor visible: returns
    /// (first shown byte, shown text, cursor column inside it). Long lines scroll sideways by
    /// half a width at a time, as GRUB's editor does.
    pub fn window(&self, width: usize) -> (usize, &str, usize) {
        let width = width.max(2);
        let half = width / 2;
        let start = if self.cursor < width.saturating_sub(1) {
            0
        } else {
            // Keep the cursor in the second half, moving in steps of `half`.
            (self.cursor.saturating_sub(width.saturating_sub(1)) / half + 1).saturating_mul(half)
        };
        let start = start.min(self.buf.len());
        let end = start.saturating_add(width.saturating_sub(1)).min(self.buf.len());
        let shown = self.text().get(start..end).unwrap_or("");
        (start, shown, self.cursor.saturating_sub(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::Decoder;

    /// Types a byte stream (escape sequences and all) into an editor.
    fn typed(start: &str, bytes: &[u8]) -> LineEditor {
        let mut e = LineEditor::new(start);
        let mut d = Decoder::new();
        d.feed_all(bytes, |k| {
            e.key(k);
        });
        e
    }

    #[test]
    fn readline_keys() {
        let e = typed("kernel /netbsd", b" -s");
        assert_eq!(e.text(), "kernel /netbsd -s");
        // Home, delete "kernel ", End, backspace over " -s".
        let e =
            typed("kernel /netbsd -s", b"\x1b[H\x1b[3~\x1b[3~\x1b[3~\x1b[3~\x1b[3~\x1b[3~\x1b[3~\x1bOF\x7f\x7f\x7f");
        assert_eq!(e.text(), "/netbsd");
        // Ctrl-A, insert, Ctrl-E, left 3, Ctrl-K.
        let e = typed("abcdef", b"\x01X\x05\x1b[D\x1b[D\x1b[D\x0b");
        assert_eq!(e.text(), "Xabc");
        assert_eq!(e.cursor(), 4);
        // Ctrl-U kills to the start; cursor at 0.
        let e = typed("root=xbd0a", b"\x1b[D\x1b[D\x15");
        assert_eq!((e.text(), e.cursor()), ("0a", 0));
        // Movement past both ends is clamped; deleting at the end/backspacing at 0 is a no-op.
        let e = typed("ab", b"\x1b[C\x1b[C\x1b[3~\x01\x1b[D\x7f");
        assert_eq!((e.text(), e.cursor()), ("ab", 0));
        // Split sequences in the middle of editing.
        let mut ed = LineEditor::new("root=xbd0a");
        let mut d = Decoder::new();
        for chunk in [&b"\x1b"[..], b"[", b"D", b"\x7f", b"1"] {
            d.feed_all(chunk, |k| {
                ed.key(k);
            });
        }
        assert_eq!(ed.text(), "root=xbd1a");
        // Garbage does not edit.
        let e = typed("x", b"\x1b[99~\xff\x00");
        assert_eq!(e.text(), "x");
    }

    #[test]
    fn bounded_and_window() {
        let long: String = "a".repeat(3000);
        let mut e = LineEditor::new(&long);
        assert_eq!(e.text().len(), MAX_LINE);
        assert!(!e.key(Key::Enter));
        e.key(Key::Char(b'b'));
        assert_eq!(e.text().len(), MAX_LINE);
        let e = LineEditor::new("0123456789abcdefghij");
        let (start, shown, col) = e.window(10);
        assert!(col < 10 && shown.len() <= 9);
        assert_eq!(e.text().get(start..start + shown.len()), Some(shown));
        assert_eq!(start + col, 20);
        let e = typed("0123456789abcdefghij", b"\x01");
        assert_eq!(e.window(10), (0, "012345678", 0));
        assert_eq!(LineEditor::new("a\u{e9}\tb").text(), "a???b");
    }
}
