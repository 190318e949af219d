//! The event hook: observe sign-ups, sign-ins, rejected keys, redemptions, refreshes and
//! sign-outs for audit logs and metrics.

use crate::{AppId, SessionId, UserId};

/// Something that happened at an endpoint. Never carries a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEvent {
    /// A partner's call created a user.
    SignedUp {
        /// The partner app.
        app: AppId,
        /// The new user.
        user: UserId,
    },
    /// A partner's call found an existing user (and updated a changed profile).
    SignedIn {
        /// The partner app.
        app: AppId,
        /// The user.
        user: UserId,
    },
    /// A request carried a missing, malformed or unknown API key.
    KeyRejected,
    /// A oneTimeToken was redeemed: a session started.
    Redeemed {
        /// The app.
        app: AppId,
        /// The user.
        user: UserId,
        /// The new session.
        session: SessionId,
    },
    /// A refresh token was rotated.
    Refreshed {
        /// The app.
        app: AppId,
        /// The user.
        user: UserId,
        /// The session.
        session: SessionId,
    },
    /// An already rotated refresh token was presented: its session is revoked.
    RefreshReused {
        /// The app.
        app: AppId,
        /// The user.
        user: UserId,
        /// The revoked session.
        session: SessionId,
    },
    /// A session was signed out.
    SignedOut {
        /// The session, when the sign-out named one by access token.
        session: Option<SessionId>,
    },
}

/// Receives [`AuthEvent`]s. Called on the request's task: keep it quick, or hand the event
/// to a channel.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use techcentrix_auth::events::{AuthEvent, AuthEvents};
///
/// #[derive(Default)]
/// struct CountSignUps(AtomicUsize);
///
/// impl AuthEvents for CountSignUps {
///     fn on_event(&self, event: &AuthEvent) {
///         if let AuthEvent::SignedUp { .. } = event {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
/// ```
pub trait AuthEvents: Send + Sync + 'static {
    /// Called once per event.
    fn on_event(&self, event: &AuthEvent);
}

/// A closure is a hook: `builder.events(|event: &AuthEvent| ...)`.
impl<F> AuthEvents for F
where
    F: Fn(&AuthEvent) + Send + Sync + 'static,
{
    fn on_event(&self, event: &AuthEvent) {
        self(event)
    }
}

/// A shared hook is a hook.
impl<T: AuthEvents + ?Sized> AuthEvents for std::sync::Arc<T> {
    fn on_event(&self, event: &AuthEvent) {
        (**self).on_event(event)
    }
}

/// The default hook: does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEvents;

impl AuthEvents for NoEvents {
    fn on_event(&self, _event: &AuthEvent) {}
}

/// Logs each event through `tracing`: sign-ups and sign-outs at `info`, rejected keys and
/// refresh-token reuse at `warn`, the per-request sign-ins, redemptions and refreshes at
/// `debug`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingEvents;

impl AuthEvents for TracingEvents {
    fn on_event(&self, event: &AuthEvent) {
        match event {
            AuthEvent::KeyRejected => tracing::warn!(event = "key_rejected", "auth event"),
            AuthEvent::SignedUp { app, user } => {
                tracing::info!(event = "sign_up", %app, %user, "auth event")
            }
            AuthEvent::SignedIn { app, user } => {
                tracing::debug!(event = "sign_in", %app, %user, "auth event")
            }
            AuthEvent::Redeemed { app, user, session } => {
                tracing::debug!(event = "redeem", %app, %user, %session, "auth event")
            }
            AuthEvent::Refreshed { app, user, session } => {
                tracing::debug!(event = "refresh", %app, %user, %session, "auth event")
            }
            AuthEvent::RefreshReused { app, user, session } => {
                tracing::warn!(event = "refresh_reuse", %app, %user, %session, "auth event: session revoked")
            }
            AuthEvent::SignedOut { session } => {
                tracing::info!(event = "sign_out", session = ?session, "auth event")
            }
        }
    }
}
