-- Every change of a transaction row told to every instance (issue 23), PostgreSQL only.

-- Each instance caches pending requests for the token endpoint
-- (`src/store/pending_cache.rs`) and must forget one as soon as any instance
-- changes it. A trigger covers every writer, whatever the statement: a row
-- updated names its id, rows deleted (purges, cascades) invalidate all.
-- The NOTIFY goes out at COMMIT, on the channel the wake-up topics use.
CREATE FUNCTION trustid_transaction_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trustid', 'transaction-changed:' || OLD.id);
    RETURN NULL;
END
$$;

CREATE FUNCTION trustid_transactions_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trustid', 'transaction-changed:');
    RETURN NULL;
END
$$;

CREATE TRIGGER transaction_updated AFTER UPDATE ON transactions
    FOR EACH ROW EXECUTE FUNCTION trustid_transaction_updated();

CREATE TRIGGER transactions_deleted AFTER DELETE ON transactions
    FOR EACH STATEMENT EXECUTE FUNCTION trustid_transactions_deleted();
