-- Announcements for the other instances serving the same store. Each instance LISTENs and, on
-- a notification, reads what changed from the tables themselves: a notification only says
-- where to look, so one that is lost (a dropped connection) delays an instance but never
-- misleads it. NOTIFY is transactional: it is delivered at commit, in commit order, and never
-- for a transaction that rolls back.

-- The change-log version just committed: instances apply the log in order up to it.
CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ownergraph_changes', NEW.version::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER change_log_notify AFTER INSERT ON change_log
    FOR EACH ROW EXECUTE FUNCTION notify_change();

-- A new policy version: instances load the policy in force.
CREATE FUNCTION notify_policy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ownergraph_policy', NEW.version::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER policy_versions_notify AFTER INSERT ON policy_versions
    FOR EACH ROW EXECUTE FUNCTION notify_policy();

-- A queued re-screening job: an idle instance claims it.
CREATE FUNCTION notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ownergraph_jobs', NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION notify_job();
