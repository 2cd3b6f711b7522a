//! The console menu, GRUB-legacy style, as a pure state machine.
//!
//! Input bytes and clock readings go in ([`State::step`]); screen output and, at the end, an
//! [`Action`] come out. Nothing here touches Xen: [`run`] drives a [`State`] over any
//! [`Terminal`] (the PV console ring in rpvboot, byte scripts in the tests), and the command
//! line reaches the disks through [`Disks`].
//!
//! What the user sees: the entries with the default highlighted and a countdown that any key
//! stops; arrows/Home/End/PageUp/PageDown/digits move, Enter boots; `e` edits the entry's
//! lines (menu.lst syntax), Enter or Ctrl-X boots the edited entry, Esc goes back; `c` opens a
//! command line (`help` lists its commands). `hiddenmenu` shows only the countdown line until
//! a key is pressed. A menu `password` protects `e`, `c` and `lock`ed entries; an entry's own
//! `password` protects booting it — also when the countdown would boot it, so an unattended
//! boot never bypasses a password. A failed boot is shown and returns to the menu, or, when
//! nobody has typed anything yet, goes on to the `fallback` entries.
//!
//! In rpvboot, the device stage calls `bootplan::select::select_with` while the disks are open; it
//! returns the accepted entry's files for the handover. Other callers drive
//! [`run_until_boot`] (or [`State`] + [`run`]) with their own [`Terminal`] and [`Disks`].
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod disks;
pub mod md5crypt;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use pvconsole::editor::LineEditor;
use pvconsole::screen::{self, clip, Screen, COLS, ROWS};
use pvconsole::term::{Decoder, Key};

use bootconfig::{menulst, Entry, Menu, Password};
pub use disks::{Disks, ProbedDisks};

/// A lone ESC becomes the Esc key after this long without another byte.
pub const ESC_WAIT_NS: u64 = 50_000_000;
/// The most lines one entry may have in the editor.
const MAX_EDIT_LINES: usize = 64;
/// The most bytes `cat` prints.
const CAT_LIMIT: usize = 64 * 1024;
/// Rows of the menu view used for entries (the rest: title, help, countdown, messages).
const LIST_ROWS: usize = 14;
/// Where the entry list starts.
const LIST_TOP: usize = 2;
const SEC: u64 = 1_000_000_000;
/// The most keys kept for after an action (one ring's worth).
const MAX_AHEAD: usize = 1024;

/// How the menu is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// `rpvboot.console=dumb`: plain numbered lines, no escape sequences.
    pub dumb: bool,
}

/// What to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The menu entry it came from (`None`: typed on the command line).
    pub entry: Option<usize>,
    /// Its title.
    pub title: String,
    /// Its lines in menu.lst syntax (edited or not), as [`menulst::entry_lines`] prints them.
    pub lines: Vec<String>,
    /// The user changed the lines (or typed them).
    pub edited: bool,
    /// Nobody chose it: the countdown ran out or a fallback followed a failure.
    pub automatic: bool,
}

impl Choice {
    /// The entry to boot: the model's own when not edited, else the lines parsed back (any
    /// error in them is returned as text for the screen).
    ///
    /// # Errors
    /// The first error-severity diagnostic of the edited lines, or a missing entry.
    pub fn to_entry(&self, model: &Menu) -> Result<Entry, String> {
        if !self.edited {
            if let Some(e) = self.entry.and_then(|i| model.entries.get(i)) {
                return Ok(e.clone());
            }
        }
        let refs: Vec<&str> = self.lines.iter().map(String::as_str).collect();
        let (e, diags) = menulst::parse_entry(&self.title, &refs, "editor");
        if let Some(d) = diags.iter().find(|d| d.severity == bootconfig::Severity::Error) {
            return Err(format!("line {}: {}", d.line, d.kind));
        }
        e.ok_or_else(|| String::from("nothing to boot"))
    }
}

/// What the menu decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Boot this.
    Boot(Choice),
    /// Power the domain off (`halt` on the command line).
    Shutdown,
}

/// What a correct password unlocks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unlock {
    /// The menu password: `e`/`c`/locked entries become available, then run this key.
    Menu(Option<u8>),
    /// Boot entry `i` (its own password, or the menu password for a `lock`ed entry).
    Boot(usize, bool),
}

#[derive(Debug, Clone)]
enum View {
    /// `hiddenmenu`: only the countdown line.
    Hidden,
    Menu,
    Password {
        what: Unlock,
        editor: LineEditor,
        drawn: usize,
    },
    Edit {
        entry: usize,
        lines: Vec<String>,
        row: usize,
        editor: LineEditor,
        drawn: usize,
    },
    Command {
        editor: LineEditor,
        drawn: usize,
    },
}

/// The menu's state.
pub struct State {
    model: Menu,
    opts: Options,
    view: View,
    selected: usize,
    /// First entry shown (scrolling).
    top: usize,
    /// When the countdown ends; `None`: stopped (or no timeout).
    deadline: Option<u64>,
    /// Seconds last shown in the countdown (to redraw only on change).
    shown_secs: Option<u64>,
    /// A key was pressed at some point: failures go back to the menu, not to the fallback.
    touched: bool,
    unlocked: bool,
    message: String,
    decoder: Decoder,
    last_byte_ns: u64,
    screen: Screen,
    /// The view must be drawn in full (dumb mode: print the list again).
    redraw: bool,
    /// The prompt line last drawn (text, cursor column): an idle tick does not repeat it.
    prompt_shown: Option<(String, usize)>,
    /// Entries already tried by the automatic path (the fallback chain).
    tried: Vec<usize>,
    /// The command line's lines so far (`root`, `kernel`, `module`, ...).
    typed: Vec<String>,
    /// Keys that came after an action in the same read, for the next step.
    ahead: Vec<Key>,
    started: bool,
}

impl State {
    /// A menu over `model`, starting its countdown at `now_ns`.
    pub fn new(model: Menu, opts: Options, now_ns: u64) -> State {
        let selected = if model.default < model.entries.len() { model.default } else { 0 };
        let deadline = match model.timeout {
            Some(t) if !model.entries.is_empty() => Some(now_ns.saturating_add(u64::from(t).saturating_mul(SEC))),
            _ => None,
        };
        let view = if model.hidden && deadline.is_some() { View::Hidden } else { View::Menu };
        let no_entries = model.entries.is_empty();
        let mut s = State {
            model,
            opts,
            view,
            selected,
            top: 0,
            deadline,
            shown_secs: None,
            touched: false,
            unlocked: false,
            message: String::new(),
            decoder: Decoder::new(),
            last_byte_ns: now_ns,
            screen: Screen::new(),
            redraw: true,
            prompt_shown: None,
            tried: Vec::new(),
            typed: Vec::new(),
            ahead: Vec::new(),
            started: false,
        };
        if no_entries {
            s.message = String::from("No boot entries: the command line is open ('help' lists commands).");
            s.view = View::Command { editor: LineEditor::new(""), drawn: 0 };
        }
        s.scroll();
        s
    }

    /// The entry highlighted.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Whether a partial escape sequence or typed-ahead keys wait (poll sooner).
    pub fn wants_early_tick(&self) -> bool {
        self.decoder.pending() || !self.ahead.is_empty()
    }

    /// Feeds input bytes (possibly none) at time `now_ns`, appends what to send to the terminal
    /// to `out`, and returns an action when the user (or the countdown) decided.
    pub fn step(&mut self, input: &[u8], now_ns: u64, disks: &mut dyn Disks, out: &mut String) -> Option<Action> {
        if !self.started {
            self.started = true;
            // `timeout 0`: boot at once, without drawing anything.
            if self.deadline.is_some_and(|d| d <= now_ns) {
                return self.auto_boot(now_ns, out);
            }
        }
        // Keys typed ahead of the last action (e.g. after a failed boot) come first.
        let mut keys: Vec<Key> = core::mem::take(&mut self.ahead);
        if input.is_empty() {
            if self.decoder.pending() && now_ns.saturating_sub(self.last_byte_ns) >= ESC_WAIT_NS {
                keys.extend(self.decoder.idle());
            }
        } else {
            self.last_byte_ns = now_ns;
            self.decoder.feed_all(input, |k| keys.push(k));
        }
        let mut keys = keys.into_iter();
        while let Some(k) = keys.next() {
            if let Some(a) = self.key(k, now_ns, disks, out) {
                self.ahead = keys.take(MAX_AHEAD).collect();
                return Some(a);
            }
        }
        if let Some(d) = self.deadline {
            if now_ns >= d {
                return self.auto_boot(now_ns, out);
            }
        }
        self.draw(now_ns, out);
        None
    }

    /// The boot of the last [`Action::Boot`] failed with `err`: shown, and either the next
    /// fallback entry is booted (nobody typed anything) or the menu is back.
    pub fn boot_failed(&mut self, err: &str, now_ns: u64, out: &mut String) -> Option<Action> {
        self.message = clip(&format!("Error: {err}"));
        if !self.opts.dumb {
            // Scrolling boot output may have moved the screen.
            self.screen.invalidate();
        }
        out.push_str("\r\n");
        out.push_str(&self.message);
        out.push_str("\r\n");
        self.redraw = true;
        if !self.touched {
            // The loader's order after the first entry tried: its fallback chain.
            let order = self.tried.first().map(|&f| self.model.boot_order(f)).unwrap_or_default();
            let next = order.into_iter().find(|i| !self.tried.contains(i));
            if let Some(i) = next {
                out.push_str(&clip(&format!("Falling back to entry {i}")));
                out.push_str("\r\n");
                self.selected = i;
                return self.boot_entry(i, true, out);
            }
        }
        self.deadline = None;
        self.view = View::Menu;
        self.draw(now_ns, out);
        None
    }

    fn auto_boot(&mut self, _now_ns: u64, out: &mut String) -> Option<Action> {
        self.deadline = None;
        let i = self.selected;
        self.boot_entry(i, true, out)
    }

    /// Boots entry `i` if no password stands in the way; otherwise asks for it.
    fn boot_entry(&mut self, i: usize, automatic: bool, out: &mut String) -> Option<Action> {
        let e = self.model.entries.get(i)?;
        if e.password.is_some() || (e.lock && !self.unlocked && self.model.password.is_some()) {
            self.deadline = None;
            self.open(View::Password { what: Unlock::Boot(i, automatic), editor: LineEditor::new(""), drawn: 0 }, out);
            return None;
        }
        self.tried.push(i);
        Some(Action::Boot(Choice {
            entry: Some(i),
            title: e.title.clone(),
            lines: menulst::entry_lines(e),
            edited: false,
            automatic,
        }))
    }

    fn open(&mut self, v: View, out: &mut String) {
        self.view = v;
        self.redraw = true;
        if matches!(self.view, View::Menu | View::Hidden | View::Edit { .. }) {
            self.screen.invalidate();
        } else {
            // Line-oriented views scroll under whatever is on the screen.
            out.push_str("\r\n");
            self.screen.invalidate();
        }
    }

    fn key(&mut self, k: Key, now_ns: u64, disks: &mut dyn Disks, out: &mut String) -> Option<Action> {
        if k == Key::Unknown {
            return None;
        }
        self.touched = true;
        if self.deadline.take().is_some() {
            self.redraw = true;
            if self.opts.dumb && self.shown_secs.take().is_some() {
                // End the countdown line before anything else is printed.
                out.push_str("\r\n");
            }
        }
        let _ = now_ns;
        let view = core::mem::replace(&mut self.view, View::Menu);
        match view {
            View::Hidden => {
                // Any key opens the menu (and is used up).
                self.open(View::Menu, out);
                None
            }
            View::Menu => self.menu_key(k, out),
            View::Password { what, mut editor, drawn } => match k {
                Key::Enter => {
                    out.push_str("\r\n");
                    self.password_done(what, editor.text().as_bytes(), out)
                }
                Key::Esc => {
                    self.open(View::Menu, out);
                    None
                }
                _ => {
                    editor.key(k);
                    self.view = View::Password { what, editor, drawn };
                    None
                }
            },
            View::Edit { entry, mut lines, mut row, mut editor, drawn } => {
                let store = |lines: &mut Vec<String>, row: usize, ed: &LineEditor| {
                    if let Some(l) = lines.get_mut(row) {
                        *l = ed.to_owned_text();
                    }
                };
                match k {
                    Key::Enter | Key::Ctrl(b'x') => {
                        store(&mut lines, row, &editor);
                        let title = self.model.entries.get(entry).map(|e| e.title.clone()).unwrap_or_default();
                        lines.retain(|l| !l.trim().is_empty());
                        out.push_str("\r\n");
                        return Some(Action::Boot(Choice {
                            entry: Some(entry),
                            title,
                            lines,
                            edited: true,
                            automatic: false,
                        }));
                    }
                    Key::Esc => {
                        self.open(View::Menu, out);
                        return None;
                    }
                    Key::Up | Key::Down => {
                        store(&mut lines, row, &editor);
                        let new = if k == Key::Up {
                            row.saturating_sub(1)
                        } else {
                            row.saturating_add(1).min(lines.len().saturating_sub(1))
                        };
                        if new != row {
                            row = new;
                            editor = LineEditor::new(lines.get(row).map_or("", String::as_str));
                            if self.opts.dumb {
                                out.push_str("\r\n");
                            }
                        }
                    }
                    Key::Ctrl(b'o') if lines.len() < MAX_EDIT_LINES => {
                        store(&mut lines, row, &editor);
                        row = row.saturating_add(1).min(lines.len());
                        lines.insert(row, String::new());
                        editor = LineEditor::new("");
                        if self.opts.dumb {
                            out.push_str("\r\n");
                        }
                    }
                    _ => {
                        editor.key(k);
                    }
                }
                self.view = View::Edit { entry, lines, row, editor, drawn: if self.opts.dumb { drawn } else { 0 } };
                None
            }
            View::Command { mut editor, drawn } => match k {
                Key::Enter => {
                    out.push_str("\r\n");
                    let line = editor.to_owned_text();
                    let r = self.command(&line, disks, out);
                    if r.is_some() {
                        return r;
                    }
                    if matches!(self.view, View::Menu) {
                        self.view = View::Command { editor: LineEditor::new(""), drawn: 0 };
                    }
                    None
                }
                Key::Esc if !self.model.entries.is_empty() => {
                    self.open(View::Menu, out);
                    None
                }
                Key::Tab => {
                    self.complete(&mut editor, disks, out);
                    self.view = View::Command { editor, drawn: 0 };
                    None
                }
                _ => {
                    editor.key(k);
                    self.view = View::Command { editor, drawn };
                    None
                }
            },
        }
    }

    fn menu_key(&mut self, k: Key, out: &mut String) -> Option<Action> {
        let n = self.model.entries.len();
        let last = n.saturating_sub(1);
        let before = self.selected;
        match k {
            Key::Up | Key::Ctrl(b'p') => self.selected = self.selected.saturating_sub(1),
            Key::Down | Key::Ctrl(b'n') => self.selected = self.selected.saturating_add(1).min(last),
            Key::Home => self.selected = 0,
            Key::End => self.selected = last,
            Key::PageUp => self.selected = self.selected.saturating_sub(LIST_ROWS),
            Key::PageDown => self.selected = self.selected.saturating_add(LIST_ROWS).min(last),
            Key::Char(d @ b'0'..=b'9') => {
                let i = usize::from(d - b'0');
                if i < n {
                    self.selected = i;
                }
            }
            Key::Enter => {
                let i = self.selected;
                return self.boot_entry(i, false, out);
            }
            Key::Char(c @ (b'e' | b'c' | b'p')) => {
                if self.model.password.is_some() && !self.unlocked {
                    self.open(
                        View::Password { what: Unlock::Menu(Some(c)), editor: LineEditor::new(""), drawn: 0 },
                        out,
                    );
                    return None;
                }
                return self.unlocked_key(c, out);
            }
            _ => {}
        }
        if self.selected != before {
            self.scroll();
            if self.opts.dumb {
                let t = self.model.entries.get(self.selected).map_or("", |e| e.title.as_str());
                out.push_str(&clip(&format!("-> {} {}", self.selected, t)));
                out.push_str("\r\n");
            }
        }
        self.view = View::Menu;
        None
    }

    fn unlocked_key(&mut self, c: u8, out: &mut String) -> Option<Action> {
        match c {
            b'e' => {
                let i = self.selected;
                let Some(e) = self.model.entries.get(i) else {
                    self.view = View::Menu;
                    return None;
                };
                let mut lines = menulst::entry_lines(e);
                // Passwords are not shown (nor changed) in the editor.
                lines.retain(|l| !l.starts_with("password"));
                if lines.is_empty() {
                    lines.push(String::new());
                }
                let row = lines.iter().position(|l| l.starts_with("kernel")).unwrap_or(0);
                let editor = LineEditor::new(lines.get(row).map_or("", String::as_str));
                self.open(View::Edit { entry: i, lines, row, editor, drawn: 0 }, out);
            }
            b'c' => {
                self.open(View::Command { editor: LineEditor::new(""), drawn: 0 }, out);
                out.push_str("rpvboot command line: 'help' lists the commands, Esc returns to the menu.\r\n");
            }
            _ => self.view = View::Menu,
        }
        None
    }

    fn password_done(&mut self, what: Unlock, typed: &[u8], out: &mut String) -> Option<Action> {
        let ok = |p: &Option<Password>| match p {
            Some(Password::Plain(t)) => t.as_bytes() == typed,
            Some(Password::Md5(h)) => md5crypt::verify(typed, h),
            None => false,
        };
        match what {
            Unlock::Menu(then) => {
                if ok(&self.model.password) {
                    self.unlocked = true;
                    self.message.clear();
                    self.view = View::Menu;
                    return then.and_then(|c| self.unlocked_key(c, out));
                }
            }
            Unlock::Boot(i, automatic) => {
                let e = self.model.entries.get(i)?;
                let good = if e.password.is_some() { ok(&e.password) } else { ok(&self.model.password) };
                if good {
                    if e.password.is_none() {
                        self.unlocked = true;
                    }
                    self.tried.push(i);
                    return Some(Action::Boot(Choice {
                        entry: Some(i),
                        title: e.title.clone(),
                        lines: menulst::entry_lines(e),
                        edited: false,
                        automatic,
                    }));
                }
            }
        }
        self.message = String::from("Wrong password.");
        self.open(View::Menu, out);
        None
    }

    /// Keeps the selected entry inside the shown window.
    fn scroll(&mut self) {
        if self.selected < self.top {
            self.top = self.selected;
        } else if self.selected >= self.top.saturating_add(LIST_ROWS) {
            self.top = self.selected.saturating_add(1).saturating_sub(LIST_ROWS);
        }
    }

    fn countdown_text(&self, now_ns: u64) -> Option<(u64, String)> {
        let d = self.deadline?;
        let secs = d.saturating_sub(now_ns).div_ceil(SEC);
        let title = self.model.entries.get(self.selected).map_or("", |e| e.title.as_str());
        Some((secs, format!("Booting '{title}' in {secs} s; press any key for the menu.")))
    }

    fn draw(&mut self, now_ns: u64, out: &mut String) {
        if self.opts.dumb {
            self.draw_dumb(now_ns, out);
            return;
        }
        let mut cursor = None;
        self.screen.begin();
        match &self.view {
            View::Hidden => {
                if let Some((_, t)) = self.countdown_text(now_ns) {
                    self.screen.set(0, &t, false);
                }
            }
            View::Menu => {
                self.screen.set(0, "rpvboot - Xen PV bootloader", false);
                for row in 0..LIST_ROWS {
                    let i = self.top.saturating_add(row);
                    let Some(e) = self.model.entries.get(i) else { break };
                    let mark = if e.lock || e.password.is_some() { '*' } else { ' ' };
                    self.screen.set(LIST_TOP + row, &format!(" {i:>2} {mark}{}", e.title), i == self.selected);
                }
                let mut help = String::from("Up/Down/digits select, Enter boots, 'e' edits, 'c' command line");
                if self.model.password.is_some() && !self.unlocked {
                    help.push_str(" (password)");
                }
                self.screen.set(LIST_TOP + LIST_ROWS + 1, &help, false);
                if let Some((_, t)) = self.countdown_text(now_ns) {
                    self.screen.set(LIST_TOP + LIST_ROWS + 3, &t, false);
                }
                self.screen.set(LIST_TOP + LIST_ROWS + 5, &self.message, false);
                cursor = Some((LIST_TOP + self.selected.saturating_sub(self.top), 1));
            }
            View::Edit { entry, lines, row, editor, .. } => {
                let title = self.model.entries.get(*entry).map_or("", |e| e.title.as_str());
                self.screen.set(0, &format!("Editing '{title}'"), false);
                let shown_rows = ROWS - 6;
                let first = row.saturating_add(1).saturating_sub(shown_rows);
                for (k, l) in lines.iter().enumerate().skip(first).take(shown_rows) {
                    let r = LIST_TOP + k - first;
                    if k == *row {
                        let (_, text, col) = editor.window(COLS - 3);
                        self.screen.set(r, &format!("> {text}"), false);
                        cursor = Some((r, 2 + col));
                    } else {
                        self.screen.set(r, &format!("  {l}"), false);
                    }
                }
                self.screen.set(
                    ROWS - 3,
                    "Enter or Ctrl-X boots, Esc goes back, Up/Down change line, Ctrl-O adds a line",
                    false,
                );
                self.screen.set(ROWS - 2, "Ctrl-A/E start/end, Ctrl-K/U kill to end/start", false);
            }
            View::Password { .. } | View::Command { .. } => {}
        }
        match &mut self.view {
            View::Password { editor, drawn, .. } => {
                if self.redraw {
                    *drawn = 0;
                    out.push_str("\r\n");
                }
                let stars = "*".repeat(editor.text().len().min(COLS - 12));
                *drawn =
                    prompt_line(&mut self.prompt_shown, self.redraw, out, "Password: ", &stars, stars.len(), *drawn);
            }
            View::Command { editor, drawn } => {
                if self.redraw && !self.message.is_empty() {
                    out.push_str(&self.message);
                    out.push_str("\r\n");
                    self.message.clear();
                }
                let (_, text, col) = editor.window(COLS - 10);
                *drawn = prompt_line(&mut self.prompt_shown, self.redraw, out, "rpvboot> ", text, col, *drawn);
            }
            _ => self.screen.flush(out, cursor),
        }
        self.redraw = false;
    }

    /// Dumb terminals: the list once, then only new lines.
    fn draw_dumb(&mut self, now_ns: u64, out: &mut String) {
        let redraw = core::mem::replace(&mut self.redraw, false);
        let countdown = self.countdown_text(now_ns);
        match &mut self.view {
            View::Hidden | View::Menu => {
                if redraw {
                    if matches!(self.view, View::Menu) {
                        out.push_str("\r\nrpvboot - Xen PV bootloader\r\n");
                        for (i, e) in self.model.entries.iter().enumerate() {
                            let m = if i == self.selected { '>' } else { ' ' };
                            out.push_str(&clip(&format!("{m}{i:>2} {}", e.title)));
                            out.push_str("\r\n");
                        }
                        out.push_str("Digits/Up/Down select, Enter boots, 'e' edits, 'c' command line\r\n");
                        if !self.message.is_empty() {
                            out.push_str(&self.message);
                            out.push_str("\r\n");
                        }
                    }
                    self.shown_secs = None;
                }
                if let Some((secs, t)) = countdown {
                    match self.shown_secs {
                        None => out.push_str(&clip(&t)),
                        Some(s) if s != secs => out.push_str(&format!(" {secs}")),
                        _ => {}
                    }
                    self.shown_secs = Some(secs);
                } else if self.shown_secs.take().is_some() {
                    out.push_str("\r\n");
                }
            }
            View::Edit { lines, row, editor, drawn, entry } => {
                if redraw {
                    let title = self.model.entries.get(*entry).map_or("", |e| e.title.as_str());
                    out.push_str(&clip(&format!("Editing '{title}' (Enter/Ctrl-X boots, Esc back):")));
                    out.push_str("\r\n");
                    for (k, l) in lines.iter().enumerate() {
                        out.push_str(&clip(&format!("{k:>2}: {l}")));
                        out.push_str("\r\n");
                    }
                    *drawn = 0;
                }
                let (_, text, col) = editor.window(COLS - 6);
                let prompt = format!("{row:>2}> ");
                *drawn = prompt_line(&mut self.prompt_shown, redraw, out, &prompt, text, col, *drawn);
            }
            View::Password { editor, drawn, .. } => {
                if redraw {
                    *drawn = 0;
                }
                let stars = "*".repeat(editor.text().len().min(COLS - 12));
                *drawn = prompt_line(&mut self.prompt_shown, redraw, out, "Password: ", &stars, stars.len(), *drawn);
            }
            View::Command { editor, drawn } => {
                if redraw && !self.message.is_empty() {
                    out.push_str(&self.message);
                    out.push_str("\r\n");
                    self.message.clear();
                }
                let (_, text, col) = editor.window(COLS - 10);
                *drawn = prompt_line(&mut self.prompt_shown, redraw, out, "rpvboot> ", text, col, *drawn);
            }
        }
    }

    /// Runs one command line; its output goes to `out`.
    fn command(&mut self, line: &str, disks: &mut dyn Disks, out: &mut String) -> Option<Action> {
        let mut say = |s: &str| {
            out.push_str(&clip(s));
            out.push_str("\r\n");
        };
        let line = line.trim();
        let (cmd, arg) = match line.split_once([' ', '\t']) {
            Some((c, a)) => (c, a.trim()),
            None => (line, ""),
        };
        match cmd {
            "" => {}
            "help" => {
                for h in [
                    "ls [PATH]         list a directory, or the disks: ls (hd0,0)/boot",
                    "cat PATH          print a file",
                    "probe             disks, partitions and filesystems",
                    "root DEV          device for paths without one: root (hd0,0)",
                    "kernel PATH ARGS  the kernel and its command line",
                    "initrd PATH       a Linux initrd",
                    "module PATH ARGS  a module",
                    "boot              boot what root/kernel/initrd/module said",
                    "halt              power the domain off",
                    "Esc               back to the menu",
                ] {
                    say(h);
                }
            }
            "probe" => {
                for l in disks.probe() {
                    say(&l);
                }
            }
            "ls" if arg.is_empty() => {
                for l in disks.probe() {
                    say(&l);
                }
            }
            "ls" => match disks.list(&self.with_root(arg)) {
                Ok(names) => {
                    let mut row = String::new();
                    for n in names {
                        if row.len().saturating_add(n.len()) >= COLS - 2 && !row.is_empty() {
                            say(&row);
                            row.clear();
                        }
                        row.push_str(&n);
                        row.push_str("  ");
                    }
                    if !row.is_empty() {
                        say(row.trim_end());
                    }
                }
                Err(e) => say(&format!("error: {e}")),
            },
            "cat" => match disks.read(&self.with_root(arg), CAT_LIMIT) {
                Ok(bytes) => {
                    for l in String::from_utf8_lossy(&bytes).lines() {
                        say(l);
                    }
                }
                Err(e) => say(&format!("error: {e}")),
            },
            "root" | "rootnoverify" | "kernel" | "initrd" | "module" | "modulenounzip" => {
                if cmd.starts_with("root") || cmd == "kernel" {
                    // A new root or kernel replaces the old one (modules stay, as in GRUB).
                    let word = if cmd.starts_with("root") { "root" } else { "kernel" };
                    self.typed.retain(|l| !l.starts_with(word));
                }
                if self.typed.len() < MAX_EDIT_LINES {
                    self.typed.push(format!("{cmd} {arg}"));
                }
                let refs: Vec<&str> = self.typed.iter().map(String::as_str).collect();
                let (_, diags) = menulst::parse_entry("command line", &refs, "command line");
                for d in diags.iter().filter(|d| d.severity == bootconfig::Severity::Error) {
                    say(&format!("error: {}", d.kind));
                }
            }
            "boot" => {
                if !self.typed.iter().any(|l| l.starts_with("kernel")) {
                    say("error: no kernel yet (kernel PATH [ARGS])");
                } else {
                    self.touched = true;
                    let mut lines = self.typed.clone();
                    // root first, then kernel, then modules, as the editor shows entries.
                    fs::order::sort_by_key(&mut lines, &|l| match l.split(' ').next() {
                        Some("root") | Some("rootnoverify") => 0,
                        Some("kernel") => 1,
                        _ => 2,
                    });
                    return Some(Action::Boot(Choice {
                        entry: None,
                        title: String::from("command line"),
                        lines,
                        edited: true,
                        automatic: false,
                    }));
                }
            }
            "halt" | "poweroff" => return Some(Action::Shutdown),
            _ => say(&format!("unknown command '{cmd}' ('help' lists them)")),
        }
        None
    }

    /// `/path` read from the `root` device when one was given.
    fn with_root(&self, path: &str) -> String {
        if path.starts_with('/') {
            if let Some(r) = self.typed.iter().find_map(|l| l.split_once(' ').filter(|(c, _)| c.starts_with("root"))) {
                return format!("{}{path}", r.1.trim());
            }
        }
        String::from(path)
    }

    /// Tab: completes the last word as a path (when unique), else lists the candidates.
    fn complete(&mut self, editor: &mut LineEditor, disks: &mut dyn Disks, out: &mut String) {
        let text = editor.to_owned_text();
        let start = text.rfind(' ').map_or(0, |i| i.saturating_add(1));
        let word = text.get(start..).unwrap_or("");
        let Some(slash) = word.rfind('/') else { return };
        let (dir, base) = (word.get(..=slash).unwrap_or(""), word.get(slash.saturating_add(1)..).unwrap_or(""));
        let Ok(names) = disks.list(&self.with_root(dir)) else { return };
        let hits: Vec<&String> = names.iter().filter(|n| n.starts_with(base)).collect();
        match hits.as_slice() {
            [one] => {
                let mut t = String::from(text.get(..start).unwrap_or(""));
                t.push_str(dir);
                t.push_str(one);
                editor.set(&t);
            }
            [] => {}
            many => {
                out.push_str("\r\n");
                let all: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
                out.push_str(&clip(&all.join("  ")));
                out.push_str("\r\n");
            }
        }
    }
}

/// The console as the menu uses it.
pub trait Terminal {
    /// Reads input, waiting up to `timeout_ns` for the first byte; 0 = nothing came.
    fn read(&mut self, buf: &mut [u8], timeout_ns: u64) -> usize;
    /// Sends bytes as they are (the menu writes its own `\r\n`).
    fn write(&mut self, s: &str);
    /// A monotonic clock.
    fn now_ns(&self) -> u64;
}

impl<P: pvconsole::Platform> Terminal for &pvconsole::Console<'_, P> {
    fn read(&mut self, buf: &mut [u8], timeout_ns: u64) -> usize {
        self.read_timeout(buf, timeout_ns)
    }
    fn write(&mut self, s: &str) {
        if !s.is_empty() {
            self.write_bytes(s.as_bytes());
        }
    }
    fn now_ns(&self) -> u64 {
        self.platform().now_ns()
    }
}

/// Draws a one-line prompt unless the same line is already on the screen: nothing else was
/// written in this step (`out` is empty) and no redraw was asked for. Without this, every idle
/// tick at a prompt would resend it and fill the provider's console log.
fn prompt_line(
    shown: &mut Option<(String, usize)>,
    redraw: bool,
    out: &mut String,
    prompt: &str,
    text: &str,
    col: usize,
    drawn: usize,
) -> usize {
    let key = (format!("{prompt}{text}"), col);
    if !redraw && out.is_empty() && shown.as_ref() == Some(&key) {
        return drawn;
    }
    let len = screen::dumb_line(out, prompt, text, col, drawn);
    *shown = Some(key);
    len
}

/// Runs the menu until it decides. Call it again after [`State::boot_failed`] returned `None`.
pub fn run(state: &mut State, term: &mut dyn Terminal, disks: &mut dyn Disks) -> Action {
    let mut out = String::new();
    let mut buf = [0u8; 64];
    let mut n = 0usize;
    loop {
        let now = term.now_ns();
        let a = state.step(buf.get(..n).unwrap_or(&[]), now, disks, &mut out);
        term.write(&out);
        out.clear();
        if let Some(a) = a {
            return a;
        }
        // Short waits while an escape sequence is incomplete or the countdown runs.
        let wait = if state.wants_early_tick() { ESC_WAIT_NS } else { SEC / 4 };
        n = term.read(&mut buf, wait);
    }
}

/// Boots from the menu: shows it, hands each choice to `boot` (which reads and checks the
/// entry's files: `Err` says why it cannot boot), and goes on until `boot` accepts a choice
/// (returned) or the user halts. Failures are shown and return to the menu, or go down the
/// `fallback` chain when nobody has typed anything.
pub fn run_until_boot(
    model: Menu,
    opts: Options,
    term: &mut dyn Terminal,
    disks: &mut dyn Disks,
    boot: &mut dyn FnMut(&Choice) -> Result<(), String>,
) -> Action {
    let mut state = State::new(model, opts, term.now_ns());
    let mut action = run(&mut state, term, disks);
    // Bounded by the user or the fallback chain (each entry tried once automatically).
    loop {
        let Action::Boot(choice) = &action else { return action };
        if !opts.dumb {
            // Boot messages start on a clean screen, at the top left.
            term.write("\x1b[0m\x1b[H\x1b[2J");
        }
        term.write(&clip(&format!("Booting '{}'", choice.title)));
        term.write("\r\n");
        let err = match boot(choice) {
            Ok(()) => return action,
            Err(e) => e,
        };
        let mut out = String::new();
        let next = state.boot_failed(&err, term.now_ns(), &mut out);
        term.write(&out);
        action = match next {
            Some(a) => a,
            None => run(&mut state, term, disks),
        };
    }
}

#[cfg(test)]
mod tests;
