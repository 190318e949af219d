//! The serve loop's hold on its connections: each connection runs under a [`Control`] through
//! which the loop (at shutdown) and the connection's own request body (when it is not whole
//! in time) stop it.
//!
//! A connection's task checks one atomic and registers its waker (a no-op when it is the
//! same waker) each time it wakes. Hyper-util's `GracefulShutdown` beside a `Notify` per
//! connection in a `select!`, which this replaces, polled two notification futures that each
//! took a lock at every wake-up: hyper and tokio took 7.7 µs of a sign-in's server CPU with
//! them, 6.3 µs without (`bash bench/profile.sh sign-in`; BENCHMARKS.md, "Where a request's
//! server CPU goes").

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;
use hyper_util::server::graceful::GracefulConnection;

/// Serve requests as they come: the order a connection starts with.
const SERVE: u8 = 0;
/// Finish the request in flight, then close (the server is shutting down).
const FINISH: u8 = 1;
/// Close now, answering nothing more (a request body did not arrive in time).
const CUT: u8 = 2;

/// What a connection is told to do; a later order only ever escalates (serve, finish, cut).
#[derive(Debug)]
pub(crate) struct Control {
    order: AtomicU8,
    waker: AtomicWaker,
}

impl Control {
    fn new() -> Control {
        Control {
            order: AtomicU8::new(SERVE),
            waker: AtomicWaker::new(),
        }
    }

    /// Closes the connection at once: its task drops it without answering.
    pub(crate) fn cut(&self) {
        self.give(CUT);
    }

    fn give(&self, order: u8) {
        self.order.fetch_max(order, Ordering::AcqRel);
        self.waker.wake();
    }
}

/// The connections being served, so that a shutdown reaches each of them.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    live: Mutex<HashMap<u64, Arc<Control>>>,
    next_id: AtomicU64,
}

impl Connections {
    /// Registers a connection about to be served: its [`Control`] (for its request bodies)
    /// and its place here, given up when the connection ends.
    pub(crate) fn open(self: &Arc<Self>) -> Opened {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let control = Arc::new(Control::new());
        self.lock().insert(id, control.clone());
        Opened {
            control,
            registration: Registration {
                connections: self.clone(),
                id,
            },
        }
    }

    /// Tells every connection to finish its request in flight and close.
    pub(crate) fn finish_all(&self) {
        for control in self.lock().values() {
            control.give(FINISH);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Control>>> {
        // The map is whole between statements: a panic elsewhere leaves it usable.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection registered by [`Connections::open`], not yet running.
#[derive(Debug)]
pub(crate) struct Opened {
    /// What the connection's request bodies cut it off with.
    pub(crate) control: Arc<Control>,
    registration: Registration,
}

impl Opened {
    /// `connection`, stopping when its [`Control`] says so.
    pub(crate) fn run<C: GracefulConnection>(self, connection: C) -> Controlled<C> {
        Controlled {
            connection,
            control: self.control,
            finishing: false,
            registration: self.registration,
        }
    }
}

/// A connection's place in [`Connections`], given up when its future is dropped.
#[derive(Debug)]
struct Registration {
    connections: Arc<Connections>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

/// How a connection ended.
#[derive(Debug)]
pub(crate) enum Ended<E> {
    /// Hyper closed it: the client left, it was idle past a timeout, or the server shut down.
    Closed(Result<(), E>),
    /// Its [`Control`] cut it off.
    CutOff,
}

pin_project_lite::pin_project! {
    /// A connection that stops when its [`Control`] says so.
    #[derive(Debug)]
    pub(crate) struct Controlled<C> {
        #[pin]
        connection: C,
        control: Arc<Control>,
        finishing: bool,
        registration: Registration,
    }
}

impl<C: GracefulConnection> Future for Controlled<C> {
    type Output = Ended<C::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // Registered before the order is read: an order given after the read wakes us.
        this.control.waker.register(cx.waker());
        match this.control.order.load(Ordering::Acquire) {
            CUT => return Poll::Ready(Ended::CutOff),
            FINISH if !*this.finishing => {
                *this.finishing = true;
                this.connection.as_mut().graceful_shutdown();
            }
            _ => {}
        }
        this.connection.poll(cx).map(Ended::Closed)
    }
}
