-- Certificate-bound access tokens (RFC 8705 §3), PostgreSQL dialect.

-- The SHA-256 thumbprint (base64url, `x5t#S256`) of the TLS client
-- certificate the client presented when it got the token; a request using
-- the token must present the same certificate. NULL: a bearer token.
ALTER TABLE access_tokens ADD COLUMN certificate_thumbprint TEXT;
ALTER TABLE management_tokens ADD COLUMN certificate_thumbprint TEXT;
