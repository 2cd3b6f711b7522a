//! rpvboot-inspect: the dry run of rpvboot over disk image files (or block devices, read-only),
//! in dom0 or on a laptop.
//!
//! Each subcommand lives in its own module with its options ([`clap`] derive, so every
//! subcommand has `--help`); they share rpvboot's own code (the `fs`, `bootconfig` and
//! `bootplan` crates), so what this tool says is what the PV kernel would do.
//!
//! Exit status (the one place it is decided is [`main`]; README "rpvboot-inspect" and the man
//! page follow this list):
//! - 0: done; for `boot`, the dry run's outcome is `boot`.
//! - 1: the disk, configuration or file says no: an image that cannot be opened or read, a path
//!   that is not there (`ls`, `cat`), a dry run whose outcome is `fallback` or `error` (`boot`;
//!   its report is printed all the same), or stdout closed. One line `rpvboot-inspect: …` on
//!   stderr says why.
//! - 2: usage error: unknown subcommand or option, missing or bad value (`error: …` and the
//!   usage on stderr). `--help` and `--version` exit 0.
//!
//! `menu` exits 0 whenever it could print the menu, also when it says `would boot: nothing`:
//! its report is the answer (use `boot` for a yes/no).

mod boot;
mod menu;
mod probe;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// The source revision `cargo xtask` builds from (`RPVBOOT_REV`), else `unknown`.
const REV: &str = match option_env!("RPVBOOT_REV") {
    Some(r) => r,
    None => "unknown",
};

/// `--version`'s text after the program name: `<version> (<rev>)`.
fn version() -> String {
    format!("{} ({REV})", env!("CARGO_PKG_VERSION"))
}

const EXIT_STATUS: &str = "Exit status: 0 ok (for `boot`: it boots); 1 the disk, configuration or file says no \
(unreadable image, path not found, `boot` outcome fallback or error); 2 usage error.";

/// Run rpvboot's own disk, configuration and kernel logic on disk images or block devices
/// (opened read-only), as the PV bootloader would in the domU.
#[derive(Parser)]
#[command(name = "rpvboot-inspect", version = version(), after_help = EXIT_STATUS, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Partition maps, partitions and filesystems of each disk, as rpvboot names them.
    #[command(after_help = EXIT_STATUS, args_override_self = true)]
    Probe(probe::ProbeArgs),
    /// List a directory (or one file): TYPE SIZE NAME per line.
    #[command(after_help = EXIT_STATUS, args_override_self = true)]
    Ls(probe::PathArgs),
    /// Write a file's bytes to stdout.
    #[command(after_help = EXIT_STATUS, args_override_self = true)]
    Cat(probe::PathArgs),
    /// The boot menu rpvboot would show, the problems it reports, and what it would boot.
    #[command(after_help = EXIT_STATUS, args_override_self = true)]
    Menu(menu::MenuArgs),
    /// Dry run of the whole boot, short of the jump (exit status 0 only if it boots).
    #[command(after_help = EXIT_STATUS, args_override_self = true)]
    Boot(boot::BootArgs),
}

/// Options every subcommand that opens disks takes.
#[derive(Args, Clone, Copy)]
pub(crate) struct DiskOpts {
    /// Sector size of the disks: 512 or 4096 (default: 4096 for a 4Kn GPT disk, else 512).
    #[arg(long, value_name = "BYTES", value_parser = sector_size)]
    pub(crate) sector_size: Option<u32>,
}

fn sector_size(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n @ (512 | 4096)) => Ok(n),
        Ok(_) => Err("must be 512 or 4096".into()),
        Err(_) => Err("not a number".into()),
    }
}

/// Writes a subcommand's report to stdout; a closed stdout is an error (exit status 1), not a
/// panic.
pub(crate) fn print_out(text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(|e| format!("stdout: {e}"))
}

fn main() -> ExitCode {
    // Usage errors exit 2 here (clap's own exit), after printing `error: …` and the usage.
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Probe(a) => probe::probe(&a),
        Cmd::Ls(a) => probe::ls(&a),
        Cmd::Cat(a) => probe::cat(&a),
        Cmd::Menu(a) => menu::menu(&a),
        Cmd::Boot(a) => boot::boot(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("rpvboot-inspect: {msg}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sector_size_is_512_or_4096() {
        assert_eq!(sector_size("4096"), Ok(4096));
        assert_eq!(sector_size("1024"), Err("must be 512 or 4096".into()));
        assert_eq!(sector_size("x"), Err("not a number".into()));
    }
}
