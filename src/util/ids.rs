//! Identifier newtypes: [`AppId`] (a partner), [`UserId`] (the service's own id of a user),
//! [`SessionId`] (a refresh-token family), [`Jti`] (a token's id), [`KeyId`] (a stored
//! server API key).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl Into<Arc<str>>) -> Self {
                $name(id.into())
            }

            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.into())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id.into())
            }
        }
    };
}

id_type! {
    /// The id of a partner app: the `aud` of its tokens.
    ///
    /// ```
    /// use techcentrix_auth::AppId;
    /// assert_eq!(AppId::from("acme").as_str(), "acme");
    /// ```
    AppId
}

id_type! {
    /// The service's own stable id of a user: the `sub` of its tokens (not the partner's id).
    ///
    /// ```
    /// use techcentrix_auth::UserId;
    /// let id = UserId::random();
    /// assert_eq!(id.as_str().len(), 36);
    /// ```
    UserId
}

id_type! {
    /// The id of a session (a refresh-token family): the `sid` of its access tokens.
    SessionId
}

id_type! {
    /// The id of one token (its `jti` claim): what the replay ledger remembers.
    ///
    /// ```
    /// use techcentrix_auth::Jti;
    /// assert_ne!(Jti::random(), Jti::random());
    /// ```
    Jti
}

id_type! {
    /// The id of a server API key kept by a store (not the key itself): what the admin
    /// command lists, rotates and revokes.
    KeyId
}

/// A UUID as shared text, in one allocation.
fn uuid_text(uuid: uuid::Uuid) -> Arc<str> {
    Arc::from(uuid.hyphenated().encode_lower(&mut [0u8; 36]) as &str)
}

/// A fresh UUID v4 (122 random bits).
fn random_uuid() -> Arc<str> {
    uuid_text(uuid::Uuid::new_v4())
}

/// A fresh UUID v7: ordered by creation time, 74 random bits.
fn time_ordered_uuid() -> Arc<str> {
    uuid_text(uuid::Uuid::now_v7())
}

impl UserId {
    /// A fresh id: a UUID v7 (a millisecond timestamp, then 74 random bits), so that the
    /// ids a store adds sort by creation and land at the end of its index instead of on a
    /// random page of it. The id tells when the user signed up, as its `created_at` does.
    pub fn random() -> Self {
        UserId::new(time_ordered_uuid())
    }
}

impl SessionId {
    /// A fresh id: a UUID v7, for the same reason as [`UserId::random`]; the session's
    /// tokens carry its creation time anyway (`iat`).
    pub fn random() -> Self {
        SessionId::new(time_ordered_uuid())
    }
}

impl Jti {
    /// A fresh random id (a UUID v4).
    pub fn random() -> Self {
        Jti::new(random_uuid())
    }
}
