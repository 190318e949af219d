//! In-memory implementations: product features for one process, not test doubles.
//!
//! Nothing survives a restart; a used oneTimeToken is remembered only by the process that
//! saw it.

mod keys;
mod ledger;
mod sessions;
mod users;

pub use keys::{ChainedApiKeyValidator, MemoryApiKeyValidator};
pub use ledger::MemoryReplayLedger;
pub use sessions::MemorySessionStore;
pub use users::MemoryUserStore;
