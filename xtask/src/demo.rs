//! `cargo xtask demo`: the README's main-job command. Builds rpvboot and a demo disk (ext2
//! with the Debian kernel, an initrd, /boot/grub/menu.lst and grub.cfg), then boots one domU
//! with them under real Xen in QEMU through the e2e machinery, streaming the guest console.

use std::path::PathBuf;

use anyhow::Result;

use crate::e2e::scenarios::{Disk, Kernel, Scenario};
use crate::e2e::{self, images, RunOpts, Stream};

/// `cargo xtask demo`.
#[derive(clap::Args)]
pub struct Demo {
    /// Boot this disk image instead of the generated demo disk (repeatable).
    #[arg(long = "disk", value_name = "IMG")]
    disks: Vec<PathBuf>,
    /// The domU's `extra=` command line.
    #[arg(long, default_value = "")]
    extra: String,
    /// Bytes to type into the console after start (\n \r \t \e \\ \xHH).
    #[arg(long)]
    keys: Option<String>,
    /// The domU's memory in MiB.
    #[arg(long, default_value_t = 256)]
    memory: u32,
    /// Boot this PV kernel instead of rpvboot.
    #[arg(long, value_name = "ELF")]
    kernel: Option<PathBuf>,
    /// Boot `/usr/lib/xen/boot/rpvboot.gz` as installed from the Debian package (`cargo
    /// xtask dist`, unpacked into target/dist/root/) instead of target/rpvboot/rpvboot.
    #[arg(long)]
    installed: bool,
    /// Seconds before the domU is destroyed.
    #[arg(long, default_value_t = 120)]
    timeout: u32,
}

impl Demo {
    pub fn run(self) -> Result<()> {
        crate::setup::ensure_host()?;
        let own_disk = self.disks.is_empty();
        let disks = if own_disk {
            vec![Disk::Recipe(images::linux_boot_disk)]
        } else {
            self.disks.into_iter().map(Disk::Path).collect()
        };
        let mut s = Scenario::rpvboot("demo", &self.extra);
        if own_disk {
            s = expect_demo_boot(s);
        }
        s.kernel = match (self.kernel, self.installed) {
            (Some(_), true) => anyhow::bail!("--kernel and --installed name two kernels"),
            (Some(k), false) => Kernel::File(k),
            (None, true) => Kernel::File(crate::dist::installed_rpvboot_gz()?),
            (None, false) => Kernel::Rpvboot,
        };
        s.disks = disks;
        s.memory_mib = self.memory;
        s.timeout_secs = self.timeout;
        s.shutdown = None;
        if let Some(k) = &self.keys {
            s.keys = e2e::unescape(k)?;
        }
        let opts = RunOpts { stream: Stream::Console, kernel: None, qemu_timeout: None, after: None };
        if e2e::run_scenarios(&[s], &opts)? > 0 {
            std::process::exit(1);
        }
        Ok(())
    }
}

/// What the demo disk's boot shows: its menu boots Debian's Linux, whose initrd mounts xvda (so
/// blkfront was handed over cleanly) and prints the markers.
fn expect_demo_boot(s: Scenario) -> Scenario {
    s.expect(r"rpvboot: booting entry 0").expect(r"DOMU-DISK-READ").expect(r"DOMU-BOOTED-OK")
}

/// The e2e scenario `dist-demo`: the demo as a provider runs it, `kernel =` naming
/// `usr/lib/xen/boot/rpvboot.gz` unpacked from the Debian package (crate::dist).
pub fn installed_scenario() -> Scenario {
    Scenario {
        kernel: Kernel::Recipe(crate::dist::installed_rpvboot_gz),
        disks: vec![Disk::Recipe(images::linux_boot_disk)],
        memory_mib: 256,
        timeout_secs: 300,
        ..expect_demo_boot(Scenario::rpvboot("dist-demo", ""))
            .expect(&format!("^{}", regex::escape(&crate::build::banner())))
    }
}
