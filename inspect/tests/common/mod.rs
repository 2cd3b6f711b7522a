//! Shared by the CLI tests: a minimal JSON reader (no dependency) for the tool's `--json` output,
//! and the few file and process helpers every test file needs.
// Each test file compiles this module on its own and uses only some of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh, empty `target/testimages/<suite>/<name>` directory.
pub fn work(suite: &str, name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/testimages").join(suite).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `cmd`, which must succeed; its stdout.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Writes `data` at `path` (absolute inside the tree) under `tree`, making directories.
pub fn put(tree: &Path, path: &str, data: &[u8]) {
    let p = tree.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
}

/// Whether `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success())
}

/// Debian's Linux PV kernel fetched by `cargo xtask setup`, if it is there.
pub fn vmlinuz() -> Option<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    ["target/e2e/x/boot", "target/kernels/x/boot"].iter().find_map(|d| {
        let p = std::fs::read_dir(root.join(d))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("vmlinuz-"))?;
        std::fs::read(p).ok()
    })
}

/// A minimal JSON value, enough to read the tool's output without a dependency.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(BTreeMap<String, J>),
}

impl J {
    pub fn get(&self, k: &str) -> &J {
        match self {
            J::Obj(m) => m.get(k).unwrap_or_else(|| panic!("no field {k} in {self:?}")),
            _ => panic!("not an object: {self:?}"),
        }
    }
    pub fn at(&self, i: usize) -> &J {
        match self {
            J::Arr(a) => &a[i],
            _ => panic!("not an array: {self:?}"),
        }
    }
    pub fn len(&self) -> usize {
        match self {
            J::Arr(a) => a.len(),
            _ => panic!("not an array: {self:?}"),
        }
    }
    pub fn s(&self) -> &str {
        match self {
            J::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }
    pub fn n(&self) -> i64 {
        match self {
            J::Num(n) => *n as i64,
            _ => panic!("not a number: {self:?}"),
        }
    }
}

pub fn parse_json(s: &str) -> J {
    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }
    fn val(b: &[u8], i: &mut usize) -> J {
        ws(b, i);
        match b[*i] {
            b'{' => {
                *i += 1;
                let mut m = BTreeMap::new();
                ws(b, i);
                if b[*i] == b'}' {
                    *i += 1;
                    return J::Obj(m);
                }
                loop {
                    ws(b, i);
                    let J::Str(k) = val(b, i) else { panic!("key") };
                    ws(b, i);
                    assert_eq!(b[*i], b':');
                    *i += 1;
                    let v = val(b, i);
                    m.insert(k, v);
                    ws(b, i);
                    *i += 1;
                    if b[*i - 1] == b'}' {
                        return J::Obj(m);
                    }
                }
            }
            b'[' => {
                *i += 1;
                let mut a = Vec::new();
                ws(b, i);
                if b[*i] == b']' {
                    *i += 1;
                    return J::Arr(a);
                }
                loop {
                    a.push(val(b, i));
                    ws(b, i);
                    *i += 1;
                    if b[*i - 1] == b']' {
                        return J::Arr(a);
                    }
                }
            }
            b'"' => {
                *i += 1;
                let mut out = String::new();
                let start = *i;
                let mut raw = Vec::new();
                while b[*i] != b'"' {
                    if b[*i] == b'\\' {
                        *i += 1;
                        match b[*i] {
                            b'n' => raw.push(b'\n'),
                            b't' => raw.push(b'\t'),
                            b'r' => raw.push(b'\r'),
                            b'u' => {
                                let h = std::str::from_utf8(&b[*i + 1..*i + 5]).unwrap();
                                let c = char::from_u32(u32::from_str_radix(h, 16).unwrap()).unwrap();
                                raw.extend_from_slice(c.to_string().as_bytes());
                                *i += 4;
                            }
                            c => raw.push(c),
                        }
                    } else {
                        raw.push(b[*i]);
                    }
                    *i += 1;
                }
                let _ = start;
                *i += 1;
                out.push_str(std::str::from_utf8(&raw).unwrap());
                J::Str(out)
            }
            b'n' => {
                *i += 4;
                J::Null
            }
            b't' => {
                *i += 4;
                J::Bool(true)
            }
            b'f' => {
                *i += 5;
                J::Bool(false)
            }
            _ => {
                let st = *i;
                while *i < b.len() && (b[*i] == b'-' || b[*i] == b'.' || b[*i].is_ascii_digit()) {
                    *i += 1;
                }
                J::Num(std::str::from_utf8(&b[st..*i]).unwrap().parse().unwrap())
            }
        }
    }
    let mut i = 0;
    let v = val(s.as_bytes(), &mut i);
    ws(s.as_bytes(), &mut i);
    assert_eq!(i, s.len(), "trailing data after JSON");
    v
}
