-- The audit trail: an append-only, hash-chained record of every write, import, screening,
-- policy change and decision, with who made it, when, and the values before and after.
--
-- Each entry's hash covers its own contents and its predecessor's hash, so editing or
-- deleting a row breaks the chain at that row (`ownergraph audit verify`). Triggers refuse
-- UPDATE, DELETE and TRUNCATE even for the owner and superusers, and the service's role
-- (`ownergraph_service`) has no right to change them either.
--
-- Canonical bytes of an entry (version 1), hashed with SHA-256; src/db/audit.rs computes the
-- same bytes from a row and docs/audit.md describes them. Every line ends with '\n':
--
--   ownergraph-audit-v1
--   <prev_hash as lower-case hex, 64 characters>
--   <seq in decimal>
--   <recorded_at in UTC as YYYY-MM-DDTHH:MI:SS.ffffffZ>
--   <field(actor)>
--   <field(action)>
--   <field(subject)>
--   <field(before::text)>
--   <field(after::text)>
--   <field(context::text)>
--
-- where field(NULL) is '-' and field(s) is the byte length of s in UTF-8, ':', then s. The
-- lengths make the encoding unambiguous whatever the fields hold (a newline in an actor
-- cannot shift bytes into the action). jsonb's text form is canonical: keys sorted, one
-- spacing, so the verifier hashes `before::text` as Postgres renders it.
--
-- Must not break: entries are appended only by the BEFORE INSERT trigger below, which takes
-- the row lock on audit_head until commit, so seq is gapless and follows commit order. Writers that append
-- from deferred triggers take that lock at commit, after any lock they hold on graph_state:
-- the lock order is always graph_state, then audit_head.

CREATE TABLE audit_log (
    seq bigint PRIMARY KEY,
    recorded_at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    -- What the entry is about: an entity id, or several joined by ','; a list id; 'policy'.
    subject text,
    before jsonb,
    after jsonb,
    -- Where the entry sits: the change-log version, counts, file and response digests.
    context jsonb,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_subject ON audit_log USING gin (string_to_array(subject, ','));

-- One row: the last entry's seq and hash (genesis: 0 and 32 zero bytes).
CREATE TABLE audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq bigint NOT NULL,
    hash bytea NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- One field of the canonical bytes: '-' for NULL, else its UTF-8 byte length, ':', itself.
-- The helpers carry no SET clause, so Postgres inlines them: a SET on a function costs a
-- settings save and restore per call, six calls per entry. They run inside the chaining
-- trigger, whose search_path is fixed.
CREATE FUNCTION audit_field(f text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN f IS NULL THEN '-' ELSE octet_length(f)::text || ':' || f END || E'\n'
$$;

-- The canonical bytes of an entry (see the top of this file).
CREATE FUNCTION audit_canonical(
    prev_hash bytea, seq bigint, recorded_at timestamptz, actor text, action text,
    subject text, before jsonb, after jsonb, context jsonb
) RETURNS bytea
LANGUAGE sql STABLE
AS $$
    SELECT convert_to(
        'ownergraph-audit-v1' || E'\n'
        || encode(prev_hash, 'hex') || E'\n'
        || seq::text || E'\n'
        || to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\n'
        || audit_field(actor) || audit_field(action) || audit_field(subject)
        || audit_field(before::text) || audit_field(after::text) || audit_field(context::text),
        'UTF8')
$$;

-- Chains every inserted row, whoever inserts it: seq, prev_hash, recorded_at and hash are
-- computed here, never taken from the caller, so a direct INSERT cannot forge a link.
--
-- The first append of a transaction takes the row lock on audit_head, which serialises
-- appenders until commit (waiting re-reads the newest head). Moving the head row on every
-- append would pile up row versions in one transaction (a 1,000-screening batch appends
-- 1,000 entries), so the transaction's own tail is kept in a transaction-local setting and the
-- head row moves once, at commit (audit_head_sync below). The setting is only a hint: it is
-- used only when it names an entry that exists with that hash past the head, which only this
-- transaction's own uncommitted entries are; anything else falls back to the locked head, and
-- a hint naming an older entry collides on the primary key.
CREATE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    tail text := current_setting('ownergraph.audit_tail', true);
    head_seq bigint;
    head_hash bytea;
    tail_seq bigint;
    tail_hash bytea;
BEGIN
    IF coalesce(tail, '') <> '' THEN
        tail_seq := split_part(tail, ':', 1)::bigint;
        tail_hash := decode(split_part(tail, ':', 2), 'hex');
        SELECT h.seq INTO head_seq FROM audit_head h;
        IF tail_seq <= head_seq OR NOT EXISTS (
            SELECT 1 FROM audit_log a WHERE a.seq = tail_seq AND a.hash = tail_hash
        ) THEN
            tail_seq := NULL;
        END IF;
    END IF;
    IF tail_seq IS NULL THEN
        SELECT h.seq, h.hash INTO tail_seq, tail_hash FROM audit_head h FOR UPDATE;
    END IF;
    NEW.seq := tail_seq + 1;
    NEW.prev_hash := tail_hash;
    NEW.recorded_at := clock_timestamp();
    NEW.hash := sha256(audit_canonical(NEW.prev_hash, NEW.seq, NEW.recorded_at, NEW.actor,
        NEW.action, NEW.subject, NEW.before, NEW.after, NEW.context));
    PERFORM set_config('ownergraph.audit_tail', NEW.seq || ':' || encode(NEW.hash, 'hex'), true);
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

-- Moves the head to the transaction's last entry, at commit. Deferred, so it runs after the
-- audited tables' deferred triggers have appended (their entries' events queue behind them);
-- only the event of the last entry finds no later one and writes the head.
CREATE FUNCTION audit_head_sync() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF NEW.seq = (SELECT max(a.seq) FROM audit_log a) THEN
        UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash;
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_head_sync AFTER INSERT ON audit_log
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_head_sync();

CREATE FUNCTION audit_refuse() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();
-- ALWAYS: these fire under `session_replication_role = replica` too, so only DDL (ALTER
-- TABLE ... DISABLE TRIGGER, by the owner or a superuser) gets past them, and the chain shows
-- what it was used for.
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_chain;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_head_sync;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_change;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
ALTER TABLE audit_head ENABLE ALWAYS TRIGGER audit_head_no_delete;
ALTER TABLE audit_head ENABLE ALWAYS TRIGGER audit_head_no_truncate;

-- Appends one entry; returns its seq. The one entry point for everything that audits,
-- including tables that later migrations add (jobs, alerts): call it from a deferred
-- constraint trigger, so the head lock is taken at commit and the entry commits or rolls back
-- with the change it records.
CREATE FUNCTION audit_append(
    actor text, action text, subject text, before jsonb, after jsonb, context jsonb DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    appended bigint;
BEGIN
    INSERT INTO audit_log (seq, recorded_at, actor, action, subject, before, after, context,
                           prev_hash, hash)
    VALUES (0, clock_timestamp(), actor, action, subject, before, after, context, '', '')
    RETURNING seq INTO appended;
    RETURN appended;
END
$$;

-- What is audited. Each trigger is deferred to commit (see the lock order above) and reads
-- only the row it was fired for, plus names looked up by key.

-- Every graph write: entities, ownerships, lists, list entries, imports, merges, bulk loads.
-- The graph and name changes are left out: they are bulky and derived from the rows.
CREATE FUNCTION audit_change_log() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    n int := cardinality(NEW.entities);
BEGIN
    PERFORM audit_append(NEW.actor, NEW.action,
        -- A large import touches millions of entities; the change log keeps them all.
        CASE WHEN n BETWEEN 1 AND 100 THEN array_to_string(NEW.entities, ',') END,
        NEW.before, NEW.after,
        jsonb_build_object('version', NEW.version, 'entities', n, 'reload', NEW.reload));
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_change_log AFTER INSERT ON change_log
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_change_log();

CREATE FUNCTION audit_policy() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM audit_append(NEW.actor, 'policy.update', 'policy',
        (SELECT p.rules FROM policy_versions p WHERE p.version < NEW.version
         ORDER BY p.version DESC LIMIT 1),
        NEW.rules,
        jsonb_build_object('version', NEW.version));
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_policy AFTER INSERT ON policy_versions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_policy();

-- The stored answer itself is covered by its digest: a later edit of `response` no longer
-- matches sha256(response::text) in the trail.
CREATE FUNCTION audit_screening() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM audit_append(NEW.actor, 'screening', coalesce(NEW.resolved_entity, NEW.entity), NULL,
        jsonb_build_object('id', NEW.id, 'entity', NEW.entity,
            'resolved_entity', NEW.resolved_entity, 'decision', NEW.decision,
            'as_of', NEW.as_of, 'policy_version', NEW.policy_version,
            'graph_version', NEW.graph_version,
            'response_sha256', encode(sha256(convert_to(NEW.response::text, 'UTF8')), 'hex')),
        NULL);
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_screening AFTER INSERT ON screenings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_screening();

-- Every import is recorded, also one that changed nothing (then it has no change-log row).
CREATE FUNCTION audit_list_import() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM audit_append(NEW.actor, 'import.list',
        (SELECT l.id FROM lists l WHERE l.pk = NEW.list_pk), NULL, NEW.summary,
        jsonb_build_object('version', NEW.version, 'format', NEW.format, 'sha256', NEW.sha256));
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_list_import AFTER INSERT ON list_imports
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_list_import();

CREATE FUNCTION audit_registry_import() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM audit_append(NEW.actor, 'import.registry', NULL, NULL, NEW.summary,
        jsonb_build_object('version', NEW.version, 'format', NEW.format, 'sha256', NEW.sha256));
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_registry_import AFTER INSERT ON registry_imports
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_registry_import();

-- Decisions on possible matches: who decided, from which status to which, and why.
CREATE FUNCTION audit_match_decision() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM audit_append(coalesce(NEW.decided_by, 'unknown'), 'match.decide',
        (SELECT string_agg(e.id, ',' ORDER BY e.id) FROM entities e
         WHERE e.pk IN (NEW.entity_pk, NEW.candidate_pk)),
        jsonb_build_object('status', OLD.status, 'decided_by', OLD.decided_by, 'note', OLD.note),
        jsonb_build_object('status', NEW.status, 'decided_by', NEW.decided_by, 'note', NEW.note,
            'decided_at', NEW.decided_at),
        jsonb_build_object('possible_match', NEW.pk));
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_match_decision AFTER UPDATE ON possible_matches
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION audit_match_decision();

-- Who may do what. Migrations run as the role that owns the tables; the service connects as a
-- login role that is a member of ownergraph_service (docs/audit.md).
DO $$
BEGIN
    CREATE ROLE ownergraph_service NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    -- Roles are cluster-wide: another database on this server made it already.
    NULL;
END
$$;

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
REVOKE ALL ON audit_head FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_append(text, text, text, jsonb, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_log_chain() FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_head_sync() FROM PUBLIC;

GRANT USAGE ON SCHEMA public TO ownergraph_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ownergraph_service;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ownergraph_service;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM ownergraph_service;
REVOKE ALL ON audit_head FROM ownergraph_service;
-- Reading the head is how the service checks the chain (GET /v1/audit/verify).
GRANT SELECT ON audit_head TO ownergraph_service;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, jsonb, jsonb, jsonb) TO ownergraph_service;
-- Tables that later migrations add are the service's to use as well; a later table that must
-- be append-only revokes like audit_log above.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ownergraph_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ownergraph_service;
