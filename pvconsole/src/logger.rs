//! A `log::Log` backend that writes `<prefix><LEVEL>: <message>` lines to the console.

use core::fmt::Write as _;

use crate::console::{Console, Platform, Writer};

/// `log` backend over a [`Console`]. Info lines are written as `<prefix><message>`; other
/// levels as `<prefix><LEVEL>: <message>`.
pub struct Logger<'a, P> {
    console: &'a Console<'a, P>,
    prefix: &'static str,
    level: log::LevelFilter,
}

impl<'a, P: Platform> Logger<'a, P> {
    /// A logger that passes records up to `level`.
    pub const fn new(console: &'a Console<'a, P>, prefix: &'static str, level: log::LevelFilter) -> Self {
        Self { console, prefix, level }
    }
}

impl<P: Platform + Sync + Send> log::Log for Logger<'_, P> {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut w = Writer(self.console);
        let _ = if record.level() == log::Level::Info {
            writeln!(w, "{}{}", self.prefix, record.args())
        } else {
            writeln!(w, "{}{}: {}", self.prefix, record.level(), record.args())
        };
        self.console.notify();
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::{Ring, XenconsInterface};
    use log::Log;

    struct SyncFake;
    impl Platform for SyncFake {
        fn notify(&self) {}
        fn now_ns(&self) -> u64 {
            0
        }
        fn wait_until(&self, _: u64) {}
    }

    #[test]
    fn log_trait_end_to_end() {
        let page: &'static XenconsInterface = Box::leak(Box::new(XenconsInterface::new()));
        let con: &'static Console<'static, SyncFake> = Box::leak(Box::new(Console::new(Ring::new(page), SyncFake)));
        let lg = Logger::new(con, "p: ", log::LevelFilter::Info);
        lg.log(&log::Record::builder().level(log::Level::Info).args(format_args!("x={}", 1)).build());
        lg.log(&log::Record::builder().level(log::Level::Error).args(format_args!("bad")).build());
        lg.log(&log::Record::builder().level(log::Level::Debug).args(format_args!("hidden")).build());
        let out: Vec<u8> = (0..page.out_prod.load(core::sync::atomic::Ordering::Relaxed) as usize)
            .map(|i| page.output[i].load(core::sync::atomic::Ordering::Relaxed))
            .collect();
        assert_eq!(out, b"p: x=1\r\np: ERROR: bad\r\n");
    }
}
