-- Access tokens issued before this moment no longer count, whatever their expiry: set when a user
-- is disabled or loses admin rights, so those changes take effect at once (SPEC §3).
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;
