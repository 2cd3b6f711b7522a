//! The subcommands' one option parser: `--flag`, `--option VALUE` and positional words, in
//! any order; a later option overrides an earlier one. Each subcommand names the options it
//! takes; anything else starting with `--` is an error naming it.

use std::str::FromStr;

/// A parsed command line.
pub(crate) struct Args {
    flags: Vec<&'static str>,
    values: Vec<(&'static str, String)>,
    /// The words that are not options, in order.
    pub(crate) positional: Vec<String>,
}

/// Parses `args` with the `flags` (no value) and `valued` options a subcommand takes; `usage`
/// is appended to errors.
pub(crate) fn parse(
    args: &[String],
    flags: &[&'static str],
    valued: &[&'static str],
    usage: &str,
) -> Result<Args, String> {
    let mut a = Args { flags: Vec::new(), values: Vec::new(), positional: Vec::new() };
    let mut it = args.iter();
    while let Some(w) = it.next() {
        if let Some(&f) = flags.iter().find(|&&f| f == w) {
            a.flags.push(f);
        } else if let Some(&name) = valued.iter().find(|&&v| v == w) {
            let v = it.next().ok_or_else(|| format!("{name} needs a value\n{usage}"))?;
            a.values.retain(|(n, _)| *n != name);
            a.values.push((name, v.clone()));
        } else if w.starts_with("--") {
            return Err(format!("unknown option {w}\n{usage}"));
        } else {
            a.positional.push(w.clone());
        }
    }
    Ok(a)
}

impl Args {
    /// Whether `--name` was given.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }

    /// The value of `--name`.
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The value of `--name` as a number; `what` says what it counts, for the error.
    pub(crate) fn number<T: FromStr>(&self, name: &str, what: &str) -> Result<Option<T>, String> {
        self.value(name).map(|v| v.parse().map_err(|_| format!("{name} {v}: not {what}"))).transpose()
    }

    /// `--sector-size`: 512 or 4096.
    pub(crate) fn sector_size(&self) -> Result<Option<u32>, String> {
        match self.number::<u32>("--sector-size", "a number")? {
            None => Ok(None),
            Some(n @ (512 | 4096)) => Ok(Some(n)),
            Some(n) => Err(format!("--sector-size {n}: must be 512 or 4096")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_values_and_positional_in_any_order() {
        let a =
            parse(&words("a.img --json --entry 2 b.img --entry 3"), &["--json"], &["--entry", "--extra"], "u").unwrap();
        assert!(a.flag("--json"));
        assert_eq!(a.positional, ["a.img", "b.img"]);
        assert_eq!(a.number::<usize>("--entry", "an entry number").unwrap(), Some(3));
        assert_eq!(a.value("--extra"), None);
        assert_eq!(a.sector_size().unwrap(), None);
    }

    #[test]
    fn errors_name_the_option() {
        let e = |s: &str| parse(&words(s), &["--json"], &["--sector-size"], "usage").err().unwrap();
        assert_eq!(e("x --bogus"), "unknown option --bogus\nusage");
        assert_eq!(e("x --sector-size"), "--sector-size needs a value\nusage");
        let a = parse(&words("--sector-size 1024"), &[], &["--sector-size"], "u").unwrap();
        assert_eq!(a.sector_size().unwrap_err(), "--sector-size 1024: must be 512 or 4096");
        let a = parse(&words("--sector-size x"), &[], &["--sector-size"], "u").unwrap();
        assert_eq!(a.sector_size().unwrap_err(), "--sector-size x: not a number");
        // A flag a subcommand does not take is unknown there.
        let not_taken = parse(&words("--json x"), &[], &["--sector-size"], "u").err().unwrap();
        assert_eq!(not_taken, "unknown option --json\nu");
    }
}
