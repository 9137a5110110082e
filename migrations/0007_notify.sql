-- Announcements for the other instances serving the same store. Each instance LISTENs and, on
-- a notification, reads what changed from the tables themselves: a notification only says
-- where to look, so one that is lost (a dropped connection) delays an instance but never
-- misleads it. NOTIFY is transactional: it is delivered at commit, in commit order, and never
-- for a transaction that rolls back.

-- Announces the new row's column TG_ARGV[1] on channel TG_ARGV[0]. The column is read by name
-- alone: a change-log row can carry megabytes of changes that must not be copied here.
CREATE FUNCTION announce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    EXECUTE format('SELECT ($1).%I::text', TG_ARGV[1]) USING NEW INTO payload;
    PERFORM pg_notify(TG_ARGV[0], payload);
    RETURN NULL;
END
$$;

-- The change-log version just committed: instances apply the log in order up to it.
CREATE TRIGGER change_log_notify AFTER INSERT ON change_log
    FOR EACH ROW EXECUTE FUNCTION announce('ownergraph_changes', 'version');

-- A new policy version: instances load the policy in force.
CREATE TRIGGER policy_versions_notify AFTER INSERT ON policy_versions
    FOR EACH ROW EXECUTE FUNCTION announce('ownergraph_policy', 'version');

-- A queued re-screening job: an idle instance claims it.
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION announce('ownergraph_jobs', 'id');
