-- The console's user page (issue 19) lists a user's registration tokens:
-- found by user, not by scanning every row.
CREATE INDEX registration_tokens_user ON registration_tokens (user_id);
