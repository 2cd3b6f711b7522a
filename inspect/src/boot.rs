//! `boot`: the complete dry run — everything rpvboot would do for disk images, short of the
//! jump. It calls the loader's own `bootplan::plan::dry_run` (the function the PV kernel runs)
//! over `fs::probe` disks made from image files, and prints its report.
//!
//! `rpvboot-inspect boot IMG [IMG2 ...] [--extra "…"] [--entry N] [--memory MIB]
//! [--loader-pages N] [--json] [--sector-size 512|4096]`; `--memory` defaults to 256 MiB.
//!
//! The plan's regions do not depend on the pages rpvboot itself uses; only whether the region
//! fits beside it does. Those pages are estimated (`bootplan::plan::estimate_loader_pages`)
//! unless `--loader-pages` gives the figure a real boot printed (`rpvboot.verbose`); the output
//! says which. The text form's `plan:` lines are the ones the PV kernel prints with
//! `rpvboot.verbose`, from the same function.
//!
//! Exit status: 0 when the outcome is `boot`; 1 when it is `fallback` or `error` (the report is
//! printed all the same, and a one-line summary goes to stderr); 2 for usage errors (see `main`).
//!
//! `--json` prints one object: `config` (the object `menu --json` prints), `entry` (index or
//! null), `cmdline`, `kernel` {`device`, `path`, `format` (list, outermost first), `file_size`,
//! `image_size`, `entry_point`, `virt_base`, `notes` {`guest_os`, `guest_version`,
//! `xen_version`, `loader`, `features`, `bsd_symtab`, `hypercall_page`, `pae_mode`},
//! `symtab` {`va`, `size`} or null} or null, `modules` (list of {`device`, `path`, `format`,
//! `file_size`, `size`}), `layout` {`memory_pages`, `regions` (list of {`name`, `first_page`,
//! `pages`}), `pt_frames`, `region_pages`, `pages_in_use`, `loader_pages`, `loader_pages_given`,
//! `start_info` {`nr_pages`,
//! `mod_start`, `mod_len`, `flags`}} or null, `outcome` (`boot` | `fallback` | `error`), `next`
//! (what the loader does next, in words), `tried` (entries tried, in order), `env_write` (as in
//! `menu --json`: GRUB's `next_entry` cleared before the handover, or null; the dry run never
//! writes, the text form says it in a `plan: write` line) and `diagnostics`
//! (list of {`where`, `message`}). Addresses (`entry_point`, `virt_base`, `hypercall_page`,
//! `mod_start`, `va`) are strings `"0x…"`: they exceed the integers JSON readers keep exactly.

use std::fmt::Write as _;

use bootconfig::search::DiskVolumes;
use bootconfig::Device;
use bootplan::plan::{self, BootReport, Next, Outcome, Overrides};

/// Default domain memory of the dry run (also what `menu`'s verdict assumes).
pub(crate) const DEFAULT_MIB: u64 = 256;

/// `boot`'s arguments.
#[derive(clap::Args)]
pub struct BootArgs {
    /// The domU's `extra=` line (rpvboot.config=, rpvboot.entry=, rpvboot.kernel=, …).
    #[arg(long, value_name = "LINE", default_value = "", allow_hyphen_values = true)]
    extra: String,
    /// Boot entry N (counted from 0) instead of the menu's default, as if chosen at the menu.
    #[arg(long, value_name = "N")]
    entry: Option<usize>,
    /// The domain's memory in MiB.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MIB,
          value_parser = clap::value_parser!(u64).range(1..=(1 << 30)))]
    memory: u64,
    /// The pages rpvboot itself uses, as a real boot printed them (`plan: loader_pages N` with
    /// rpvboot.verbose); default: an estimate.
    #[arg(long, value_name = "N")]
    loader_pages: Option<u64>,
    /// Print one JSON object (the fields are listed in README "rpvboot-inspect").
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    disk: crate::DiskOpts,
    /// Disk images or block devices: (hd0), (hd1), … in this order.
    #[arg(value_name = "IMG", required = true)]
    images: Vec<String>,
}

/// `rpvboot-inspect boot`.
pub fn boot(o: &BootArgs) -> Result<(), String> {
    let disks = crate::probe::open_disks(&o.images, o.disk.sector_size)?;
    let mut vols = DiskVolumes::new(&disks);
    let ov = Overrides {
        entry: o.entry,
        nr_pages: o.memory.saturating_mul(256),
        loader_pages: o.loader_pages,
        keep: false,
        container: plan::Container::Pv,
    };
    let (r, _) = plan::dry_run(&o.extra, &mut vols, &ov);
    let out = if o.json {
        let entry = r.entry.unwrap_or(r.loaded.menu.default);
        let boot_plan = r.loaded.plan_on(entry, None, &vols).map_err(|e| e.to_string());
        let config = crate::menu::json(&r.loaded, &boot_plan, &[]);
        json(&r, config.trim_end())
    } else {
        text(&r)
    };
    crate::print_out(&out)?;
    match r.outcome {
        Outcome::Boot => Ok(()),
        other => Err(format!("outcome {}: {}", other.name(), failure(&r))),
    }
}

/// Why the chosen entry did not boot: the last problem that is not a note, with where.
pub(crate) fn failure(r: &BootReport) -> String {
    r.problems
        .iter()
        .rev()
        .find(|p| !p.message.starts_with("note"))
        .map_or(String::new(), |p| format!("{}: {}", p.at, p.message))
}

fn dev_str(d: Option<&Device>) -> &str {
    d.map_or("", |d| d.as_str())
}

fn title(r: &BootReport, i: usize) -> &str {
    r.loaded.menu.entries.get(i).map_or("", |e| e.title.as_str())
}

fn next_text(r: &BootReport) -> String {
    match r.next {
        Next::Boot { entry, timeout } => {
            let when = match timeout {
                Some(0) => String::from("at once"),
                Some(t) => format!("after the menu's {t} s timeout"),
                None => String::from("when a key is pressed at the menu (no timeout)"),
            };
            format!("boot entry {entry} \"{}\" {when}", title(r, entry))
        }
        Next::Password { entry } => {
            format!(
                "ask for the password of entry {entry} \"{}\", then boot it (the countdown waits too)",
                title(r, entry)
            )
        }
        Next::Prompt => String::from("drop to the command line (the entry asks for it)"),
        Next::Menu => String::from("show the menu with the error and wait for the user (nothing can boot)"),
    }
}

fn text(r: &BootReport) -> String {
    let l = &r.loaded;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "config: {}{} ({}): {}",
        dev_str(l.source.device.as_ref()),
        l.source.path,
        l.source.format.name(),
        l.reason.describe()
    );
    match r.entry {
        Some(e) => {
            let _ = writeln!(s, "entry: {e} \"{}\"", title(r, e));
        }
        None => s.push_str("entry: none\n"),
    }
    if r.tried.len() > 1 {
        let t: Vec<String> = r.tried.iter().map(|i| i.to_string()).collect();
        let _ = writeln!(s, "tried: {}", t.join(" "));
    }
    if let Some(c) = &r.cmdline {
        let _ = writeln!(s, "command line: {c}");
    }
    if let Some(k) = &r.kernel {
        let _ = writeln!(s, "kernel: {}{}", dev_str(k.device.as_ref()), k.path);
        let _ = writeln!(
            s,
            "  format: {}; file {} bytes, image {} bytes",
            k.formats.join(" > "),
            k.file_size,
            k.image_size
        );
        if k.image_size > 0 {
            let n = &k.notes;
            let _ = writeln!(s, "  entry {:#x}, virt_base {:#x}", k.entry_point, k.virt_base);
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let _ = writeln!(
                s,
                "  notes: GUEST_OS {}, GUEST_VERSION {}, XEN_VERSION {}, LOADER {}, PAE_MODE {}, FEATURES {}",
                opt(&n.guest_os),
                opt(&n.guest_version),
                opt(&n.xen_version),
                opt(&n.loader),
                opt(&n.pae_mode),
                opt(&n.features)
            );
            let _ = writeln!(
                s,
                "  hypercall page {}, BSD_SYMTAB {}",
                n.hypercall_page.map_or_else(|| "-".into(), |h| format!("{h:#x}")),
                if n.bsd_symtab { "yes" } else { "no" }
            );
            if let Some((va, size)) = k.symtab {
                let _ = writeln!(s, "  BSD symbol table: {size} bytes at {va:#x}");
            }
        }
    }
    for (i, m) in r.modules.iter().enumerate() {
        let _ = writeln!(
            s,
            "module {i}: {}{} ({}), file {} bytes, {} bytes passed",
            dev_str(m.device.as_ref()),
            m.path,
            if m.formats.is_empty() { "data".into() } else { m.formats.join(" > ") },
            m.file_size,
            m.size
        );
    }
    if let Some(lay) = &r.layout {
        let _ = writeln!(s, "{}", plan::pages_line(r.loader_pages, r.pages_in_use));
        // The order the PV kernel prints them in with rpvboot.verbose: the write is done when
        // the entry is accepted, the layout lines come with the handover.
        if let Some(line) = plan::env_write_line(&r.loaded) {
            let _ = writeln!(s, "{line}");
        }
        for line in plan::plan_lines(lay) {
            let _ = writeln!(s, "{line}");
        }
    }
    let _ = writeln!(
        s,
        "memory: {} pages ({} MiB); rpvboot's own pages {} ({}), {} with the files it holds",
        r.nr_pages,
        r.nr_pages / 256,
        r.loader_pages,
        if r.loader_given {
            "given by --loader-pages"
        } else {
            "estimated: pass --loader-pages for a real boot's figure"
        },
        r.pages_in_use
    );
    let _ = writeln!(s, "outcome: {}", r.outcome.name());
    let _ = writeln!(s, "next: {}", next_text(r));
    if !r.problems.is_empty() {
        let _ = writeln!(s, "diagnostics: {}", r.problems.len());
        for p in &r.problems {
            let _ = writeln!(s, "  {}: {}", p.at, p.message);
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
            c if u32::from(c) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", u32::from(c));
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn js_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "null".into(), js)
}

fn hex(v: u64) -> String {
    format!("\"{v:#x}\"")
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(",")
}

fn json(r: &BootReport, config: &str) -> String {
    let kernel = r.kernel.as_ref().map_or_else(
        || "null".into(),
        |k| {
            let n = &k.notes;
            format!(
                "{{\"device\":{},\"path\":{},\"format\":[{}],\"file_size\":{},\"image_size\":{},\"entry_point\":{},\"virt_base\":{},\"notes\":{{\"guest_os\":{},\"guest_version\":{},\"xen_version\":{},\"loader\":{},\"features\":{},\"bsd_symtab\":{},\"hypercall_page\":{},\"pae_mode\":{}}},\"symtab\":{}}}",
                js_opt(k.device.as_ref().map(|d| d.as_str())),
                js(&k.path),
                join(k.formats.iter().map(|f| js(f))),
                k.file_size,
                k.image_size,
                hex(k.entry_point),
                hex(k.virt_base),
                js_opt(n.guest_os.as_deref()),
                js_opt(n.guest_version.as_deref()),
                js_opt(n.xen_version.as_deref()),
                js_opt(n.loader.as_deref()),
                js_opt(n.features.as_deref()),
                n.bsd_symtab,
                n.hypercall_page.map_or_else(|| "null".into(), hex),
                js_opt(n.pae_mode.as_deref()),
                k.symtab.map_or_else(
                    || "null".into(),
                    |(va, size)| format!("{{\"va\":{},\"size\":{size}}}", hex(va))
                )
            )
        },
    );
    let modules = join(r.modules.iter().map(|m| {
        format!(
            "{{\"device\":{},\"path\":{},\"format\":[{}],\"file_size\":{},\"size\":{}}}",
            js_opt(m.device.as_ref().map(|d| d.as_str())),
            js(&m.path),
            join(m.formats.iter().map(|f| js(f))),
            m.file_size,
            m.size
        )
    }));
    let layout = r.layout.as_ref().map_or_else(
        || "null".into(),
        |lay| {
            let regions = join(r.regions.iter().map(|g| {
                format!(
                    "{{\"name\":{},\"first_page\":{},\"pages\":{}}}",
                    js(&g.name),
                    g.first_page,
                    g.pages
                )
            }));
            let si = r.start_info.map_or_else(
                || "null".into(),
                |si| {
                    format!(
                        "{{\"nr_pages\":{},\"mod_start\":{},\"mod_len\":{},\"flags\":{}}}",
                        si.nr_pages,
                        hex(si.mod_start),
                        si.mod_len,
                        si.flags
                    )
                },
            );
            format!(
                "{{\"memory_pages\":{},\"regions\":[{regions}],\"pt_frames\":{},\"region_pages\":{},\"pages_in_use\":{},\"loader_pages\":{},\"loader_pages_given\":{},\"start_info\":{si}}}",
                r.nr_pages,
                lay.nr_pt_frames(),
                lay.region_pages,
                r.pages_in_use,
                r.loader_pages,
                r.loader_given
            )
        },
    );
    let diags = join(r.problems.iter().map(|p| format!("{{\"where\":{},\"message\":{}}}", js(&p.at), js(&p.message))));
    let tried = join(r.tried.iter().map(|i| i.to_string()));
    format!(
        "{{\"config\":{config},\"entry\":{},\"cmdline\":{},\"kernel\":{kernel},\"modules\":[{modules}],\"layout\":{layout},\"outcome\":{},\"next\":{},\"tried\":[{tried}],\"env_write\":{},\"diagnostics\":[{diags}]}}\n",
        r.entry.map_or_else(|| "null".into(), |e| e.to_string()),
        js_opt(r.cmdline.as_deref()),
        js(r.outcome.name()),
        js(&next_text(r)),
        crate::menu::env_write_json(&r.loaded)
    )
}
