//! rpvboot-inspect: the dry run of rpvboot over disk image files, in dom0 or on a laptop.
//!
//! Each subcommand lives in its own module, with its options read by [`args`]; they share rpvboot's own code (the `fs` and
//! `loader` crates), so what this tool says is what the PV kernel would do.

mod args;
mod boot;
mod menu;
mod probe;

use std::process::ExitCode;

const USAGE: &str = "usage:
  rpvboot-inspect probe IMG [IMG2 ...]    partitions and filesystems
  rpvboot-inspect ls IMG PATH             list a directory ((hd0,0)/path or /path)
  rpvboot-inspect cat IMG PATH            file bytes to stdout
  rpvboot-inspect menu IMG [IMG2 ...]     the boot menu rpvboot would show
  rpvboot-inspect boot IMG [IMG2 ...]     dry run of the whole boot (exit 0 only if it boots)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "probe" => probe::probe(rest),
        "ls" => probe::ls(rest),
        "cat" => probe::cat(rest),
        "menu" => menu::menu(rest),
        "boot" => boot::boot(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown subcommand '{other}'\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("rpvboot-inspect: {msg}");
            ExitCode::FAILURE
        }
    }
}
