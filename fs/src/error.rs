//! Typed, printable errors: what went wrong and where (inode, block, byte offset).

use alloc::string::String;
use core::fmt;

/// A failure of the device underneath.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoError {
    /// The buffer length is zero or not a multiple of the sector size.
    Misaligned,
    /// The request reaches past the end of the device or partition.
    OutOfRange,
    /// The device reported an error (blkif status, host I/O error).
    Device,
    /// The device did not answer in time.
    Timeout,
    /// The device does not take writes (a read-only disk, an image opened for reading).
    ReadOnly,
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Misaligned => "read not a multiple of the sector size",
            Self::OutOfRange => "read past the end of the device",
            Self::Device => "device error",
            Self::Timeout => "device timed out",
            Self::ReadOnly => "device is read-only",
        })
    }
}

impl core::error::Error for IoError {}

/// Where on the disk a problem was found. Every field is optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// Inode number (FFS, ext) or directory-entry cluster (FAT).
    pub inode: Option<u64>,
    /// Filesystem block (or sector, for partition maps).
    pub block: Option<u64>,
    /// Byte offset from the start of the partition or disk.
    pub offset: Option<u64>,
}

impl Location {
    /// A location naming an inode.
    pub const fn inode(inode: u64) -> Self {
        Self { inode: Some(inode), block: None, offset: None }
    }
    /// A location naming a block.
    pub const fn block(block: u64) -> Self {
        Self { inode: None, block: Some(block), offset: None }
    }
    /// A location naming a byte offset.
    pub const fn offset(offset: u64) -> Self {
        Self { inode: None, block: None, offset: Some(offset) }
    }
    /// The same location with an inode added.
    pub const fn with_inode(mut self, inode: u64) -> Self {
        self.inode = Some(inode);
        self
    }
    /// The same location with a block added.
    pub const fn with_block(mut self, block: u64) -> Self {
        self.block = Some(block);
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(i) = self.inode {
            write!(f, "inode {i}")?;
            sep = ", ";
        }
        if let Some(b) = self.block {
            write!(f, "{sep}block {b}")?;
            sep = ", ";
        }
        if let Some(o) = self.offset {
            write!(f, "{sep}offset {o:#x}")?;
        }
        Ok(())
    }
}

/// On-disk data that breaks the format's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrupt {
    /// Which structure: "ffs", "gpt", "disklabel", ...
    pub format: &'static str,
    /// What is wrong, in lowercase words (e.g. "block pointer past the end of the filesystem").
    pub what: String,
    /// Where it was found.
    pub location: Location,
}

/// Everything that can go wrong while reading a disk.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The device failed.
    Io(IoError),
    /// The on-disk data is inconsistent.
    Corrupt(Corrupt),
    /// Valid data that this reader does not handle (the string says what).
    Unsupported(String),
    /// No such file or directory.
    NotFound,
    /// A path component is not a directory.
    NotADirectory,
    /// A file operation was asked of a directory.
    IsADirectory,
    /// Too many symbolic links while resolving a path.
    SymlinkLoop,
    /// A size read from disk exceeds what the caller allows to allocate.
    TooLarge {
        /// The size asked for.
        requested: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A buffer sized by on-disk data did not fit in the memory left (`try_reserve` failed:
    /// in the PV kernel the heap is the domain's, and it is exhausted).
    NoMemory {
        /// The bytes asked for.
        requested: u64,
    },
    /// The path is malformed (empty component, bad device prefix, ...).
    InvalidPath(String),
    /// No structure of the asked-for format is here (no magic): a probe answer, not corruption.
    NotRecognized,
}

impl Error {
    /// Shorthand for a [`Corrupt`] error.
    pub fn corrupt(format: &'static str, what: impl Into<String>, location: Location) -> Self {
        Self::Corrupt(Corrupt { format, what: what.into(), location })
    }
}

impl From<IoError> for Error {
    fn from(e: IoError) -> Self {
        Self::Io(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "i/o error: {e}"),
            Self::Corrupt(c) => {
                write!(f, "corrupt {}: {}", c.format, c.what)?;
                if c.location != Location::default() {
                    write!(f, " ({})", c.location)?;
                }
                Ok(())
            }
            Self::Unsupported(what) => write!(f, "unsupported: {what}"),
            Self::NotFound => f.write_str("no such file or directory"),
            Self::NotADirectory => f.write_str("not a directory"),
            Self::IsADirectory => f.write_str("is a directory"),
            Self::SymlinkLoop => f.write_str("too many levels of symbolic links"),
            Self::TooLarge { requested, limit } => {
                write!(f, "size {requested} exceeds the limit of {limit} bytes")
            }
            Self::NoMemory { requested } => write!(f, "no memory left for {requested} more bytes"),
            Self::InvalidPath(p) => write!(f, "invalid path: {p}"),
            Self::NotRecognized => f.write_str("format not recognized"),
        }
    }
}

impl core::error::Error for Error {}
