//! Turns the serial log of one QEMU boot into a verdict per scenario.
//!
//! dom0's /init (xtask/e2e/dom0-init.sh) frames each scenario with `E2E-*` marker lines; the
//! guest's console is the xenconsoled log printed between `E2E-LOG-BEGIN`/`E2E-LOG-END`
//! (falling back to the live `xl create -c` output when that log is empty).

use regex::{Regex, RegexBuilder};

use super::qemu::Line;
use super::scenarios::{Scenario, Shutdown};

/// The verdict for one scenario.
pub struct Verdict {
    pub failures: Vec<String>,
    /// The guest console text the expectations were checked against.
    pub console: String,
    /// Seconds from `E2E-BEGIN` to `E2E-END` on the serial line.
    pub secs: Option<f64>,
    /// How the domain ended (`poweroff`, `crash`, …) when xl logged it.
    pub reason: Option<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Value of `key=` in a marker line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Whether `line` is the marker `tag` for scenario `name` (markers may share a line with
/// Xen output, so look for the words rather than a line start).
pub fn is_marker(line: &str, tag: &str, name: &str) -> bool {
    let mut w = line.split_whitespace().skip_while(|w| *w != tag);
    w.next().is_some() && w.next() == Some(name)
}

/// Compiles an expectation in multi-line mode (`^`/`$` at line boundaries).
pub fn compile(re: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(re).multi_line(true).build()
}

/// Judges `s` from the serial `lines`. `qemu_note` explains an early end (timeout, exit).
pub fn judge(s: &Scenario, lines: &[Line], qemu_note: Option<&str>) -> Verdict {
    let mut v = Verdict { failures: Vec::new(), console: String::new(), secs: None, reason: None };
    let begin = lines.iter().position(|l| is_marker(&l.text, "E2E-BEGIN", &s.name));
    let Some(begin) = begin else {
        let why = if lines.iter().any(|l| l.text.contains("E2E-DOM0-READY")) {
            "dom0 never started it"
        } else {
            "dom0 never became ready (see the serial log)"
        };
        v.failures.push(match qemu_note {
            Some(n) => format!("not run: {why}; {n}"),
            None => format!("not run: {why}"),
        });
        return v;
    };
    let rest = lines.get(begin..).unwrap_or_default();
    let end = rest.iter().position(|l| is_marker(&l.text, "E2E-END", &s.name));
    let window = match end {
        Some(e) => rest.get(..=e).unwrap_or(rest),
        None => rest,
    };
    let t_begin = rest.first().map(|l| l.t);
    let end_line = end.and_then(|e| rest.get(e));
    if let (Some(a), Some(b)) = (t_begin, end_line) {
        v.secs = Some(b.t - a);
    }

    // Live console (xl create -c) and the xenconsoled log copy.
    let mut live = Vec::new();
    let mut logged = Vec::new();
    let mut in_live = true;
    let mut in_log = false;
    for l in window.iter().skip(1) {
        let t = l.text.as_str();
        if is_marker(t, "E2E-XL-EXIT", &s.name) {
            in_live = false;
        } else if is_marker(t, "E2E-LOG-BEGIN", &s.name) {
            in_log = true;
        } else if is_marker(t, "E2E-LOG-END", &s.name) {
            in_log = false;
        } else if in_log {
            logged.push(t);
        } else if in_live {
            live.push(t);
        }
    }
    let logged_text = logged.join("\n");
    v.console = strip_ansi(if logged_text.trim().is_empty() { &live } else { &logged });

    let Some(end_line) = end_line else {
        v.failures.push(format!("did not finish: {}", qemu_note.unwrap_or("the serial log stops inside it")));
        check_expect(s, &mut v);
        return v;
    };
    let e = end_line.text.as_str();
    v.reason = field(e, "reason").and_then(|r| r.parse::<u32>().ok()).map(|c| Shutdown::name_of(c).to_string());
    // Stopped by the harness once every expectation matched (the ad-hoc contract): how the
    // domain would have gone on does not count, only what it printed and whether it crashed.
    let stopped = s.stop_when_matched && field(e, "stopped") == Some("1");
    if stopped {
        v.reason = Some(String::from("stopped once every expectation matched"));
    } else if s.ends_by_timeout {
        // The guest waits for ever by design (e.g. in a debugger without console input): it
        // must still be running when dom0's timeout ends `xl create -c` and destroys it.
        if field(e, "timeout") != Some("1") {
            v.failures.push(format!("ended before the {} s timeout, expected to be still running", s.timeout_secs));
        }
    } else if field(e, "timeout") == Some("1") {
        v.failures.push(format!("timeout: still running after {} s", s.timeout_secs));
    } else if field(e, "leftover") == Some("1") {
        v.failures.push("domain still existed after xl create -c returned (destroyed)".to_string());
    }
    if field(e, "timeout") != Some("1") && !stopped {
        if let Some(rc) = field(e, "rc").filter(|rc| *rc != "0") {
            v.failures.push(format!("xl create -c exited with rc={rc}"));
        }
    }
    for l in window {
        if let Some(i) = l.text.find("E2E-DOM0-FAILED") {
            let msg = l.text.get(i + "E2E-DOM0-FAILED".len()..).unwrap_or_default();
            v.failures.push(format!("dom0:{msg}"));
        }
    }
    if !s.allow_crash {
        let crash = Regex::new(r"\(XEN\) Domain \d+ \(vcpu#\d+\) crashed.*").ok();
        if let Some(m) = crash.as_ref().and_then(|re| window.iter().find_map(|l| re.find(&l.text))) {
            v.failures.push(format!("{} (not expected)", m.as_str().trim()));
        }
    }
    if let Some(want) = s.shutdown.filter(|_| !s.ends_by_timeout && !stopped) {
        match field(e, "reason").and_then(|r| r.parse::<u32>().ok()) {
            Some(code) if code == want.code() => {}
            Some(code) => v.failures.push(format!(
                "shutdown reason code {code} ({}), expected {} ({})",
                Shutdown::name_of(code),
                want.code(),
                Shutdown::name_of(want.code())
            )),
            None => v.failures.push("no shutdown reason logged by xl (domain did not shut down)".to_string()),
        }
    }
    check_expect(s, &mut v);
    v
}

/// Runs the scenario's host check (if any) once everything seen in the guest passed; its
/// error becomes a failure.
pub fn host_check(s: &Scenario, disks: &[std::path::PathBuf], v: &mut Verdict) {
    let Some(check) = s.host_check else { return };
    if !v.passed() {
        return;
    }
    if let Err(e) = check(s, disks, &v.console) {
        v.failures.push(format!("host check: {e:#}"));
    }
}

/// Joins console lines, dropping ANSI escape sequences (GRUB and Linux colour their output)
/// so that expectations see plain text.
pub fn strip_ansi(lines: &[&str]) -> String {
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut chars = l.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\u{1b}' {
                out.push(c);
                continue;
            }
            if chars.peek() == Some(&'[') {
                chars.next();
                // CSI: parameters and intermediates, then one final byte in @..~
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        }
    }
    out
}

fn check_expect(s: &Scenario, v: &mut Verdict) {
    for re in &s.expect {
        match compile(re) {
            Ok(r) if r.is_match(&v.console) => {}
            Ok(_) => v.failures.push(format!("expected /{re}/ not found in the console")),
            Err(e) => v.failures.push(format!("bad regex /{re}/: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<Line> {
        text.lines().enumerate().map(|(i, t)| Line { t: i as f64, text: t.to_string() }).collect()
    }

    fn scen() -> Scenario {
        Scenario::rpvboot("banner", "x").expect(r"^rpvboot \d+\.\d+\.\d+ ")
    }

    const OK: &str = "E2E-DOM0-READY uptime=1\nE2E-BEGIN banner uptime=2\nrpvboot 0.1.0 live\n\
        E2E-XL-EXIT banner rc=0\nE2E-LOG-BEGIN banner\nrpvboot 0.1.0 (Xen PV bootloader)\n\
        E2E-LOG-END banner\nE2E-END banner rc=0 timeout=0 leftover=0 reason=0 uptime=3\n";

    #[test]
    fn pass() {
        let v = judge(&scen(), &lines(OK), None);
        assert!(v.passed(), "{:?}", v.failures);
        assert_eq!(v.console, "rpvboot 0.1.0 (Xen PV bootloader)");
    }

    #[test]
    fn wrong_reason_crash_and_missing_regex() {
        let text = OK
            .replace("rpvboot 0.1.0 (", "nope (")
            .replace("reason=0", "reason=3")
            .replace("(Xen PV", "x\n(XEN) Domain 3 (vcpu#0) crashed on cpu#1:\n(Xen PV");
        let v = judge(&scen(), &lines(&text), None);
        assert_eq!(v.failures.len(), 3, "{:?}", v.failures);
        assert!(v.failures.iter().any(|f| f.contains("reason code 3 (crash)")));
        assert!(v.failures.iter().any(|f| f.contains("Domain 3 (vcpu#0) crashed")));
        assert!(v.failures.iter().any(|f| f.contains("not found")));
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(strip_ansi(&["\u{1b}[30m\u{1b}[47mWelcome", "\u{1b}[1;1H  Boot"]), "Welcome\n  Boot");
    }

    /// A scenario that must wait for ever passes only when dom0's timeout ended it (the
    /// domain destroyed, no shutdown reason), and its expectations still apply.
    #[test]
    fn ends_by_timeout() {
        let s = Scenario { ends_by_timeout: true, ..scen() };
        let timed_out = OK.replace("timeout=0 leftover=0 reason=0", "timeout=1 leftover=1 reason=");
        let v = judge(&s, &lines(&timed_out), None);
        assert!(v.passed(), "{:?}", v.failures);
        let v = judge(&s, &lines(OK), None);
        assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
        assert!(v.failures[0].contains("expected to be still running"), "{:?}", v.failures);
        let v = judge(&s, &lines(&timed_out.replace("rpvboot 0.1.0 (", "nope (")), None);
        assert!(v.failures.iter().any(|f| f.contains("not found")), "{:?}", v.failures);
    }

    /// The ad-hoc contract: stopped by the harness (the console detached, the domain
    /// destroyed by dom0) passes on the expectations; unmatched ones still fail it, and a
    /// scenario without the contract is not excused by the marker.
    #[test]
    fn stopped_once_matched() {
        let s = Scenario { stop_when_matched: true, shutdown: None, ..scen() };
        let stopped = OK.replace("leftover=0 reason=0", "leftover=0 stopped=1 reason=");
        let v = judge(&s, &lines(&stopped), None);
        assert!(v.passed(), "{:?}", v.failures);
        assert_eq!(v.reason.as_deref(), Some("stopped once every expectation matched"));
        let v = judge(&s, &lines(&stopped.replace("rpvboot 0.1.0 (", "nope (")), None);
        assert!(v.failures.iter().any(|f| f.contains("not found")), "{:?}", v.failures);
        let v = judge(&scen(), &lines(&stopped), None);
        assert!(v.failures.iter().any(|f| f.contains("no shutdown reason")), "{:?}", v.failures);
        // Still running at the timeout: the expectations never all matched.
        let v = judge(&s, &lines(&OK.replace("timeout=0", "timeout=1")), None);
        assert!(v.failures.iter().any(|f| f.starts_with("timeout")), "{:?}", v.failures);
    }

    #[test]
    fn timeout_and_missing() {
        let v = judge(&scen(), &lines(&OK.replace("timeout=0", "timeout=1")), None);
        assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
        assert!(v.failures.iter().any(|f| f.starts_with("timeout")));
        let text = OK.replace("E2E-XL-EXIT", "E2E-DOM0-FAILED losetup /dev/loop0 /guest/img/0\nE2E-XL-EXIT");
        let v = judge(&scen(), &lines(&text), None);
        assert_eq!(v.failures, ["dom0: losetup /dev/loop0 /guest/img/0"]);
        let v = judge(&scen(), &lines("E2E-DOM0-READY\n"), Some("QEMU timeout"));
        assert!(v.failures[0].contains("never started"));
        let cut = &OK[..OK.find("E2E-END").unwrap_or(0)];
        let v = judge(&scen(), &lines(cut), Some("QEMU killed"));
        assert!(v.failures.iter().any(|f| f.contains("did not finish")));
    }
}
