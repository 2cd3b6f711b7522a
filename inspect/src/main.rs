//! rpvboot-inspect: the dry run of rpvboot over disk image files.
fn main() {
    eprintln!("usage: rpvboot-inspect probe|ls|cat|menu IMG ...");
    std::process::exit(2);
}
