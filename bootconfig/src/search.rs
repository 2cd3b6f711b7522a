//! Where the configuration comes from, in this order (the first found wins):
//!
//! 1. `rpvboot.kernel=PATH [args]` on the `extra=` line: that kernel, no menu;
//! 2. the file the `extra=` line names (pvgrub's `(hd0,0)/boot/grub/menu.lst`, or
//!    `rpvboot.config=`); without a device, every partition is tried in order;
//! 3. on each partition of each disk, disks in xenstore order and partitions in table order:
//!    [`SEARCH_PATHS`] — `/boot/grub/menu.lst`, `/grub/menu.lst`, `/boot/grub/grub.cfg`,
//!    `/grub/grub.cfg`, `/boot/grub2/grub.cfg`, `/grub2/grub.cfg` (Fedora, CentOS, RHEL and
//!    SUSE install GRUB 2 as `grub2`), `/@/boot/grub/grub.cfg`, `/@/boot/grub2/grub.cfg` (btrfs
//!    with the root in subvolume `@`, read from the top level as GRUB reads it), `/boot.cfg`;
//! 4. nothing found: NetBSD's kernel from the first FFS partition as NetBSD's own boot(8) does
//!    with no boot.cfg: it counts down [`BUILTIN_TIMEOUT`] seconds (time to interrupt at the
//!    console), then boots the first of [`BUILTIN_NAMES`] that exists.
//!
//! The disks are abstract ([`Volumes`]) so that the PV kernel, `rpvboot-inspect` and the tests
//! run the very same search.

use alloc::string::String;
use alloc::vec::Vec;

use super::envblk::{EnvPlace, EnvWrite};
use super::error::{DiagKind, Diagnostic, Diags, Severity};
use super::extra::{self, ExtraOptions, EXTRA_FILE};
use super::{looks_netbsd, BootPlan, Device, Entry, FileRef, Format, Kernel, Menu, OsHint, MAX_CONFIG_BYTES};

/// The configuration files looked for on each partition, in order.
///
/// The `/@/…` paths are the btrfs layouts with the root in subvolume `@` (Ubuntu's installer;
/// openSUSE and Fedora use `grub2`): GRUB reads btrfs paths from the top-level subvolume, and
/// `grub-install` there embeds the prefix `/@/boot/grub`, so the file is found where GRUB finds it.
pub const SEARCH_PATHS: [&str; 9] = [
    "/boot/grub/menu.lst",
    "/grub/menu.lst",
    "/boot/grub/grub.cfg",
    "/grub/grub.cfg",
    "/boot/grub2/grub.cfg",
    "/grub2/grub.cfg",
    "/@/boot/grub/grub.cfg",
    "/@/boot/grub2/grub.cfg",
    "/boot.cfg",
];

/// The filesystem on a partition, as far as the search cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    /// FFSv1/FFSv2: where NetBSD's kernel lives when there is no configuration.
    Ffs,
    /// ext2/3/4.
    Ext,
    /// FAT.
    Fat,
    /// Anything else readable.
    Other,
}

/// A partition with a filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Its GRUB-legacy name.
    pub device: Device,
    /// What is on it.
    pub fs: FsKind,
}

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// No such file (or no such device).
    NotFound,
    /// Anything else (I/O, corrupt filesystem), said in words.
    Other(String),
}

/// The domU's disks as the search sees them.
pub trait Volumes {
    /// Every partition with a filesystem: disks in xenstore order, partitions in table order.
    fn volumes(&self) -> Vec<Volume>;
    /// Reads a whole file, at most `limit` bytes (a longer file is cut at `limit`).
    ///
    /// # Errors
    /// [`ReadError::NotFound`] when the device or file does not exist.
    fn read(&mut self, device: &Device, path: &str, limit: usize) -> Result<Vec<u8>, ReadError>;
    /// [`read`](Self::read), calling `progress(bytes_done, file_size)` as pieces arrive (the
    /// menu shows progress lines for big kernels). The default reads in one piece.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    fn read_progress(
        &mut self,
        device: &Device,
        path: &str,
        limit: usize,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<u8>, ReadError> {
        let b = self.read(device, path, limit)?;
        progress(b.len() as u64, b.len() as u64);
        Ok(b)
    }
    /// Whether a file exists (without reading it).
    fn exists(&mut self, device: &Device, path: &str) -> bool;
    /// What is at `path`: `Some((is_directory, size))`, `None` when nothing is (GRUB's
    /// `[ -e ]`, `[ -f ]`, `[ -d ]`, `[ -s ]`). The default reads the file (directories unknown).
    fn stat(&mut self, device: &Device, path: &str) -> Option<(bool, u64)> {
        self.read(device, path, STAT_READ_LIMIT).ok().map(|b| (false, b.len() as u64))
    }
    /// The filesystem's UUID and label, as GRUB's `search --fs-uuid` / `--label` see them.
    fn fs_ids(&mut self, _device: &Device) -> (Option<String>, Option<String>) {
        (None, None)
    }
    /// The names in directory `path` (without `.` and `..`), the first `max` in on-disk order;
    /// `None` when it is no readable directory (GRUB's `blscfg` lists its entries).
    fn list_dir(&mut self, _device: &Device, _path: &str, _max: usize) -> Option<Vec<String>> {
        None
    }
    /// The `bootdev=` value NetBSD's kernel understands for a device (`xbd0a`, `dk1`), or why
    /// it cannot be known (a wrong name would make the kernel mount another partition, so
    /// then none is passed). The default only knows names with a disklabel letter and bare
    /// disks.
    fn netbsd_name(&self, device: &Device) -> Result<String, String> {
        super::netbsd_bootdev(device).ok_or_else(|| alloc::format!("NetBSD's name for {device} is not known"))
    }
    /// [`Volumes::netbsd_name`] when known.
    fn netbsd_bootdev(&self, device: &Device) -> Option<String> {
        self.netbsd_name(device).ok()
    }
    /// Where GRUB's environment block `path` on `device` lies, for a rewrite in place, and
    /// its bytes there; or why it cannot be rewritten (the disk is read-only, the filesystem
    /// forbids it, the file is not exactly one block at one place: `fs::envblock::locate`).
    ///
    /// # Errors
    /// The reason, in words. The default: no disk takes writes.
    fn env_place(&mut self, device: &Device, path: &str) -> Result<(EnvPlace, Vec<u8>), String> {
        let _ = (device, path);
        Err(String::from("these disks take no writes"))
    }
    /// Does the rewrite a configuration asked for ([`EnvWrite`]): the sectors must still hold
    /// the old block; the new one is written, flushed and read back.
    ///
    /// # Errors
    /// Why nothing (or nothing verified) was written, in words.
    fn write_env(&mut self, w: &EnvWrite) -> Result<(), String> {
        let _ = w;
        Err(String::from("these disks take no writes"))
    }
}

/// The kernels boot(8) tries with no configuration, in order: the list boot.cfg's `boot` with
/// no name tries (one list, [`crate::bootcfg::DEFAULT_KERNELS`]).
pub const BUILTIN_NAMES: [&str; 6] = super::bootcfg::DEFAULT_KERNELS;

/// boot(8)'s countdown with no configuration, in seconds (boot2.c's default timeout).
pub const BUILTIN_TIMEOUT: u32 = 5;

/// Most bytes [`Volumes::stat`]'s default reads to learn a size (only "empty or not" matters).
const STAT_READ_LIMIT: usize = 64 * 1024;

/// The disks as the GRUB 2 script commands see them (`[ -s ]`, `load_env`, `search`,
/// `source`) while a `grub.cfg` runs; `nowrite` (`rpvboot.nowrite`) forbids any write.
struct VolHost<'a, V: Volumes> {
    v: &'a mut V,
    nowrite: bool,
}

impl<V: Volumes> super::grubcfg::Host for VolHost<'_, V> {
    fn stat(&mut self, dev: &Device, path: &str) -> Option<(bool, u64)> {
        self.v.stat(dev, path)
    }
    fn read(&mut self, dev: &Device, path: &str, limit: usize) -> Option<Vec<u8>> {
        self.v.read(dev, path, limit).ok()
    }
    fn devices(&mut self) -> Vec<Device> {
        self.v.volumes().into_iter().map(|v| v.device).collect()
    }
    fn fs_ids(&mut self, dev: &Device) -> (Option<String>, Option<String>) {
        self.v.fs_ids(dev)
    }
    fn env_place(&mut self, dev: &Device, path: &str) -> Result<(EnvPlace, Vec<u8>), String> {
        if self.nowrite {
            return Err(String::from("rpvboot.nowrite is on the extra= line"));
        }
        self.v.env_place(dev, path)
    }
    fn list(&mut self, dev: &Device, path: &str, max: usize) -> Option<Vec<String>> {
        self.v.list_dir(dev, path, max)
    }
}

/// Where the menu came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSource {
    /// The device the file was read from; `None` for `extra=` kernels and when nothing exists.
    pub device: Option<Device>,
    /// The path on it, or `extra=` / `builtin`.
    pub path: String,
    /// Its format.
    pub format: Format,
}

/// How the configuration was chosen, for "what would boot and why".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `rpvboot.kernel=` on the `extra=` line.
    ExtraKernel,
    /// The file the `extra=` line names.
    ExtraConfig,
    /// Found by the search order.
    Searched,
    /// No configuration: NetBSD's default kernel from the first FFS partition.
    Builtin,
    /// Nothing bootable was found at all.
    Nothing,
}

impl Reason {
    /// Words for `rpvboot-inspect menu`.
    pub fn describe(self) -> &'static str {
        match self {
            Reason::ExtraKernel => "kernel named by rpvboot.kernel= on the extra= line",
            Reason::ExtraConfig => "configuration named on the extra= line",
            Reason::Searched => "first configuration file found by the search order",
            Reason::Builtin => "no configuration file: NetBSD kernel from the first FFS partition",
            Reason::Nothing => "no configuration file and no FFS partition",
        }
    }
}

/// Most configuration problems written to the console by [`Loaded::write_diagnostics`].
pub const CONSOLE_DIAGNOSTICS: usize = 16;

/// The result of the search: the menu, where it came from, and the `extra=` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The configuration file.
    pub source: ConfigSource,
    /// Why this one.
    pub reason: Reason,
    /// The menu, with `rpvboot.entry=`/`rpvboot.timeout=` already applied.
    pub menu: Menu,
    /// The parsed `extra=` line.
    pub options: ExtraOptions,
    /// Problems with the `extra=` line and the search (the menu has its own).
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// Every diagnostic: `extra=` and search first, then the file's.
    pub fn all_diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().chain(self.menu.diagnostics.iter())
    }

    /// The console's account of the search: `rpvboot: configuration DEVICE/PATH (why)` and
    /// `suffix`, then the problems ([`Loaded::write_diagnostics`]).
    pub fn write_summary(&self, out: &mut dyn core::fmt::Write, suffix: &str) {
        let device = self.source.device.as_ref().map(|d| alloc::format!("{d}")).unwrap_or_default();
        let (path, why) = (&self.source.path, self.reason.describe());
        let _ = writeln!(out, "rpvboot: configuration {device}{path} ({why}){suffix}");
        self.write_diagnostics(out);
    }

    /// Writes the warnings and errors as `rpvboot: FILE:LINE: severity: message` lines, so a
    /// domU owner sees which line of the menu was wrong and why; at most
    /// [`CONSOLE_DIAGNOSTICS`], then how many more (a file of noise yields hundreds, and
    /// `rpvboot-inspect menu` lists them all).
    pub fn write_diagnostics(&self, out: &mut dyn core::fmt::Write) {
        let mut shown = self.all_diagnostics().filter(|d| d.severity != Severity::Note);
        for d in shown.by_ref().take(CONSOLE_DIAGNOSTICS) {
            let _ = writeln!(out, "rpvboot: {d}");
        }
        let more = shown.count();
        if more > 0 {
            let _ = writeln!(out, "rpvboot: ... and {more} more problems (rpvboot-inspect menu lists them all)");
        }
    }

    /// What booting entry `index` reads and passes on (see [`Menu::plan`]).
    ///
    /// # Errors
    /// See [`Menu::plan`].
    pub fn plan(&self, index: usize, os: Option<OsHint>) -> Result<BootPlan, DiagKind> {
        self.menu.plan(index, self.source.device.as_ref(), os, self.options.nobootdev)
    }

    /// [`Loaded::plan`] with the disks' own NetBSD partition letters (what the loader uses).
    ///
    /// # Errors
    /// See [`Menu::plan`].
    pub fn plan_on(&self, index: usize, os: Option<OsHint>, v: &impl Volumes) -> Result<BootPlan, DiagKind> {
        self.menu.plan_with(index, self.source.device.as_ref(), os, self.options.nobootdev, &|d: &Device| {
            v.netbsd_bootdev(d)
        })
    }

    /// Whether the files a plan needs exist: one error per missing kernel (when no alternative
    /// exists either) or module, at the entry's line.
    pub fn check(&self, plan: &BootPlan, v: &mut impl Volumes) -> Vec<Diagnostic> {
        let file = match (&self.source.device, self.source.format) {
            (_, Format::Builtin) => String::from("builtin"),
            (_, Format::Extra) => String::from(EXTRA_FILE),
            (Some(d), _) => file_name(d, &self.source.path),
            (None, _) => self.source.path.clone(),
        };
        let line = self.menu.entries.get(plan.entry).map(|e| e.line).unwrap_or(0);
        let mut d = Diags::new(&file);
        let missing = |what: &str, f: &super::PlannedFile, d: &mut Diags| {
            let name = match &f.device {
                Some(dev) => file_name(dev, &f.path),
                None => f.path.clone(),
            };
            d.error(line, 0, DiagKind::Other(alloc::format!("{what} {name} not found")));
        };
        let found = |f: &super::PlannedFile, v: &mut dyn FnMut(&Device, &str) -> bool| {
            f.device.as_ref().map(|dev| v(dev, &f.path)).unwrap_or(false)
        };
        let mut ex = |dev: &Device, path: &str| v.exists(dev, path);
        if !found(&plan.kernel, &mut ex) && !plan.alternatives.iter().any(|a| found(a, &mut ex)) {
            missing("kernel", &plan.kernel, &mut d);
        }
        for m in &plan.modules {
            // A bare boot.cfg module name is found through the kernel's release: the dry run
            // (bootplan) looks for it once the kernel is unpacked.
            if m.kind == super::ModuleKind::NetbsdModule {
                continue;
            }
            if !found(&m.file, &mut ex) {
                if m.kind == super::ModuleKind::NetbsdLoad {
                    // boot(8) boots without a module it cannot open: a warning, not a verdict.
                    let name =
                        m.file.device.as_ref().map_or_else(|| m.file.path.clone(), |dev| file_name(dev, &m.file.path));
                    d.warn(
                        line,
                        0,
                        DiagKind::Other(alloc::format!("module {name} not found; the kernel boots without it")),
                    );
                } else {
                    missing("module", &m.file, &mut d);
                }
            }
        }
        d.list
    }
}

fn file_name(dev: &Device, path: &str) -> String {
    let mut s = String::from(dev.as_str());
    s.push_str(path);
    s
}

/// Reads and parses one candidate; `None` when it does not exist.
fn try_read(
    v: &mut impl Volumes,
    dev: &Device,
    path: &str,
    nowrite: bool,
    d: &mut Diags,
) -> Option<(ConfigSource, Menu)> {
    let name = file_name(dev, path);
    match v.read(dev, path, MAX_CONFIG_BYTES.saturating_add(1)) {
        Ok(bytes) => {
            let format = Format::from_path(path).unwrap_or_else(|| Format::sniff(&bytes));
            let menu = if format == Format::GrubCfg {
                super::parse_grubcfg_on(&bytes, &name, dev, path, &mut VolHost { v, nowrite })
            } else {
                super::parse(format, &bytes, &name)
            };
            Some((ConfigSource { device: Some(dev.clone()), path: String::from(path), format }, menu))
        }
        Err(ReadError::NotFound) => None,
        Err(ReadError::Other(why)) => {
            // Said about the file itself, not the `extra=` line.
            d.list.push(Diagnostic {
                file: name.clone(),
                line: 0,
                col: 0,
                severity: Severity::Warning,
                kind: DiagKind::ReadFailed(name, why),
            });
            None
        }
    }
}

/// Finds and parses the configuration as rpvboot does at boot. `extra_line` is the domU's
/// `extra=` text (rpvboot's command line).
pub fn load(extra_line: &str, v: &mut impl Volumes) -> Loaded {
    load_options(extra::parse(extra_line), v)
}

/// [`load`] for an `extra=` line the caller parsed already (rpvboot parses it once, at start).
pub fn load_options(options: ExtraOptions, v: &mut impl Volumes) -> Loaded {
    let mut d = Diags::new(EXTRA_FILE);
    let vols = v.volumes();

    let (source, reason, mut menu) = 'found: {
        if let Some((file, args)) = &options.kernel {
            break 'found extra_kernel(file, args, &vols, v, &mut d);
        }
        if let Some(cfg) = &options.config {
            let devs: Vec<Device> = match &cfg.device {
                Some(dev) => alloc::vec![dev.clone()],
                None => vols.iter().map(|x| x.device.clone()).collect(),
            };
            for dev in &devs {
                if let Some((src, menu)) = try_read(v, dev, &cfg.path, options.nowrite, &mut d) {
                    break 'found (src, Reason::ExtraConfig, menu);
                }
            }
            let name = match &cfg.device {
                Some(dev) => file_name(dev, &cfg.path),
                None => cfg.path.clone(),
            };
            d.error(1, 0, DiagKind::ConfigNotFound(name));
        }
        for vol in &vols {
            for path in SEARCH_PATHS {
                if let Some((src, menu)) = try_read(v, &vol.device, path, options.nowrite, &mut d) {
                    break 'found (src, Reason::Searched, menu);
                }
            }
        }
        builtin(&vols, v, &mut d)
    };

    if let Some(t) = options.timeout {
        menu.timeout = Some(t);
    }
    if let Some(i) = options.entry {
        if i < menu.entries.len() {
            menu.default = i;
        } else {
            d.warn(1, 0, DiagKind::DefaultOutOfRange(alloc::format!("rpvboot.entry={i}"), menu.entries.len()));
        }
    }
    let mut diagnostics = options.diagnostics.clone();
    diagnostics.append(&mut d.list);
    Loaded { source, reason, menu, options, diagnostics }
}

fn one_entry(format: Format, title: String, kernel: Kernel, os: OsHint) -> Menu {
    let mut menu = super::parse(format, b"", "");
    menu.diagnostics.clear();
    let mut e = Entry::new(title, 0);
    e.kernel = Some(kernel);
    e.os = os;
    menu.entries.push(e);
    menu
}

fn extra_kernel(
    file: &FileRef,
    args: &str,
    vols: &[Volume],
    v: &mut impl Volumes,
    d: &mut Diags,
) -> (ConfigSource, Reason, Menu) {
    let device = match &file.device {
        Some(dev) => Some(dev.clone()),
        None => {
            let found = vols.iter().find(|x| v.exists(&x.device, &file.path)).map(|x| x.device.clone());
            if found.is_none() {
                d.error(1, 0, DiagKind::ConfigNotFound(file.path.clone()));
            }
            found
        }
    };
    let os = if looks_netbsd(&file.path) { OsHint::NetBsd } else { OsHint::Unknown };
    let kernel = Kernel {
        file: FileRef { device: device.clone(), path: file.path.clone() },
        args: String::from(args),
        alternatives: Vec::new(),
    };
    let menu = one_entry(Format::Extra, alloc::format!("extra= kernel {}", file.path), kernel, os);
    (ConfigSource { device, path: String::from(EXTRA_FILE), format: Format::Extra }, Reason::ExtraKernel, menu)
}

fn builtin(vols: &[Volume], v: &mut impl Volumes, d: &mut Diags) -> (ConfigSource, Reason, Menu) {
    let Some(ffs) = vols.iter().find(|x| x.fs == FsKind::Ffs) else {
        d.list.push(Diagnostic {
            file: String::from("disks"),
            line: 0,
            col: 0,
            severity: Severity::Error,
            kind: DiagKind::Other(String::from("no configuration file and no FFS partition: nothing to boot")),
        });
        let mut menu = super::parse(Format::Builtin, b"", "builtin");
        menu.diagnostics.clear();
        let src = ConfigSource { device: None, path: String::from("builtin"), format: Format::Builtin };
        return (src, Reason::Nothing, menu);
    };
    let dev = ffs.device.clone();
    // The first name that exists; the others stay alternatives, in boot(8)'s order.
    let first = BUILTIN_NAMES.iter().position(|n| v.exists(&dev, n)).unwrap_or(0);
    let path = BUILTIN_NAMES.get(first).copied().unwrap_or("/netbsd");
    let alternatives = BUILTIN_NAMES.iter().skip(first.saturating_add(1)).map(|n| String::from(*n)).collect();
    let kernel = Kernel {
        file: FileRef { device: Some(dev.clone()), path: String::from(path) },
        args: String::new(),
        alternatives,
    };
    let mut menu = one_entry(Format::Builtin, String::from("NetBSD"), kernel, OsHint::NetBsd);
    menu.timeout = Some(BUILTIN_TIMEOUT);
    let src = ConfigSource { device: Some(dev), path: String::from("builtin"), format: Format::Builtin };
    (src, Reason::Builtin, menu)
}

/// The domU's disks as scanned by `fs::probe`: what the PV loader (over blkfront) and
/// `rpvboot-inspect` (over image files) both search, so they find the same configuration.
pub struct DiskVolumes<'a> {
    disks: &'a [fs::probe::Disk],
    /// Filesystems opened so far, by the extent they were opened on, least recently used
    /// first; `None` when it holds none we read. At most [`MAX_OPEN_FS`] hold a filesystem.
    open: Vec<(Extent, Option<alloc::boxed::Box<dyn fs::Filesystem>>)>,
}

/// Most filesystems [`DiskVolumes`] keeps open. An open filesystem holds its caches (an ext
/// one about 300 KiB), and a disk can name thousands of partitions (a GPT of 8192 entries all
/// pointing at one ext2 made 2.4 GB before): the search reads one partition at a time, and an
/// entry's kernel and modules may come from a few others, so a small LRU loses little.
pub const MAX_OPEN_FS: usize = 4;

/// What a device's filesystem is opened on: disk, first sector, sectors, and whether a
/// failure falls back to the slot's `a` partition. Partitions that are the same bytes (GPT
/// entries repeating one range, an MBR slot and its disklabel's whole-slot partition) share
/// one open filesystem, probed once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Extent {
    disk: u32,
    start: u64,
    size: u64,
    fallback: bool,
}

impl<'a> DiskVolumes<'a> {
    /// Wraps scanned disks (disk `hdN` is `disks[N]`, in xenstore order).
    pub fn new(disks: &'a [fs::probe::Disk]) -> Self {
        DiskVolumes { disks, open: Vec::new() }
    }

    /// The partition a device names, and the extent its filesystem is cached by.
    fn partition(&self, dev: &Device) -> Option<(&'a fs::probe::Disk, fs::probe::Partition, Extent)> {
        let spec = dev.spec()?;
        let disk = self.disks.iter().find(|d| d.index == spec.disk)?;
        let part = disk.find(&spec).ok()?;
        let fallback = part.role == fs::probe::Role::Container && spec.letter.is_none();
        let key = Extent { disk: spec.disk, start: part.start, size: part.size, fallback };
        Some((disk, part, key))
    }

    /// The open filesystem of a device: a searched partition, or any partition the disk layer
    /// can name (a NetBSD MBR slot falls back to its `a` partition, as `fs::probe::resolve`).
    fn fs(&mut self, dev: &Device) -> Option<&mut alloc::boxed::Box<dyn fs::Filesystem>> {
        let (disk, part, key) = self.partition(dev)?;
        let entry = match self.open.iter().position(|(k, _)| *k == key) {
            Some(p) => self.open.remove(p),
            None => (key, open_part(disk, &part, key.fallback)),
        };
        // Most recently used last; the oldest open filesystems beyond the cap are closed
        // (forgotten, so a later use opens them again); "holds none" answers stay.
        self.open.push(entry);
        while self.open.iter().filter(|(_, f)| f.is_some()).count() > MAX_OPEN_FS {
            match self.open.iter().position(|(_, f)| f.is_some()) {
                Some(oldest) => drop(self.open.remove(oldest)),
                None => break,
            }
        }
        self.open.last_mut().and_then(|(_, f)| f.as_mut())
    }
}

/// Opens the filesystem on `part`, falling back to the slot's `a` partition when allowed.
fn open_part(
    disk: &fs::probe::Disk,
    part: &fs::probe::Partition,
    fallback: bool,
) -> Option<alloc::boxed::Box<dyn fs::Filesystem>> {
    match fs::probe::open_fs(part) {
        Ok(f) => Some(f),
        Err(_) if fallback => {
            let a = fs::probe::DeviceSpec { letter: Some('a'), ..part.spec() };
            fs::probe::open_fs(&disk.find(&a).ok()?).ok()
        }
        Err(_) => None,
    }
}

impl Volumes for DiskVolumes<'_> {
    fn volumes(&self) -> Vec<Volume> {
        let mut out = Vec::new();
        // Partitions over the same sectors are probed once (one open at a time).
        let mut probed: alloc::collections::BTreeMap<(u32, u64, u64), Option<String>> = Default::default();
        for disk in self.disks {
            for p in disk.candidates() {
                let kind = probed
                    .entry((p.disk, p.start, p.size))
                    .or_insert_with(|| fs::probe::open_fs(p).ok().map(|f| f.info().kind))
                    .clone();
                let Some(kind) = kind else {
                    continue;
                };
                let fs = if kind == "ffs" {
                    FsKind::Ffs
                } else if kind.starts_with("ext") {
                    FsKind::Ext
                } else if kind.starts_with("fat") {
                    FsKind::Fat
                } else {
                    FsKind::Other
                };
                out.push(Volume { device: Device::from_spec(p.spec()), fs });
            }
        }
        out
    }

    fn read(&mut self, device: &Device, path: &str, limit: usize) -> Result<Vec<u8>, ReadError> {
        self.read_progress(device, path, limit, &mut |_, _| {})
    }

    /// Reads in 4 MiB pieces, reporting after each.
    fn read_progress(
        &mut self,
        device: &Device,
        path: &str,
        limit: usize,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Vec<u8>, ReadError> {
        let f = self.fs(device).ok_or(ReadError::NotFound)?;
        let meta = match f.lookup(path) {
            Ok(m) => m,
            Err(fs::Error::NotFound | fs::Error::NotADirectory) => return Err(ReadError::NotFound),
            Err(e) => return Err(ReadError::Other(alloc::format!("{e}"))),
        };
        if meta.file_type != fs::FileType::File {
            return Err(ReadError::NotFound);
        }
        let len = usize::try_from(meta.size).unwrap_or(usize::MAX).min(limit);
        // The size is the disk's word: reserved fallibly, so a file larger than the memory
        // left is a message, not an abort.
        let Ok(mut out) = fs::mem::zeroed(len) else {
            return Err(ReadError::Other(alloc::format!(
                "{path}: {} bytes do not fit in the memory left (limit {limit})",
                meta.size
            )));
        };
        let mut done = 0usize;
        // Each round reads at least one byte or stops: at most `len` rounds.
        while done < len {
            let end = done.saturating_add(4 << 20).min(len);
            let rest = out.get_mut(done..end).unwrap_or_default();
            let off = u64::try_from(done).unwrap_or(u64::MAX);
            match f.read_at(meta.id, off, rest) {
                Ok(0) => break,
                Ok(n) => done = done.saturating_add(n),
                Err(e) => return Err(ReadError::Other(alloc::format!("{e}"))),
            }
            progress(done as u64, meta.size);
        }
        out.truncate(done);
        Ok(out)
    }

    fn exists(&mut self, device: &Device, path: &str) -> bool {
        self.fs(device).map(|f| f.lookup(path).is_ok()).unwrap_or(false)
    }

    fn stat(&mut self, device: &Device, path: &str) -> Option<(bool, u64)> {
        let m = self.fs(device)?.lookup(path).ok()?;
        Some((m.file_type == fs::FileType::Directory, m.size))
    }

    fn fs_ids(&mut self, device: &Device) -> (Option<String>, Option<String>) {
        match self.fs(device) {
            Some(f) => {
                let i = f.info();
                (i.uuid, i.label)
            }
            None => (None, None),
        }
    }

    fn list_dir(&mut self, device: &Device, path: &str, max: usize) -> Option<Vec<String>> {
        let f = self.fs(device)?;
        let m = f.lookup(path).ok()?;
        if m.file_type != fs::FileType::Directory {
            return None;
        }
        // Two more for `.` and `..`, which are not names.
        let list = f.read_dir_limit(m.id, max.saturating_add(2)).ok()?;
        Some(list.into_iter().map(|e| e.name).filter(|n| n != "." && n != "..").take(max).collect())
    }

    /// `fs::envblock::locate` on the device's partition (a NetBSD slot's `a` partition when
    /// the slot itself holds no filesystem), its place counted on the whole disk.
    fn env_place(&mut self, device: &Device, path: &str) -> Result<(EnvPlace, Vec<u8>), String> {
        let (disk, mut part, key) = self.partition(device).ok_or("no such partition")?;
        if key.fallback && fs::probe::open_fs(&part).is_err() {
            let a = fs::probe::DeviceSpec { letter: Some('a'), ..part.spec() };
            part = disk.find(&a).map_err(|_| "no such partition")?;
        }
        let (place, bytes) = fs::envblock::locate(&part.device(), path)?;
        let lba = part.start.checked_add(place.lba.0).ok_or("sector out of range")?;
        let p = EnvPlace { disk: part.disk, lba, sectors: place.sectors, block_size: place.block_size };
        Ok((p, bytes))
    }

    fn write_env(&mut self, w: &EnvWrite) -> Result<(), String> {
        let disk = self.disks.iter().find(|d| d.index == w.place.disk).ok_or("no such disk")?;
        let place =
            fs::envblock::Place { lba: fs::Lba(w.place.lba), sectors: w.place.sectors, block_size: w.place.block_size };
        // Filesystems opened so far may cache the old block: forget them.
        self.open.clear();
        fs::envblock::rewrite(&mut disk.whole().device(), &place, &w.old, &w.new)
    }

    /// NetBSD's own name for the partition (`fs::probe::netbsd::bootdev`, after NetBSD's
    /// rules in docs/netbsd-bootdev.md): `xbdN` + the disklabel letter (or NetBSD's made-up
    /// letter: `e`.. for MBR partitions without a label), `dkK` for a GPT entry.
    fn netbsd_name(&self, device: &Device) -> Result<String, String> {
        let unknown = || alloc::format!("{device} is not a partition of a scanned disk");
        let spec = device.spec().ok_or_else(unknown)?;
        let disk = self.disks.iter().find(|d| d.index == spec.disk).ok_or_else(unknown)?;
        let mut part = disk.find(&spec).map_err(|_| unknown())?;
        if part.role == fs::probe::Role::Container && spec.letter.is_none() {
            // The filesystem is read from the slot's `a` partition (see `open_dev`).
            if fs::probe::open_fs(&part).is_err() {
                let a = fs::probe::DeviceSpec { letter: Some('a'), ..spec };
                part = disk.find(&a).map_err(|_| unknown())?;
            }
        }
        fs::probe::netbsd::bootdev(self.disks, &part)
    }
}

/// Files of one in-memory volume: `(path, contents)`.
pub type MemFiles = Vec<(String, Vec<u8>)>;

/// Volumes held in memory, for tests and fuzzing.
#[derive(Debug, Clone, Default)]
pub struct MemVolumes {
    /// The partitions and their files.
    pub vols: Vec<(Volume, MemFiles)>,
    /// Filesystem UUIDs and labels, by device.
    pub ids: Vec<(Device, Option<String>, Option<String>)>,
    /// The volumes take writes: an environment block file is placed at sector 0 of its
    /// volume's disk number and [`Volumes::write_env`] replaces the file's bytes.
    pub writable: bool,
}

impl MemVolumes {
    /// Adds a partition with files.
    pub fn with(mut self, dev: &str, fs: FsKind, files: &[(&str, &[u8])]) -> Self {
        if let Some(device) = Device::parse(dev) {
            let files = files.iter().map(|(p, b)| (String::from(*p), b.to_vec())).collect();
            self.vols.push((Volume { device, fs }, files));
        }
        self
    }
}

impl Volumes for MemVolumes {
    fn volumes(&self) -> Vec<Volume> {
        self.vols.iter().map(|(v, _)| v.clone()).collect()
    }
    fn read(&mut self, device: &Device, path: &str, limit: usize) -> Result<Vec<u8>, ReadError> {
        let (_, files) = self.vols.iter().find(|(v, _)| &v.device == device).ok_or(ReadError::NotFound)?;
        let (_, bytes) = files.iter().find(|(p, _)| p == path).ok_or(ReadError::NotFound)?;
        Ok(bytes.get(..limit.min(bytes.len())).unwrap_or(bytes).to_vec())
    }
    fn exists(&mut self, device: &Device, path: &str) -> bool {
        self.read(device, path, 0).is_ok()
    }
    fn fs_ids(&mut self, device: &Device) -> (Option<String>, Option<String>) {
        self.ids.iter().find(|(d, ..)| d == device).map(|(_, u, l)| (u.clone(), l.clone())).unwrap_or((None, None))
    }
    /// A directory exists when a file is in it; its names are in the order the files were given.
    fn list_dir(&mut self, device: &Device, path: &str, max: usize) -> Option<Vec<String>> {
        let (_, files) = self.vols.iter().find(|(v, _)| &v.device == device)?;
        let prefix = alloc::format!("{}/", path.trim_end_matches('/'));
        let mut out: Vec<String> = Vec::new();
        for (p, _) in files {
            let name = p.strip_prefix(&prefix).map(|r| r.split('/').next().unwrap_or(r));
            if let Some(n) = name.filter(|n| !n.is_empty()) {
                if !out.iter().any(|o| o == n) {
                    out.push(String::from(n));
                }
            }
        }
        (!out.is_empty()).then(|| out.into_iter().take(max).collect())
    }

    fn env_place(&mut self, device: &Device, path: &str) -> Result<(EnvPlace, Vec<u8>), String> {
        if !self.writable {
            return Err(String::from("these disks take no writes"));
        }
        let bytes = self.read(device, path, usize::MAX).map_err(|_| String::from("no such file"))?;
        let disk = device.spec().map_or(0, |s| s.disk);
        Ok((EnvPlace { disk, lba: 0, sectors: 2, block_size: 512 }, bytes))
    }
    fn write_env(&mut self, w: &EnvWrite) -> Result<(), String> {
        let (_, files) = self.vols.iter_mut().find(|(v, _)| v.device == w.device).ok_or("no such device")?;
        let (_, bytes) = files.iter_mut().find(|(p, _)| *p == w.path).ok_or("no such file")?;
        if *bytes != w.old {
            return Err(String::from("the file no longer holds the block read"));
        }
        bytes.clone_from(&w.new);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MENU: &[u8] = b"title a\nkernel /vmlinuz ro\n";
    const BOOTCFG: &[u8] = b"menu=Boot:boot netbsd -s\n";

    #[test]
    fn order_within_and_across_partitions() {
        // grub.cfg on the first partition beats menu.lst on the second: partitions come first.
        let mut v = MemVolumes::default()
            .with(
                "(hd0,0)",
                FsKind::Ext,
                &[("/grub/grub.cfg", b"menuentry 'g' { linux /g }\n"), ("/boot.cfg", BOOTCFG)],
            )
            .with("(hd0,1)", FsKind::Ext, &[("/boot/grub/menu.lst", MENU)]);
        let l = load("", &mut v);
        assert_eq!(l.reason, Reason::Searched);
        assert_eq!(l.source.path, "/grub/grub.cfg");
        assert_eq!(l.source.format, Format::GrubCfg);
        assert_eq!(l.source.device.as_ref().unwrap().as_str(), "(hd0,0)");
        // The root defaults to the configuration's device, as in pvgrub.
        assert_eq!(l.plan(0, None).unwrap().kernel.device.unwrap().as_str(), "(hd0,0)");

        let mut v =
            MemVolumes::default().with("(hd0,0)", FsKind::Ext, &[("/boot.cfg", BOOTCFG), ("/grub/menu.lst", MENU)]);
        assert_eq!(load("", &mut v).source.path, "/grub/menu.lst");
    }

    #[test]
    fn extra_config_first_then_search() {
        let mut v = MemVolumes::default().with("(hd0,0)", FsKind::Ext, &[("/boot/grub/menu.lst", MENU)]).with(
            "(hd1,a)",
            FsKind::Ffs,
            &[("/my.cfg", BOOTCFG)],
        );
        let l = load("(hd1,a)/my.cfg", &mut v);
        assert_eq!(l.reason, Reason::ExtraConfig);
        assert_eq!(l.source.format, Format::BootCfg);
        assert_eq!(l.plan(0, None).unwrap().cmdline, "-s bootdev=xbd1a");
        let l = load("rpvboot.config=/my.cfg rpvboot.nobootdev rpvboot.timeout=3", &mut v);
        assert_eq!(l.source.device.as_ref().unwrap().as_str(), "(hd1,a)");
        assert_eq!(l.plan(0, None).unwrap().cmdline, "-s");
        assert_eq!(l.menu.timeout, Some(3));
        // Named but missing: an error, then the normal search.
        let l = load("(hd0,0)/nope.lst", &mut v);
        assert_eq!(l.reason, Reason::Searched);
        assert_eq!(l.diagnostics[0].kind, DiagKind::ConfigNotFound("(hd0,0)/nope.lst".into()));
    }

    #[test]
    fn console_names_the_wrong_lines_and_caps_the_list() {
        // Lines 2 and 4 are misspelled; `splashimage` (line 1) is only a note, not shown.
        let lst = b"splashimage (hd0)/x.xpm\ndefualt 0\ntitle a\n  kernal /netbsd\n  kernel /netbsd\n";
        let mut v = MemVolumes::default().with("(hd0,0)", FsKind::Ffs, &[("/grub/menu.lst", lst)]);
        let mut out = String::new();
        load("", &mut v).write_diagnostics(&mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].starts_with("rpvboot: (hd0,0)/grub/menu.lst:2: warning: unknown command 'defualt'"), "{out}");
        assert!(lines[1].starts_with("rpvboot: (hd0,0)/grub/menu.lst:4: warning: unknown command 'kernal'"), "{out}");

        // Many bad lines: the first CONSOLE_DIAGNOSTICS, then how many were left out.
        let mut many = Vec::new();
        for i in 0..40 {
            many.extend_from_slice(format!("bogus{i} x\n").as_bytes());
        }
        let mut v = MemVolumes::default().with("(hd0,0)", FsKind::Ffs, &[("/grub/menu.lst", &many[..])]);
        let mut out = String::new();
        let l = load("", &mut v);
        l.write_diagnostics(&mut out);
        let total = l.all_diagnostics().filter(|d| d.severity != Severity::Note).count();
        assert!(total >= 40, "{total}");
        assert_eq!(out.lines().count(), CONSOLE_DIAGNOSTICS + 1);
        // The file-level error ("no boot entries") comes first, then the lines in order.
        assert!(out.starts_with("rpvboot: (hd0,0)/grub/menu.lst:0: error: no boot entries"), "{out}");
        assert!(out.contains(":15: warning: unknown command 'bogus14'"), "{out}");
        assert!(!out.contains("'bogus15'"), "{out}");
        assert!(out.ends_with(&format!("... and {} more problems (rpvboot-inspect menu lists them all)\n", total - 16)));
    }

    #[test]
    fn extra_kernel_and_entry() {
        let mut v = MemVolumes::default().with(
            "(hd0,0)",
            FsKind::Ext,
            &[("/boot/grub/menu.lst", b"title a\nkernel /a\ntitle b\nkernel /b\n"), ("/vmlinuz", b"x")],
        );
        let l = load("rpvboot.kernel=/vmlinuz root=/dev/xvda1 ro", &mut v);
        assert_eq!(l.reason, Reason::ExtraKernel);
        let p = l.plan(0, None).unwrap();
        assert_eq!(p.kernel.device.unwrap().as_str(), "(hd0,0)");
        assert_eq!(p.cmdline, "root=/dev/xvda1 ro");
        let l = load("rpvboot.entry=1", &mut v);
        assert_eq!(l.menu.default, 1);
        let l = load("rpvboot.entry=5", &mut v);
        assert_eq!(l.menu.default, 0);
        assert_eq!(l.diagnostics.len(), 1);
    }

    #[test]
    fn nothing_found() {
        let mut v = MemVolumes::default()
            .with("(hd0,0)", FsKind::Fat, &[])
            .with("(hd0,1,a)", FsKind::Ffs, &[("/netbsd.gz", b"k")])
            .with("(hd1,a)", FsKind::Ffs, &[("/netbsd", b"k")]);
        let l = load("", &mut v);
        assert_eq!(l.reason, Reason::Builtin);
        let p = l.plan(0, None).unwrap();
        assert_eq!(p.kernel.device.as_ref().unwrap().as_str(), "(hd0,1,a)");
        assert_eq!(p.kernel.path, "/netbsd.gz");
        assert_eq!(p.cmdline, "bootdev=xbd0a");
        let mut v = MemVolumes::default().with("(hd0,0)", FsKind::Ext, &[]);
        let l = load("", &mut v);
        assert_eq!(l.reason, Reason::Nothing);
        assert!(l.all_diagnostics().any(|d| d.severity == Severity::Error));
    }
}
