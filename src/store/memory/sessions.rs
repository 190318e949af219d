use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::store::{Rotation, Session, SessionStore, unix_now};
use crate::{KeyDigest, SessionId, StoreError};

/// Refresh-token families in memory, tokens kept as digests.
///
/// Families are forgotten once expired: a creation after the earliest expiry sweeps them,
/// so a sweep (a pass over all families) runs only when one has expired.
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    families: HashMap<SessionId, Family>,
    /// Token digest → its family and whether it is the current token.
    tokens: HashMap<[u8; 32], (SessionId, bool)>,
    /// The earliest expiry among the families: no sweep is due before it.
    next_expiry: i64,
}

#[derive(Debug)]
struct Family {
    session: Session,
    revoked: bool,
    tokens: Vec<[u8; 32]>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many families it holds (revoked ones until they expire included).
    pub fn len(&self) -> usize {
        self.lock().families.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn sweep(&mut self, now: i64) {
        let expired: Vec<SessionId> = self
            .families
            .iter()
            .filter(|(_, f)| f.session.expires_at < now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(family) = self.families.remove(&id) {
                for token in family.tokens {
                    self.tokens.remove(&token);
                }
            }
        }
        self.next_expiry = self
            .families
            .values()
            .map(|f| f.session.expires_at)
            .min()
            .unwrap_or(i64::MAX);
    }

    fn revoke(&mut self, id: &SessionId) -> bool {
        match self.families.get_mut(id) {
            Some(family) if !family.revoked => {
                family.revoked = true;
                true
            }
            _ => false,
        }
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, session: &Session, refresh: &KeyDigest) -> Result<(), StoreError> {
        let now = unix_now();
        let mut inner = self.lock();
        if inner.families.is_empty() {
            inner.next_expiry = i64::MAX;
        }
        if now > inner.next_expiry {
            inner.sweep(now);
        }
        inner.next_expiry = inner.next_expiry.min(session.expires_at);
        let digest = *refresh.as_bytes();
        inner.tokens.insert(digest, (session.id.clone(), true));
        inner.families.insert(
            session.id.clone(),
            Family {
                session: session.clone(),
                revoked: false,
                tokens: vec![digest],
            },
        );
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &KeyDigest,
        next: &KeyDigest,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        let mut inner = self.lock();
        let Some((id, current)) = inner.tokens.get(presented.as_bytes()).cloned() else {
            return Ok(Rotation::Invalid);
        };
        let Some(family) = inner.families.get_mut(&id) else {
            return Ok(Rotation::Invalid);
        };
        if family.revoked || family.session.expires_at < now {
            return Ok(Rotation::Invalid);
        }
        if !current {
            family.revoked = true;
            return Ok(Rotation::Reused(family.session.clone()));
        }
        let next = *next.as_bytes();
        family.tokens.push(next);
        let session = family.session.clone();
        inner
            .tokens
            .insert(*presented.as_bytes(), (id.clone(), false));
        inner.tokens.insert(next, (id, true));
        Ok(Rotation::Rotated(session))
    }

    async fn revoke(&self, id: &SessionId) -> Result<bool, StoreError> {
        Ok(self.lock().revoke(id))
    }

    async fn revoke_by_token(&self, token: &KeyDigest) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let Some((id, _)) = inner.tokens.get(token.as_bytes()).cloned() else {
            return Ok(false);
        };
        Ok(inner.revoke(&id))
    }
}
