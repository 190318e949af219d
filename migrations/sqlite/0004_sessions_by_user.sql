-- Sessions by user: sign out everywhere, list a user's sessions, erase a user.
CREATE INDEX IF NOT EXISTS tcx_sessions_user ON tcx_sessions (user_id);
