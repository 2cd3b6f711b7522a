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
            // The demo disk's menu boots Debian's Linux, whose initrd mounts xvda (so blkfront
            // was handed over cleanly) and prints this marker.
            s = s.expect(r"rpvboot: booting entry 0").expect(r"DOMU-DISK-READ").expect(r"DOMU-BOOTED-OK");
        }
        s.kernel = match self.kernel {
            Some(k) => Kernel::File(k),
            None => Kernel::Rpvboot,
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
