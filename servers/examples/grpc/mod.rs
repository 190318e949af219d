//! The messages of the tonic server's one gRPC method, `techcentrix.demo.Profile/Me`:
//! hand-written prost structs (no `.proto` file, no protoc), shared by the server and its
//! client test.

/// The path of the method.
pub(crate) const PROFILE_ME: &str = "/techcentrix.demo.Profile/Me";

/// The request: nothing, the access token is in the metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MeRequest {}

/// The stored profile of the access token's user, as `GET /me` answers it.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MeReply {
    #[prost(string, tag = "1")]
    pub(crate) user_id: String,
    #[prost(string, tag = "2")]
    pub(crate) email: String,
    #[prost(string, tag = "3")]
    pub(crate) first_name: String,
    #[prost(string, tag = "4")]
    pub(crate) app: String,
}
