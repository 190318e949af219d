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

use std::sync::Arc;

use async_trait::async_trait;

use crate::{ApiKey, AppId, StoreError, UserId};

mod memory;
#[cfg(feature = "sqlite")]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use memory::{ChainedApiKeyValidator, MemoryApiKeyValidator, MemoryUserStore};

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
pub struct ExternalProfile {
    /// The partner's own id for the user (1–128 bytes).
    pub external_id: String,
    /// The user's email (`local@domain`).
    pub email: String,
    /// The user's first name (may be empty).
    pub first_name: String,
}

/// A user as a [`UserStore`] holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
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
///         let user = User {
///             id: UserId::random(),
///             app: app.clone(),
///             external_id: profile.external_id.clone(),
///             email: profile.email.clone(),
///             first_name: profile.first_name.clone(),
///             created_at: 0,
///             updated_at: 0,
///         };
///         users.push(user.clone());
///         Ok(Upserted::SignedUp(user))
///     }
///
///     async fn find(&self, id: &UserId) -> Result<Option<User>, StoreError> {
///         Ok(self.0.lock().unwrap().iter().find(|u| &u.id == id).cloned())
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
}

/// The current time in unix seconds.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
