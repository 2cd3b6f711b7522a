//! `probe`, `ls` and `cat`: partitions, filesystems and files of disk images.

/// `rpvboot-inspect probe IMG...`
pub fn probe(_args: &[String]) -> Result<(), String> {
    Err("probe: not implemented yet".into())
}

/// `rpvboot-inspect ls IMG PATH`
pub fn ls(_args: &[String]) -> Result<(), String> {
    Err("ls: not implemented yet".into())
}

/// `rpvboot-inspect cat IMG PATH`
pub fn cat(_args: &[String]) -> Result<(), String> {
    Err("cat: not implemented yet".into())
}
