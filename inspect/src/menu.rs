//! `menu`: the boot menu rpvboot would show for disk images, found and parsed by the loader's
//! own `config::load` over the same `fs::probe` disks, and what it would boot.
//!
//! `rpvboot-inspect menu IMG [IMG2 ...] [--extra "…"] [--json] [--sector-size N]`, or
//! `rpvboot-inspect menu --file CONFIG [--json]` to check one configuration file by itself.
//!
//! `--json` prints one object: `config` {`device`, `path`, `format`}, `reason`, `default`
//! (0-based index into `entries`), `timeout` (seconds or null), `fallback` (0-based indexes),
//! `hidden`, `entries` (list of {`title`, `line`, `root`, `lock`, `kernel` {`device`, `path`,
//! `args`} or null, `modules` (list of {`kind`, `device`, `path`, `args`})}), `boot` (what the
//! entry the loader picks would boot: `entry`, `kernel` {`device`, `path`}, `cmdline`,
//! `modules`, or {`error`}; with disk images also `outcome` (`boot` | `fallback` | `error`) and,
//! unless it is `boot`, `why`), `env_write` (what rpvboot writes before the handover: {`device`,
//! `path`, `disk`, `sector`, `sectors`, `sector_size`, `next_entry` (the one-shot cleared),
//! `save_env` (`FILE:LINE`)} or null) and `diagnostics` (list of {`file`, `line`, `col`,
//! `severity`, `message`}).
//!
//! With disk images the verdict ("would boot") is the decision `boot` makes: the loader's own
//! `bootplan::plan::dry_run` in the default memory, kernels and modules read and checked, the
//! fallback chain followed. The exit status is then `boot`'s: 0 only when the entry the menu
//! starts on boots. `--file` (no disks) only plans the default entry and exits 0.

use std::fmt::Write as _;

use bootconfig::search::{DiskVolumes, Loaded, Reason};
use bootconfig::{self as config, BootPlan, ConfigSource, Device, Diagnostic, FileRef, Format, Menu, ModuleKind};
use bootplan::plan::{self, Outcome, Overrides};

/// `menu`'s arguments.
#[derive(clap::Args)]
pub struct MenuArgs {
    /// The domU's `extra=` line (rpvboot.config=, rpvboot.entry=, pvgrub's `(hd0,0)/path`, …).
    #[arg(long, value_name = "LINE", default_value = "", allow_hyphen_values = true)]
    extra: String,
    /// Check one configuration file by itself (format from its name, else its content).
    #[arg(long, value_name = "CONFIG", conflicts_with = "images")]
    file: Option<String>,
    /// Print one JSON object (the fields are listed in README "rpvboot-inspect").
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    disk: crate::DiskOpts,
    /// Disk images or block devices: (hd0), (hd1), … in this order.
    #[arg(value_name = "IMG", required_unless_present = "file")]
    images: Vec<String>,
}

/// `rpvboot-inspect menu`.
pub fn menu(o: &MenuArgs) -> Result<(), String> {
    let mut verdict: Option<(Outcome, String)> = None;
    let (loaded, plan, checks) = if let Some(file) = &o.file {
        let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
        let format = Format::from_path(file).unwrap_or_else(|| Format::sniff(&bytes));
        let menu = config::parse(format, &bytes, file);
        let loaded = Loaded {
            source: ConfigSource { device: None, path: file.clone(), format },
            reason: Reason::ExtraConfig,
            menu,
            options: config::extra::parse(&o.extra),
            diagnostics: Vec::new(),
        };
        let plan = boot_plan(&loaded, loaded.menu.default, None);
        (loaded, plan, Vec::new())
    } else {
        let disks = crate::probe::open_disks(&o.images, o.disk.sector_size)?;
        let mut vols = DiskVolumes::new(&disks);
        // The verdict is the loader's decision, as `boot` makes it (one place decides).
        let ov = Overrides {
            entry: None,
            nr_pages: crate::boot::DEFAULT_MIB.saturating_mul(256),
            loader_pages: None,
            keep: false,
            container: plan::Container::Pv,
        };
        let (r, _) = plan::dry_run(&o.extra, &mut vols, &ov);
        let why = crate::boot::failure(&r);
        let entry = r.entry.unwrap_or(r.loaded.menu.default);
        verdict = Some((r.outcome, why));
        let loaded = r.loaded;
        let plan = boot_plan(&loaded, entry, Some(&vols));
        // Would the boot find its files? The same lookups the loader makes.
        let checks = match &plan {
            Ok(p) => loaded.check(p, &mut vols),
            Err(_) => Vec::new(),
        };
        (loaded, plan, checks)
    };
    let v = verdict.as_ref().map(|(o, w)| (*o, w.as_str()));
    let out = if o.json { json_with(&loaded, &plan, &checks, v) } else { text(&loaded, &plan, &checks, v) };
    crate::print_out(&out)?;
    match verdict {
        Some((Outcome::Boot, _)) | None => Ok(()),
        Some((other, why)) => Err(format!("outcome {}: {why}", other.name())),
    }
}

fn dev_str(d: Option<&Device>) -> String {
    d.map(|d| d.as_str().to_string()).unwrap_or_default()
}

/// The device a file of entry `e` is read from: its own, the entry's root, the config's.
fn effective<'a>(f: &'a FileRef, root: Option<&'a Device>, cfg: Option<&'a Device>) -> Option<&'a Device> {
    f.device.as_ref().or(root).or(cfg)
}

fn kind_name(k: ModuleKind) -> &'static str {
    match k {
        ModuleKind::Initrd => "initrd",
        ModuleKind::Module | ModuleKind::NetbsdLoad | ModuleKind::NetbsdModule => "module",
        ModuleKind::ModuleNoUnzip => "modulenounzip",
    }
}

fn boot_plan(l: &Loaded, entry: usize, vols: Option<&DiskVolumes<'_>>) -> Result<BootPlan, String> {
    if l.menu.entries.is_empty() {
        return Err("no entries".into());
    }
    let r = match vols {
        Some(v) => l.plan_on(entry, None, v),
        None => l.plan(entry, None),
    };
    r.map_err(|e| e.to_string())
}

/// The "would boot" line: the plan's entry, unless the decision (`outcome`, why) says it fails.
fn verdict_line(title: &str, plan: &Result<BootPlan, String>, v: Option<(Outcome, &str)>) -> String {
    match (plan, v) {
        (Err(e), _) => format!("would boot: nothing ({e})"),
        (Ok(_), Some((Outcome::Error, why))) => format!("would boot: nothing ({why})"),
        (Ok(p), Some((Outcome::Fallback, why))) => {
            format!("would boot: entry {} \"{title}\" (fallback; the first choice fails: {why})", p.entry)
        }
        (Ok(p), _) => format!("would boot: entry {} \"{title}\"", p.entry),
    }
}

fn text(l: &Loaded, plan: &Result<BootPlan, String>, checks: &[Diagnostic], v: Option<(Outcome, &str)>) -> String {
    let m: &Menu = &l.menu;
    let cfg = l.source.device.as_ref();
    let mut s = String::new();
    match l.source.format {
        Format::Builtin => s.push_str("config: none\n"),
        Format::Extra => s.push_str("config: none (kernel from the extra= line)\n"),
        f => {
            let _ = writeln!(s, "config: {}{} ({})", dev_str(cfg), l.source.path, f.name());
        }
    }
    let _ = writeln!(s, "  why: {}", l.reason.describe());
    match m.timeout {
        Some(t) => {
            let _ = writeln!(s, "timeout: {t} s");
        }
        None => s.push_str("timeout: none (waits for a key)\n"),
    }
    let title = |i: usize| m.entries.get(i).map(|e| e.title.as_str()).unwrap_or("");
    let _ = writeln!(
        s,
        "default: {} \"{}\"{}",
        m.default,
        title(m.default),
        if m.default_saved { " (saved: not kept)" } else { "" }
    );
    if !m.fallback.is_empty() {
        let f: Vec<String> = m.fallback.iter().map(|i| i.to_string()).collect();
        let _ = writeln!(s, "fallback: {}", f.join(" "));
    }
    if m.hidden {
        s.push_str("hidden menu: yes\n");
    }
    if let Some(p) = &m.password {
        let _ = writeln!(s, "password: {}", if matches!(p, config::Password::Md5(_)) { "md5" } else { "plain" });
    }
    for b in &m.banner {
        let _ = writeln!(s, "banner: {b}");
    }
    let _ = writeln!(s, "entries: {}", m.entries.len());
    for (i, e) in m.entries.iter().enumerate() {
        let mark = if i == m.default { '*' } else { ' ' };
        let _ = writeln!(s, "{mark}{i:>3} {}{}", e.title, if e.lock { " [locked]" } else { "" });
        let root = e.root.as_ref();
        match &e.kernel {
            Some(k) => {
                let _ =
                    writeln!(s, "       kernel {}{} {}", dev_str(effective(&k.file, root, cfg)), k.file.path, k.args);
            }
            None if e.prompt => s.push_str("       (command line)\n"),
            None => s.push_str("       (no kernel: cannot boot)\n"),
        }
        for md in &e.modules {
            let _ = writeln!(
                s,
                "       {} {}{} {}",
                kind_name(md.kind),
                dev_str(effective(&md.file, root, cfg)),
                md.file.path,
                md.args
            );
        }
    }
    let _ = writeln!(s, "{}", verdict_line(plan.as_ref().map_or("", |p| title(p.entry)), plan, v));
    if let Ok(p) = plan {
        if matches!(v, Some((Outcome::Error, _))) {
            let _ = writeln!(s, "  entry {} \"{}\" would read:", p.entry, title(p.entry));
        }
        let _ = writeln!(s, "  kernel: {}{}", dev_str(p.kernel.device.as_ref()), p.kernel.path);
        for a in &p.alternatives {
            let _ = writeln!(s, "  or else: {}{}", dev_str(a.device.as_ref()), a.path);
        }
        let _ = writeln!(s, "  command line: {}", p.cmdline);
        for md in &p.modules {
            let _ = writeln!(
                s,
                "  {}: {}{} {}",
                kind_name(md.kind),
                dev_str(md.file.device.as_ref()),
                md.file.path,
                md.args
            );
        }
        if let Some(w) = l.menu.env_write.as_ref().filter(|_| !matches!(v, Some((Outcome::Error, _)))) {
            let _ = writeln!(s, "  then writes: {}", w.describe());
        }
    }
    let diags: Vec<_> = l.all_diagnostics().chain(checks).collect();
    if !diags.is_empty() {
        let _ = writeln!(s, "diagnostics: {}", diags.len());
        for d in diags {
            let _ = writeln!(s, "{d}");
        }
    }
    s
}

fn js(s: &str) -> String {
    let mut o = String::with_capacity(s.len().saturating_add(2));
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", u32::from(c));
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn js_dev(d: Option<&Device>) -> String {
    d.map(|d| js(d.as_str())).unwrap_or_else(|| "null".into())
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(",")
}

/// The `env_write` field of `menu --json` and `boot --json`: what rpvboot would write before
/// the handover (GRUB's `next_entry` cleared), or `null`.
pub(crate) fn env_write_json(l: &Loaded) -> String {
    l.menu.env_write.as_ref().map_or_else(
        || "null".into(),
        |w| {
            format!(
                "{{\"device\":{},\"path\":{},\"disk\":{},\"sector\":{},\"sectors\":{},\"sector_size\":{},\"next_entry\":{},\"save_env\":{}}}",
                js(w.device.as_str()),
                js(&w.path),
                w.place.disk,
                w.place.lba,
                w.place.sectors,
                w.place.block_size,
                js(&w.cleared),
                js(&w.at)
            )
        },
    )
}

pub(crate) fn json(l: &Loaded, plan: &Result<BootPlan, String>, checks: &[Diagnostic]) -> String {
    json_with(l, plan, checks, None)
}

/// [`json`] with the decision: `boot` gets `outcome` and, unless it boots, `why`.
fn json_with(l: &Loaded, plan: &Result<BootPlan, String>, checks: &[Diagnostic], v: Option<(Outcome, &str)>) -> String {
    let m = &l.menu;
    let cfg = l.source.device.as_ref();
    let entries = join(m.entries.iter().map(|e| {
        let root = e.root.as_ref();
        let kernel = match &e.kernel {
            Some(k) => format!(
                "{{\"device\":{},\"path\":{},\"args\":{}}}",
                js_dev(effective(&k.file, root, cfg)),
                js(&k.file.path),
                js(&k.args)
            ),
            None => "null".into(),
        };
        let modules = join(e.modules.iter().map(|md| {
            format!(
                "{{\"kind\":{},\"device\":{},\"path\":{},\"args\":{}}}",
                js(kind_name(md.kind)),
                js_dev(effective(&md.file, root, cfg)),
                js(&md.file.path),
                js(&md.args)
            )
        }));
        format!(
            "{{\"title\":{},\"line\":{},\"root\":{},\"lock\":{},\"kernel\":{kernel},\"modules\":[{modules}]}}",
            js(&e.title),
            e.line,
            js_dev(root),
            e.lock
        )
    }));
    let decision = match v {
        Some((Outcome::Boot, _)) => String::from(",\"outcome\":\"boot\""),
        Some((o, why)) => format!(",\"outcome\":{},\"why\":{}", js(o.name()), js(why)),
        None => String::new(),
    };
    let boot = match plan {
        Ok(p) => format!(
            "{{\"entry\":{},\"kernel\":{{\"device\":{},\"path\":{}}},\"cmdline\":{},\"modules\":[{}]{decision}}}",
            p.entry,
            js_dev(p.kernel.device.as_ref()),
            js(&p.kernel.path),
            js(&p.cmdline),
            join(p.modules.iter().map(|md| format!(
                "{{\"kind\":{},\"device\":{},\"path\":{},\"args\":{}}}",
                js(kind_name(md.kind)),
                js_dev(md.file.device.as_ref()),
                js(&md.file.path),
                js(&md.args)
            )))
        ),
        Err(e) => format!("{{\"error\":{}{decision}}}", js(e)),
    };
    let diags = join(l.all_diagnostics().chain(checks).map(|d| {
        format!(
            "{{\"file\":{},\"line\":{},\"col\":{},\"severity\":{},\"message\":{}}}",
            js(&d.file),
            d.line,
            d.col,
            js(&d.severity.to_string()),
            js(&d.kind.to_string())
        )
    }));
    let timeout = m.timeout.map(|t| t.to_string()).unwrap_or_else(|| "null".into());
    let fallback = join(m.fallback.iter().map(|i| i.to_string()));
    format!(
        "{{\"config\":{{\"device\":{},\"path\":{},\"format\":{}}},\"reason\":{},\"default\":{},\"timeout\":{timeout},\"fallback\":[{fallback}],\"hidden\":{},\"entries\":[{entries}],\"boot\":{boot},\"env_write\":{},\"diagnostics\":[{diags}]}}\n",
        js_dev(cfg),
        js(&l.source.path),
        js(l.source.format.name()),
        js(l.reason.describe()),
        m.default,
        m.hidden,
        env_write_json(l)
    )
}
