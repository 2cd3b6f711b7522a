//! A GRUB 2 `grub.cfg` subset: what grub-mkconfig writes for a PV domU, and hand-written menus.
//!
//! Understood: `set default=` (a number, `N>M` into a submenu, a title or an `--id`),
//! `set timeout=` / `timeout_style=`, `menuentry 'title' [--options] { … }` with `set root=`,
//! `linux`/`linux16`, `initrd`/`initrd16` (several files), `multiboot`/`multiboot2` with
//! `module`/`module2`, `knetbsd` with `knetbsd_module`; `submenu` bodies are flattened into the
//! entry list. Shell syntax follows the GRUB manual's "Shell-like scripting": `'…'`, `"…"`,
//! `\`, `$var`/`${var}`, `#` comments, `;` and newlines. `if`/`elif`/`else` conditions are
//! evaluated as GRUB 2 running on Xen would (`[ … ]`/`test` on strings and numbers; every
//! `feature_*` is `y`, `grub_platform` is `xen`; any other command is assumed to succeed, with a
//! note), so grub-mkconfig's `if [ "${next_entry}" ]` and `if [ x$feature_timeout_style = xy ]`
//! pick the branch a real GRUB picks.
//!
//! When the file is read from a disk ([`parse_on`] with a [`Host`]), the commands generated files
//! rely on look at the domU's disks as GRUB would: `$root`/`$prefix` start as the file's device
//! and directory; `[ -e|-f|-d|-s FILE ]` test the real files; `load_env [-f FILE] [VAR…]` reads a
//! GRUB environment block (grubenv); `search --fs-uuid|--label|--file [--set[=VAR]] [--hint…]`
//! looks over every partition (hints first); `source`/`.` run another file in the same context
//! and `configfile` replaces the menu with another file's; `function NAME { … }` defines a
//! function that later commands call with `$1`…, `$#`, `$@`; `blscfg` (Fedora/RHEL) adds the
//! BootLoaderSpec entries of the disk ([`crate::bls`], docs/bls.md). `next_entry` (a one-shot set by
//! `grub-reboot`) is honoured only when it can be cleared as GRUB clears it: `load_env` asks the
//! host where the block lies on the disk ([`Host::env_place`]) and `save_env next_entry` edits it
//! ([`crate::envblk`]) into [`Menu::env_write`], which the loader writes before the handover;
//! otherwise (`rpvboot.nowrite`, a read-only disk, a block not at one place) a warning says why and
//! the saved default boots, which is what GRUB itself boots on the boot after. Depths and sizes are bounded ([`MAX_CALL_DEPTH`],
//! [`MAX_INCLUDE_DEPTH`], [`MAX_FUNCTIONS`], [`MAX_ENV_BYTES`]). Loops are noted and skipped. GRUB 2 devices (`hd0,msdos1`, `hd0,gpt2`, `xen/xvda,1`) count partitions from 1;
//! they become GRUB-legacy names (`(hd0,0)`, `(hd0,gpt2)`).

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use super::device::{Device, DeviceSpec};
use super::envblk::{self, EnvPlace, EnvWrite};
use super::error::{DiagKind, Diags};
use super::{Entry, FileRef, Format, Kernel, Menu, Module, ModuleKind, OsHint, MAX_ENTRIES};

/// Deepest nesting of blocks followed; deeper blocks are skipped.
const MAX_DEPTH: u32 = 16;
/// Deepest nesting of function calls (GRUB has no limit; a hostile file could recurse).
pub const MAX_CALL_DEPTH: usize = 8;
/// Deepest nesting of `source`/`configfile`.
pub const MAX_INCLUDE_DEPTH: usize = 4;
/// Most files `source`/`configfile` read in one run.
const MAX_INCLUDES: usize = 16;
/// Most disk look-ups (`[ -e ]`-style tests, one per partition tried by `search`) in one run:
/// a file of many thousand `search` lines must not keep the boot reading for minutes.
const MAX_LOOKUPS: usize = 2048;
/// Most function calls in one run (calls inside calls multiply).
const MAX_CALLS: usize = 4096;
/// Commands rpvboot interprets itself: GRUB looks commands up before functions, so a function
/// with one of these names is never called.
const SHADOWING: &[&str] = &[
    "set",
    "linux",
    "linux16",
    "initrd",
    "initrd16",
    "multiboot",
    "multiboot2",
    "module",
    "module2",
    "knetbsd",
    "knetbsd_module",
    "knetbsd_module_elf",
    "menuentry",
    "submenu",
    "function",
    "chainloader",
    "configfile",
    "source",
    ".",
    "load_env",
    "save_env",
    "blscfg",
    "bls_import",
    "search",
    "insmod",
    "echo",
    "export",
    "[",
    "test",
];
/// Most functions kept.
pub const MAX_FUNCTIONS: usize = 64;
/// Largest environment block read (GRUB's own is 1024 bytes).
pub const MAX_ENV_BYTES: usize = 64 * 1024;
/// The first line of a GRUB environment block (grub-core/lib/envblk.c, `GRUB_ENVBLK_SIGNATURE`).
pub(crate) const ENVBLK_SIGNATURE: &str = "# GRUB Environment Block\n";

/// What GRUB 2 script commands may look at on the domU's disks while a `grub.cfg` runs.
pub trait Host {
    /// What is at `path` on `dev`: `Some((is_directory, size))`, `None` when nothing.
    fn stat(&mut self, dev: &Device, path: &str) -> Option<(bool, u64)>;
    /// The file's bytes, at most `limit`; `None` when it cannot be read.
    fn read(&mut self, dev: &Device, path: &str, limit: usize) -> Option<Vec<u8>>;
    /// Every partition with a filesystem, in the search order.
    fn devices(&mut self) -> Vec<Device>;
    /// The filesystem's UUID and label.
    fn fs_ids(&mut self, dev: &Device) -> (Option<String>, Option<String>);
    /// The names in directory `path` (at most `max`), `None` when it is not a readable
    /// directory (`blscfg` lists the BootLoaderSpec entries).
    fn list(&mut self, _dev: &Device, _path: &str, _max: usize) -> Option<Vec<String>> {
        None
    }

    /// Where the environment block `path` on `dev` could be rewritten in place and its bytes
    /// there, or why it cannot (see `Volumes::env_place`). No disks: never.
    fn env_place(&mut self, dev: &Device, path: &str) -> Result<(EnvPlace, Vec<u8>), String> {
        let _ = (dev, path);
        Err(String::from("no disk to write to"))
    }
}

/// No disks: a file checked by itself (`rpvboot-inspect menu --file`, fuzzing). File tests are
/// false and nothing is found.
pub struct NoHost;

impl Host for NoHost {
    fn stat(&mut self, _: &Device, _: &str) -> Option<(bool, u64)> {
        None
    }
    fn read(&mut self, _: &Device, _: &str, _: usize) -> Option<Vec<u8>> {
        None
    }
    fn devices(&mut self) -> Vec<Device> {
        Vec::new()
    }
    fn fs_ids(&mut self, _: &Device) -> (Option<String>, Option<String>) {
        (None, None)
    }
}
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
            // `submenu "title"{`: GRUB's lexer ends the quoted word at the brace.
            '{' if cur.as_ref().is_some_and(|w| w.quoted) => {
                end_word!();
                lit(start!(i), c);
                end_word!();
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

/// A `submenu` in GRUB 2's top-level numbering, for `default` paths naming it.
struct SubmenuSlot {
    top: usize,
    title: String,
    id: Option<String>,
}

/// The positional parameters of a function call: `$1`…, `$#`, `$@`/`$*`.
struct Frame {
    args: Vec<String>,
    count: String,
    all: String,
}

struct Run<'h> {
    menu: Menu,
    d: Diags,
    env: Vec<(String, String)>,
    slots: Vec<Slot>,
    submenus: Vec<SubmenuSlot>,
    top: usize,
    dropped: bool,
    host: &'h mut dyn Host,
    funcs: Vec<(String, Rc<Vec<Node>>)>,
    frames: Vec<Frame>,
    calls: usize,
    lookups: usize,
    includes: usize,
    include_depth: usize,
    /// Set by `configfile`: the rest of the including file is not run.
    stop: bool,
    /// An environment block was read (an empty `default` is then GRUB's entry 0, not an error).
    env_loaded: bool,
    /// The environment block whose `next_entry` one-shot was honoured, and its block as
    /// `save_env` has edited it so far.
    one_shot: Option<OneShot>,
}

/// A `next_entry` honoured by `load_env`: the block it came from and where it lies, so that
/// `save_env next_entry` can clear it (and nothing else can be written).
struct OneShot {
    dev: Device,
    path: String,
    place: EnvPlace,
    old: Vec<u8>,
    new: Vec<u8>,
    value: String,
    /// `FILE:LINE` of the `save_env` that edited it; `None` until one did.
    saved_at: Option<String>,
}

impl Run<'_> {
    /// A variable; unset ones are empty, except what GRUB 2 itself sets on Xen: every
    /// `feature_*` flag is `y` (a current GRUB has them all) and `grub_platform` is `xen`.
    /// Inside a function, `$1`…, `$#`, `$@` and `$*` are its arguments.
    fn get(&self, name: &str) -> &str {
        if let Some(f) = self.frames.last() {
            match name {
                "#" => return &f.count,
                "@" | "*" => return &f.all,
                _ if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) => {
                    let n: usize = name.parse().unwrap_or(usize::MAX);
                    return n.checked_sub(1).and_then(|i| f.args.get(i)).map_or("", String::as_str);
                }
                _ => {}
            }
        }
        self.get_set(name).unwrap_or("")
    }

    /// A variable as `grub_env_get` returns it: `None` when unset.
    fn get_set(&self, name: &str) -> Option<&str> {
        match self.env.iter().rev().find(|(k, _)| k == name) {
            Some((_, v)) => Some(v.as_str()),
            None if name.starts_with("feature_") => Some("y"),
            None if name == "grub_platform" => Some("xen"),
            None if name == "grub_cpu" => Some("x86_64"),
            None => None,
        }
    }

    /// The device `$root` names (`None` when unset or not a device rpvboot knows).
    fn root_dev(&self) -> Option<Device> {
        grub2_device(self.get("root"))
    }

    /// A file as GRUB names it, `(dev)/path` or `/path` on `$root`, as a device and path.
    fn locate(&self, name: &str) -> Option<(Device, String)> {
        let f = grub2_file(name).ok()?;
        let dev = f.device.or_else(|| self.root_dev())?;
        Some((dev, f.path))
    }

    /// GRUB's file tests (grub-core/commands/test.c: `-e` exists, `-f` is a regular file, `-d`
    /// a directory, `-s` a file of non-zero size) against the domU's disks.
    fn file_test(&mut self, op: &str, name: &str) -> bool {
        let Some((dev, path)) = self.locate(name) else {
            return false;
        };
        if !self.lookup_allowed() {
            return false;
        }
        match (op, self.host.stat(&dev, &path)) {
            ("-e", Some(_)) => true,
            ("-f", Some((dir, _))) => !dir,
            ("-d", Some((dir, _))) => dir,
            ("-s", Some((dir, size))) => !dir && size > 0,
            _ => false,
        }
    }

    /// Counts one disk look-up; `false` (with one warning) once [`MAX_LOOKUPS`] are used.
    fn lookup_allowed(&mut self) -> bool {
        self.lookups = self.lookups.saturating_add(1);
        if self.lookups == MAX_LOOKUPS.saturating_add(1) {
            self.d.warn(
                0,
                0,
                DiagKind::Other(alloc::format!("more than {MAX_LOOKUPS} file tests and searches: the rest are false")),
            );
        }
        self.lookups <= MAX_LOOKUPS
    }

    /// `[ … ]`/`test` on expanded words, with the file tests on the disks.
    fn test(&mut self, a: &[String]) -> Option<bool> {
        match a {
            [op, x] if matches!(op.as_str(), "-e" | "-f" | "-d" | "-s") => Some(self.file_test(op, x)),
            [n, rest @ ..] if n == "!" => self.test(rest).map(|b| !b),
            _ => test(a),
        }
    }

    /// The truth of an `if`/`elif` condition as GRUB on Xen would see it: `[ … ]`/`test`
    /// with string and number comparisons, `true`/`false`; file tests are false (no such files
    /// are looked at); anything else is `None` (unknown).
    fn eval(&mut self, c: &Cmd) -> Option<bool> {
        let words: Vec<String> = self.args(c).into_iter().skip(1).map(|(w, _)| w).collect();
        let (neg, words) = match words.split_first() {
            Some((f, rest)) if f == "!" => (true, rest),
            _ => (false, words.as_slice()),
        };
        let r = match words.split_first() {
            Some((f, rest)) if f == "[" => match rest.split_last() {
                Some((l, inner)) if l == "]" => self.test(inner),
                _ => None,
            },
            Some((f, rest)) if f == "test" => self.test(rest),
            Some((f, _)) if f == "true" => Some(true),
            Some((f, _)) if f == "false" => Some(false),
            Some((f, rest)) if f.starts_with("search") => Some(self.search(f, rest, c.line, None)),
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
            if self.stop {
                return;
            }
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
                        ("function", _) => self.define(head, body),
                        ("menuentry", false) => self.menuentry(head, body, sub.as_deref_mut()),
                        ("submenu", false) if sub.is_none() => {
                            let (title, id) = self.title_and_id(head);
                            self.submenus.push(SubmenuSlot { top: self.top, title, id });
                            let saved = self.env.clone();
                            let mut n = 0usize;
                            self.exec(body, None, Some(&mut n));
                            self.env = saved;
                            self.top = self.top.saturating_add(1);
                        }
                        _ => self.d.note(head.line, head.col, DiagKind::SkippedBlock(String::from(name))),
                    }
                }
                Node::Cmd(c) => {
                    if self.script_cmd(c, entry.as_deref_mut(), sub.as_deref_mut()) {
                        continue;
                    }
                    match entry.as_deref_mut() {
                        Some(e) => self.entry_cmd(e, c),
                        None => self.top_cmd(c),
                    }
                }
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

    /// A `menuentry`/`submenu` line's title and `--id` (options other than `--id` noted).
    fn title_and_id(&mut self, head: &Cmd) -> (String, Option<String>) {
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
        (title.unwrap_or_default(), id)
    }

    fn menuentry(&mut self, head: &Cmd, body: &[Node], sub: Option<&mut usize>) {
        let (title, id) = self.title_and_id(head);
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
        let mut e = Entry::new(title, head.line);
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
        if matches!(head, "linux" | "linux16" | "multiboot" | "multiboot2" | "knetbsd" | "initrd" | "initrd16") {
            // Files are opened on `$root` as it is now (a `search --set=root` may have moved it).
            if let Some(r) = self.root_dev() {
                e.root = Some(r);
            }
        }
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

    /// `function NAME { … }`: kept for later calls (GRUB's functions are global).
    fn define(&mut self, head: &Cmd, body: &[Node]) {
        let words = self.args(head);
        let Some((name, _)) = words.get(1) else {
            self.d.error(head.line, head.col, DiagKind::MissingArgument(String::from("function")));
            return;
        };
        let body = Rc::new(body.to_vec());
        if let Some(f) = self.funcs.iter_mut().find(|(n, _)| n == name) {
            f.1 = body;
        } else if self.funcs.len() < MAX_FUNCTIONS {
            self.funcs.push((name.clone(), body));
        } else {
            self.d.warn(head.line, head.col, DiagKind::TooMany("functions", MAX_FUNCTIONS));
        }
    }

    /// The commands that run script logic rather than describe an entry: function calls,
    /// `load_env`, `search`, `source`/`configfile`. `true` when `c` was one of them.
    fn script_cmd(&mut self, c: &Cmd, entry: Option<&mut Entry>, sub: Option<&mut usize>) -> bool {
        let head = c.head().unwrap_or("");
        match head {
            "load_env" => self.load_env(c),
            "save_env" if entry.is_none() => self.save_env(c),
            "search" | "search.fs_uuid" | "search.fs_label" | "search.file" => {
                let words: Vec<String> = self.args(c).into_iter().skip(1).map(|(w, _)| w).collect();
                let _ = self.search(head, &words, c.line, Some(c.col));
            }
            "source" | "." => self.include(c, false, entry, sub),
            "blscfg" | "bls_import" if entry.is_none() => self.blscfg(c, sub),
            "configfile" if entry.is_none() => self.include(c, true, entry, sub),
            _ if !SHADOWING.contains(&head) => {
                let Some(body) = self.funcs.iter().find(|(n, _)| n == head).map(|(_, b)| Rc::clone(b)) else {
                    return false;
                };
                self.call(c, &body, entry, sub);
            }
            _ => return false,
        }
        true
    }

    /// Runs a function body with its arguments as `$1`…; bounded in depth and in total calls.
    fn call(&mut self, c: &Cmd, body: &[Node], entry: Option<&mut Entry>, sub: Option<&mut usize>) {
        if self.frames.len() >= MAX_CALL_DEPTH || self.calls >= MAX_CALLS {
            self.d.warn(
                c.line,
                c.col,
                DiagKind::Other(alloc::format!(
                    "function calls nested deeper than {MAX_CALL_DEPTH} or more than {MAX_CALLS} calls: not run"
                )),
            );
            return;
        }
        self.calls = self.calls.saturating_add(1);
        let args: Vec<String> = self.args(c).into_iter().skip(1).map(|(w, _)| w).collect();
        let all = args.join(" ");
        let frame = Frame { count: alloc::format!("{}", args.len()), all, args };
        self.frames.push(frame);
        self.exec(body, entry, sub);
        self.frames.pop();
    }

    /// `load_env [-f FILE] [--skip-sig] [VAR …]` (grub-core/commands/loadenv.c): sets the
    /// variables of the environment block FILE (default `$prefix/grubenv`), only the named ones
    /// when any are named. `next_entry` is the exception: see the module doc.
    fn load_env(&mut self, c: &Cmd) {
        let words: Vec<String> = self.args(c).into_iter().skip(1).map(|(w, _)| w).collect();
        let mut file = None;
        let mut wanted: Vec<String> = Vec::new();
        let mut it = words.iter();
        while let Some(w) = it.next() {
            match w.as_str() {
                "-f" | "--file" => file = it.next().cloned(),
                "-s" | "--skip-sig" => {}
                _ => match w.strip_prefix("--file=") {
                    Some(f) => file = Some(String::from(f)),
                    None => wanted.push(w.clone()),
                },
            }
        }
        let name = file.unwrap_or_else(|| alloc::format!("{}/grubenv", self.get("prefix")));
        let located = self.locate(&name);
        let bytes = located.as_ref().and_then(|(dev, path)| self.host.read(dev, path, MAX_ENV_BYTES));
        let Some(bytes) = bytes else {
            self.d.warn(c.line, c.col, DiagKind::Other(alloc::format!("load_env: cannot read {name}")));
            return;
        };
        let Some(vars) = parse_envblk(&bytes) else {
            self.d.warn(
                c.line,
                c.col,
                DiagKind::Other(alloc::format!("load_env: {name} is not a GRUB environment block")),
            );
            return;
        };
        self.env_loaded = true;
        for (k, v) in vars {
            if !wanted.is_empty() && !wanted.contains(&k) {
                continue;
            }
            if k == "next_entry" && !v.is_empty() {
                if let Err(why) = self.honour_one_shot(located.as_ref(), &bytes, &v) {
                    self.d.warn(c.line, c.col, DiagKind::Other(alloc::format!(
                        "{name} sets next_entry={v} (a one-shot default, grub-reboot): not honoured, rpvboot cannot clear it ({why}) and would boot it on every start; booting the saved default (GRUB's choice on the boot after). Clear it with grub-editenv {name} unset next_entry"
                    )));
                    continue;
                }
            }
            self.set(&k, &v);
        }
    }

    /// Whether the one-shot `next_entry=value` of the block `bytes` (read from `located`) can
    /// be honoured: only when rpvboot can clear it the way GRUB does, by rewriting that block
    /// in place (the host finds it on the disk and says whether writing is allowed).
    fn honour_one_shot(&mut self, located: Option<&(Device, String)>, bytes: &[u8], value: &str) -> Result<(), String> {
        let (dev, path) = located.ok_or_else(|| String::from("not on a disk"))?;
        if self.one_shot.is_some() {
            return Err(String::from("a one-shot was honoured already from another load_env"));
        }
        let (place, on_disk) = self.host.env_place(dev, path)?;
        if on_disk != bytes {
            return Err(String::from("the block on the disk differs from the file read"));
        }
        self.one_shot = Some(OneShot {
            dev: dev.clone(),
            path: path.clone(),
            place,
            old: on_disk.clone(),
            new: on_disk,
            value: String::from(value),
            saved_at: None,
        });
        Ok(())
    }

    /// `save_env [-f FILE] VAR …` outside a menu entry (grub-core/commands/loadenv.c): GRUB
    /// writes each variable's current value (an unset one is deleted) into the block and the
    /// block back in place. rpvboot writes only what clears an honoured `next_entry`: the
    /// block it came from, edited for `next_entry`; other variables are not saved (a note).
    fn save_env(&mut self, c: &Cmd) {
        let words: Vec<String> = self.args(c).into_iter().skip(1).map(|(w, _)| w).collect();
        let mut file = None;
        let mut vars: Vec<&String> = Vec::new();
        let mut it = words.iter();
        while let Some(w) = it.next() {
            match w.as_str() {
                "-f" | "--file" => file = it.next().cloned(),
                _ => match w.strip_prefix("--file=") {
                    Some(f) => file = Some(String::from(f)),
                    None => vars.push(w),
                },
            }
        }
        let name = file.unwrap_or_else(|| alloc::format!("{}/grubenv", self.get("prefix")));
        let target = self.locate(&name);
        let at = alloc::format!("{}:{}", self.d.file, c.line);
        for var in vars {
            let value = self.env.iter().rev().find(|(k, _)| k == var).map(|(_, v)| v.clone());
            let shot = self.one_shot.as_mut().filter(|s| target.as_ref() == Some(&(s.dev.clone(), s.path.clone())));
            match shot {
                Some(s) if var == "next_entry" => {
                    let ok = match &value {
                        Some(v) => envblk::set(&mut s.new, var, v),
                        None => {
                            envblk::delete(&mut s.new, var);
                            true
                        }
                    };
                    if ok {
                        s.saved_at = Some(at.clone());
                    } else {
                        self.d.warn(
                            c.line,
                            c.col,
                            DiagKind::Other(String::from("save_env: environment block too small")),
                        );
                    }
                }
                _ => self.d.note(
                    c.line,
                    c.col,
                    DiagKind::Other(alloc::format!(
                        "save_env {var}: not saved (rpvboot writes only the clear of a next_entry one-shot)"
                    )),
                ),
            }
        }
    }

    /// The write the run asked for: the honoured one-shot's block as `save_env` left it, when
    /// it changed; a one-shot never saved is booted on every start, as by GRUB (a warning).
    fn env_write(&mut self) -> Option<EnvWrite> {
        let s = self.one_shot.take()?;
        let Some(at) = s.saved_at else {
            self.d.warn(
                0,
                0,
                DiagKind::Other(alloc::format!(
                    "next_entry={} is honoured but never cleared (no save_env next_entry): it boots on every start, as with GRUB",
                    s.value
                )),
            );
            return None;
        };
        (s.new != s.old).then_some(EnvWrite {
            device: s.dev,
            path: s.path,
            place: s.place,
            old: s.old,
            new: s.new,
            cleared: s.value,
            at,
        })
    }

    /// `search` (grub-core/commands/search_wrap.c) and `search.fs_uuid|fs_label|file NAME
    /// [VAR]`: the first partition, hints first, whose filesystem UUID (any case), label or a
    /// file matches; sets `--set=VAR` (`--set`/`-s`: `root`). `true` when found.
    fn search(&mut self, cmd: &str, args: &[String], line: u32, col: Option<u32>) -> bool {
        let mut kind = match cmd {
            "search.fs_uuid" => 'u',
            "search.fs_label" => 'l',
            _ => 'f',
        };
        let mut var: Option<String> = None;
        let mut hints: Vec<Device> = Vec::new();
        let mut name: Option<&String> = None;
        if cmd == "search" {
            for a in args {
                match a.as_str() {
                    "--file" | "-f" => kind = 'f',
                    "--label" | "-l" => kind = 'l',
                    "--fs-uuid" | "-u" => kind = 'u',
                    "--set" | "-s" => var = Some(String::from("root")),
                    _ if a.starts_with("--set=") => var = a.get(6..).map(String::from),
                    _ if a.starts_with("--hint=") || a.starts_with("--hint-xen=") => {
                        if let Some(d) = a.split_once('=').and_then(|(_, h)| grub2_device(h)) {
                            hints.push(d);
                        }
                    }
                    _ if a.starts_with('-') => {}
                    _ => name = Some(a),
                }
            }
        } else {
            name = args.first();
            var = args.get(1).cloned();
        }
        let Some(name) = name else {
            if let Some(col) = col {
                self.d.error(line, col, DiagKind::MissingArgument(String::from(cmd)));
            }
            return false;
        };
        let mut devs = hints;
        for d in self.host.devices() {
            if !devs.contains(&d) {
                devs.push(d);
            }
        }
        let mut found = None;
        for d in devs {
            if !self.lookup_allowed() {
                break;
            }
            let hit = match kind {
                'u' => self.host.fs_ids(&d).0.is_some_and(|u| u.eq_ignore_ascii_case(name)),
                'l' => self.host.fs_ids(&d).1.is_some_and(|l| l == *name),
                _ => self.host.stat(&d, name).is_some(),
            };
            if hit {
                found = Some(d);
                break;
            }
        }
        match found {
            Some(dev) => {
                if let Some(v) = var {
                    let g = grub2_name(&dev);
                    self.set(&v, &g);
                }
                true
            }
            None => {
                if let Some(col) = col {
                    self.d.note(line, col, DiagKind::Other(alloc::format!("search: no partition has {name}")));
                }
                false
            }
        }
    }

    /// `source FILE` / `. FILE`: runs FILE here, in the same context; `configfile FILE`: FILE's
    /// menu replaces this one and the rest of this file is not run (GRUB shows the new menu).
    fn include(&mut self, c: &Cmd, replace: bool, entry: Option<&mut Entry>, sub: Option<&mut usize>) {
        let head = c.head().unwrap_or("");
        let words = self.args(c);
        let Some((name, _)) = words.get(1) else {
            self.d.error(c.line, c.col, DiagKind::MissingArgument(String::from(head)));
            return;
        };
        if self.include_depth >= MAX_INCLUDE_DEPTH || self.includes >= MAX_INCLUDES {
            self.d.warn(
                c.line,
                c.col,
                DiagKind::Other(alloc::format!(
                    "{head} {name}: more than {MAX_INCLUDE_DEPTH} levels or {MAX_INCLUDES} files, not read"
                )),
            );
            return;
        }
        let file = self.locate(name);
        let bytes = file.as_ref().and_then(|(dev, path)| self.host.read(dev, path, super::MAX_CONFIG_BYTES));
        let (Some((dev, path)), Some(bytes)) = (file, bytes) else {
            self.d.warn(c.line, c.col, DiagKind::Other(alloc::format!("{head}: cannot read {name}")));
            return;
        };
        self.includes = self.includes.saturating_add(1);
        let mut d = Diags::new(&alloc::format!("{dev}{path}"));
        let text = String::from_utf8_lossy(&bytes);
        let nodes = build(&text, &mut d);
        if replace {
            self.menu.entries.clear();
            self.slots.clear();
            self.submenus.clear();
            self.top = 0;
            self.set("default", "");
            self.set("\u{1}default_line", "");
        }
        let outer = core::mem::replace(&mut self.d, d);
        self.include_depth = self.include_depth.saturating_add(1);
        self.exec(&nodes, entry, sub);
        self.include_depth = self.include_depth.saturating_sub(1);
        let inner = core::mem::replace(&mut self.d, outer);
        for x in inner.list {
            self.d.push_diag(x);
        }
        if replace {
            self.stop = true;
        }
    }

    /// `blscfg [default|non-default|(DEV)DIR|ID]` (Fedora/RHEL's GRUB, [`crate::bls`]): the
    /// BootLoaderSpec entries in `$blsdir` (else `/loader/entries`, and `/boot/loader/entries`
    /// when that cannot be read) on `$root` become menu entries here, newest first.
    fn blscfg(&mut self, c: &Cmd, mut sub: Option<&mut usize>) {
        use crate::bls;
        let args: Vec<String> = self.args(c).into_iter().skip(1).map(|(w, _)| w).collect();
        let (mut dev, mut dirs) = (self.root_dev(), Vec::new());
        let (mut show_def, mut show_other, mut only) = (true, true, None);
        match args.first().map(String::as_str) {
            None => {}
            Some("default") => show_other = false,
            Some("non-default") => show_def = false,
            Some(p) if p.starts_with('(') => match grub2_file(p) {
                Ok(f) => {
                    dev = f.device;
                    dirs.push(f.path);
                }
                Err(k) => return self.d.error(c.line, c.col, k),
            },
            Some(id) => (show_def, show_other, only) = (false, false, Some(String::from(id))),
        }
        if dirs.is_empty() {
            let first = self.get_set("blsdir").unwrap_or(bls::BLS_DIRS[0]);
            dirs.push(String::from(first.trim_end_matches('/')));
            dirs.push(String::from(bls::BLS_DIRS[1]));
        }
        let Some(dev) = dev else {
            return self.d.warn(c.line, c.col, DiagKind::Other(String::from("blscfg: $root names no disk")));
        };
        let mut listed = None;
        for dir in &dirs {
            if !self.lookup_allowed() {
                break;
            }
            if let Some(names) = self.host.list(&dev, dir, bls::MAX_BLS_FILES.saturating_mul(2)) {
                listed = Some((dir.clone(), names));
                break;
            }
        }
        let Some((dir, names)) = listed else {
            let msg = alloc::format!("blscfg: no {} on {dev}: no BootLoaderSpec entries", dirs.join(" nor "));
            return self.d.warn(c.line, c.col, DiagKind::Other(msg));
        };
        let (mut list, mut total) = (Vec::new(), 0usize);
        let ids: Vec<&str> = names.iter().filter_map(|n| bls::conf_id(n)).collect();
        if ids.len() > bls::MAX_BLS_FILES {
            self.d.warn(c.line, c.col, DiagKind::TooMany("BootLoaderSpec entries", bls::MAX_BLS_FILES));
        }
        for id in ids.into_iter().take(bls::MAX_BLS_FILES) {
            let path = alloc::format!("{dir}/{id}.conf");
            let bytes = if self.lookup_allowed() { self.host.read(&dev, &path, bls::MAX_BLS_FILE) } else { None };
            let Some(bytes) = bytes else {
                self.d.warn(c.line, c.col, DiagKind::Other(alloc::format!("blscfg: cannot read {dev}{path}")));
                continue;
            };
            let e = bls::parse_entry(id, &bytes);
            total = total.saturating_add(e.size());
            if total > bls::MAX_BLS_TOTAL {
                self.d.warn(c.line, c.col, DiagKind::TooMany("bytes of BootLoaderSpec entries", bls::MAX_BLS_TOTAL));
                break;
            }
            if !bls::insert_sorted(&mut list, e) {
                let msg = alloc::format!("blscfg: {dev}{path} has the version of another entry: left out, as GRUB");
                self.d.warn(c.line, c.col, DiagKind::Other(msg));
            }
        }
        let def = String::from(self.get("default"));
        for (idx, e) in list.iter().enumerate() {
            let is_def = def == e.id || e.get("title") == Some(def.as_str()) || def == alloc::format!("{idx}");
            if !((show_def && is_def) || (show_other && !is_def) || only.as_deref() == Some(e.id.as_str())) {
                continue;
            }
            let src = bls::entry_source(e, &|n: &str| self.get_set(n).map(String::from), MAX_VALUE);
            let Some(src) = src else {
                let msg = alloc::format!("blscfg: {dev}{dir}/{}.conf has no 'linux' line: skipped, as GRUB", e.id);
                self.d.warn(c.line, c.col, DiagKind::Other(msg));
                continue;
            };
            // The entry as `menuentry TITLE --id ID [--users U] { SCRIPT }`, the script's own
            // problems reported against the entry file.
            let word =
                |s: &str| Word { segs: alloc::vec![Seg::Lit(String::from(s))], quoted: true, line: c.line, col: c.col };
            let mut words = alloc::vec![word("menuentry"), word(&src.title), word("--id"), word(&src.id)];
            if let Some(u) = &src.users {
                words.extend([word("--users"), word(u)]);
            }
            let head = Cmd { words, line: c.line, col: c.col };
            let inner = Diags::new(&alloc::format!("{dev}{dir}/{}.conf", e.id));
            let outer = core::mem::replace(&mut self.d, inner);
            let nodes = build(&src.script, &mut self.d);
            self.menuentry(&head, &nodes, sub.as_deref_mut());
            // The script is blscfg's, not the owner's: its notes (`insmod` ignored) are noise.
            let inner = core::mem::replace(&mut self.d, outer);
            for x in inner.list.into_iter().filter(|x| x.severity != crate::Severity::Note) {
                self.d.push_diag(x);
            }
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
            if self.env_loaded {
                // `set default="${saved_entry}"` with no saved entry: GRUB boots entry 0.
                self.d.note(
                    line,
                    0,
                    DiagKind::Other(String::from("default is empty (no saved_entry): the first entry, as GRUB")),
                );
            } else {
                self.d.warn(line, 0, DiagKind::SavedDefault);
            }
            return None;
        }
        // grub-core/normal/menu.c: each '>'-separated part picks, within its menu level, the
        // item with that number, or whose id or title is that text.
        let number = |s: &str| super::small_number(s).and_then(|t| usize::try_from(t).ok());
        let mut parts = v.split('>');
        let first = parts.next().unwrap_or("");
        let second = parts.next();
        let top = number(first).or_else(|| {
            self.slots
                .iter()
                .zip(self.menu.entries.iter())
                .find(|(s, e)| s.sub.is_none() && (s.id.as_deref() == Some(first) || e.title == first))
                .map(|(s, _)| s.top)
                .or_else(|| {
                    self.submenus.iter().find(|m| m.id.as_deref() == Some(first) || m.title == first).map(|m| m.top)
                })
        });
        let found = top.and_then(|t| {
            let mut items = self.slots.iter().zip(self.menu.entries.iter());
            match second {
                None => items.position(|(s, _)| s.top == t && (s.sub.is_none() || s.sub == Some(0))),
                Some(x) => match number(x) {
                    Some(m) => items.position(|(s, _)| s.top == t && s.sub == Some(m)),
                    None => items.position(|(s, e)| {
                        s.top == t && s.sub.is_some() && (s.id.as_deref() == Some(x) || e.title == x)
                    }),
                },
            }
        });
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

/// The node tree of a whole file.
fn build(text: &str, d: &mut Diags) -> Vec<Node> {
    let cmds = tokenize(text, d);
    let items = items(cmds);
    let mut i = 0usize;
    let mut nodes = Vec::new();
    while i < items.len() {
        let (mut n, end) = tree(&items, &mut i, 0, false, &["fi", "done", "then", "elif", "else"], d);
        nodes.append(&mut n);
        if let Some(kw) = end {
            let (l, c) = match items.get(i.saturating_sub(1)) {
                Some(Item::Cmd(c)) => (c.line, c.col),
                _ => (0, 0),
            };
            d.error(l, c, DiagKind::Other(alloc::format!("'{kw}' without a matching 'if'/loop")));
        }
    }
    nodes
}

/// GRUB 2's name for a device (`hd0,1`: partitions from 1, any partition map), as `$root`
/// holds it.
fn grub2_name(dev: &Device) -> String {
    let Some(s) = dev.spec() else {
        return String::new();
    };
    let mut n = alloc::format!("hd{}", s.disk);
    if let Some(p) = s.part {
        n.push_str(&alloc::format!(",{}", u64::from(p).saturating_add(1)));
    }
    if let Some(l) = s.letter {
        n.push_str(&alloc::format!(",bsd{}", u32::from(l).saturating_sub(u32::from('a')).saturating_add(1)));
    }
    n
}

/// A GRUB environment block's variables (grub-core/lib/envblk.c): the signature line, then
/// `name=value` lines where `\` escapes the next byte (a newline or a backslash); `#` lines
/// are padding. `None` without the signature.
fn parse_envblk(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(bytes);
    let body = text.strip_prefix(ENVBLK_SIGNATURE)?;
    let mut out = Vec::new();
    let mut it = body.chars();
    loop {
        let mut name = String::new();
        let mut value = String::new();
        let mut in_value = false;
        let mut comment = false;
        let mut ended = true;
        while let Some(c) = it.next() {
            ended = false;
            match c {
                '\n' => {
                    ended = true;
                    break;
                }
                '#' if name.is_empty() && !in_value => comment = true,
                _ if comment => {}
                '=' if !in_value => in_value = true,
                '\\' if in_value => {
                    if let Some(n) = it.next() {
                        value.push(n);
                    }
                }
                _ if in_value => value.push(c),
                _ => name.push(c),
            }
        }
        if in_value && !comment && !name.is_empty() && out.len() < MAX_VARS {
            out.push((name, value));
        }
        if !ended || it.as_str().is_empty() {
            return Some(out);
        }
    }
}

/// Parses `grub.cfg` text into a [`Menu`], with no disks to look at.
pub(crate) fn parse(bytes: &[u8], d: Diags) -> Menu {
    parse_on(bytes, d, None, &mut NoHost)
}

/// Parses `grub.cfg` text read from `origin` (device, path), running its script commands
/// against `host`.
pub(crate) fn parse_on(bytes: &[u8], mut d: Diags, origin: Option<(&Device, &str)>, host: &mut dyn Host) -> Menu {
    let text = String::from_utf8_lossy(bytes);
    if matches!(text, alloc::borrow::Cow::Owned(_)) {
        d.warn(0, 0, DiagKind::InvalidUtf8);
    }
    let nodes = build(&text, &mut d);
    let mut run = Run {
        menu: Menu::empty(Format::GrubCfg),
        d,
        env: Vec::new(),
        slots: Vec::new(),
        submenus: Vec::new(),
        top: 0,
        dropped: false,
        host,
        funcs: Vec::new(),
        frames: Vec::new(),
        calls: 0,
        lookups: 0,
        includes: 0,
        include_depth: 0,
        stop: false,
        env_loaded: false,
        one_shot: None,
    };
    if let Some((dev, path)) = origin {
        // What pvgrub2 sets before it reads the file: its device and directory.
        let root = grub2_name(dev);
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        run.set("prefix", &alloc::format!("({root}){dir}"));
        // Fedora/RHEL's GRUB (normal/main.c, read_config_file) also sets these; their
        // 00_header loads `${config_directory}/grubenv`.
        run.set("config_file", &alloc::format!("({root}){path}"));
        run.set("config_directory", &alloc::format!("({root}){dir}"));
        run.set("root", &root);
    }
    run.exec(&nodes, None, None);
    let default = run.resolve_default();
    let env_write = run.env_write();
    let Run { mut menu, mut d, .. } = run;
    menu.finish(default, 0, &[], &mut d);
    menu.env_write = env_write;
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
        for (def, want) in
            [("0", 0), ("1", 1), ("1>1", 2), ("2", 3), ("S>b-id", 1), ("S>C", 2), ("D", 3), ("1>b-id", 1)]
        {
            let m = p(&alloc::format!("set default=\"{def}\"\n{base}"));
            assert_eq!(m.default, want, "{def}: {:?}", m.diagnostics);
            assert!(m.diagnostics.is_empty(), "{def}: {:?}", m.diagnostics);
        }
        // grub-core/normal/menu.c (get_entry_number): a name is looked up among the items of
        // one menu level only; an entry inside a submenu needs its path, else entry 0 boots.
        let m = p(&alloc::format!("set default=b-id\n{base}"));
        assert_eq!(m.default, 0);
        assert_eq!(m.diagnostics[0].kind, DiagKind::DefaultOutOfRange("b-id".into(), 4));
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

/// The script commands against disks (`crate::search::load` over in-memory volumes), each
/// test citing the GRUB 2.06 rule it checks.
#[cfg(test)]
mod host_tests {
    use crate::search::{load, FsKind, MemVolumes};
    use crate::Device;
    use alloc::string::String;
    use alloc::vec::Vec;

    /// An environment block as grub-core/lib/envblk.c writes it: the signature line, one
    /// `name=value` line per variable (`\` before a `\` or newline in a value), `#` padding
    /// to 1024 bytes.
    fn envblk(vars: &[(&str, &str)]) -> Vec<u8> {
        let mut s = String::from("# GRUB Environment Block\n");
        for (k, v) in vars {
            s.push_str(k);
            s.push('=');
            for c in v.chars() {
                if c == '\\' || c == '\n' {
                    s.push('\\');
                }
                s.push(c);
            }
            s.push('\n');
        }
        let mut b = s.into_bytes();
        b.resize(1024, b'#');
        b
    }

    /// The lines grub-mkconfig 2.06's 00_header writes for `GRUB_DEFAULT=saved`.
    const HEADER: &str = "if [ -s $prefix/grubenv ]; then\n  set have_grubenv=true\n  load_env\nfi\nif [ \"${next_entry}\" ] ; then\n   set default=\"${next_entry}\"\n   set next_entry=\n   save_env next_entry\n   set boot_once=true\nelse\n   set default=\"${saved_entry}\"\nfi\n";
    const ENTRIES: &str = "menuentry 'A' --id a { linux /a }\nsubmenu 'Adv' --id adv {\n menuentry 'B' --id b { linux /b }\n menuentry 'C' --id c { linux /c }\n}\n";

    fn one(files: &[(&str, &[u8])]) -> crate::search::Loaded {
        let mut v = MemVolumes::default().with("(hd0,0)", FsKind::Ext, files);
        load("", &mut v)
    }

    fn kernel(l: &crate::search::Loaded) -> (Option<Device>, String) {
        let e = &l.menu.entries[l.menu.default];
        let k = e.kernel.as_ref().unwrap();
        (k.file.device.clone().or(e.root.clone()), alloc::format!("{} {}", k.file.path, k.args))
    }

    #[test]
    fn saved_entry_by_title_id_and_path() {
        // loadenv.c: `load_env` with no -f reads $prefix/grubenv; menu.c: each '>' part names
        // an item of its menu level by number, id or title.
        let cfg = alloc::format!("{HEADER}{ENTRIES}");
        for (saved, want) in [("adv>c", "/c "), ("Adv>B", "/b "), ("1>1", "/c "), ("a", "/a "), ("", "/a ")] {
            let env = envblk(&[("saved_entry", saved)]);
            let l = one(&[("/grub/grub.cfg", cfg.as_bytes()), ("/grub/grubenv", &env)]);
            assert_eq!(kernel(&l).1, want, "saved_entry={saved}: {:?}", l.menu.diagnostics);
        }
        // No grubenv: `[ -s ]` is false, default empty, entry 0.
        let l = one(&[("/grub/grub.cfg", cfg.as_bytes())]);
        assert_eq!(kernel(&l).1, "/a ");
    }

    #[test]
    fn next_entry_is_refused_with_a_warning() {
        // grub-reboot sets next_entry; GRUB boots it once and clears it with save_env. rpvboot
        // cannot clear it, so it boots the saved default (GRUB's next boot) and says so.
        let cfg = alloc::format!("{HEADER}{ENTRIES}");
        let env = envblk(&[("saved_entry", "adv>b"), ("next_entry", "1>1")]);
        let l = one(&[("/grub/grub.cfg", cfg.as_bytes()), ("/grub/grubenv", &env)]);
        assert_eq!(kernel(&l).1, "/b ");
        assert!(l.menu.diagnostics.iter().any(|d| alloc::format!("{}", d.kind).contains("next_entry=1>1")));
    }

    #[test]
    fn next_entry_is_booted_once_and_cleared_as_save_env_does() {
        // 00_header: `set default="${next_entry}"`, `set next_entry=`, `save_env next_entry`:
        // loadenv.c writes the block with next_entry set to the empty value (envblk.c's
        // grub_envblk_set). The second start, on the rewritten block, boots the saved default.
        let cfg = alloc::format!("{HEADER}{ENTRIES}");
        let env = envblk(&[("saved_entry", "adv>b"), ("next_entry", "1>1")]);
        let mut v = MemVolumes::default().with(
            "(hd0,0)",
            FsKind::Ext,
            &[("/grub/grub.cfg", cfg.as_bytes()), ("/grub/grubenv", &env)],
        );
        v.writable = true;
        let l = load("", &mut v);
        assert_eq!(kernel(&l).1, "/c ", "{:?}", l.menu.diagnostics);
        let w = l.menu.env_write.clone().expect("a write");
        assert_eq!(w.old, env);
        assert_eq!(w.new, envblk(&[("saved_entry", "adv>b"), ("next_entry", "")]));
        assert_eq!((w.cleared.as_str(), w.path.as_str()), ("1>1", "/grub/grubenv"));
        assert!(w.describe().contains("next_entry=1>1 cleared in (hd0,0)/grub/grubenv"), "{}", w.describe());
        assert!(w.at.ends_with("grub.cfg:8"), "{}", w.at);
        crate::Volumes::write_env(&mut v, &w).expect("written");
        let l = load("", &mut v);
        assert_eq!(kernel(&l).1, "/b ");
        assert_eq!(l.menu.env_write, None, "nothing left to clear");
        // rpvboot.nowrite: the one-shot is refused as when the disk takes no writes.
        let mut v = MemVolumes::default().with(
            "(hd0,0)",
            FsKind::Ext,
            &[("/grub/grub.cfg", cfg.as_bytes()), ("/grub/grubenv", &env)],
        );
        v.writable = true;
        let l = load("rpvboot.nowrite", &mut v);
        assert_eq!(kernel(&l).1, "/b ");
        assert_eq!(l.menu.env_write, None);
        let warn = l.menu.diagnostics.iter().map(|d| alloc::format!("{}", d.kind)).collect::<Vec<_>>().join("\n");
        assert!(warn.contains("next_entry=1>1") && warn.contains("rpvboot.nowrite"), "{warn}");
    }

    #[test]
    fn only_next_entry_is_saved() {
        // A save_env of other variables writes nothing (a note); inside an entry it is not run.
        let cfg = alloc::format!(
            "{HEADER}set saved_entry=a\nsave_env saved_entry\nmenuentry 'A' {{ save_env next_entry\n linux /a }}\n"
        );
        let env = envblk(&[("next_entry", "0")]);
        let mut v = MemVolumes::default().with(
            "(hd0,0)",
            FsKind::Ext,
            &[("/grub/grub.cfg", cfg.as_bytes()), ("/grub/grubenv", &env)],
        );
        v.writable = true;
        let l = load("", &mut v);
        let w = l.menu.env_write.expect("the one-shot's clear");
        assert_eq!(w.new, envblk(&[("next_entry", "")]), "saved_entry not written");
        assert!(l
            .menu
            .diagnostics
            .iter()
            .any(|d| alloc::format!("{}", d.kind).contains("save_env saved_entry: not saved")));
    }

    #[test]
    fn load_env_file_and_variable_list_and_escapes() {
        // loadenv.c: `-f FILE` names the block (GRUB 2 counts partitions from 1); listed
        // variables only are set. envblk.c: a
        // backslash escapes the next character.
        let env = envblk(&[("kernelopts", "root=/dev/xvda1 a\\b"), ("other", "x")]);
        let cfg = "load_env -f (hd0,1)/env.blk kernelopts\nmenuentry 'A' { linux /a $kernelopts $other }\n";
        let l = one(&[("/grub/grub.cfg", cfg.as_bytes()), ("/env.blk", &env)]);
        assert_eq!(kernel(&l).1, "/a root=/dev/xvda1 a\\b");
        // Not a block: a warning, nothing set.
        let l = one(&[("/grub/grub.cfg", cfg.as_bytes()), ("/env.blk", b"saved_entry=x\n")]);
        assert!(l
            .menu
            .diagnostics
            .iter()
            .any(|d| alloc::format!("{}", d.kind).contains("not a GRUB environment block")));
    }

    #[test]
    fn file_tests_look_at_the_files() {
        // test.c: -e exists, -f regular file, -s non-empty file.
        let cfg = "if [ -s /empty ]; then set a=1; else set a=0; fi\nif [ -f /full ]; then set b=1; fi\nif [ -e /none ]; then set c=1; else set c=0; fi\nmenuentry 'A' { linux /k $a$b$c }\n";
        let l = one(&[("/grub/grub.cfg", cfg.as_bytes()), ("/empty", b""), ("/full", b"x")]);
        assert_eq!(kernel(&l).1, "/k 010");
    }

    #[test]
    fn functions_are_called_with_arguments_and_bounded() {
        // Ubuntu's 10_linux: `gfxmode $linux_gfx_mode` sets vt_handoff inside the entry.
        let cfg = "function gfxmode {\n\tset gfxpayload=\"${1}\"\n\tif [ \"${1}\" = \"keep\" ]; then\n\t\tset vt_handoff=vt.handoff=7\n\telse\n\t\tset vt_handoff=\n\tfi\n}\nset linux_gfx_mode=keep\nmenuentry 'U' {\n\tgfxmode $linux_gfx_mode\n\tlinux /v ro $vt_handoff $#\n}\n";
        let l = one(&[("/grub/grub.cfg", cfg.as_bytes())]);
        assert_eq!(kernel(&l).1, "/v ro vt.handoff=7");
        // A function calling itself stops at the depth bound with a warning.
        let l = one(&[("/grub/grub.cfg", b"function f { f x }\nf\nmenuentry 'A' { linux /a }\n")]);
        assert_eq!(kernel(&l).1, "/a ");
        assert!(l.menu.diagnostics.iter().any(|d| alloc::format!("{}", d.kind).contains("nested deeper")));
    }

    #[test]
    fn disk_lookups_are_bounded() {
        // Not a GRUB rule: a hostile file of many thousand tests must not keep the boot
        // reading; past the bound tests are false, with one warning.
        let mut cfg = "if [ -e /f ]; then set n=1; fi\n".repeat(super::MAX_LOOKUPS);
        cfg.push_str("if [ -e /f ]; then set last=y; fi\nmenuentry 'A' { linux /a $n$last }\n");
        let l = one(&[("/grub/grub.cfg", cfg.as_bytes()), ("/f", b"x")]);
        assert_eq!(kernel(&l).1, "/a 1");
        assert!(l.menu.diagnostics.iter().any(|d| alloc::format!("{}", d.kind).contains("file tests and searches")));
    }

    #[test]
    fn brace_attached_to_the_title() {
        // GRUB's lexer ends a quoted word at `{`: `submenu "S"{` opens the block.
        let cfg =
            "set default=\"0>1\"\nsubmenu \"S\"{\n menuentry \"A\"{ linux /a }\n menuentry 'B'{\n linux /b\n }\n}\n";
        let l = one(&[("/grub/grub.cfg", cfg.as_bytes())]);
        assert_eq!(l.menu.entries.len(), 2);
        assert_eq!(kernel(&l).1, "/b ");
        assert!(l.menu.diagnostics.iter().all(|d| d.severity == crate::Severity::Note), "{:?}", l.menu.diagnostics);
    }

    #[test]
    fn search_by_uuid_label_and_file() {
        // search_wrap.c: --fs-uuid (case-insensitive), --label, --file; --set=VAR (default
        // root); hints are tried first but any partition may match.
        let cfg = "menuentry 'U' {\n set root='hd0,msdos1'\n search --no-floppy --fs-uuid --set=root --hint-bios=hd0,msdos1 --hint='hd0,msdos1' ABCD-0002\n linux /vmlinuz\n}\nmenuentry 'L' {\n search --label --set boot\n search -l --set=r2 BOOT\n linux ($r2)/vmlinuz\n}\nmenuentry 'F' {\n search -s -f /marker\n linux /vmlinuz\n}\n";
        let mut v = MemVolumes::default()
            .with("(hd0,0)", FsKind::Ext, &[("/grub/grub.cfg", cfg.as_bytes())])
            .with("(hd1,0)", FsKind::Ext, &[("/vmlinuz", b"k")])
            .with("(hd1,1)", FsKind::Ext, &[("/marker", b"m")]);
        v.ids.push((Device::parse("(hd1,0)").unwrap(), Some("abcd-0002".into()), Some("BOOT".into())));
        let mut l = load("", &mut v);
        let dev = |s: &str| Device::parse(s);
        assert_eq!(kernel(&l).0, dev("(hd1,0)"));
        l.menu.default = 1;
        assert_eq!(kernel(&l).0, dev("(hd1,0)"));
        l.menu.default = 2;
        assert_eq!(kernel(&l).0, dev("(hd1,1)"));
    }

    #[test]
    fn source_and_configfile() {
        // configfile.c: `source` runs the file in this context; `configfile` shows its menu.
        let main = "set x=1\nsource $prefix/more.cfg\nmenuentry 'A' { linux /a $y }\n";
        let more = b"set y=2\nmenuentry 'M' { linux /m }\n";
        let l = one(&[("/grub/grub.cfg", main.as_bytes()), ("/grub/more.cfg", more)]);
        let titles: Vec<&str> = l.menu.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["M", "A"]);
        assert_eq!(l.menu.entries[1].kernel.as_ref().unwrap().args, "2");
        let main = "menuentry 'A' { linux /a }\nconfigfile /grub/other.cfg\nmenuentry 'Z' { linux /z }\n";
        let l = one(&[("/grub/grub.cfg", main.as_bytes()), ("/grub/other.cfg", b"menuentry 'O' { linux /o }\n")]);
        let titles: Vec<&str> = l.menu.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["O"]);
        // A file sourcing itself stops at the bound.
        let l = one(&[("/grub/grub.cfg", b"source /grub/grub.cfg\nmenuentry 'A' { linux /a }\n")]);
        assert!(l.menu.entries.len() <= 16);
        assert!(l.menu.diagnostics.iter().any(|d| alloc::format!("{}", d.kind).contains("levels")));
    }

    #[test]
    fn blscfg_entries() {
        // blscfg.c: entries from $root's /loader/entries, else /boot/loader/entries (find_entry);
        // newest first by id (bls_add_entry/bls_cmp); an entry equal to one listed is dropped;
        // one without `linux` is skipped (create_entry); the id selects it as the default;
        // `options` expanded by expand_val from the environment (grubenv's kernelopts).
        let env = envblk(&[("kernelopts", "root=/dev/xvda2 ro"), ("saved_entry", "m-5.14.0-70.el9")]);
        let cfg = "load_env\nset default=\"${saved_entry}\"\nblscfg\n";
        let e = |v: &str| {
            alloc::format!(
                "title T {v}\nlinux /boot/vmlinuz-{v}\ninitrd /boot/initramfs-{v}.img\noptions $kernelopts x={v}\n"
            )
        };
        let (a, b, c) = (e("5.14.0-70.el9"), e("5.14.0-162.el9"), e("5.14.0-70_el9"));
        let files: [(&str, &[u8]); 6] = [
            ("/boot/grub2/grub.cfg", cfg.as_bytes()),
            ("/boot/grub2/grubenv", &env),
            ("/boot/loader/entries/m-5.14.0-70.el9.conf", a.as_bytes()),
            ("/boot/loader/entries/m-5.14.0-162.el9.conf", b.as_bytes()),
            ("/boot/loader/entries/m-5.14.0-70_el9.conf", c.as_bytes()),
            ("/boot/loader/entries/m-9-nolinux.conf", b"title none\n"),
        ];
        let l = one(&files);
        let titles: Vec<&str> = l.menu.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["T 5.14.0-162.el9", "T 5.14.0-70.el9"], "{:?}", l.menu.diagnostics);
        assert_eq!(l.menu.default, 1);
        assert_eq!(kernel(&l).1, "/boot/vmlinuz-5.14.0-70.el9 root=/dev/xvda2 ro x=5.14.0-70.el9");
        let msgs: Vec<String> = l.menu.diagnostics.iter().map(|d| alloc::format!("{}", d.kind)).collect();
        assert!(msgs.iter().any(|m| m.contains("m-5.14.0-70_el9.conf has the version of another entry")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("m-9-nolinux.conf has no 'linux' line")), "{msgs:?}");
        // $blsdir names another directory; without any, a warning and no entries.
        let cfg = "set blsdir=/mine\nblscfg\n";
        let l = one(&[("/grub/grub.cfg", cfg.as_bytes()), ("/mine/x-1-1.conf", b"linux /v\n")]);
        assert_eq!(kernel(&l).1, "/v ");
        let l = one(&[("/grub/grub.cfg", b"blscfg\n")]);
        assert!(l.menu.entries.is_empty());
        assert!(l.menu.diagnostics.iter().any(|d| alloc::format!("{}", d.kind).contains("no BootLoaderSpec entries")));
    }

    #[test]
    fn grub2_directory_is_searched() {
        // Fedora/CentOS/RHEL/SUSE: /boot/grub2/grub.cfg, and /grub2/grub.cfg on a separate /boot.
        for path in ["/boot/grub2/grub.cfg", "/grub2/grub.cfg"] {
            let l = one(&[(path, b"menuentry 'R' { linux /vmlinuz }\n")]);
            assert_eq!(l.source.path, path);
            assert_eq!(l.menu.entries.len(), 1);
        }
    }
}
