-- Re-screening jobs and their results.
--
-- A job is queued by a request or an import, claimed by one running instance
-- (FOR UPDATE SKIP LOCKED), and runs on one snapshot of the graph, whose version it records.
-- Results are stored in committed chunks together with the job's progress, so a job that stops
-- half-way says exactly how far it got; the running instance touches heartbeat_at as it goes,
-- and a job whose heartbeat stops is started again by another instance (or the same one after
-- a restart), or failed once it has been tried too often. Nothing is silently lost.

CREATE TABLE jobs (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL CONSTRAINT jobs_id_key UNIQUE,
    kind text NOT NULL CHECK (kind IN ('rescreen')),
    scope text NOT NULL CHECK (scope IN ('all', 'affected')),
    since_version bigint,
    as_of date,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    trigger text NOT NULL CHECK (trigger IN ('request', 'list_import', 'registry_import', 'cli')),
    actor text NOT NULL,
    graph_version bigint,
    policy_version bigint,
    total bigint,
    done bigint NOT NULL DEFAULT 0,
    clear bigint NOT NULL DEFAULT 0,
    review bigint NOT NULL DEFAULT 0,
    block bigint NOT NULL DEFAULT 0,
    notes text[] NOT NULL DEFAULT '{}',
    error text,
    attempts int NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    heartbeat_at timestamptz,
    CONSTRAINT jobs_since CHECK (since_version IS NULL OR scope = 'affected')
);
CREATE INDEX jobs_open ON jobs (pk) WHERE status IN ('queued', 'running');

CREATE TABLE job_results (
    job_pk bigint NOT NULL REFERENCES jobs (pk),
    entity text NOT NULL,
    decision text NOT NULL CHECK (decision IN ('clear', 'review', 'block')),
    reasons jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (job_pk, entity)
);
-- Pages of flagged results; the clear ones, most of a job, are read along the primary key.
CREATE INDEX job_results_flagged ON job_results (job_pk, decision, entity) WHERE decision <> 'clear';

-- Who cancelled a job, for the audit trail.
ALTER TABLE jobs ADD COLUMN cancelled_by text;

-- Every job in the audit trail: queued by whom, and each change of status with its progress
-- and the graph and policy versions it ran on. Status changes are the service's own, except a
-- cancellation, which is the canceller's.
CREATE FUNCTION audit_job() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append(NEW.actor, 'job.queue', NEW.id, NULL,
            jsonb_build_object('kind', NEW.kind, 'scope', NEW.scope,
                'since_version', NEW.since_version, 'as_of', NEW.as_of, 'trigger', NEW.trigger),
            NULL);
    ELSE
        PERFORM audit_append(
            CASE WHEN NEW.status = 'cancelled' THEN coalesce(NEW.cancelled_by, NEW.actor) ELSE 'ownergraph' END,
            'job.' || NEW.status, NEW.id,
            jsonb_build_object('status', OLD.status, 'attempts', OLD.attempts, 'done', OLD.done),
            jsonb_build_object('status', NEW.status, 'attempts', NEW.attempts,
                'graph_version', NEW.graph_version, 'policy_version', NEW.policy_version,
                'total', NEW.total, 'done', NEW.done,
                'counts', jsonb_build_object('clear', NEW.clear, 'review', NEW.review, 'block', NEW.block),
                'error', NEW.error, 'notes', to_jsonb(NEW.notes)),
            NULL);
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_job_queued AFTER INSERT ON jobs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_job();
CREATE CONSTRAINT TRIGGER audit_job_status AFTER UPDATE ON jobs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION audit_job();
