//! The extension points: [`ApiKeyValidator`] and [`UserStore`], their value types, and the
//! backends that implement them.
//!
//! Each trait is object-safe and used as `Arc<dyn …>`. An absent thing is `Ok(None)`, a
//! broken store is `Err(StoreError)`: every refusal of a key (unknown, revoked, malformed)
//! looks alike to the caller.
//!
//! | trait | in memory | SQLite (`sqlite` feature) |
//! |---|---|---|
//! | [`ApiKeyValidator`] | [`MemoryApiKeyValidator`] | [`SqliteApiKeyStore`](sqlite::SqliteApiKeyStore) |
//! | [`UserStore`] | [`MemoryUserStore`] | [`SqliteUserStore`](sqlite::SqliteUserStore) |
//! | [`ReplayLedger`] | [`MemoryReplayLedger`] | [`SqliteReplayLedger`](sqlite::SqliteReplayLedger) |
//! | [`SessionStore`] | [`MemorySessionStore`] | [`SqliteSessionStore`](sqlite::SqliteSessionStore) |
//!
//! With the `postgres` feature, [`postgres`] has the PostgreSQL versions of all four (and
//! key management through [`ApiKeyAdmin`]); with `redis`, [`redis`] has a replay ledger and
//! a rate limiter that every instance shares.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{ApiKey, AppId, Jti, KeyDigest, KeyId, SessionId, StoreError, UserId};

mod cache;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod grouped;
#[cfg(feature = "sqlite")]
mod known_users;
mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql_stores;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use cache::CachedApiKeyValidator;
pub use memory::{
    ChainedApiKeyValidator, MemoryApiKeyValidator, MemoryReplayLedger, MemorySessionStore,
    MemoryUserStore,
};

/// Turns a presented Server.API.Key into the partner app it belongs to.
///
/// Implementations keep digests of keys, never the keys, and compare them in constant time.
/// Several keys may be live for one app (rotation).
///
/// A complete custom implementation, checking keys against a fixed digest:
///
/// ```
/// use async_trait::async_trait;
/// use techcentrix_auth::{ApiKey, ApiKeyValidator, AppId, KeyDigest, StoreError};
///
/// struct OneKey { app: AppId, digest: KeyDigest }
///
/// #[async_trait]
/// impl ApiKeyValidator for OneKey {
///     async fn validate(&self, key: &ApiKey) -> Result<Option<AppId>, StoreError> {
///         // `KeyDigest`'s equality is constant-time.
///         Ok((key.digest() == self.digest).then(|| self.app.clone()))
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let key = ApiKey::new("0123456789abcdef0123456789abcdef");
/// let validator = OneKey { app: "acme".into(), digest: key.digest() };
/// assert_eq!(validator.validate(&key).await.unwrap(), Some(AppId::from("acme")));
/// # });
/// ```
#[async_trait]
pub trait ApiKeyValidator: Send + Sync + 'static {
    /// The app the key belongs to; `Ok(None)` for any key that is not live.
    async fn validate(&self, key: &ApiKey) -> Result<Option<AppId>, StoreError>;
}

#[async_trait]
impl<T: ApiKeyValidator + ?Sized> ApiKeyValidator for Arc<T> {
    async fn validate(&self, key: &ApiKey) -> Result<Option<AppId>, StoreError> {
        (**self).validate(key).await
    }
}

/// The profile a partner's backend sends for a user (the body of
/// `POST /user/api/auth/external`, validated).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExternalProfile {
    /// The partner's own id for the user (1–128 bytes).
    pub external_id: String,
    /// The user's email (`local@domain`).
    pub email: String,
    /// The user's first name (may be empty).
    pub first_name: String,
}

impl ExternalProfile {
    /// A profile as given, unchecked (the endpoint checks what a partner sends; a store or
    /// a test may build one directly).
    ///
    /// ```
    /// use techcentrix_auth::store::ExternalProfile;
    ///
    /// let profile = ExternalProfile::new("user1-external", "user1@techcentrix.com", "User1Name");
    /// assert_eq!(profile.email, "user1@techcentrix.com");
    /// ```
    pub fn new(
        external_id: impl Into<String>,
        email: impl Into<String>,
        first_name: impl Into<String>,
    ) -> Self {
        ExternalProfile {
            external_id: external_id.into(),
            email: email.into(),
            first_name: first_name.into(),
        }
    }
}

/// A user as a [`UserStore`] holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// The service's own id: the `sub` of the user's tokens.
    pub id: UserId,
    /// The partner app the user came through.
    pub app: AppId,
    /// The partner's id for the user.
    pub external_id: String,
    /// The latest email the partner sent.
    pub email: String,
    /// The latest first name the partner sent.
    pub first_name: String,
    /// When the user was created, unix seconds.
    pub created_at: i64,
    /// When the profile last changed, unix seconds.
    pub updated_at: i64,
}

impl User {
    /// A user of `app` with `profile`, created (and last updated) at `now`, unix seconds.
    ///
    /// ```
    /// use techcentrix_auth::store::{ExternalProfile, User};
    /// use techcentrix_auth::UserId;
    ///
    /// let profile = ExternalProfile::new("p-1", "a@example.com", "Ada");
    /// let mut user = User::new(UserId::random(), "acme".into(), &profile, 1_700_000_000);
    /// user.updated_at = 1_700_000_060;
    /// assert!(user.has_profile(&profile));
    /// ```
    pub fn new(id: UserId, app: AppId, profile: &ExternalProfile, now: i64) -> Self {
        User {
            id,
            app,
            external_id: profile.external_id.clone(),
            email: profile.email.clone(),
            first_name: profile.first_name.clone(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether `profile` would change nothing of this user's stored profile.
    pub fn has_profile(&self, profile: &ExternalProfile) -> bool {
        self.email == profile.email && self.first_name == profile.first_name
    }
}

/// What a sign-up-or-in did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upserted {
    /// The `(app, external id)` pair was new: the user was created.
    SignedUp(User),
    /// The user existed; the profile was updated where it changed.
    SignedIn(User),
}

impl Upserted {
    /// The stored user.
    pub fn user(&self) -> &User {
        match self {
            Upserted::SignedUp(user) | Upserted::SignedIn(user) => user,
        }
    }

    /// Takes the stored user.
    pub fn into_user(self) -> User {
        match self {
            Upserted::SignedUp(user) | Upserted::SignedIn(user) => user,
        }
    }
}

/// Where users live.
///
/// [`UserStore::upsert_external`] must be atomic per `(app, external id)`: concurrent first
/// calls for one pair create one user, and it returns only once the user is stored.
///
/// A complete custom implementation over a `Mutex<Vec<User>>`:
///
/// ```
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use techcentrix_auth::store::{ExternalProfile, Upserted, User, UserStore};
/// use techcentrix_auth::{AppId, StoreError, UserId};
///
/// #[derive(Default)]
/// struct VecStore(Mutex<Vec<User>>);
///
/// #[async_trait]
/// impl UserStore for VecStore {
///     async fn upsert_external(
///         &self,
///         app: &AppId,
///         profile: &ExternalProfile,
///     ) -> Result<Upserted, StoreError> {
///         let mut users = self.0.lock().unwrap();
///         if let Some(user) = users
///             .iter_mut()
///             .find(|u| &u.app == app && u.external_id == profile.external_id)
///         {
///             user.email = profile.email.clone();
///             user.first_name = profile.first_name.clone();
///             return Ok(Upserted::SignedIn(user.clone()));
///         }
///         let user = User::new(UserId::random(), app.clone(), profile, 0);
///         users.push(user.clone());
///         Ok(Upserted::SignedUp(user))
///     }
///
///     async fn find(&self, id: &UserId) -> Result<Option<User>, StoreError> {
///         Ok(self.0.lock().unwrap().iter().find(|u| &u.id == id).cloned())
///     }
///
///     async fn erase(&self, id: &UserId) -> Result<bool, StoreError> {
///         let mut users = self.0.lock().unwrap();
///         let before = users.len();
///         users.retain(|u| &u.id != id);
///         Ok(users.len() < before)
///     }
/// }
/// ```
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Signs the user up (first sight of `(app, profile.external_id)`) or in (updating a
    /// changed email or first name).
    async fn upsert_external(
        &self,
        app: &AppId,
        profile: &ExternalProfile,
    ) -> Result<Upserted, StoreError>;

    /// The user with this id, if any.
    async fn find(&self, id: &UserId) -> Result<Option<User>, StoreError>;

    /// Whether a user with this id exists: all that redemption asks. The default asks
    /// [`UserStore::find`]; a store can answer without building the [`User`].
    async fn exists(&self, id: &UserId) -> Result<bool, StoreError> {
        Ok(self.find(id).await?.is_some())
    }

    /// Deletes the user (a data-protection request); whether it existed. A later call of
    /// the partner for the same `(app, external id)` signs up a new user. The user's
    /// sessions are the session store's: [`TechCentrixAuth::erase_user`](crate::TechCentrixAuth::erase_user)
    /// deletes both.
    async fn erase(&self, id: &UserId) -> Result<bool, StoreError>;
}

#[async_trait]
impl<T: UserStore + ?Sized> UserStore for Arc<T> {
    async fn upsert_external(
        &self,
        app: &AppId,
        profile: &ExternalProfile,
    ) -> Result<Upserted, StoreError> {
        (**self).upsert_external(app, profile).await
    }

    async fn find(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        (**self).find(id).await
    }

    async fn exists(&self, id: &UserId) -> Result<bool, StoreError> {
        (**self).exists(id).await
    }

    async fn erase(&self, id: &UserId) -> Result<bool, StoreError> {
        (**self).erase(id).await
    }
}

/// Whether a `jti` was seen before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumed {
    /// First use: the token may be redeemed.
    First,
    /// Seen before: refuse it.
    Replayed,
}

/// Remembers used oneTimeTokens: "consume this `jti` until `expires_at`" answers whether
/// this is its first use. Atomic: of concurrent calls for one `jti`, exactly one is
/// [`Consumed::First`]. A `jti` the ledger holds is [`Consumed::Replayed`] whatever the
/// time, even past its `expires_at`; an entry may be forgotten once `expires_at` (unix
/// seconds) has passed on the ledger's own clock. The redemption endpoint asks for the
/// token's `exp` plus the leeway, [`AuthConfig::LEDGER_CLOCK_SKEW`](crate::AuthConfig::LEDGER_CLOCK_SKEW)
/// and one second, and refuses a token that stopped verifying while it was being redeemed,
/// so a forgotten entry can never let a token through twice.
///
/// A complete custom implementation:
///
/// ```
/// use std::collections::HashSet;
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use techcentrix_auth::store::{Consumed, ReplayLedger};
/// use techcentrix_auth::{Jti, StoreError};
///
/// #[derive(Default)]
/// struct ForeverLedger(Mutex<HashSet<Jti>>);
///
/// #[async_trait]
/// impl ReplayLedger for ForeverLedger {
///     async fn consume(&self, jti: &Jti, _expires_at: i64) -> Result<Consumed, StoreError> {
///         let first = self.0.lock().unwrap().insert(jti.clone());
///         Ok(if first { Consumed::First } else { Consumed::Replayed })
///     }
/// }
/// ```
#[async_trait]
pub trait ReplayLedger: Send + Sync + 'static {
    /// Marks `jti` used until `expires_at`; whether it was unused.
    async fn consume(&self, jti: &Jti, expires_at: i64) -> Result<Consumed, StoreError>;

    /// Forgets at most `limit` entries whose `expires_at` is before `now`; how many. Called
    /// by housekeeping ([`TechCentrixAuth::purge_expired`](crate::TechCentrixAuth::purge_expired)),
    /// never inside a request. The default forgets nothing: for a ledger that expires its
    /// entries by itself (Redis).
    async fn purge_expired(&self, now: i64, limit: usize) -> Result<u64, StoreError> {
        let _ = (now, limit);
        Ok(0)
    }
}

#[async_trait]
impl<T: ReplayLedger + ?Sized> ReplayLedger for Arc<T> {
    async fn consume(&self, jti: &Jti, expires_at: i64) -> Result<Consumed, StoreError> {
        (**self).consume(jti, expires_at).await
    }

    async fn purge_expired(&self, now: i64, limit: usize) -> Result<u64, StoreError> {
        (**self).purge_expired(now, limit).await
    }
}

/// How many of a family's latest rotated refresh tokens a store keeps, at least: presenting
/// one of them is reuse (the family is revoked); an older one is merely unknown.
pub const ROTATED_TOKENS_KEPT: usize = 8;

/// A session: one refresh-token family, started by redeeming a oneTimeToken.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// The family's id: the `sid` of its access tokens.
    pub id: SessionId,
    /// The signed-in user.
    pub user: UserId,
    /// The app the oneTimeToken was issued to.
    pub app: AppId,
    /// When the family ends, unix seconds: no refresh after that.
    pub expires_at: i64,
}

impl Session {
    /// A session of `user` in `app` that ends at `expires_at`, unix seconds.
    pub fn new(id: SessionId, user: UserId, app: AppId, expires_at: i64) -> Self {
        Session {
            id,
            user,
            app,
            expires_at,
        }
    }
}

/// What presenting a refresh token did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// It was the family's current token: it is now rotated, and the new one current.
    Rotated(Session),
    /// It was already rotated: reuse. The whole family is now revoked.
    Reused(Session),
    /// Unknown, or its family is revoked or expired.
    Invalid,
}

/// Refresh-token families. Tokens are known only by their SHA-256 digests.
///
/// [`SessionStore::rotate`] must be atomic: of two concurrent rotations of one token, one
/// rotates and the other sees reuse.
///
/// A complete custom implementation over a `Mutex<Vec<…>>` (the shared behaviour suite in
/// `tests/stores.rs` is what any implementation should pass):
///
/// ```
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use techcentrix_auth::store::{ROTATED_TOKENS_KEPT, Rotation, Session, SessionStore};
/// use techcentrix_auth::{KeyDigest, SessionId, StoreError, UserId};
///
/// struct Family {
///     session: Session,
///     current: KeyDigest,
///     rotated: Vec<KeyDigest>, // oldest first, at most ROTATED_TOKENS_KEPT
///     rotated_at: i64,         // when the last one was rotated
///     grace_used: bool,
///     revoked: bool,
/// }
///
/// #[derive(Default)]
/// struct VecSessions(Mutex<Vec<Family>>);
///
/// #[async_trait]
/// impl SessionStore for VecSessions {
///     async fn create(&self, session: &Session, refresh: &KeyDigest) -> Result<(), StoreError> {
///         let mut families = self.0.lock().unwrap();
///         if families.iter().any(|f| f.session.id == session.id) {
///             return Err(StoreError::other("a session with this id exists"));
///         }
///         let (current, rotated) = (*refresh, Vec::new());
///         let session = session.clone();
///         families.push(Family { session, current, rotated, rotated_at: 0, grace_used: false, revoked: false });
///         Ok(())
///     }
///
///     async fn rotate(&self, presented: &KeyDigest, next: &KeyDigest, now: i64, reuse_interval: u64)
///         -> Result<Rotation, StoreError>
///     {
///         let mut families = self.0.lock().unwrap();
///         let Some(f) = families.iter_mut()
///             .find(|f| f.current == *presented || f.rotated.contains(presented)) else {
///             return Ok(Rotation::Invalid);
///         };
///         if f.revoked || f.session.expires_at < now {
///             return Ok(Rotation::Invalid);
///         }
///         let grace = reuse_interval > 0 && f.current != *presented
///             && f.rotated.last() == Some(presented) && !f.grace_used
///             && now - f.rotated_at <= reuse_interval as i64;
///         if f.current != *presented && !grace {
///             f.revoked = true;
///             return Ok(Rotation::Reused(f.session.clone()));
///         }
///         f.rotated.push(f.current);
///         if f.rotated.len() > ROTATED_TOKENS_KEPT {
///             f.rotated.remove(0);
///         }
///         f.current = *next;
///         if grace { f.grace_used = true } else { (f.rotated_at, f.grace_used) = (now, false) }
///         Ok(Rotation::Rotated(f.session.clone()))
///     }
///
///     async fn revoke(&self, id: &SessionId) -> Result<bool, StoreError> {
///         let mut families = self.0.lock().unwrap();
///         let family = families.iter_mut().find(|f| &f.session.id == id && !f.revoked);
///         Ok(family.map(|f| f.revoked = true).is_some())
///     }
///
///     async fn revoke_by_token(&self, token: &KeyDigest) -> Result<bool, StoreError> {
///         let mut families = self.0.lock().unwrap();
///         let family = families.iter_mut()
///             .find(|f| !f.revoked && (f.current == *token || f.rotated.contains(token)));
///         Ok(family.map(|f| f.revoked = true).is_some())
///     }
///
///     async fn revoke_user(&self, user: &UserId) -> Result<u64, StoreError> {
///         let mut families = self.0.lock().unwrap();
///         let mut revoked = 0;
///         for f in families.iter_mut().filter(|f| &f.session.user == user && !f.revoked) {
///             f.revoked = true;
///             revoked += 1;
///         }
///         Ok(revoked)
///     }
///
///     async fn list_user(&self, user: &UserId, now: i64) -> Result<Vec<Session>, StoreError> {
///         let families = self.0.lock().unwrap();
///         Ok(families.iter()
///             .filter(|f| &f.session.user == user && !f.revoked && f.session.expires_at >= now)
///             .map(|f| f.session.clone())
///             .collect())
///     }
///
///     async fn delete_user(&self, user: &UserId) -> Result<u64, StoreError> {
///         let mut families = self.0.lock().unwrap();
///         let before = families.len();
///         families.retain(|f| &f.session.user != user);
///         Ok((before - families.len()) as u64)
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = VecSessions::default();
/// let session = Session::new(SessionId::random(), "u".into(), "acme".into(), i64::MAX);
/// let (first, second) = (KeyDigest::of(b"first"), KeyDigest::of(b"second"));
/// store.create(&session, &first).await.unwrap();
/// assert_eq!(store.rotate(&first, &second, 0, 0).await.unwrap(), Rotation::Rotated(session.clone()));
/// assert_eq!(store.rotate(&first, &KeyDigest::of(b"x"), 0, 0).await.unwrap(), Rotation::Reused(session));
/// assert_eq!(store.rotate(&second, &KeyDigest::of(b"y"), 0, 0).await.unwrap(), Rotation::Invalid);
/// # });
/// ```
///
/// The in-memory store behaves the same:
///
/// ```
/// use techcentrix_auth::store::{MemorySessionStore, Rotation, Session, SessionStore};
/// use techcentrix_auth::{KeyDigest, SessionId};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemorySessionStore::new();
/// let session = Session::new(SessionId::random(), "u".into(), "acme".into(), i64::MAX);
/// let (first, second) = (KeyDigest::of(b"first"), KeyDigest::of(b"second"));
/// store.create(&session, &first).await.unwrap();
/// assert_eq!(store.rotate(&first, &second, 0, 0).await.unwrap(), Rotation::Rotated(session.clone()));
/// // The rotated token again: reuse, and the family is revoked.
/// assert_eq!(store.rotate(&first, &KeyDigest::of(b"third"), 0, 0).await.unwrap(), Rotation::Reused(session));
/// assert_eq!(store.rotate(&second, &KeyDigest::of(b"fourth"), 0, 0).await.unwrap(), Rotation::Invalid);
/// # });
/// ```
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Starts a family whose current token has digest `refresh`. The session's id is new
    /// (a random UUID); an id the store holds is refused with an error and changes nothing.
    async fn create(&self, session: &Session, refresh: &KeyDigest) -> Result<(), StoreError>;

    /// Presents the token with digest `presented` at time `now` (unix seconds); when it is
    /// current, `next` becomes current.
    ///
    /// `reuse_interval` (seconds, 0 = off) is the rotation grace period: the token rotated
    /// most recently, presented again within that many seconds of its rotation, is accepted
    /// once more (its successor is then rotated away and `next` becomes current), so that a
    /// client whose answer was lost can retry. Any other rotated token is reuse.
    ///
    /// A store keeps a bounded history ([`ROTATED_TOKENS_KEPT`] or more of the latest
    /// rotated tokens): the cost of a rotation does not grow with the family's age. A
    /// token older than the history is unknown ([`Rotation::Invalid`]) rather than reuse.
    async fn rotate(
        &self,
        presented: &KeyDigest,
        next: &KeyDigest,
        now: i64,
        reuse_interval: u64,
    ) -> Result<Rotation, StoreError>;

    /// Revokes a family; whether it was live.
    async fn revoke(&self, id: &SessionId) -> Result<bool, StoreError>;

    /// Revokes the family of a token (current or rotated); whether one was live.
    async fn revoke_by_token(&self, token: &KeyDigest) -> Result<bool, StoreError>;

    /// Deletes at most `limit` families (with their tokens) that expired before `now`; how
    /// many. Called by housekeeping, never inside a request. The default deletes nothing.
    async fn purge_expired(&self, now: i64, limit: usize) -> Result<u64, StoreError> {
        let _ = (now, limit);
        Ok(0)
    }

    /// Revokes every session of `user` not revoked yet (sign out everywhere); how many (an
    /// expired session that housekeeping has not deleted yet counts too).
    async fn revoke_user(&self, user: &UserId) -> Result<u64, StoreError>;

    /// The live sessions of `user` at `now` (neither revoked nor expired), oldest first.
    async fn list_user(&self, user: &UserId, now: i64) -> Result<Vec<Session>, StoreError>;

    /// Deletes every session of `user`, live or not, with its tokens; how many.
    async fn delete_user(&self, user: &UserId) -> Result<u64, StoreError>;
}

#[async_trait]
impl<T: SessionStore + ?Sized> SessionStore for Arc<T> {
    async fn create(&self, session: &Session, refresh: &KeyDigest) -> Result<(), StoreError> {
        (**self).create(session, refresh).await
    }

    async fn rotate(
        &self,
        presented: &KeyDigest,
        next: &KeyDigest,
        now: i64,
        reuse_interval: u64,
    ) -> Result<Rotation, StoreError> {
        (**self).rotate(presented, next, now, reuse_interval).await
    }

    async fn revoke(&self, id: &SessionId) -> Result<bool, StoreError> {
        (**self).revoke(id).await
    }

    async fn revoke_by_token(&self, token: &KeyDigest) -> Result<bool, StoreError> {
        (**self).revoke_by_token(token).await
    }

    async fn purge_expired(&self, now: i64, limit: usize) -> Result<u64, StoreError> {
        (**self).purge_expired(now, limit).await
    }

    async fn revoke_user(&self, user: &UserId) -> Result<u64, StoreError> {
        (**self).revoke_user(user).await
    }

    async fn list_user(&self, user: &UserId, now: i64) -> Result<Vec<Session>, StoreError> {
        (**self).list_user(user, now).await
    }

    async fn delete_user(&self, user: &UserId) -> Result<u64, StoreError> {
        (**self).delete_user(user).await
    }
}

/// A stored API key as listed: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredKey {
    /// The key's id (for revocation).
    pub id: KeyId,
    /// The app it belongs to.
    pub app: AppId,
    /// A free-form label.
    pub label: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
    /// Revocation time, unix seconds, if revoked.
    pub revoked_at: Option<i64>,
}

impl StoredKey {
    /// A live key of `app` created at `created_at`, unix seconds (set `revoked_at` for a
    /// revoked one).
    pub fn new(id: KeyId, app: AppId, label: impl Into<String>, created_at: i64) -> Self {
        StoredKey {
            id,
            app,
            label: label.into(),
            created_at,
            revoked_at: None,
        }
    }
}

/// Key management for stores that keep server API keys (the SQL backends): add, list,
/// rotate, revoke. A rotation is a new key beside the old ([`ApiKeyAdmin::rotate_key`]),
/// the partner moving to it, then the old key revoked.
///
/// A complete custom implementation, which is also the [`ApiKeyValidator`] of its keys
/// (`rotate_key` has a default built on the other three):
///
/// ```
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use techcentrix_auth::store::{ApiKeyAdmin, ApiKeyValidator, StoredKey};
/// use techcentrix_auth::{ApiKey, AppId, KeyDigest, KeyId, StoreError};
///
/// #[derive(Default)]
/// struct VecKeys(Mutex<Vec<(StoredKey, KeyDigest)>>);
///
/// fn now() -> i64 {
///     std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() as i64
/// }
///
/// #[async_trait]
/// impl ApiKeyAdmin for VecKeys {
///     async fn add_key(&self, app: &AppId, label: &str) -> Result<(KeyId, ApiKey), StoreError> {
///         let key = ApiKey::generate();
///         let id = KeyId::new(uuid::Uuid::new_v4().to_string());
///         let stored = StoredKey::new(id.clone(), app.clone(), label, now());
///         self.0.lock().unwrap().push((stored, key.digest()));
///         Ok((id, key))
///     }
///
///     async fn list_keys(&self, app: Option<&AppId>) -> Result<Vec<StoredKey>, StoreError> {
///         let keys = self.0.lock().unwrap();
///         Ok(keys.iter()
///             .filter(|(k, _)| app.is_none_or(|app| &k.app == app))
///             .map(|(k, _)| k.clone())
///             .collect())
///     }
///
///     async fn revoke_key(&self, id: &KeyId) -> Result<bool, StoreError> {
///         let mut keys = self.0.lock().unwrap();
///         let live = keys.iter_mut().find(|(k, _)| &k.id == id && k.revoked_at.is_none());
///         Ok(live.map(|(k, _)| k.revoked_at = Some(now())).is_some())
///     }
/// }
///
/// #[async_trait]
/// impl ApiKeyValidator for VecKeys {
///     async fn validate(&self, key: &ApiKey) -> Result<Option<AppId>, StoreError> {
///         let digest = key.digest(); // compared in constant time
///         let keys = self.0.lock().unwrap();
///         Ok(keys.iter()
///             .find(|(k, d)| *d == digest && k.revoked_at.is_none())
///             .map(|(k, _)| k.app.clone()))
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let keys = VecKeys::default();
/// let (id, key) = keys.add_key(&"acme".into(), "prod").await.unwrap();
/// let (_, rotated) = keys.rotate_key(&id).await.unwrap().unwrap();
/// assert!(keys.revoke_key(&id).await.unwrap());
/// assert_eq!(keys.validate(&key).await.unwrap(), None);
/// assert_eq!(keys.validate(&rotated).await.unwrap(), Some("acme".into()));
/// # });
/// ```
#[async_trait]
pub trait ApiKeyAdmin: Send + Sync + 'static {
    /// Creates a new random key for `app`; returns its id and the key, shown only here: the
    /// store keeps its digest.
    async fn add_key(&self, app: &AppId, label: &str) -> Result<(KeyId, ApiKey), StoreError>;

    /// The keys, oldest first, of one app or all; never the keys themselves.
    async fn list_keys(&self, app: Option<&AppId>) -> Result<Vec<StoredKey>, StoreError>;

    /// Revokes a key; `Ok(false)` when no live key has this id.
    async fn revoke_key(&self, id: &KeyId) -> Result<bool, StoreError>;

    /// The first step of a rotation: a new key for the app of the live key `id`, with the
    /// same label. The old key stays live until [`ApiKeyAdmin::revoke_key`], so the partner
    /// can switch without a gap. `Ok(None)` when no live key has this id.
    async fn rotate_key(&self, id: &KeyId) -> Result<Option<(KeyId, ApiKey)>, StoreError> {
        let keys = self.list_keys(None).await?;
        let Some(old) = keys.iter().find(|k| &k.id == id && k.revoked_at.is_none()) else {
            return Ok(None);
        };
        self.add_key(&old.app, &old.label).await.map(Some)
    }
}

/// Counting users, for operators (`admin users count`).
///
/// A complete custom implementation, for a store that keeps its users in a `Vec`:
///
/// ```
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use techcentrix_auth::store::{User, UserCount};
/// use techcentrix_auth::{AppId, StoreError};
///
/// struct VecUsers(Mutex<Vec<User>>);
///
/// #[async_trait]
/// impl UserCount for VecUsers {
///     async fn count_users(&self, app: Option<&AppId>) -> Result<u64, StoreError> {
///         let users = self.0.lock().unwrap();
///         Ok(users.iter().filter(|u| app.is_none_or(|app| &u.app == app)).count() as u64)
///     }
/// }
/// ```
#[async_trait]
pub trait UserCount: Send + Sync + 'static {
    /// How many users there are, in one app or in all.
    async fn count_users(&self, app: Option<&AppId>) -> Result<u64, StoreError>;
}

/// Erases `user` and all its sessions, for a data-protection request: the sessions (with
/// their tokens) first, so that a failure part-way never leaves sessions without their user;
/// whether the user existed. [`TechCentrixAuth::erase_user`](crate::TechCentrixAuth::erase_user)
/// over the stores themselves, for tools that hold no signing keys (the admin command).
pub async fn erase_user(
    users: &dyn UserStore,
    sessions: &dyn SessionStore,
    user: &UserId,
) -> Result<bool, StoreError> {
    sessions.delete_user(user).await?;
    users.erase(user).await
}

/// The current time in unix seconds, as the stores keep it.
pub(crate) fn unix_now() -> i64 {
    crate::util::sync::unix_seconds() as i64
}
