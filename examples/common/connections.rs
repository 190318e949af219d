//! The serve loop's hold on its connections: each connection runs under a [`Control`] through
//! which the loop (at shutdown) and the connection's own request body (when it is not whole
//! in time) stop it, and under a watchdog that closes it when no request head comes in time.
//!
//! The watchdog replaces hyper's header-read timeout, which armed a timer for every request
//! head (a boxed `Sleep`, a clock read, an insert into tokio's timer wheel and a removal):
//! here a connection has one timer, which fires four times per `TCX_HEADER_READ_TIMEOUT`,
//! and a request costs two increments of a counter. A connection with no request in flight
//! and no new request for four checks in a row is closed: between the timeout and a quarter
//! more after its start or the end of its last answer.
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
use std::time::Duration;

use atomic_waker::AtomicWaker;
use hyper_util::server::graceful::GracefulConnection;
use tokio::time::Sleep;

/// Serve requests as they come: the order a connection starts with.
const SERVE: u8 = 0;
/// Finish the request in flight, then close (the server is shutting down).
const FINISH: u8 = 1;
/// Close now, answering nothing more (a request body did not arrive in time).
const CUT: u8 = 2;

/// The watchdog's checks per header-read timeout.
const CHECKS: u32 = 4;

/// What a connection is told to do; a later order only ever escalates (serve, finish, cut).
/// And what it is doing, for its watchdog.
#[derive(Debug)]
pub(crate) struct Control {
    order: AtomicU8,
    waker: AtomicWaker,
    /// Counts each request's start (its head is whole, the service is called) and end (the
    /// service's future is done or dropped): odd while a request is in flight (HTTP/1 serves
    /// one at a time), changed when one came.
    requests: AtomicU64,
}

impl Control {
    fn new() -> Control {
        Control {
            order: AtomicU8::new(SERVE),
            waker: AtomicWaker::new(),
            requests: AtomicU64::new(0),
        }
    }

    /// A request has come; its end is counted when the returned guard is dropped.
    pub(crate) fn request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
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

/// A request in flight on its connection (see [`Control::request`]).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Control>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.requests.fetch_add(1, Ordering::Relaxed);
    }
}

pin_project_lite::pin_project! {
    /// A request's answer being made, with its [`InFlight`] guard.
    #[derive(Debug)]
    pub(crate) struct Answering<F> {
        #[pin]
        answer: F,
        in_flight: InFlight,
    }
}

impl<F> Answering<F> {
    pub(crate) fn new(in_flight: InFlight, answer: F) -> Self {
        Answering { answer, in_flight }
    }
}

impl<F: Future> Future for Answering<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().answer.poll(cx)
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
    /// `connection`, stopping when its [`Control`] says so or when it sends no request head
    /// within `header_read_timeout` (and up to a quarter more) of its start or of the end of
    /// its last answer.
    pub(crate) fn run<C: GracefulConnection>(
        self,
        connection: C,
        header_read_timeout: Duration,
    ) -> Controlled<C> {
        let period = header_read_timeout / CHECKS;
        Controlled {
            connection,
            control: self.control,
            finishing: false,
            registration: self.registration,
            watchdog: Box::pin(tokio::time::sleep(period)),
            period,
            seen: 0,
            quiet: 0,
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
    /// No request head came in time.
    Idle,
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
        watchdog: Pin<Box<Sleep>>,
        period: Duration,
        // The request count at the last check, and the checks since it last changed with no
        // request in flight.
        seen: u64,
        quiet: u32,
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
        while this.watchdog.as_mut().poll(cx).is_ready() {
            let requests = this.control.requests.load(Ordering::Relaxed);
            if requests % 2 == 1 || requests != *this.seen {
                (*this.seen, *this.quiet) = (requests, 0);
            } else {
                *this.quiet += 1;
                if *this.quiet >= CHECKS {
                    return Poll::Ready(Ended::Idle);
                }
            }
            let next = this.watchdog.deadline() + *this.period;
            this.watchdog.as_mut().reset(next);
        }
        this.connection.poll(cx).map(Ended::Closed)
    }
}
