-- Screenings are audited one entry per stored batch and actor, not one per screening.
--
-- The service stores the screenings that arrive during one commit in one INSERT. One audit
-- entry per screening cost about 0.1 ms of PL/pgSQL, SHA-256 and index inserts each, all of it
-- serialised on the audit head: more than the screening itself, and a ceiling on how many
-- screenings a second the store could take. One entry per statement lists every screening of
-- the batch with its digest, so each stored answer stays covered by the chain.
--
-- The trigger is a statement trigger, which cannot be deferred: it takes the audit head's row
-- lock when the INSERT runs, not at commit. Must not break: the INSERT into screenings is the
-- last statement of its transaction (src/db/screenings.rs), so the head is still the last lock
-- taken (see the lock order at the top of 0004_audit.sql).

DROP TRIGGER audit_screening ON screenings;
DROP FUNCTION audit_screening();

CREATE FUNCTION audit_screenings() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    batch record;
BEGIN
    FOR batch IN
        SELECT a.actor,
               string_agg(DISTINCT coalesce(a.resolved_entity, a.entity), ',') AS subject,
               count(*) AS n,
               jsonb_agg(jsonb_build_object('id', a.id, 'entity', a.entity,
                   'resolved_entity', a.resolved_entity, 'decision', a.decision,
                   'as_of', a.as_of, 'policy_version', a.policy_version,
                   'graph_version', a.graph_version,
                   'response_sha256', encode(sha256(convert_to(a.response::text, 'UTF8')), 'hex'))
                   ORDER BY a.id) AS screenings
        FROM added a
        GROUP BY a.actor
        ORDER BY a.actor
    LOOP
        PERFORM audit_append(batch.actor, 'screening', batch.subject, NULL,
            jsonb_build_object('screenings', batch.screenings),
            jsonb_build_object('count', batch.n));
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_screenings AFTER INSERT ON screenings
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION audit_screenings();
