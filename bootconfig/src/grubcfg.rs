//! A GRUB 2 `grub.cfg` subset: what grub-mkconfig writes for a PV domU, and hand-written menus.
//!
//! Understood: `set default=` (a number, `N>M` into a submenu, a title or an `--id`),
//! `set timeout=` / `timeout_style=`, `menuentry 'title' [--options] { … }` with `set root=`,
//! `linux`/`linux16`, `initrd`/`initrd16` (several files), `multiboot`/`multiboot2` with
//! `module`/`module2`, `knetbsd` with `knetbsd_module`; `submenu` bodies are flattened into the
//! entry list. Shell syntax follows the GRUB manual's "Shell-like scripting": `'…'`, `"…"`,
//! `\`, `$var`/`${var}`, `#` comments, `;` and newlines. `if`/`elif`/`else` conditions are
//! evaluated as GRUB 2 running on Xen would (`[ … ]`/`test` on strings and numbers; every
//! `feature_*` is `y`, `grub_platform` is `xen`, file tests are false; any other command is
//! assumed to succeed, with a note), so grub-mkconfig's `if [ "${next_entry}" ]` and
//! `if [ x$feature_timeout_style = xy ]` pick the branch a real GRUB picks; `function`, loops
//! and every other command are noted with their line and skipped. GRUB 2 devices (`hd0,msdos1`, `hd0,gpt2`, `xen/xvda,1`) count partitions from 1;
//! they become GRUB-legacy names (`(hd0,0)`, `(hd0,gpt2)`).

use alloc::string::String;
use alloc::vec::Vec;

use super::device::{Device, DeviceSpec};
use super::error::{DiagKind, Diags};
use super::{Entry, FileRef, Format, Kernel, Menu, Module, ModuleKind, OsHint, MAX_ENTRIES};

/// Deepest nesting of blocks followed; deeper blocks are skipped.
const MAX_DEPTH: u32 = 16;
/// Longest value a variable may hold (expansion could otherwise grow without bound).
const MAX_VALUE: usize = 4096;
/// The most variables kept.
const MAX_VARS: usize = 128;

/// A piece of a word: literal text or a variable to expand.
#[derive(Debug, Clone)]
enum Seg {
    Lit(String),
    Var(String),
}

#[derive(Debug, Clone)]
struct Word {
    segs: Vec<Seg>,
    quoted: bool,
    line: u32,
    col: u32,
}

impl Word {
    /// The word when it is one unquoted literal (keywords must be).
    fn keyword(&self) -> Option<&str> {
        match self.segs.as_slice() {
            [Seg::Lit(s)] if !self.quoted => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Cmd {
    words: Vec<Word>,
    line: u32,
    col: u32,
}

impl Cmd {
    fn head(&self) -> Option<&str> {
        self.words.first().and_then(Word::keyword)
    }
}

/// Splits the file into commands (at newlines and `;`), each a list of words.
fn tokenize(text: &str, d: &mut Diags) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    let mut cur: Option<Word> = None;
    let mut line: u32 = 1;
    let mut line_start = 0usize;
    let mut it = text.char_indices().peekable();

    fn lit(w: &mut Word, c: char) {
        if let Some(Seg::Lit(s)) = w.segs.last_mut() {
            s.push(c);
        } else {
            let mut s = String::new();
            s.push(c);
            w.segs.push(Seg::Lit(s));
        }
    }
    let col_at = |i: usize, ls: usize| u32::try_from(i.saturating_sub(ls)).unwrap_or(u32::MAX).saturating_add(1);
    macro_rules! start {
        ($i:expr) => {
            cur.get_or_insert_with(|| Word { segs: Vec::new(), quoted: false, line, col: col_at($i, line_start) })
        };
    }
    macro_rules! end_word {
        () => {
            if let Some(w) = cur.take() {
                words.push(w);
            }
        };
    }
    macro_rules! end_cmd {
        () => {
            end_word!();
            if let Some(first) = words.first() {
                let (l, c) = (first.line, first.col);
                cmds.push(Cmd { words: core::mem::take(&mut words), line: l, col: c });
            }
        };
    }
    // Reads `name` or `{name}` after a `$`.
    fn var_name(it: &mut core::iter::Peekable<core::str::CharIndices<'_>>) -> Option<String> {
        let mut name = String::new();
        if it.peek().map(|&(_, c)| c) == Some('{') {
            it.next();
            for (_, c) in it.by_ref() {
                if c == '}' {
                    return Some(name);
                }
                if c == '\n' {
                    return None;
                }
                name.push(c);
            }
            return None;
        }
        while let Some(&(_, c)) = it.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                it.next();
            } else if name.is_empty() && matches!(c, '?' | '#' | '@' | '*') {
                name.push(c);
                it.next();
                break;
            } else {
                break;
            }
        }
        (!name.is_empty()).then_some(name)
    }

    while let Some((i, c)) = it.next() {
        match c {
            ' ' | '\t' | '\r' => end_word!(),
            '\n' | ';' => {
                end_cmd!();
                if c == '\n' {
                    line = line.saturating_add(1);
                    line_start = i.saturating_add(1);
                }
            }
            '#' if cur.is_none() => {
                while let Some(&(_, c)) = it.peek() {
                    if c == '\n' {
                        break;
                    }
                    it.next();
                }
            }
            '\\' => match it.next() {
                Some((j, '\n')) => {
                    line = line.saturating_add(1);
                    line_start = j.saturating_add(1);
                }
                Some((_, n)) => lit(start!(i), n),
                None => {}
            },
            '\'' => {
                let (ql, qc) = (line, col_at(i, line_start));
                let w = start!(i);
                w.quoted = true;
                let mut closed = false;
                for (j, q) in it.by_ref() {
                    if q == '\'' {
                        closed = true;
                        break;
                    }
                    if q == '\n' {
                        line = line.saturating_add(1);
                        line_start = j.saturating_add(1);
                    }
                    lit(w, q);
                }
                if let Some(Seg::Lit(_)) = w.segs.last() {
                } else {
                    w.segs.push(Seg::Lit(String::new()));
                }
                if !closed {
                    d.error(ql, qc, DiagKind::UnterminatedQuote);
                }
            }
            '"' => {
                let (ql, qc) = (line, col_at(i, line_start));
                let w = start!(i);
                w.quoted = true;
                w.segs.push(Seg::Lit(String::new()));
                let mut closed = false;
                while let Some((j, q)) = it.next() {
                    match q {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match it.peek().map(|&(_, n)| n) {
                            Some(n @ ('$' | '"' | '\\')) => {
                                it.next();
                                lit(w, n);
                            }
                            Some('\n') => {
                                it.next();
                                line = line.saturating_add(1);
                                line_start = j.saturating_add(2);
                            }
                            _ => lit(w, '\\'),
                        },
                        '$' => match var_name(&mut it) {
                            Some(v) => w.segs.push(Seg::Var(v)),
                            None => lit(w, '$'),
                        },
                        '\n' => {
                            line = line.saturating_add(1);
                            line_start = j.saturating_add(1);
                            lit(w, q);
                        }
                        _ => lit(w, q),
                    }
                }
                if !closed {
                    d.error(ql, qc, DiagKind::UnterminatedQuote);
                }
            }
            '$' => {
                let w = start!(i);
                match var_name(&mut it) {
                    Some(v) => w.segs.push(Seg::Var(v)),
                    None => lit(w, '$'),
                }
            }
            _ => lit(start!(i), c),
        }
    }
    end_cmd!();
    cmds
}

/// One element of the flattened command stream.
#[derive(Debug, Clone)]
enum Item {
    Cmd(Cmd),
    /// `{` ending the previous command's line (or alone on a line).
    Open(u32),
    /// `}`.
    Close(u32, u32),
}

/// Separates braces (anywhere in a line, as in `menuentry 'A' { linux /a }`) and leading
/// `then`/`else`/`do` from the commands that share their line.
fn items(cmds: Vec<Cmd>) -> Vec<Item> {
    fn flush(cur: &mut Vec<Word>, out: &mut Vec<Item>) {
        if let Some(f) = cur.first() {
            let (line, col) = (f.line, f.col);
            out.push(Item::Cmd(Cmd { words: core::mem::take(cur), line, col }));
        }
    }
    let mut out = Vec::new();
    for c in cmds {
        let mut cur: Vec<Word> = Vec::new();
        for w in c.words {
            match w.keyword() {
                Some("{") => {
                    flush(&mut cur, &mut out);
                    out.push(Item::Open(w.line));
                }
                Some("}") => {
                    flush(&mut cur, &mut out);
                    out.push(Item::Close(w.line, w.col));
                }
                Some("then" | "else" | "do") if cur.is_empty() => {
                    cur.push(w);
                    flush(&mut cur, &mut out);
                }
                _ => cur.push(w),
            }
        }
        flush(&mut cur, &mut out);
    }
    out
}

#[derive(Debug, Clone)]
enum Node {
    Cmd(Cmd),
    Block(Cmd, Vec<Node>),
    /// `if`/`elif` branches with their condition command, then `else` (condition `None`).
    If {
        line: u32,
        col: u32,
        branches: Vec<(Option<Cmd>, Vec<Node>)>,
    },
    Skipped(&'static str, u32, u32),
}

/// Builds the block tree from `items[*i..]` until a `}` (when `in_brace`) or one of `stop`.
/// Returns the nodes and the stop keyword met (`None` at `}` or the end).
fn tree(
    items: &[Item],
    i: &mut usize,
    depth: u32,
    in_brace: bool,
    stop: &[&str],
    d: &mut Diags,
) -> (Vec<Node>, Option<String>) {
    let mut nodes: Vec<Node> = Vec::new();
    while let Some(item) = items.get(*i) {
        *i = i.saturating_add(1);
        match item {
            Item::Close(l, c) => {
                if in_brace {
                    return (nodes, None);
                }
                d.error(*l, *c, DiagKind::UnbalancedBrace);
            }
            Item::Open(l) => {
                let (body, _) = if depth < MAX_DEPTH {
                    tree(items, i, depth.saturating_add(1), true, &[], d)
                } else {
                    skip_braces(items, i, *l, d)
                };
                match nodes.pop() {
                    Some(Node::Cmd(head)) => nodes.push(Node::Block(head, body)),
                    other => {
                        if let Some(o) = other {
                            nodes.push(o);
                        }
                        d.note(*l, 0, DiagKind::SkippedBlock(String::from("{")));
                    }
                }
            }
            Item::Cmd(c) => {
                let head = c.head().unwrap_or("");
                if stop.contains(&head) {
                    return (nodes, Some(String::from(head)));
                }
                match head {
                    "if" => {
                        let (line, col) = (c.line, c.col);
                        if depth >= MAX_DEPTH {
                            skip_flat(items, i, "if", "fi");
                            nodes.push(Node::Skipped("if", line, col));
                            continue;
                        }
                        let mut branches: Vec<(Option<Cmd>, Vec<Node>)> = Vec::new();
                        let mut cond = Some(c.clone());
                        let deeper = depth.saturating_add(1);
                        loop {
                            let (_, end) = tree(items, i, deeper, false, &["then", "elif", "else", "fi"], d);
                            if end.as_deref() != Some("then") {
                                d.error(line, col, DiagKind::Syntax("'if' without 'then'"));
                                break;
                            }
                            let (body, end) = tree(items, i, deeper, false, &["elif", "else", "fi"], d);
                            branches.push((cond.take(), body));
                            match end.as_deref() {
                                Some("elif") => {
                                    if let Some(Item::Cmd(e)) = items.get(i.saturating_sub(1)) {
                                        cond = Some(e.clone());
                                    }
                                }
                                Some("else") => {
                                    let (b, e) = tree(items, i, deeper, false, &["fi"], d);
                                    branches.push((None, b));
                                    if e.is_none() {
                                        d.error(line, col, DiagKind::Syntax("'if' without 'fi'"));
                                    }
                                    break;
                                }
                                Some(_) => break,
                                None => {
                                    d.error(line, col, DiagKind::Syntax("'if' without 'fi'"));
                                    break;
                                }
                            }
                        }
                        nodes.push(Node::If { line, col, branches });
                    }
                    "for" | "while" | "until" => {
                        if depth >= MAX_DEPTH {
                            skip_flat(items, i, head, "done");
                        } else {
                            let _ = tree(items, i, depth.saturating_add(1), false, &["done"], d);
                        }
                        nodes.push(Node::Skipped("loop", c.line, c.col));
                    }
                    _ => nodes.push(Node::Cmd(c.clone())),
                }
            }
        }
    }
    (nodes, None)
}

/// Skips past the `close` keyword matching an already consumed `open` one, without recursion
/// (blocks nested deeper than [`MAX_DEPTH`] must not grow the stack).
fn skip_flat(items: &[Item], i: &mut usize, open: &str, close: &str) {
    let mut level = 1u32;
    while let Some(item) = items.get(*i) {
        *i = i.saturating_add(1);
        if let Item::Cmd(c) = item {
            let h = c.head().unwrap_or("");
            let opens = h == open || (close == "done" && matches!(h, "for" | "while" | "until"));
            if opens {
                level = level.saturating_add(1);
            } else if h == close {
                level = level.saturating_sub(1);
                if level == 0 {
                    return;
                }
            }
        }
    }
}

/// Skips to the `}` matching an already consumed `{` without building nodes (too deep).
fn skip_braces(items: &[Item], i: &mut usize, line: u32, d: &mut Diags) -> (Vec<Node>, Option<String>) {
    let mut level = 1u32;
    while let Some(item) = items.get(*i) {
        *i = i.saturating_add(1);
        match item {
            Item::Open(_) => level = level.saturating_add(1),
            Item::Close(..) => {
                level = level.saturating_sub(1);
                if level == 0 {
                    break;
                }
            }
            Item::Cmd(_) => {}
        }
    }
    d.error(line, 0, DiagKind::Other(String::from("blocks nested too deeply, skipped")));
    (Vec::new(), None)
}

/// Where an entry sits in GRUB 2's own numbering, for `set default`.
struct Slot {
    top: usize,
    sub: Option<usize>,
    id: Option<String>,
}

struct Run {
    menu: Menu,
    d: Diags,
    env: Vec<(String, String)>,
    slots: Vec<Slot>,
    top: usize,
    dropped: bool,
}

impl Run {
    /// A variable; unset ones are empty, except what GRUB 2 itself sets on Xen: every
    /// `feature_*` flag is `y` (a current GRUB has them all) and `grub_platform` is `xen`.
    fn get(&self, name: &str) -> &str {
        match self.env.iter().rev().find(|(k, _)| k == name) {
            Some((_, v)) => v.as_str(),
            None if name.starts_with("feature_") => "y",
            None if name == "grub_platform" => "xen",
            None if name == "grub_cpu" => "x86_64",
            None => "",
        }
    }

    /// The truth of an `if`/`elif` condition as GRUB on Xen would see it: `[ … ]`/`test`
    /// with string and number comparisons, `true`/`false`; file tests are false (no such files
    /// are looked at); anything else is `None` (unknown).
    fn eval(&self, c: &Cmd) -> Option<bool> {
        let words: Vec<String> = self.args(c).into_iter().skip(1).map(|(w, _)| w).collect();
        let (neg, words) = match words.split_first() {
            Some((f, rest)) if f == "!" => (true, rest),
            _ => (false, words.as_slice()),
        };
        let r = match words.split_first() {
            Some((f, rest)) if f == "[" => match rest.split_last() {
                Some((l, inner)) if l == "]" => test(inner),
                _ => None,
            },
            Some((f, rest)) if f == "test" => test(rest),
            Some((f, _)) if f == "true" => Some(true),
            Some((f, _)) if f == "false" => Some(false),
            _ => None,
        };
        r.map(|b| b != neg)
    }

    fn set(&mut self, name: &str, value: &str) {
        let mut v = String::from(value);
        if v.len() > MAX_VALUE {
            let mut cut = MAX_VALUE;
            while !v.is_char_boundary(cut) {
                cut = cut.saturating_sub(1);
            }
            v.truncate(cut);
        }
        if let Some(slot) = self.env.iter_mut().find(|(k, _)| k == name) {
            slot.1 = v;
        } else if self.env.len() < MAX_VARS {
            self.env.push((String::from(name), v));
        }
    }

    fn expand(&self, w: &Word) -> String {
        let mut s = String::new();
        for seg in &w.segs {
            match seg {
                Seg::Lit(l) => s.push_str(l),
                Seg::Var(v) => s.push_str(self.get(v)),
            }
            if s.len() > MAX_VALUE {
                break;
            }
        }
        s
    }

    /// Words after expansion; unquoted words that expand to nothing vanish, as in GRUB.
    fn args(&self, c: &Cmd) -> Vec<(String, u32)> {
        c.words
            .iter()
            .filter_map(|w| {
                let s = self.expand(w);
                (w.quoted || !s.is_empty()).then_some((s, w.col))
            })
            .collect()
    }

    fn exec(&mut self, nodes: &[Node], mut entry: Option<&mut Entry>, sub: Option<&mut usize>) {
        let mut sub = sub;
        for node in nodes {
            match node {
                Node::Skipped(what, l, c) => self.d.note(*l, *c, DiagKind::SkippedBlock(String::from(*what))),
                Node::If { line, col, branches } => {
                    for (cond, body) in branches {
                        let take = match cond {
                            None => true,
                            Some(c) => match self.eval(c) {
                                Some(t) => t,
                                None => {
                                    self.d.note(
                                        c.line,
                                        c.col,
                                        DiagKind::Other(alloc::format!(
                                            "condition '{}' not evaluated, assumed true",
                                            self.args(c).get(1).map(|(w, _)| w.as_str()).unwrap_or("")
                                        )),
                                    );
                                    true
                                }
                            },
                        };
                        if take {
                            self.exec(body, entry.as_deref_mut(), sub.as_deref_mut());
                            break;
                        }
                    }
                    let _ = (line, col);
                }
                Node::Block(head, body) => {
                    let name = head.head().unwrap_or("");
                    match (name, entry.is_some()) {
                        ("menuentry", false) => self.menuentry(head, body, sub.as_deref_mut()),
                        ("submenu", false) if sub.is_none() => {
                            let saved = self.env.clone();
                            let mut n = 0usize;
                            self.exec(body, None, Some(&mut n));
                            self.env = saved;
                            self.top = self.top.saturating_add(1);
                        }
                        _ => self.d.note(head.line, head.col, DiagKind::SkippedBlock(String::from(name))),
                    }
                }
                Node::Cmd(c) => match entry.as_deref_mut() {
                    Some(e) => self.entry_cmd(e, c),
                    None => self.top_cmd(c),
                },
            }
        }
    }

    fn assign(&mut self, words: &[(String, u32)], line: u32) {
        for (w, col) in words {
            match w.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    self.setting(k, v, line, *col);
                    // GRUB's write hook on `root` drops the parentheses: `($root)/x` works
                    // after both `set root=(hd0,1)` and `set root='hd0,msdos1'`.
                    let v = if k == "root" {
                        v.strip_prefix('(').and_then(|x| x.strip_suffix(')')).unwrap_or(v)
                    } else {
                        v
                    };
                    self.set(k, v);
                }
                _ => {}
            }
        }
    }

    fn setting(&mut self, key: &str, value: &str, line: u32, col: u32) {
        match key {
            "timeout" => {
                let v = value.trim();
                if v.starts_with('-') {
                    self.menu.timeout = None;
                } else if let Some(t) = super::small_number(v).and_then(|t| u32::try_from(t).ok()) {
                    self.menu.timeout = Some(t);
                } else {
                    self.d.error(line, col, DiagKind::BadNumber(String::from("timeout"), String::from(v)));
                }
            }
            "timeout_style" => self.menu.hidden = value == "hidden" || value == "countdown",
            "default" => self.set_default_line(line),
            _ => {}
        }
    }

    fn set_default_line(&mut self, line: u32) {
        // Resolved at the end, from the variable, when all entries are known.
        self.set("\u{1}default_line", &alloc::format!("{line}"));
    }

    fn top_cmd(&mut self, c: &Cmd) {
        let head = c.head().unwrap_or("");
        let words = self.args(c);
        match head {
            "set" => self.assign(words.get(1..).unwrap_or(&[]), c.line),
            "menuentry" | "submenu" => self.d.error(c.line, c.col, DiagKind::Syntax("expected '{' after the title")),
            "chainloader" | "configfile" => self.d.error(c.line, c.col, DiagKind::Unsupported(String::from(head))),
            _ if is_assignment(c) => self.assign(&words, c.line),
            "linux" | "linux16" | "initrd" | "initrd16" | "multiboot" | "multiboot2" | "module" | "module2"
            | "knetbsd" => self.d.error(c.line, c.col, DiagKind::OutsideEntry(String::from(head))),
            _ => self.d.note(c.line, c.col, DiagKind::Ignored(self.name_of(c))),
        }
    }

    fn name_of(&self, c: &Cmd) -> String {
        c.words.first().map(|w| self.expand(w)).unwrap_or_default()
    }

    fn menuentry(&mut self, head: &Cmd, body: &[Node], sub: Option<&mut usize>) {
        let words = self.args(head);
        let mut title: Option<String> = None;
        let mut id: Option<String> = None;
        let mut it = words.iter().skip(1);
        while let Some((w, col)) = it.next() {
            if let Some(opt) = w.strip_prefix("--") {
                let (name, inline) = match opt.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (opt, None),
                };
                let takes_value = matches!(name, "class" | "users" | "hotkey" | "id");
                let value = match (inline, takes_value) {
                    (Some(v), _) => Some(String::from(v)),
                    (None, true) => it.next().map(|(v, _)| v.clone()),
                    (None, false) => None,
                };
                match name {
                    "id" => id = value,
                    "users" => self.d.note(head.line, *col, DiagKind::Unsupported(String::from("menuentry --users"))),
                    "class" | "hotkey" | "unrestricted" => {}
                    _ => self.d.note(head.line, *col, DiagKind::Ignored(alloc::format!("--{name}"))),
                }
            } else if title.is_none() {
                title = Some(w.clone());
            } else if id.is_none() {
                // `$menuentry_id_option 'gnulinux-…'` with the option variable unset.
                id = Some(w.clone());
            }
        }
        let (top, subi) = match sub {
            Some(n) => {
                let cur = *n;
                *n = n.saturating_add(1);
                (self.top, Some(cur))
            }
            None => {
                let t = self.top;
                self.top = self.top.saturating_add(1);
                (t, None)
            }
        };
        if self.menu.entries.len() >= MAX_ENTRIES {
            if !self.dropped {
                self.dropped = true;
                self.d.warn(head.line, head.col, DiagKind::TooMany("entries", MAX_ENTRIES));
            }
            return;
        }
        let mut e = Entry::new(title.unwrap_or_default(), head.line);
        // `root` is a global variable in GRUB 2: a top-level `set root=` holds for the entries.
        e.root = grub2_device(self.get("root"));
        let saved = self.env.clone();
        self.exec(body, Some(&mut e), None);
        self.env = saved;
        self.menu.entries.push(e);
        self.slots.push(Slot { top, sub: subi, id });
    }

    fn entry_cmd(&mut self, e: &mut Entry, c: &Cmd) {
        let head = c.head().unwrap_or("");
        let words = self.args(c);
        let rest = words.get(1..).unwrap_or(&[]);
        let (line, col) = (c.line, c.col);
        let joined = |ws: &[(String, u32)]| -> String {
            let mut s = String::new();
            for (w, _) in ws {
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str(w);
                if s.len() > MAX_VALUE {
                    break;
                }
            }
            s
        };
        match head {
            "set" => {
                for (w, wcol) in rest {
                    if let Some(("root", v)) = w.split_once('=') {
                        match grub2_device(v) {
                            Some(dev) => e.root = Some(dev),
                            None => self.d.error(line, *wcol, DiagKind::BadDevice(String::from(v))),
                        }
                    }
                }
                self.assign(rest, line);
            }
            "linux" | "linux16" | "multiboot" | "multiboot2" | "knetbsd" => {
                let Some((path, pcol)) = rest.first() else {
                    self.d.error(line, col, DiagKind::MissingArgument(String::from(head)));
                    return;
                };
                if e.kernel.is_some() {
                    self.d.warn(line, col, DiagKind::DuplicateKernel);
                    return;
                }
                match grub2_file(path) {
                    Ok(file) => {
                        if head == "knetbsd" || super::looks_netbsd(&file.path) {
                            e.os = OsHint::NetBsd;
                        }
                        e.kernel =
                            Some(Kernel { file, args: joined(rest.get(1..).unwrap_or(&[])), alternatives: Vec::new() });
                    }
                    Err(k) => self.d.error(line, *pcol, k),
                }
            }
            "initrd" | "initrd16" => {
                if rest.is_empty() {
                    self.d.error(line, col, DiagKind::MissingArgument(String::from(head)));
                }
                for (path, pcol) in rest {
                    match grub2_file(path) {
                        Ok(file) => e.add_module(
                            Module { kind: ModuleKind::Initrd, file, args: String::new() },
                            &mut self.d,
                            line,
                            col,
                        ),
                        Err(k) => self.d.error(line, *pcol, k),
                    }
                }
            }
            "module" | "module2" | "knetbsd_module" | "knetbsd_module_elf" => {
                let mut kind = ModuleKind::Module;
                let mut ws = rest;
                while let Some(((w, _), more)) = ws.split_first() {
                    if w == "--nounzip" {
                        kind = ModuleKind::ModuleNoUnzip;
                    } else if !w.starts_with("--") {
                        break;
                    }
                    ws = more;
                }
                let Some(((path, pcol), args)) = ws.split_first() else {
                    self.d.error(line, col, DiagKind::MissingArgument(String::from(head)));
                    return;
                };
                match grub2_file(path) {
                    Ok(file) => e.add_module(Module { kind, file, args: joined(args) }, &mut self.d, line, col),
                    Err(k) => self.d.error(line, *pcol, k),
                }
            }
            "chainloader" | "configfile" => self.d.error(line, col, DiagKind::Unsupported(String::from(head))),
            _ if is_assignment(c) => {
                let words = self.args(c);
                self.assign(&words, line);
            }
            _ => self.d.note(line, col, DiagKind::Ignored(self.name_of(c))),
        }
    }

    /// `set default=`: a number (top-level item), `N>M`, a title or an id.
    fn resolve_default(&mut self) -> Option<(u64, String)> {
        let raw = String::from(self.get("default"));
        let line: u32 = self.get("\u{1}default_line").parse().unwrap_or(0);
        if line == 0 {
            return None;
        }
        let v = raw.trim();
        if v.is_empty() {
            self.d.warn(line, 0, DiagKind::SavedDefault);
            return None;
        }
        let mut parts = v.split('>');
        let first = parts.next().unwrap_or("");
        let second = parts.next();
        let found = if let Some(top) = super::small_number(first).and_then(|t| usize::try_from(t).ok()) {
            let sub = match second.map(super::small_number) {
                Some(Some(s)) => usize::try_from(s).ok(),
                Some(None) => None,
                None => None,
            };
            self.slots.iter().position(|s| s.top == top && (s.sub == sub || (sub.is_none() && s.sub == Some(0))))
        } else {
            let last = v.rsplit('>').next().unwrap_or(v);
            self.slots
                .iter()
                .zip(self.menu.entries.iter())
                .position(|(s, e)| s.id.as_deref() == Some(last) || e.title == last)
        };
        match found {
            Some(i) => Some((u64::try_from(i).unwrap_or(u64::MAX), raw)),
            None => {
                if !self.menu.entries.is_empty() {
                    self.d.warn(line, 0, DiagKind::DefaultOutOfRange(raw, self.menu.entries.len()));
                }
                None
            }
        }
    }
}

/// GRUB's `test` on already expanded words.
fn test(a: &[String]) -> Option<bool> {
    let num = |s: &str| s.trim().parse::<i64>().ok();
    match a {
        [] => Some(false),
        [x] => Some(!x.is_empty()),
        [op, x] if op == "-z" => Some(x.is_empty()),
        [op, x] if op == "-n" => Some(!x.is_empty()),
        [op, _] if matches!(op.as_str(), "-e" | "-f" | "-d" | "-s") => Some(false),
        [n, rest @ ..] if n == "!" => test(rest).map(|b| !b),
        [x, op, y] => match op.as_str() {
            "=" | "==" => Some(x == y),
            "!=" => Some(x != y),
            "-eq" => Some(num(x)? == num(y)?),
            "-ne" => Some(num(x)? != num(y)?),
            "-lt" => Some(num(x)? < num(y)?),
            "-le" => Some(num(x)? <= num(y)?),
            "-gt" => Some(num(x)? > num(y)?),
            "-ge" => Some(num(x)? >= num(y)?),
            _ => None,
        },
        _ => None,
    }
}

/// `name=value` as a command of its own.
fn is_assignment(c: &Cmd) -> bool {
    match c.words.first().and_then(|w| w.segs.first()) {
        Some(Seg::Lit(s)) => match s.split_once('=') {
            Some((k, _)) => {
                !k.is_empty()
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !k.as_bytes().first().map(u8::is_ascii_digit).unwrap_or(true)
            }
            None => false,
        },
        _ => false,
    }
}

/// A GRUB 2 device (`hd0,msdos1`, `(hd0,gpt2)`, `hd0`, `xen/xvda,1`, `hd0,msdos1,bsd1`) as a
/// GRUB-legacy [`Device`]: partitions count from 1 in GRUB 2 (a bare `(hd0,1)` too) and from 0
/// in GRUB legacy and rpvboot.
pub fn grub2_device(s: &str) -> Option<Device> {
    let s = s.trim();
    let s = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')).unwrap_or(s);
    let mut parts = s.split(',');
    let disk_s = parts.next()?;
    let disk = if let Some(n) = disk_s.strip_prefix("hd") {
        u32::try_from(super::small_number(n)?).ok()?
    } else if let Some(x) = disk_s.strip_prefix("xen/xvd").or_else(|| disk_s.strip_prefix("xvd")) {
        let mut ch = x.chars();
        let c = ch.next()?;
        if ch.next().is_some() || !c.is_ascii_lowercase() {
            return None;
        }
        u32::from(c).checked_sub(u32::from('a'))?
    } else {
        return None;
    };
    let mut spec = DeviceSpec { disk, part: None, letter: None };
    if let Some(p) = parts.next() {
        let n = p.strip_prefix("gpt").or_else(|| p.strip_prefix("msdos")).unwrap_or(p);
        spec.part = Some(u32::try_from(super::small_number(n)?).ok()?.checked_sub(1)?);
    }
    if let Some(b) = parts.next() {
        let n = super::small_number(b.strip_prefix("bsd")?)?;
        let letter = u8::try_from(n).ok().filter(|&n| (1..=16).contains(&n))?;
        spec.letter = Some(char::from(b'a'.saturating_add(letter.saturating_sub(1))));
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Device::from_spec(spec))
}

/// `(hd0,msdos1)/boot/vmlinuz` or `/boot/vmlinuz`.
fn grub2_file(s: &str) -> Result<FileRef, DiagKind> {
    if let Some(rest) = s.strip_prefix('(') {
        let Some((dev, path)) = rest.split_once(')') else {
            return Err(DiagKind::BadDevice(String::from(s)));
        };
        let device = grub2_device(dev).ok_or_else(|| DiagKind::BadDevice(alloc::format!("({dev})")))?;
        if !path.starts_with('/') || path.len() < 2 {
            return Err(DiagKind::BadPath(String::from(s)));
        }
        return Ok(FileRef { device: Some(device), path: String::from(path) });
    }
    if !s.starts_with('/') {
        return Err(DiagKind::BadPath(String::from(s)));
    }
    Ok(FileRef { device: None, path: String::from(s) })
}

/// Parses `grub.cfg` text into a [`Menu`].
pub(crate) fn parse(bytes: &[u8], mut d: Diags) -> Menu {
    let text = String::from_utf8_lossy(bytes);
    if matches!(text, alloc::borrow::Cow::Owned(_)) {
        d.warn(0, 0, DiagKind::InvalidUtf8);
    }
    let cmds = tokenize(&text, &mut d);
    let items = items(cmds);
    let mut i = 0usize;
    let mut nodes = Vec::new();
    while i < items.len() {
        let (mut n, end) = tree(&items, &mut i, 0, false, &["fi", "done", "then", "elif", "else"], &mut d);
        nodes.append(&mut n);
        if let Some(kw) = end {
            let (l, c) = match items.get(i.saturating_sub(1)) {
                Some(Item::Cmd(c)) => (c.line, c.col),
                _ => (0, 0),
            };
            d.error(l, c, DiagKind::Other(alloc::format!("'{kw}' without a matching 'if'/loop")));
        }
    }
    let mut run =
        Run { menu: Menu::empty(Format::GrubCfg), d, env: Vec::new(), slots: Vec::new(), top: 0, dropped: false };
    run.exec(&nodes, None, None);
    let default = run.resolve_default();
    let Run { mut menu, mut d, .. } = run;
    menu.finish(default, 0, &[], &mut d);
    menu
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse as parse_any, Severity};

    fn p(s: &str) -> Menu {
        parse_any(Format::GrubCfg, s.as_bytes(), "grub.cfg")
    }

    /// The shape grub-mkconfig 2.06 writes on Debian 12 (abridged but verbatim in syntax).
    const DEBIAN12: &str = r#"#
# DO NOT EDIT THIS FILE
#
# It is automatically generated by grub-mkconfig using templates
# from /etc/grub.d and settings from /etc/default/grub
#

### BEGIN /etc/grub.d/00_header ###
if [ -s $prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="0"
fi

if [ x"${feature_menuentry_id}" = xy ]; then
  menuentry_id_option="--id"
else
  menuentry_id_option=""
fi

export menuentry_id_option

function savedefault {
  if [ -z "${boot_once}" ]; then
    saved_entry="${chosen}"
    save_env saved_entry
  fi
}
function load_video {
  if [ x$feature_all_video_module = xy ]; then
    insmod all_video
  else
    insmod efi_gop
  fi
}

terminal_output console
if [ x$feature_timeout_style = xy ] ; then
  set timeout_style=menu
  set timeout=5
# Fallback normal timeout code in case the timeout_style feature is
# unavailable.
else
  set timeout=5
fi
### END /etc/grub.d/00_header ###

### BEGIN /etc/grub.d/10_linux ###
function gfxmode {
	set gfxpayload="${1}"
}
set linux_gfx_mode=
export linux_gfx_mode
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-4c1f5e3a-2b9d-4a55-9a83-3f4a1c2d9e10' {
	load_video
	insmod gzio
	if [ x$grub_platform = xxen ]; then insmod xzio; insmod lzopio; fi
	insmod part_msdos
	insmod ext2
	set root='hd0,msdos1'
	if [ x$feature_platform_search_hint = xy ]; then
	  search --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos1 --hint-efi=hd0,msdos1 --hint-baremetal=ahci0,msdos1  4c1f5e3a-2b9d-4a55-9a83-3f4a1c2d9e10
	else
	  search --no-floppy --fs-uuid --set=root 4c1f5e3a-2b9d-4a55-9a83-3f4a1c2d9e10
	fi
	echo	'Loading Linux 6.1.0-18-amd64 ...'
	linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=4c1f5e3a-2b9d-4a55-9a83-3f4a1c2d9e10 ro  console=hvc0 quiet
	echo	'Loading initial ramdisk ...'
	initrd	/boot/initrd.img-6.1.0-18-amd64
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-4c1f5e3a-2b9d-4a55-9a83-3f4a1c2d9e10' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-18-amd64' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-6.1.0-18-amd64-advanced-4c1f5e3a' {
		set root='hd0,msdos1'
		linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=4c1f5e3a-2b9d-4a55-9a83-3f4a1c2d9e10 ro  console=hvc0 quiet
		initrd	/boot/initrd.img-6.1.0-18-amd64
	}
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode)' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-6.1.0-18-amd64-recovery-4c1f5e3a' {
		set root='hd0,msdos1'
		linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID=4c1f5e3a-2b9d-4a55-9a83-3f4a1c2d9e10 ro single console=hvc0
		initrd	/boot/initrd.img-6.1.0-18-amd64
	}
}

### END /etc/grub.d/10_linux ###
"#;

    #[test]
    fn debian12() {
        let m = p(DEBIAN12);
        let bad: Vec<_> = m.diagnostics.iter().filter(|d| d.severity != Severity::Note).collect();
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(m.entries.len(), 3);
        assert_eq!(m.timeout, Some(5));
        assert_eq!(m.default, 0);
        assert!(!m.hidden);
        let e = &m.entries[0];
        assert_eq!(e.title, "Debian GNU/Linux");
        assert_eq!(e.root.as_ref().unwrap().as_str(), "(hd0,0)");
        let k = e.kernel.as_ref().unwrap();
        assert_eq!(k.file.path, "/boot/vmlinuz-6.1.0-18-amd64");
        assert_eq!(k.args, "root=UUID=4c1f5e3a-2b9d-4a55-9a83-3f4a1c2d9e10 ro console=hvc0 quiet");
        assert_eq!(e.modules[0].file.path, "/boot/initrd.img-6.1.0-18-amd64");
        assert_eq!(m.entries[2].title, "Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode)");
        assert_eq!(
            m.entries[2].kernel.as_ref().unwrap().args,
            "root=UUID=4c1f5e3a-2b9d-4a55-9a83-3f4a1c2d9e10 ro single console=hvc0"
        );
        // Every skipped command is noted with its line: `insmod gzio` is on line 63.
        assert!(m.diagnostics.iter().any(|d| d.line == 63 && d.kind == DiagKind::Ignored("insmod".into())));
    }

    /// Ubuntu 22.04's header: hidden menu with timeout 0, chosen through `if`/`elif` chains
    /// that only a condition evaluator gets right.
    #[test]
    fn ubuntu_hidden_timeout_and_conditions() {
        let s = r#"if [ -s $prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "${initrdfail}" = 2 ]; then
   set initrdfail=
elif [ "${initrdfail}" = 1 ]; then
   set next_entry="${prev_entry}"
   set prev_entry=
   save_env prev_entry
   if [ "${next_entry}" ]; then
      set initrdfail=2
   fi
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="${saved_entry}"
fi
function recordfail {
  set recordfail=1
  if [ -n "${have_grubenv}" ]; then if [ -z "${boot_once}" ]; then save_env recordfail; fi; fi
}
if [ "${recordfail}" = 1 ] ; then
  set timeout=30
else
  if [ x$feature_timeout_style = xy ] ; then
    set timeout_style=hidden
    set timeout=0
  # Fallback hidden-timeout code in case the timeout_style feature is
  # unavailable.
  elif sleep --interruptible 0 ; then
    set timeout=0
  fi
fi
menuentry 'Ubuntu' --class ubuntu --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-0a1b' {
	recordfail
	load_video
	gfxmode $linux_gfx_mode
	insmod gzio
	if [ x$grub_platform = xxen ]; then insmod xzio; insmod lzopio; fi
	insmod part_gpt
	insmod ext2
	set root='hd0,gpt1'
	linux	/boot/vmlinuz-5.15.0-91-generic root=PARTUUID=0a1b ro console=tty1 console=ttyS0 console=hvc0
	initrd	/boot/initrd.img-5.15.0-91-generic
}
if test 3 -gt 2; then set x=1; else menuentry 'never' { linux /never }; fi
if [ ! -z "x" ]; then menuentry 'shown' { linux /shown }; fi
"#;
        let m = p(s);
        assert_eq!(m.timeout, Some(0));
        assert!(m.hidden);
        assert_eq!(m.default, 0);
        let titles: Vec<_> = m.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["Ubuntu", "shown"]);
        assert_eq!(m.entries[0].root.as_ref().unwrap().as_str(), "(hd0,0)");
        // `default="${saved_entry}"` with nothing saved, and nothing worse than notes.
        let warn: Vec<_> = m.diagnostics.iter().filter(|d| d.severity != Severity::Note).collect();
        assert_eq!(warn.len(), 1, "{warn:?}");
        assert_eq!((warn[0].line, &warn[0].kind), (21, &DiagKind::SavedDefault));
    }

    #[test]
    fn default_forms() {
        let base = "menuentry 'A' { linux /a }\nsubmenu 'S' {\n menuentry 'B' --id b-id { linux /b }\n menuentry \"C\" { linux /c }\n}\nmenuentry 'D' { linux /d }\n";
        for (def, want) in [("0", 0), ("1", 1), ("1>1", 2), ("2", 3), ("b-id", 1), ("S>C", 2), ("D", 3)] {
            let m = p(&alloc::format!("set default=\"{def}\"\n{base}"));
            assert_eq!(m.default, want, "{def}: {:?}", m.diagnostics);
            assert!(m.diagnostics.is_empty(), "{def}: {:?}", m.diagnostics);
        }
        let m = p(&alloc::format!("set default=7\n{base}"));
        assert_eq!(m.diagnostics[0].kind, DiagKind::DefaultOutOfRange("7".into(), 4));
        assert_eq!(m.diagnostics[0].line, 1);
    }

    #[test]
    fn quoting_devices_and_modules() {
        let s = "set timeout=-1\nset timeout_style=hidden\nset root=(hd0,gpt2)\nmenuentry \"Xen \\\"test\\\"\" --unrestricted {\n  set root=(hd1,msdos5)\n  multiboot ($root)/boot/xen.gz dom0_mem=512M\n  module --nounzip /boot/initrd arg='a b'\n  module2 (xen/xvdb,1)/m\n}\nmenuentry 'NetBSD' {\n  set root=hd0,msdos1,bsd1\n  knetbsd /netbsd -s\n}\nmenuentry 'Sub' { linux /k ; initrd /i1 /i2 }\n";
        let m = p(s);
        assert!(m.diagnostics.is_empty(), "{:?}", m.diagnostics);
        assert_eq!(m.timeout, None);
        assert!(m.hidden);
        let e = &m.entries[0];
        assert_eq!(e.title, "Xen \"test\"");
        assert_eq!(e.root.as_ref().unwrap().as_str(), "(hd1,4)");
        let k = e.kernel.as_ref().unwrap();
        assert_eq!(k.file.device.as_ref().unwrap().as_str(), "(hd1,4)");
        assert_eq!(e.modules[0].kind, ModuleKind::ModuleNoUnzip);
        assert_eq!(e.modules[0].args, "arg=a b");
        assert_eq!(e.modules[1].file.device.as_ref().unwrap().as_str(), "(hd1,0)");
        let n = &m.entries[1];
        assert_eq!(n.root.as_ref().unwrap().as_str(), "(hd0,0,a)");
        assert_eq!(n.os, OsHint::NetBsd);
        assert_eq!(m.plan(1, None, None, false).unwrap().cmdline, "-s bootdev=xbd0a");
        assert_eq!(m.entries[2].modules.len(), 2);
    }

    #[test]
    fn top_level_root_is_inherited() {
        let m = p("set root='hd0,msdos2'\nmenuentry 'a' { linux /a }\nmenuentry 'b' { set root=(hd1) ; linux /b }\n");
        assert_eq!(m.entries[0].root.as_ref().unwrap().as_str(), "(hd0,1)");
        assert_eq!(m.entries[1].root.as_ref().unwrap().as_str(), "(hd1)");
        assert!(m.diagnostics.is_empty(), "{:?}", m.diagnostics);
    }

    #[test]
    fn devices() {
        let g = |s| grub2_device(s).map(|d| String::from(d.as_str()));
        assert_eq!(g("hd0,msdos1").as_deref(), Some("(hd0,0)"));
        assert_eq!(g("(hd0,1)").as_deref(), Some("(hd0,0)"));
        assert_eq!(g("hd2").as_deref(), Some("(hd2)"));
        assert_eq!(g("hd0,gpt3").as_deref(), Some("(hd0,2)"));
        assert_eq!(g("xen/xvdc,msdos2").as_deref(), Some("(hd2,1)"));
        assert_eq!(g("hd0,msdos0"), None);
        assert_eq!(g("hd0,gpt0"), None);
        assert_eq!(g("cd0"), None);
        assert_eq!(g("hd0,1,bsd99"), None);
    }

    #[test]
    fn problems_are_reported_and_rest_parses() {
        let s = "linux /early\nmenuentry 'no brace'\nmenuentry 'A' {\n  linux vmlinuz\n  chainloader +1\n}\n}\nfi\nmenuentry 'B' {\n  set root=floppy\n  linux /b 'unterminated\n}\n";
        let m = p(s);
        let got: Vec<_> = m.diagnostics.iter().map(|d| (d.line, d.kind.clone())).collect();
        assert_eq!(
            got,
            alloc::vec![
                (1, DiagKind::OutsideEntry("linux".into())),
                (2, DiagKind::Syntax("expected '{' after the title")),
                (3, DiagKind::NoKernel("A".into())),
                (4, DiagKind::BadPath("vmlinuz".into())),
                (5, DiagKind::Unsupported("chainloader".into())),
                (7, DiagKind::UnbalancedBrace),
                (8, DiagKind::Other("'fi' without a matching 'if'/loop".into())),
                (10, DiagKind::BadDevice("floppy".into())),
                (11, DiagKind::UnterminatedQuote),
            ]
        );
        assert_eq!(m.entries.len(), 2);
    }
}
