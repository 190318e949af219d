//! Small helpers the flow uses: base64url, hand-written JSON, lock and
//! clock helpers, and the id newtypes (re-exported at the crate root).

pub(crate) mod base64url;
pub(crate) mod ids;
pub(crate) mod json;
pub(crate) mod sync;
