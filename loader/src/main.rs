//! The `rpvboot` PV kernel entry. On the host this binary only explains what it is.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("rpvboot is a Xen PV kernel image; build it with `cargo xtask build`");
    std::process::exit(2);
}
