//! The menu driven by byte streams: what a user types into `xl console`, in the pieces the ring
//! delivers them, with a fake clock.

use super::*;
use bootconfig::{self as config, Format};

/// `openssl passwd -1 -salt rpvboot secret` (the oracle for the hash of "secret").
const SECRET_MD5: &str = "$1$rpvboot$k.V.T5qNCwGVpLaktZmGK0";

const MENU: &str = "default 0\ntimeout 5\n\
title NetBSD\nroot (hd0,0,a)\nkernel /netbsd\n\
title NetBSD single user\nroot (hd0,0,a)\nkernel /netbsd -s\n\
title Linux\nroot (hd0,1)\nkernel /vmlinuz ro quiet\ninitrd /initrd.img\n";

fn model(text: &str) -> Menu {
    config::parse(Format::MenuLst, text.as_bytes(), "menu.lst")
}

/// No disks: the command line's `ls`/`cat` fail politely.
struct NoDisks;
impl Disks for NoDisks {
    fn probe(&mut self) -> Vec<String> {
        vec![String::from("no disks")]
    }
    fn list(&mut self, p: &str) -> Result<Vec<String>, String> {
        Err(format!("{p}: not found"))
    }
    fn read(&mut self, p: &str, _: usize) -> Result<Vec<u8>, String> {
        Err(format!("{p}: not found"))
    }
}

/// Feeds `chunks` one step each, 10 ms apart, then idles for `idle_ns`; returns the action and
/// everything sent to the terminal.
fn drive(s: &mut State, chunks: &[&[u8]], idle_ns: u64, disks: &mut dyn Disks) -> (Option<Action>, String) {
    let mut out = String::new();
    let mut now = 1_000;
    if let Some(a) = s.step(&[], now, disks, &mut out) {
        return (Some(a), out);
    }
    for c in chunks {
        now += 10_000_000;
        if let Some(a) = s.step(c, now, disks, &mut out) {
            return (Some(a), out);
        }
    }
    let end = now + idle_ns;
    while now < end {
        now += 100_000_000;
        if let Some(a) = s.step(&[], now, disks, &mut out) {
            return (Some(a), out);
        }
    }
    (None, out)
}

fn state(text: &str, dumb: bool) -> State {
    State::new(model(text), Options { dumb }, 1_000)
}

fn booted(a: Option<Action>) -> Choice {
    match a {
        Some(Action::Boot(c)) => c,
        other => panic!("expected a boot, got {other:?}"),
    }
}

#[test]
fn countdown_expiry_boots_the_default_and_redraws_only_the_countdown() {
    let mut s = state(MENU, false);
    let (a, out) = drive(&mut s, &[], 6 * SEC, &mut NoDisks);
    let c = booted(a);
    assert_eq!((c.entry, c.automatic, c.edited), (Some(0), true, false));
    assert_eq!(c.title, "NetBSD");
    assert_eq!(out.matches("\x1b[2J").count(), 1, "cleared once");
    for secs in 1..=5 {
        assert!(out.contains(&format!("in {secs} s;")), "{secs}: {out:?}");
    }
    // Each later frame only rewrites the countdown row.
    let countdown_row = format!("\x1b[{};1H", LIST_TOP + LIST_ROWS + 4);
    let frames: Vec<&str> = out.split(countdown_row.as_str()).skip(2).collect();
    assert_eq!(frames.len(), 4, "{out:?}");
    assert!(frames.iter().all(|f| !f.contains(";1H")));
}

#[test]
fn timeout_zero_boots_at_once_and_no_timeout_waits() {
    let mut s = state("timeout 0\ntitle a\nkernel /a\n", false);
    let (a, out) = drive(&mut s, &[], 0, &mut NoDisks);
    assert_eq!(booted(a).entry, Some(0));
    assert!(out.is_empty());
    let mut s = state("title a\nkernel /a\n", false);
    assert_eq!(drive(&mut s, &[], 100 * SEC, &mut NoDisks).0, None);
}

#[test]
fn arrow_down_enter_picks_the_second_entry_even_split() {
    for split in 0..4 {
        let keys = b"\x1b[B\r";
        let (a, b) = keys.split_at(split);
        let mut s = state(MENU, false);
        let c = booted(drive(&mut s, &[a, b], 10 * SEC, &mut NoDisks).0);
        assert_eq!((c.entry, c.automatic), (Some(1), false), "split {split}");
        assert_eq!(c.lines, vec!["root (hd0,0,a)", "kernel /netbsd -s"]);
        let e = c.to_entry(&s.model).unwrap();
        assert_eq!(e.kernel.unwrap().args, "-s");
    }
    // SS3 arrows, End, Home, digits.
    let mut s = state(MENU, false);
    assert_eq!(booted(drive(&mut s, &[b"\x1bOB\x1bOB\r"], 0, &mut NoDisks).0).entry, Some(2));
    let mut s = state(MENU, false);
    assert_eq!(booted(drive(&mut s, &[b"\x1b[4~\x1b[1~\x1b[B\r"], 0, &mut NoDisks).0).entry, Some(1));
    let mut s = state(MENU, false);
    assert_eq!(booted(drive(&mut s, &[b"\x1b[F\r"], 0, &mut NoDisks).0).entry, Some(2));
    let mut s = state(MENU, false);
    assert_eq!(booted(drive(&mut s, &[b"27\r"], 0, &mut NoDisks).0).entry, Some(2));
}

#[test]
fn any_key_stops_the_countdown() {
    let mut s = state(MENU, false);
    let (a, out) = drive(&mut s, &[b"\x1b[A"], 20 * SEC, &mut NoDisks);
    assert_eq!(a, None);
    assert!(!out.rsplit("\x1b[2J").next().unwrap().contains("in 1 s"));
    // The lone Esc (after the quiet time) is a key too.
    let mut s = state(MENU, false);
    assert_eq!(drive(&mut s, &[b"\x1b"], 20 * SEC, &mut NoDisks).0, None);
}

#[test]
fn hiddenmenu_shows_only_the_countdown_until_a_key() {
    let text = format!("hiddenmenu\n{MENU}");
    let mut s = state(&text, false);
    let (a, out) = drive(&mut s, &[], 2 * SEC, &mut NoDisks);
    assert_eq!(a, None);
    assert!(out.contains("Booting 'NetBSD' in 5 s"));
    assert!(!out.contains("single user"), "{out:?}");
    let (a, out) = drive(&mut s, &[b" "], SEC, &mut NoDisks);
    assert_eq!(a, None);
    let after = out.rsplit("\x1b[2J").next().unwrap();
    assert!(after.contains("NetBSD single user"), "{out:?}");
    assert!(!after.contains("Booting 'NetBSD' in"));
    // Nobody types: it boots.
    let mut s = state(&text, false);
    assert_eq!(booted(drive(&mut s, &[], 6 * SEC, &mut NoDisks).0).entry, Some(0));
}

#[test]
fn edit_command_line_and_boot_with_ctrl_x_or_enter() {
    // e, End, type " -s", Ctrl-X.
    let mut s = state(MENU, false);
    let (a, out) = drive(&mut s, &[b"e", b"\x1b[F -s", b"\x18"], 0, &mut NoDisks);
    let c = booted(a);
    assert!(out.contains("> kernel /netbsd"), "{out:?}");
    assert_eq!((c.entry, c.edited, c.automatic), (Some(0), true, false));
    assert_eq!(c.lines, vec!["root (hd0,0,a)", "kernel /netbsd -s"]);
    let e = c.to_entry(&s.model).unwrap();
    assert_eq!(e.kernel.as_ref().unwrap().args, "-s");
    assert_eq!(e.root.unwrap().as_str(), "(hd0,0,a)");
    // Change root= on Linux: Down Down, e, Up to root line, Ctrl-U, retype, Enter.
    let mut s = state(MENU, false);
    let c = booted(drive(&mut s, &[b"\x1b[B\x1b[B", b"e", b"\x1b[A", b"\x15root (hd1,0)", b"\r"], 0, &mut NoDisks).0);
    assert_eq!(c.lines, vec!["root (hd1,0)", "kernel /vmlinuz ro quiet", "initrd /initrd.img"]);
    assert_eq!(c.to_entry(&s.model).unwrap().root.unwrap().as_str(), "(hd1,0)");
    // A broken edit is reported by to_entry, not a panic.
    let mut s = state(MENU, false);
    let c = booted(drive(&mut s, &[b"e\x15kernel (hd0,\r"], 0, &mut NoDisks).0);
    assert!(c.to_entry(&s.model).is_err());
}

#[test]
fn edit_esc_goes_back_to_the_menu() {
    let mut s = state(MENU, false);
    let (a, out) = drive(&mut s, &[b"e", b"xyz", b"\x1b"], SEC, &mut NoDisks);
    assert_eq!(a, None);
    assert!(out.ends_with(&format!("\x1b[{};2H", LIST_TOP + 1)) || out.contains("NetBSD single user"));
    assert!(matches!(s.view, View::Menu));
    // And the entry is unchanged when booted afterwards.
    let mut out = String::new();
    let a = s.step(b"\r", 99 * SEC, &mut NoDisks, &mut out);
    let c = booted(a);
    assert!(!c.edited);
    assert_eq!(c.lines[1], "kernel /netbsd");
}

#[test]
fn command_line_root_kernel_boot() {
    let mut s = state(MENU, false);
    let (a, out) = drive(
        &mut s,
        &[b"c", b"help\r", b"root (hd0,0,a)\r", b"kernel /netbsd -s\r", b"module /x.kmod\r", b"boot\r"],
        0,
        &mut NoDisks,
    );
    let c = booted(a);
    assert!(out.contains("ls [PATH]"), "{out:?}");
    assert_eq!(c.entry, None);
    assert_eq!(c.lines, vec!["root (hd0,0,a)", "kernel /netbsd -s", "module /x.kmod"]);
    let e = c.to_entry(&s.model).unwrap();
    assert_eq!(e.kernel.unwrap().file.path, "/netbsd");
    assert_eq!(e.modules.len(), 1);
    // boot without a kernel, unknown commands, bad paths: messages, no action.
    let mut s = state(MENU, false);
    let (a, out) = drive(&mut s, &[b"c", b"boot\r", b"frob\r", b"kernel (hd0,\r", b"cat /x\r"], 0, &mut NoDisks);
    assert_eq!(a, None);
    assert!(out.contains("error: no kernel yet"));
    assert!(out.contains("unknown command 'frob'"));
    assert!(out.contains("error: /x: not found"));
    // halt.
    let mut s = state(MENU, false);
    assert_eq!(drive(&mut s, &[b"c", b"halt\r"], 0, &mut NoDisks).0, Some(Action::Shutdown));
    // No entries at all: the command line opens by itself, Esc stays there.
    let mut s = state("timeout 3\n", false);
    let (a, out) = drive(&mut s, &[b"\x1b"], 10 * SEC, &mut NoDisks);
    assert_eq!(a, None);
    assert!(out.contains("No boot entries"));
    assert!(matches!(s.view, View::Command { .. }));
}

#[test]
fn menu_password_md5_protects_edit_and_locked_entries() {
    let text =
        format!("password --md5 {SECRET_MD5}\ntimeout 5\ntitle open\nkernel /a\ntitle locked\nlock\nkernel /b\n");
    // 'e' asks; a wrong password is refused.
    let mut s = state(&text, false);
    let (a, out) = drive(&mut s, &[b"e", b"wrong", b"\r"], 0, &mut NoDisks);
    assert_eq!(a, None);
    assert!(out.contains("Password: *****"), "{out:?}");
    assert!(!out.contains("wrong"));
    assert!(out.contains("Wrong password."));
    assert!(matches!(s.view, View::Menu));
    // The right one opens the editor.
    let mut s = state(&text, false);
    let (a, _) = drive(&mut s, &[b"e", b"secret\r"], 0, &mut NoDisks);
    assert_eq!(a, None);
    assert!(matches!(s.view, View::Edit { .. }));
    // A locked entry asks before booting, even from the countdown.
    let mut s = state(&text, false);
    let (a, _) = drive(&mut s, &[b"\x1b[B\r"], 0, &mut NoDisks);
    assert_eq!(a, None);
    assert!(matches!(s.view, View::Password { .. }));
    assert_eq!(booted(drive(&mut s, &[b"secret\r"], 0, &mut NoDisks).0).entry, Some(1));
    let locked_default = format!("default 1\n{text}");
    let mut s = state(&locked_default, false);
    assert_eq!(drive(&mut s, &[], 10 * SEC, &mut NoDisks).0, None);
    assert!(matches!(s.view, View::Password { .. }));
}

#[test]
fn entry_password_plain() {
    let text = "timeout 5\ntitle p\npassword hunter2\nkernel /a\n";
    let mut s = state(text, false);
    let (a, _) = drive(&mut s, &[b"\rhunter\r"], 0, &mut NoDisks);
    assert_eq!(a, None);
    let mut s = state(text, false);
    let c = booted(drive(&mut s, &[b"\r", b"hunter2\r"], 0, &mut NoDisks).0);
    assert_eq!(c.entry, Some(0));
    // The editor does not show the password line.
    let mut s = state(text, false);
    let (_, out) = drive(&mut s, &[b"e"], 0, &mut NoDisks);
    assert!(!out.contains("hunter2"));
}

#[test]
fn failed_boot_goes_to_fallback_when_untouched_else_back_to_menu() {
    let text = format!("fallback 2 1\n{MENU}");
    let mut s = state(&text, false);
    let c = booted(drive(&mut s, &[], 6 * SEC, &mut NoDisks).0);
    assert_eq!(c.entry, Some(0));
    let mut out = String::new();
    let c = booted(s.boot_failed("kernel /netbsd not found", 7 * SEC, &mut out));
    assert_eq!((c.entry, c.automatic), (Some(2), true));
    assert!(out.contains("Error: kernel /netbsd not found"));
    let c = booted(s.boot_failed("corrupt", 8 * SEC, &mut out));
    assert_eq!(c.entry, Some(1));
    // Chain exhausted: the menu with the error, no countdown.
    assert_eq!(s.boot_failed("too big", 9 * SEC, &mut out), None);
    assert!(matches!(s.view, View::Menu));
    assert_eq!(drive(&mut s, &[], 30 * SEC, &mut NoDisks).0, None);
    // Someone chose: the error, back to the menu, nothing booted on its own.
    let mut s = state(&text, false);
    let c = booted(drive(&mut s, &[b"\x1b[B\r"], 0, &mut NoDisks).0);
    assert_eq!(c.entry, Some(1));
    let mut out = String::new();
    assert_eq!(s.boot_failed("kernel image: not an ELF file", 2 * SEC, &mut out), None);
    assert!(out.contains("Error: kernel image: not an ELF file"));
    assert_eq!(drive(&mut s, &[], 30 * SEC, &mut NoDisks).0, None);
}

#[test]
fn dumb_console_sends_no_escape_sequences() {
    let text = format!("fallback 1\n{MENU}");
    let mut s = state(&text, true);
    let (a, out) = drive(&mut s, &[], 6 * SEC, &mut NoDisks);
    assert_eq!(booted(a).entry, Some(0));
    assert!(out.contains("> 0 NetBSD\r\n  1 NetBSD single user\r\n  2 Linux\r\n"), "{out:?}");
    assert!(out.contains("in 5 s; press any key for the menu. 4 3 2 1"), "{out:?}");
    let mut s = state(&text, true);
    let (a, out) = drive(&mut s, &[b"\x1b[B", b"e", b"\x1b[D\x1b[D\x7f", b"\r"], 0, &mut NoDisks);
    let c = booted(a);
    assert_eq!(c.lines[1], "kernel /netbsd-s");
    let (_, out2) = drive(&mut state(&text, true), &[b"c", b"ls\r", b"\x1b"], SEC, &mut NoDisks);
    for o in [&out, &out2] {
        assert!(!o.contains('\x1b'), "{o:?}");
    }
    assert!(out.contains("press any key for the menu.\r\n-> 1 NetBSD single user"), "{out:?}");
    assert!(out.contains(" 1: kernel /netbsd -s"));
}

/// Random keys and bytes in random pieces: no panic, nothing outside 80x24, the state stays
/// consistent, and any action names a real entry.
#[test]
fn garbage_input_never_breaks_the_menu() {
    let vocab: &[&[u8]] = &[
        b"\x1b[A", b"\x1b[B", b"\x1b[C", b"\x1b[D", b"\x1b[H", b"\x1b[F", b"\x1b[3~", b"\x1b[5~", b"\x1b[6~", b"\x1b",
        b"\r", b"\n", b"e", b"c", b"p", b"x", b"ls /\r", b"\x18", b"\x0b", b"\x15", b"\x01", b"\x05", b"\x0f", b"\t",
        b"\x7f", b"\xff", b"\x00", b"\x1b[", b"\x1bO", b"5", b"1",
    ];
    let mut r = testimages::rng::Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..400 {
        let dumb = round % 3 == 0;
        let text = if round % 5 == 0 { format!("hiddenmenu\npassword s\n{MENU}") } else { String::from(MENU) };
        let mut s = state(&text, dumb);
        let mut now = 0u64;
        let mut out = String::new();
        for _ in 0..60 {
            let mut bytes = Vec::new();
            for _ in 0..r.next() % 4 {
                if r.next().is_multiple_of(4) {
                    bytes.push((r.next() & 0xff) as u8);
                } else {
                    bytes.extend_from_slice(vocab[(r.next() % vocab.len() as u64) as usize]);
                }
            }
            let cut = (r.next() as usize) % (bytes.len() + 1);
            now += r.next() % (SEC / 2);
            let mut act = s.step(&bytes[..cut], now, &mut NoDisks, &mut out);
            if act.is_none() {
                now += 1_000_000;
                act = s.step(&bytes[cut..], now, &mut NoDisks, &mut out);
            }
            assert!(s.selected() < 3);
            if let Some(Action::Boot(c)) = &act {
                assert!(c.entry.is_none_or(|i| i < 3));
                let _ = c.to_entry(&s.model);
                out.clear();
                if s.boot_failed("nope", now, &mut out).is_some() {
                    break;
                }
            }
            if dumb {
                assert!(!out.contains('\x1b'));
            }
            for seq in out.split("\x1b[").skip(1) {
                if let Some((rc, _)) = seq.split_once('H') {
                    if let Some((r, c)) = rc.split_once(';') {
                        if let (Ok(r), Ok(c)) = (r.parse::<usize>(), c.parse::<usize>()) {
                            assert!(r <= ROWS && c <= COLS, "{seq:?}");
                        }
                    }
                }
            }
            out.clear();
        }
    }
}

/// `run` over a scripted terminal: keys arrive in pieces between reads.
#[test]
fn run_over_a_terminal() {
    let mut t = crate::testing::Script::new(&[b"\x1b", b"[B", b"\r", b"c", b"halt\r"]);
    let a = run_until_boot(model(MENU), Options { dumb: false }, &mut t, &mut NoDisks, &mut |c| {
        Err(format!("kernel {} not found", c.title))
    });
    // Entry 1 failed (chosen): back to the menu with the error, then `c`, `halt`.
    assert_eq!(a, Action::Shutdown);
    assert!(t.out.contains("Booting 'NetBSD single user'"));
    assert!(t.out.contains("Error: kernel NetBSD single user not found"));
}

/// An ext2 image made by mke2fs from a directory holding `files` (the oracle for `ls`/`cat`).
fn ext2_disk(files: &[(&str, &[u8])]) -> fs::probe::Disk {
    fs::probe::scan_disk(0, Box::new(fs::MemDisk::new(testimages::tools::ext2_image(files, 4), 512)))
}

#[test]
fn command_line_ls_cat_probe_and_tab_over_an_mke2fs_disk() {
    let files: &[(&str, &[u8])] = &[
        ("/boot/grub/menu.lst", b"title x\nkernel /netbsd\n"),
        ("/netbsd", b"not really a kernel"),
        ("/boot/vmlinuz-6.1", b"k"),
        ("/etc/motd", b"Welcome to the domU\nsecond line\x1b[2J\n"),
    ];
    let disks = [ext2_disk(files)];
    let mut d = ProbedDisks(&disks);
    let mut s = state(MENU, false);
    let (a, out) = drive(
        &mut s,
        &[b"c", b"ls /\r", b"ls (hd0)/boot\r", b"cat /etc/motd\r", b"probe\r", b"ls /nope\r", b"cat /boot\r"],
        0,
        &mut d,
    );
    assert_eq!(a, None);
    assert!(out.contains("boot/  etc/  lost+found/  netbsd\r\n"), "{out:?}");
    assert!(out.contains("grub/  vmlinuz-6.1\r\n"), "{out:?}");
    assert!(out.contains("Welcome to the domU\r\nsecond line?[2J\r\n"), "{out:?}");
    assert!(out.contains("(hd0): "), "{out:?}");
    assert!(out.contains("ext2"), "{out:?}");
    assert!(out.contains("error: /nope: "), "{out:?}");
    assert!(out.contains("error: /boot: is a directory"), "{out:?}");
    // Tab completes a unique name; root applies to plain paths.
    let mut s = state(MENU, false);
    let (a, _) = drive(&mut s, &[b"c", b"root (hd0)\r", b"kernel /boot/vm\t", b" ro\r", b"boot\r"], 0, &mut d);
    let c = booted(a);
    assert_eq!(c.lines, vec!["root (hd0)", "kernel /boot/vmlinuz-6.1 ro"]);
}

/// Keys typed ahead of a failed boot are not lost: `2` Enter fails, `1` Enter boots.
#[test]
fn typed_ahead_keys_survive_a_failed_boot() {
    let mut s = state(MENU, true);
    let mut out = String::new();
    let c = booted(s.step(b"2\r1\r", 1_000, &mut NoDisks, &mut out));
    assert_eq!(c.entry, Some(2));
    assert!(s.wants_early_tick());
    assert_eq!(s.boot_failed("kernel missing", 2_000, &mut out), None);
    let c = booted(s.step(&[], 3_000, &mut NoDisks, &mut out));
    assert_eq!(c.entry, Some(1));
    assert!(!out.contains('\x1b'));
}

/// An idle command line sends nothing on later ticks (it used to resend its prompt four times a
/// second into the provider's console log); typing still echoes.
#[test]
fn idle_prompt_is_not_redrawn_on_every_tick() {
    for dumb in [false, true] {
        let mut s = state(MENU, dumb);
        let mut out = String::new();
        assert!(s.step(b"c", 1_000, &mut NoDisks, &mut out).is_none());
        assert!(out.contains("rpvboot> "), "{out:?}");
        for tick in 1..20u64 {
            out.clear();
            assert!(s.step(&[], 1_000 + tick * 250_000_000, &mut NoDisks, &mut out).is_none());
            assert_eq!(out, "", "dumb={dumb}, tick {tick}");
        }
        assert!(s.step(b"l", 6_000_000_000, &mut NoDisks, &mut out).is_none());
        assert!(out.contains("rpvboot> l"), "{out:?}");
    }
}
