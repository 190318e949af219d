//! Credentials as newtypes: a redacted `Debug`, no `Display`, the value only through
//! `expose_secret`.

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Wraps `value` as a [`", stringify!($name), "`].")]
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            /// The value itself, to put on the wire. Never log it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret! {
    /// The partner's **Server.API.Key** (SPEC §2), sent as `Authorization: Bearer`.
    ///
    /// ```
    /// use techcentrix_auth_client::ApiKey;
    /// let key = ApiKey::new("0123456789abcdef0123456789abcdef");
    /// assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
    /// ```
    ApiKey
}

secret! {
    /// A oneTimeToken (SPEC §2): a short-lived JWT, redeemable once for a [`Session`](crate::Session).
    OneTimeToken
}

secret! {
    /// An access token (SPEC §4): a JWT sent as `Authorization: Bearer` to guarded routes.
    AccessToken
}

secret! {
    /// A refresh token (SPEC §4): opaque, rotated on every refresh.
    RefreshToken
}
