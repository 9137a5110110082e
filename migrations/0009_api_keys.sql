-- API keys: who may call the service, and with which role.
--
-- A key is `og_<prefix>_<secret>`. The prefix is public: it names the key in lists and logs and
-- finds its row. The secret is 32 random bytes; only its SHA-256 is kept, so the table cannot
-- give a key back, and a key is shown once, when it is made. The secret's entropy makes a slow
-- password hash unnecessary: nobody can search 2^256 secrets for a digest.
--
-- Keys are never deleted: a revoked or expired key stays, so that the audit trail's actors
-- keep naming a row. Every key made and revoked is in the audit trail, by whoever did it.
--
-- Must not break: no column holds a secret, and nothing but `secret_sha256` is derived from one.

CREATE TABLE api_keys (
    pk bigserial PRIMARY KEY,
    -- The actor the audit trail records for everything done with the key.
    name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role text NOT NULL CHECK (role IN ('screener', 'analyst', 'operator', 'admin')),
    prefix text NOT NULL UNIQUE CHECK (prefix ~ '^[0-9a-f]{12}$'),
    secret_sha256 bytea NOT NULL CHECK (octet_length(secret_sha256) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz,
    revoked_by text,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL)),
    CHECK (expires_at IS NULL OR expires_at > created_at)
);

REVOKE DELETE, TRUNCATE ON api_keys FROM ownergraph_service;

CREATE FUNCTION audit_api_key() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    shown jsonb := jsonb_build_object('name', NEW.name, 'role', NEW.role, 'prefix', NEW.prefix,
                                      'expires_at', NEW.expires_at, 'revoked_at', NEW.revoked_at);
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append(NEW.created_by, 'key.create', NEW.name, NULL, shown);
    ELSE
        PERFORM audit_append(NEW.revoked_by, 'key.revoke', NEW.name,
            shown || jsonb_build_object('revoked_at', OLD.revoked_at), shown);
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_api_key AFTER INSERT ON api_keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_api_key();
CREATE CONSTRAINT TRIGGER audit_api_key_revoke AFTER UPDATE ON api_keys
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION audit_api_key();

-- Instances keep the keys in memory and read them again when one is made or revoked.
CREATE TRIGGER api_keys_notify AFTER INSERT OR UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION announce('ownergraph_keys', 'pk');

-- A key, once made, changes only by being revoked, once.
CREATE FUNCTION api_keys_only_revoke() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.revoked_at IS NOT NULL
       OR (NEW.pk, NEW.name, NEW.role, NEW.prefix, NEW.secret_sha256, NEW.created_at,
           NEW.created_by, NEW.expires_at)
          IS DISTINCT FROM
          (OLD.pk, OLD.name, OLD.role, OLD.prefix, OLD.secret_sha256, OLD.created_at,
           OLD.created_by, OLD.expires_at) THEN
        RAISE EXCEPTION 'an API key changes only by being revoked, once (key %)', OLD.name
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER api_keys_only_revoke BEFORE UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_only_revoke();
