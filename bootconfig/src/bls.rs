//! BootLoaderSpec entries as GRUB's `blscfg` command reads them (the command Fedora, RHEL 8/9/10
//! and CentOS Stream add to GRUB 2 and call from `grub.cfg`; see docs/bls.md).
//!
//! The pieces are pure: [`parse_entry`] reads one `*.conf` file as `read_entry` does,
//! [`insert_sorted`] keeps the list in `blscfg`'s order (newest first, by [`id_cmp`] over the file
//! names with [`vercmp`]), [`expand_val`] expands `$kernelopts` and other variables in `options`
//! as `blscfg` does, and [`entry_source`] writes the GRUB script `blscfg` gives the menu entry
//! (`linux ($root)/vmlinuz-… OPTIONS`, `initrd ($root)/…`). The GRUB interpreter (`grubcfg`)
//! lists the directory on the domU's disk and runs that script as a `menuentry` body, so
//! `$root`, quoting and `$var`s inside the options end as GRUB would end them.

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

/// Most `*.conf` names read from one entries directory; the rest are left out with a warning.
pub const MAX_BLS_FILES: usize = 256;
/// Largest entry file read; a longer one is cut there with a warning (an entry is a few hundred
/// bytes; Fedora's older `blscfg` refused files over 1 MiB).
pub const MAX_BLS_FILE: usize = 64 * 1024;
/// Most key/value bytes kept over all entries of one `blscfg` call.
pub const MAX_BLS_TOTAL: usize = 1024 * 1024;
/// Longest script made for one entry: `$early_initrd` names could otherwise repeat a long
/// initrd directory thousands of times.
pub const MAX_BLS_SCRIPT: usize = 2 * MAX_BLS_FILE;
/// Where `blscfg` looks on `$root` without `$blsdir`, and where it looks when that directory
/// cannot be read (`/boot` on the root filesystem).
pub const BLS_DIRS: [&str; 2] = ["/loader/entries", "/boot/loader/entries"];

/// One entry file: its id (the file name without `.conf`) and its `key value` lines in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlsEntry {
    /// The file name without `.conf`: the menu entry's `--id`, what `saved_entry` names.
    pub id: String,
    /// `(key, value)` in file order (`initrd` may repeat).
    pub keys: Vec<(String, String)>,
}

impl BlsEntry {
    /// The first value of `key` (`bls_get_val`).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in file order (`bls_make_list`).
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.keys.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Bytes held (for [`MAX_BLS_TOTAL`]).
    pub fn size(&self) -> usize {
        self.keys.iter().fold(self.id.len(), |n, (k, v)| n.saturating_add(k.len()).saturating_add(v.len()))
    }
}

/// The id of a directory entry `blscfg` reads: a name not starting with `.`, longer than
/// `.conf` and ending in it (`read_entry`), without the `.conf`.
pub fn conf_id(name: &str) -> Option<&str> {
    if name.starts_with('.') || name.len() <= 5 {
        return None;
    }
    name.strip_suffix(".conf")
}

/// Reads an entry file as `read_entry` does: `grub_file_getline` drops every `\r`; leading
/// blanks are skipped; `#` lines are comments; the key ends at the first space (a tab only when
/// the line has no space) and the value starts after the blanks that follow. A line without a
/// separator, or whose separator is its last character (an empty line too), ends the file.
pub fn parse_entry(id: &str, bytes: &[u8]) -> BlsEntry {
    let mut keys = Vec::new();
    let text: Vec<u8> = bytes.iter().copied().filter(|&b| b != b'\r').collect();
    for raw in text.split(|&b| b == b'\n') {
        // C strings: a NUL ends the line.
        let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_start_matches([' ', '\t']);
        if line.starts_with('#') {
            continue;
        }
        let Some(sep) = line.find(' ').or_else(|| line.find('\t')) else {
            break;
        };
        let key = line.get(..sep).unwrap_or("");
        let value = line.get(sep.saturating_add(1)..).unwrap_or("");
        if value.is_empty() {
            break;
        }
        keys.push((String::from(key), String::from(value.trim_start_matches([' ', '\t']))));
    }
    // The last line of a file ending in a newline is no line (`grub_file_getline` returns NULL);
    // the loop above met it as an empty line and stopped there, which is the same.
    BlsEntry { id: String::from(id), keys }
}

/// rpm's version comparison as `blscfg`'s `vercmp` has it: the strings are cut into runs of
/// digits and runs of letters, anything else separating them; `~` sorts before everything (even
/// the end), `+` likewise but after the end; a number beats letters; numbers compare by value
/// (leading zeros dropped, then length, then digits), letters by bytes; when all runs agree the
/// string with runs left over is newer. `Greater`: `a` is newer.
pub fn vercmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return Ordering::Equal;
    }
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let sep = |c: u8| c != 0 && !c.is_ascii_alphanumeric() && c != b'~' && c != b'+';
    let (mut one, mut two) = (0usize, 0usize);
    // Each round moves past at least one byte of `a` or `b`, or returns.
    while at(a, one) != 0 || at(b, two) != 0 {
        while sep(at(a, one)) {
            one = one.saturating_add(1);
        }
        while sep(at(b, two)) {
            two = two.saturating_add(1);
        }
        let (c1, c2) = (at(a, one), at(b, two));
        if c1 == b'~' || c2 == b'~' {
            if c1 != b'~' {
                return Ordering::Greater;
            }
            if c2 != b'~' {
                return Ordering::Less;
            }
            one = one.saturating_add(1);
            two = two.saturating_add(1);
            continue;
        }
        if c1 == b'+' || c2 == b'+' {
            if c1 == 0 {
                return Ordering::Less;
            }
            if c2 == 0 {
                return Ordering::Greater;
            }
            if c1 != b'+' {
                return Ordering::Greater;
            }
            if c2 != b'+' {
                return Ordering::Less;
            }
            one = one.saturating_add(1);
            two = two.saturating_add(1);
            continue;
        }
        if c1 == 0 || c2 == 0 {
            break;
        }
        let isnum = c1.is_ascii_digit();
        let class = |c: u8| if isnum { c.is_ascii_digit() } else { c.is_ascii_alphabetic() };
        let (mut s1, mut s2) = (one, two);
        while class(at(a, s1)) {
            s1 = s1.saturating_add(1);
        }
        while class(at(b, s2)) {
            s2 = s2.saturating_add(1);
        }
        if s1 == one {
            return Ordering::Less;
        }
        if s2 == two {
            return if isnum { Ordering::Greater } else { Ordering::Less };
        }
        let mut x = a.get(one..s1).unwrap_or_default();
        let mut y = b.get(two..s2).unwrap_or_default();
        if isnum {
            while let [b'0', rest @ ..] = x {
                x = rest;
            }
            while let [b'0', rest @ ..] = y {
                y = rest;
            }
            match x.len().cmp(&y.len()) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        match x.cmp(y) {
            Ordering::Equal => {}
            o => return o,
        }
        one = s1;
        two = s2;
    }
    match (at(a, one), at(b, two)) {
        (0, 0) => Ordering::Equal,
        (0, _) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// `split_package_string` with a name: `name-version-release` cut at the last two `-`; with one
/// `-` the parts are name and version, with none only a name.
fn split_nvr(s: &str) -> (&str, &str, &str) {
    match s.rsplit_once('-') {
        None => (s, "", ""),
        Some((head, release)) => match head.rsplit_once('-') {
            Some((name, version)) => (name, version, release),
            None => (head, release, ""),
        },
    }
}

/// `blscfg`'s `bls_cmp`: the ids as `name-version-release`, compared part by part with
/// [`vercmp`]. `Greater`: `a` is newer (comes first in the menu).
pub fn id_cmp(a: &str, b: &str) -> Ordering {
    let (n0, v0, r0) = split_nvr(a);
    let (n1, v1, r1) = split_nvr(b);
    vercmp(n0, n1).then_with(|| vercmp(v0, v1)).then_with(|| vercmp(r0, r1))
}

/// `bls_add_entry`: `e` goes before the first entry it is newer than, else last; an entry that
/// compares equal to one already there is dropped (`false`).
pub fn insert_sorted(list: &mut Vec<BlsEntry>, e: BlsEntry) -> bool {
    for i in 0..list.len() {
        match list.get(i).map(|x| id_cmp(&e.id, &x.id)) {
            Some(Ordering::Equal) => return false,
            Some(Ordering::Greater) => {
                list.insert(i, e);
                return true;
            }
            _ => {}
        }
    }
    list.push(e);
    true
}

/// `blscfg`'s `expand_val`: `$NAME` (letters, digits, `_`) becomes the variable's value and a
/// space, and a space right after the name is dropped; an unset variable leaves nothing; a `$`
/// after `\` stays as written. `None` when nothing came out (then `options` falls back to
/// `$default_kernelopts`). Ported as written, with its edges: a one-character run of text
/// before a `$`, at the end, or a one-character name is dropped, as GRUB drops it.
pub fn expand_val(value: &str, get: &dyn Fn(&str) -> Option<String>, limit: usize) -> Option<String> {
    let v = value.as_bytes();
    let mut buf: Option<String> = None;
    let (mut start, mut end, mut is_var) = (0usize, 0usize, false);
    let append = |is_var: bool, start: usize, end: usize, buf: &mut Option<String>| {
        let field = String::from_utf8_lossy(v.get(start..=end).unwrap_or_default());
        let text = if is_var {
            match get(&field) {
                Some(val) => val,
                None => return,
            }
        } else {
            String::from(field)
        };
        let b = buf.get_or_insert_with(String::new);
        if b.len().saturating_add(text.len()) <= limit {
            b.push_str(&text);
            if is_var {
                b.push(' ');
            }
        }
    };
    for (i, &c) in v.iter().enumerate() {
        if c == b'$' && v.get(end).copied() != Some(b'\\') {
            if start != end {
                append(is_var, start, end, &mut buf);
            }
            is_var = true;
            start = i.saturating_add(1);
        } else if is_var && !c.is_ascii_alphanumeric() && c != b'_' {
            append(is_var, start, end, &mut buf);
            is_var = false;
            start = if c == b' ' { i.saturating_add(1) } else { i };
        }
        end = i;
    }
    if start != end {
        append(is_var, start, end, &mut buf);
    }
    buf
}

/// What `blscfg`'s `create_entry` makes of an entry: the menu entry's title (`title`, else the
/// `linux` path), `--id`, `grub_users` (expanded) and body. `None` without a `linux` key (the
/// entry is skipped, as GRUB skips it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuSource {
    /// The title shown.
    pub title: String,
    /// The id (`saved_entry` names it).
    pub id: String,
    /// `grub_users`: only these users may boot it.
    pub users: Option<String>,
    /// The GRUB script run when the entry boots.
    pub script: String,
}

/// `create_entry`: the script `load_video`, `set gfxpayload=keep`, `insmod gzio`,
/// `linux ($root)LINUX OPTIONS` and `initrd ($root)EARLY… ($root)INITRD…` (preceded by
/// `savedefault` when `$save_default` is `true`). `options` is expanded with [`expand_val`], or
/// is `$default_kernelopts` expanded when the entry has none; `$early_initrd` names files in the
/// first initrd's directory (else the kernel's). `devicetree` (ARM only) is not written.
pub fn entry_source(e: &BlsEntry, get: &dyn Fn(&str) -> Option<String>, limit: usize) -> Option<MenuSource> {
    let linux = e.get("linux")?;
    let options = e
        .get("options")
        .and_then(|o| expand_val(o, get, limit))
        .or_else(|| get("default_kernelopts").and_then(|o| expand_val(&o, get, limit)));
    let initrds: Vec<&str> = e.all("initrd").collect();
    let mut script = String::new();
    if get("save_default").as_deref() == Some("true") {
        script.push_str("savedefault\n");
    }
    script.push_str("load_video\nset gfxpayload=keep\ninsmod gzio\nlinux ($root)");
    script.push_str(linux);
    if let Some(o) = &options {
        script.push(' ');
        script.push_str(o);
    }
    script.push('\n');
    let early = get("early_initrd");
    if early.is_some() || !initrds.is_empty() {
        script.push_str("initrd");
        if let Some(early) = &early {
            let base = initrds.first().copied().unwrap_or(linux);
            let dir = base.rfind('/').and_then(|i| base.get(..=i)).unwrap_or("");
            for f in early.split(' ') {
                push_bounded(&mut script, &[" ($root)", dir, f]);
            }
        }
        for f in &initrds {
            push_bounded(&mut script, &[" ($root)", f]);
        }
        script.push('\n');
    }
    Some(MenuSource {
        title: String::from(e.get("title").unwrap_or(linux)),
        id: e.id.clone(),
        users: e.get("grub_users").and_then(|u| expand_val(u, get, limit)),
        script,
    })
}

/// Appends the parts while the script stays within [`MAX_BLS_SCRIPT`].
fn push_bounded(script: &mut String, parts: &[&str]) {
    let len = parts.iter().fold(script.len(), |n, p| n.saturating_add(p.len()));
    if len <= MAX_BLS_SCRIPT {
        parts.iter().for_each(|p| script.push_str(p));
    }
}

#[cfg(test)]
mod tests {
    //! Each expectation follows a rule of Fedora/RHEL's `grub-core/commands/blscfg.c`
    //! (rhboot/grub2, branches rhel-9-main and fedora-44, which agree on these), named in the
    //! test; docs/bls.md says the same in words.
    use super::*;
    use alloc::string::ToString;

    fn v(a: &str, b: &str) -> i32 {
        match vercmp(a, b) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }
    }

    #[test]
    fn vercmp_follows_rpm_rules() {
        // Numbers compare by value, not as text; leading zeros do not count.
        assert_eq!(v("5.14.0-10", "5.14.0-9"), 1);
        assert_eq!(v("1.010", "1.9"), 1);
        assert_eq!(v("1.01", "1.1"), 0);
        // A numeric run is newer than an alphabetic one ("numeric segments are always newer").
        assert_eq!(v("1.1", "1.a"), 1);
        assert_eq!(v("1.a", "1.1"), -1);
        // Letters compare bytewise.
        assert_eq!(v("1.beta", "1.alpha"), 1);
        // `~` sorts before everything, even the end of the string.
        assert_eq!(v("1.0~rc1", "1.0"), -1);
        assert_eq!(v("1.0~rc1", "1.0~rc2"), -1);
        // `+` also splits, but the longer string wins at the end ("base version").
        assert_eq!(v("1.0+git1", "1.0"), 1);
        assert_eq!(v("1.0", "1.0+git1"), -1);
        // Only separators differ: equal.
        assert_eq!(v("1.0", "1_0"), 0);
        // More runs left over: newer.
        assert_eq!(v("1.0.1", "1.0"), 1);
        assert_eq!(v("", "1"), -1);
        // Very long numbers do not overflow ("whichever number has more digits wins").
        assert_eq!(v("99999999999999999999999", "99999999999999999999998"), 1);
    }

    #[test]
    fn ids_sort_newest_first_by_name_version_release() {
        // bls_add_entry keeps the list newest first by bls_cmp (split_cmp over the file name).
        let m = "2bd0f0d0f59d4f2a8a5a3b2e4d2c1a00";
        let names = [
            alloc::format!("{m}-4.18.0-80.el8.x86_64"),
            alloc::format!("{m}-0-rescue"),
            alloc::format!("{m}-4.18.0-147.el8.x86_64"),
            alloc::format!("{m}-4.18.0-80.11.2.el8_0.x86_64"),
        ];
        let mut list = Vec::new();
        for n in &names {
            assert!(insert_sorted(&mut list, BlsEntry { id: n.clone(), keys: Vec::new() }));
        }
        let got: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            got,
            [names[2].as_str(), names[3].as_str(), names[0].as_str(), names[1].as_str()],
            "147 > 80.11.2 > 80 > the rescue entry (version 0)"
        );
        // Equal under bls_cmp: the later one is dropped.
        assert!(!insert_sorted(
            &mut list,
            BlsEntry { id: alloc::format!("{m}-4.18.0-80_el8.x86_64"), keys: Vec::new() }
        ));
        // Name first: a different machine id outranks any version.
        assert_eq!(id_cmp("b-1-1", "a-9-9"), Ordering::Greater);
        // One dash: name and version; none: name only.
        assert_eq!(split_nvr("a-b"), ("a", "b", ""));
        assert_eq!(split_nvr("a"), ("a", "", ""));
        assert_eq!(split_nvr("a-b-c-d"), ("a-b", "c", "d"));
    }

    #[test]
    fn entry_files_are_read_as_read_entry_reads_them() {
        // Leading blanks skipped, `#` comments, key up to the first space, value after blanks,
        // CRs dropped, `initrd` repeated; a line without a value ends the file.
        let f = b"# comment\r\ntitle Red Hat Enterprise Linux (4.18.0-80.el8.x86_64) 8.0 (Ootpa)\r\n  version 4.18.0-80.el8.x86_64\nlinux\t/vmlinuz-4.18.0-80.el8.x86_64\ninitrd /initramfs.img $tuned_initrd\ninitrd /extra.img\noptions   $kernelopts $tuned_params\nbroken\nid after-the-end\n";
        let e = parse_entry("x", f);
        assert_eq!(e.get("title"), Some("Red Hat Enterprise Linux (4.18.0-80.el8.x86_64) 8.0 (Ootpa)"));
        assert_eq!(e.get("version"), Some("4.18.0-80.el8.x86_64"));
        assert_eq!(e.get("linux"), Some("/vmlinuz-4.18.0-80.el8.x86_64"));
        assert_eq!(e.all("initrd").collect::<Vec<_>>(), ["/initramfs.img $tuned_initrd", "/extra.img"]);
        assert_eq!(e.get("options"), Some("$kernelopts $tuned_params"));
        assert_eq!(e.get("id"), None);
        // A tab separates only when the line has no space at all.
        let e = parse_entry("x", b"title\tA B\n");
        assert_eq!(e.keys, [("title\tA".to_string(), "B".to_string())]);
        // An empty line ends the file.
        let e = parse_entry("x", b"title A\n\nlinux /v\n");
        assert_eq!(e.get("linux"), None);
        assert_eq!(conf_id("a.conf"), Some("a"));
        assert_eq!(conf_id(".a.conf"), None);
        assert_eq!(conf_id(".conf"), None);
        assert_eq!(conf_id("a.cfg"), None);
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "kernelopts" => Some("root=/dev/mapper/rhel-root ro crashkernel=auto".into()),
            "empty" => Some(String::new()),
            "default_kernelopts" => Some("root=/dev/xvda2 ro".into()),
            _ => None,
        }
    }

    #[test]
    fn options_are_expanded_as_expand_val_does() {
        let x = |s: &str| expand_val(s, &env, 4096);
        // A variable becomes its value and a space; the space after the name is dropped.
        assert_eq!(x("$kernelopts $tuned_params").as_deref(), Some("root=/dev/mapper/rhel-root ro crashkernel=auto "));
        assert_eq!(x("$kernelopts quiet").as_deref(), Some("root=/dev/mapper/rhel-root ro crashkernel=auto quiet"));
        assert_eq!(x("rhgb $kernelopts").as_deref(), Some("rhgb root=/dev/mapper/rhel-root ro crashkernel=auto "));
        // Unset variables leave nothing at all: no options.
        assert_eq!(x("$tuned_params"), None);
        // A `$` after a backslash is text.
        assert_eq!(x("a=\\$kernelopts").as_deref(), Some("a=\\$kernelopts"));
        // GRUB's edges, kept: a one-character text before `$` or at the end is dropped.
        assert_eq!(x("x$kernelopts").as_deref(), Some("root=/dev/mapper/rhel-root ro crashkernel=auto "));
        assert_eq!(x("$kernelopts q").as_deref(), Some("root=/dev/mapper/rhel-root ro crashkernel=auto "));
        assert_eq!(x("ab q").as_deref(), Some("ab q"));
    }

    #[test]
    fn entry_source_is_create_entrys_script() {
        let e = parse_entry(
            "m-4.18.0-80.el8.x86_64",
            b"title RHEL\nlinux /vmlinuz-4.18.0\ninitrd /initramfs-4.18.0.img $tuned_initrd\noptions $kernelopts\ngrub_users $grub_users\n",
        );
        let s = entry_source(&e, &env, 4096).unwrap();
        assert_eq!(s.title, "RHEL");
        assert_eq!(s.id, "m-4.18.0-80.el8.x86_64");
        assert_eq!(s.users, None);
        assert_eq!(
            s.script,
            "load_video\nset gfxpayload=keep\ninsmod gzio\nlinux ($root)/vmlinuz-4.18.0 root=/dev/mapper/rhel-root ro crashkernel=auto \ninitrd ($root)/initramfs-4.18.0.img $tuned_initrd\n"
        );
        // No options key: $default_kernelopts; no title: the linux path; no initrd: no line.
        let e = parse_entry("y", b"linux /boot/vmlinuz\n");
        let s = entry_source(&e, &env, 4096).unwrap();
        assert_eq!(s.title, "/boot/vmlinuz");
        assert_eq!(
            s.script,
            "load_video\nset gfxpayload=keep\ninsmod gzio\nlinux ($root)/boot/vmlinuz root=/dev/xvda2 ro\n"
        );
        // A hostile $early_initrd repeating a long directory stays bounded.
        let long = alloc::format!("linux /k\ninitrd /{}/i\n", "d".repeat(60_000));
        let many = |n: &str| if n == "early_initrd" { Some("a ".repeat(2000)) } else { None };
        let s = entry_source(&parse_entry("h", long.as_bytes()), &many, 4096).unwrap();
        assert!(s.script.len() <= MAX_BLS_SCRIPT + 200, "{}", s.script.len());
        // No linux key: skipped.
        assert_eq!(entry_source(&parse_entry("z", b"title T\n"), &env, 4096), None);
    }
}
