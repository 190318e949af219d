//! The reference servers' log writer: lines go to stderr from a thread of their own, a batch at
//! a time, so that a request that logs (a sign-up's audit line) neither writes nor wakes
//! anything.
//!
//! A line is appended to a shared buffer under a lock. The writer thread sleeps until the
//! buffer stops being empty, lets lines gather for [`GATHER_FOR`] (or until [`WRITE_AT`]
//! bytes are waiting), then writes them all with one `write`. So a line reaches stderr at most
//! ~0.1 s after it was logged, and under load the thread wakes about ten times a second
//! instead of once a line (with tracing-appender's writer, which wakes its thread for each
//! line and writes each on its own, a sign-up cost ~14 µs more server CPU at `info` than at
//! `warn`). If stderr cannot keep up and [`HOLD_AT_MOST`] bytes are waiting, new lines are
//! dropped, counted, and the count is written out once there is room: a flood of rejected
//! keys must not slow requests down or grow the memory without bound.

use std::io::{self, Write};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer thread lets lines gather after the first of a batch.
const GATHER_FOR: Duration = Duration::from_millis(100);
/// Waiting bytes that start a write before [`GATHER_FOR`] is up.
const WRITE_AT: usize = 64 * 1024;
/// Waiting bytes past which new lines are dropped (and counted).
const HOLD_AT_MOST: usize = 8 * 1024 * 1024;

/// The lines waiting for the writer thread.
#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    dropped: u64,
    closed: bool,
}

/// The buffer shared by the logging threads and the writer thread.
pub(crate) struct BatchedStderr {
    waiting: Mutex<Waiting>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl BatchedStderr {
    /// A writer whose thread is started by [`BatchedStderr::start`].
    pub(crate) const fn new() -> Self {
        Self {
            waiting: Mutex::new(Waiting {
                bytes: Vec::new(),
                dropped: 0,
                closed: false,
            }),
            wake: Condvar::new(),
            thread: Mutex::new(None),
        }
    }

    /// Starts the writer thread (once; a second call does nothing).
    pub(crate) fn start(&'static self) -> io::Result<()> {
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if thread.is_none() {
            let handle = std::thread::Builder::new()
                .name("log-writer".into())
                .spawn(|| self.write_batches(&mut io::stderr()))?;
            *thread = Some(handle);
        }
        Ok(())
    }

    /// Writes out what is waiting and stops the writer thread; lines logged afterwards are
    /// written on the logging thread.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // A thread that panicked while holding the lock left whole lines behind: go on.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer thread: a batch at a time until closed.
    fn write_batches(&self, out: &mut impl Write) {
        let mut batch = Vec::new();
        loop {
            let mut waiting = self.lock();
            while waiting.bytes.is_empty() && !waiting.closed {
                waiting = self
                    .wake
                    .wait(waiting)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let (mut waiting, _) = self
                .wake
                .wait_timeout_while(waiting, GATHER_FOR, |w| {
                    !w.closed && w.bytes.len() < WRITE_AT
                })
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut batch, &mut waiting.bytes);
            let dropped = std::mem::take(&mut waiting.dropped);
            let closed = waiting.closed;
            drop(waiting);
            // Nowhere to report a failed write to stderr: the lines are lost either way.
            let _ = out.write_all(&batch);
            if dropped > 0 {
                let _ = writeln!(
                    out,
                    "log writer: {dropped} lines dropped (stderr did not keep up)"
                );
            }
            batch.clear();
            if closed {
                return;
            }
        }
    }
}

impl Write for &BatchedStderr {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut waiting = self.lock();
        if waiting.closed {
            drop(waiting);
            return io::stderr().write(line);
        }
        let before = waiting.bytes.len();
        if before + line.len() > HOLD_AT_MOST {
            waiting.dropped += 1;
        } else {
            waiting.bytes.extend_from_slice(line);
            // Wake the thread for the first line of a batch and when a batch is full; the
            // lines in between only append.
            if before == 0 || (before < WRITE_AT && before + line.len() >= WRITE_AT) {
                self.wake.notify_one();
            }
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tracing_subscriber::fmt::MakeWriter<'_> for &'static BatchedStderr {
    type Writer = &'static BatchedStderr;

    fn make_writer(&self) -> Self::Writer {
        self
    }
}
