//! VT100/xterm keyboard input: an incremental decoder from console bytes to [`Key`]s.
//!
//! Bytes arrive from the ring in arbitrary pieces, so an escape sequence may be split across
//! reads: the decoder keeps a partial sequence between calls to [`Decoder::feed`]. A lone `ESC`
//! (the Esc key) cannot be told from the start of a sequence until no more bytes come; the
//! caller calls [`Decoder::idle`] after a short quiet time to turn it into [`Key::Esc`].
//! Anything unrecognised becomes [`Key::Unknown`] and is never echoed.

/// A decoded key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable ASCII character (0x20..=0x7e).
    Char(u8),
    /// Enter (CR, LF or CR LF).
    Enter,
    /// Tab.
    Tab,
    /// Backspace (DEL 0x7f or BS 0x08).
    Backspace,
    /// Delete (`ESC [ 3 ~`).
    Delete,
    /// Esc on its own.
    Esc,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Home (`ESC [ H`, `ESC [ 1 ~`, `ESC [ 7 ~`, `ESC O H`).
    Home,
    /// End (`ESC [ F`, `ESC [ 4 ~`, `ESC [ 8 ~`, `ESC O F`).
    End,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Ctrl with a letter: `Ctrl(b'a')` is Ctrl-A (0x01). Tab, Enter and Backspace excluded.
    Ctrl(u8),
    /// Anything else: unknown sequences, non-ASCII bytes, NUL.
    Unknown,
}

/// The longest escape sequence kept; longer ones are dropped as [`Key::Unknown`].
const MAX_SEQ: usize = 16;

/// The incremental decoder.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    seq: [u8; MAX_SEQ],
    len: usize,
    /// The previous byte was CR: a following LF belongs to the same Enter.
    after_cr: bool,
}

impl Decoder {
    /// A decoder with nothing pending.
    pub const fn new() -> Self {
        Decoder { seq: [0; MAX_SEQ], len: 0, after_cr: false }
    }

    /// Whether a partial escape sequence is waiting for more bytes.
    pub fn pending(&self) -> bool {
        self.len > 0
    }

    /// Decodes every byte of `bytes`, calling `key` for each complete key.
    pub fn feed_all(&mut self, bytes: &[u8], mut key: impl FnMut(Key)) {
        for &b in bytes {
            if let Some(k) = self.feed(b) {
                key(k);
            }
        }
    }

    /// No more bytes came for a while: a pending lone `ESC` is the Esc key; a pending partial
    /// sequence is garbage.
    pub fn idle(&mut self) -> Option<Key> {
        let k = match self.len {
            0 => return None,
            1 => Key::Esc,
            _ => Key::Unknown,
        };
        self.len = 0;
        Some(k)
    }

    /// Feeds one byte; returns a key when one is complete.
    pub fn feed(&mut self, b: u8) -> Option<Key> {
        let after_cr = core::mem::replace(&mut self.after_cr, false);
        if self.len == 0 {
            return match b {
                0x1b => {
                    self.push(b);
                    None
                }
                b'\r' => {
                    self.after_cr = true;
                    Some(Key::Enter)
                }
                b'\n' if after_cr => None,
                b'\n' => Some(Key::Enter),
                b'\t' => Some(Key::Tab),
                0x7f | 0x08 => Some(Key::Backspace),
                0x01..=0x1a => Some(Key::Ctrl(b - 1 + b'a')),
                0x20..=0x7e => Some(Key::Char(b)),
                _ => Some(Key::Unknown),
            };
        }
        // Inside a sequence: seq[0] is ESC.
        let second = self.seq.get(1).copied();
        if self.len == 1 {
            return match b {
                b'[' | b'O' => {
                    self.push(b);
                    None
                }
                // ESC ESC: the first was the Esc key; the second starts afresh.
                0x1b => Some(Key::Esc),
                // Alt-<key> or garbage after ESC: dropped as one unknown key.
                _ => {
                    self.len = 0;
                    Some(Key::Unknown)
                }
            };
        }
        if second == Some(b'O') {
            // SS3: exactly one more byte.
            self.len = 0;
            return Some(match b {
                b'A' => Key::Up,
                b'B' => Key::Down,
                b'C' => Key::Right,
                b'D' => Key::Left,
                b'H' => Key::Home,
                b'F' => Key::End,
                _ => Key::Unknown,
            });
        }
        // CSI: parameter/intermediate bytes 0x20..=0x3f, then a final byte 0x40..=0x7e.
        match b {
            0x20..=0x3f => {
                if self.len >= MAX_SEQ {
                    self.len = 0;
                    return Some(Key::Unknown);
                }
                self.push(b);
                None
            }
            0x40..=0x7e => {
                let k = self.csi(b);
                self.len = 0;
                Some(k)
            }
            // A control byte or non-ASCII inside a sequence: the sequence is garbage.
            _ => {
                self.len = 0;
                Some(Key::Unknown)
            }
        }
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.seq.get_mut(self.len) {
            *slot = b;
            self.len = self.len.saturating_add(1);
        }
    }

    /// Decodes `ESC [ params final` (params are `seq[2..len]`).
    fn csi(&self, fin: u8) -> Key {
        let params = self.seq.get(2..self.len).unwrap_or(&[]);
        // Modifiers (`1;5A` = Ctrl-Up) keep the key: only the first number matters.
        let first = params.split(|&c| c == b';').next().unwrap_or(&[]);
        match fin {
            b'A' => Key::Up,
            b'B' => Key::Down,
            b'C' => Key::Right,
            b'D' => Key::Left,
            b'H' => Key::Home,
            b'F' => Key::End,
            b'~' => match first {
                b"1" | b"7" => Key::Home,
                b"4" | b"8" => Key::End,
                b"3" => Key::Delete,
                b"5" => Key::PageUp,
                b"6" => Key::PageDown,
                _ => Key::Unknown,
            },
            _ => Key::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]]) -> Vec<Key> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.feed_all(c, |k| out.push(k));
        }
        out.extend(d.idle());
        out
    }

    #[test]
    fn all_common_encodings() {
        use Key::*;
        let cases: &[(&[u8], Key)] = &[
            (b"\x1b[A", Up),
            (b"\x1b[B", Down),
            (b"\x1b[C", Right),
            (b"\x1b[D", Left),
            (b"\x1bOA", Up),
            (b"\x1bOB", Down),
            (b"\x1b[H", Home),
            (b"\x1b[1~", Home),
            (b"\x1b[7~", Home),
            (b"\x1bOH", Home),
            (b"\x1b[F", End),
            (b"\x1b[4~", End),
            (b"\x1b[8~", End),
            (b"\x1bOF", End),
            (b"\x1b[3~", Delete),
            (b"\x1b[5~", PageUp),
            (b"\x1b[6~", PageDown),
            (b"\x1b[1;5A", Up),
            (b"\x7f", Backspace),
            (b"\x08", Backspace),
            (b"\t", Tab),
            (b"\x01", Ctrl(b'a')),
            (b"\x05", Ctrl(b'e')),
            (b"\x0b", Ctrl(b'k')),
            (b"\x15", Ctrl(b'u')),
            (b"\x18", Ctrl(b'x')),
            (b"\x1b", Esc),
            (b"q", Char(b'q')),
        ];
        for (bytes, key) in cases {
            assert_eq!(decode(&[bytes]), vec![*key], "{bytes:?}");
        }
    }

    #[test]
    fn sequences_split_at_every_byte() {
        let stream = b"a\x1b[A\x1b[3~\x1bOF\x1b[1;5Bz\r\n\r\n";
        let whole = decode(&[stream]);
        assert_eq!(
            whole,
            vec![Key::Char(b'a'), Key::Up, Key::Delete, Key::End, Key::Down, Key::Char(b'z'), Key::Enter, Key::Enter]
        );
        for split in 0..stream.len() {
            let (a, b) = stream.split_at(split);
            assert_eq!(decode(&[a, b]), whole, "split at {split}");
        }
        let singles: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode(&singles), whole);
    }

    #[test]
    fn esc_esc_and_garbage() {
        assert_eq!(decode(&[b"\x1b\x1b[A"]), vec![Key::Esc, Key::Up]);
        assert_eq!(decode(&[b"\x1bx"]), vec![Key::Unknown]);
        assert_eq!(decode(&[b"\x1b[99~a"]), vec![Key::Unknown, Key::Char(b'a')]);
        assert_eq!(decode(&[b"\x1b[\x00b"]), vec![Key::Unknown, Key::Char(b'b')]);
        assert_eq!(decode(&[b"\x1b[12"]), vec![Key::Unknown]);
        assert_eq!(decode(&[b"\xff\x00"]), vec![Key::Unknown, Key::Unknown]);
        let long = [b"\x1b[".as_slice(), &[b'1'; 40], b"A"].concat();
        let keys = decode(&[&long]);
        assert!(keys.iter().all(|k| *k == Key::Unknown || *k == Key::Char(b'1') || *k == Key::Char(b'A')));
        // Random bytes: never a panic, the decoder always recovers.
        let mut x = 0x1234_5678u32;
        let mut d = Decoder::new();
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let _ = d.feed((x >> 24) as u8);
        }
        let _ = d.idle();
        assert_eq!(d.feed(b'x'), Some(Key::Char(b'x')));
    }
}
