-- The `saml` transaction context (issue 18), PostgreSQL dialect. Times are unix seconds.

-- A transaction started by a SAML login has the context `saml`.
-- NOT VALID, then VALIDATE: the rows are checked without the lock that
-- would stop every write to the table meanwhile.
ALTER TABLE transactions DROP CONSTRAINT transactions_context_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_context_check
    CHECK (context IN ('authentication', 'provisioning', 'saml')) NOT VALID;
ALTER TABLE transactions VALIDATE CONSTRAINT transactions_context_check;
