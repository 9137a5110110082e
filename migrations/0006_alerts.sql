-- Alerts: what screenings and jobs flag, for an analyst to decide once.
--
-- One alert per entity and rule. Its fingerprint is a digest of the evidence (sources, paths,
-- shares, basis and decision). The same evidence again changes nothing, whether or not an
-- analyst has decided; different evidence updates an open alert or reopens a closed one,
-- keeping the evidence that was decided on and what changed. Closing a `block` alert as a false
-- positive takes two different reviewers (four eyes).

CREATE TABLE alerts (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL CONSTRAINT alerts_id_key UNIQUE,
    entity text NOT NULL,
    rule text NOT NULL,
    status text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'escalated', 'awaiting_second_review', 'closed')),
    resolution text CHECK (resolution IN ('confirmed', 'false_positive')),
    -- The screening decision the evidence gives: review or block.
    severity text NOT NULL CHECK (severity IN ('review', 'block')),
    fingerprint text NOT NULL,
    evidence jsonb NOT NULL,
    -- When the evidence changed: what it was before, and what changed.
    previous_evidence jsonb,
    changes jsonb,
    graph_version bigint NOT NULL,
    policy_version bigint NOT NULL,
    as_of date NOT NULL,
    origin text NOT NULL CHECK (origin IN ('screening', 'job')),
    origin_id text NOT NULL,
    -- How often the same evidence was seen again.
    seen bigint NOT NULL DEFAULT 1,
    opened_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    CONSTRAINT alerts_subject_key UNIQUE (entity, rule),
    CONSTRAINT alerts_resolution CHECK ((status = 'closed') = (resolution IS NOT NULL))
);
CREATE INDEX alerts_open ON alerts (status, pk) WHERE status <> 'closed';

CREATE TABLE alert_decisions (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_pk bigint NOT NULL REFERENCES alerts (pk),
    decision text NOT NULL CHECK (decision IN ('confirmed', 'false_positive', 'escalated')),
    note text,
    actor text NOT NULL,
    -- The evidence decided on.
    fingerprint text NOT NULL,
    decided_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_decisions_alert ON alert_decisions (alert_pk, pk);

-- Alerts in the audit trail: opened, evidence changed, reopened, and every decision.
CREATE FUNCTION audit_alert() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append('ownergraph', 'alert.open', NEW.entity, NULL,
            jsonb_build_object('alert', NEW.id, 'rule', NEW.rule, 'severity', NEW.severity,
                'fingerprint', NEW.fingerprint, 'evidence', NEW.evidence),
            jsonb_build_object('origin', NEW.origin, 'origin_id', NEW.origin_id,
                'graph_version', NEW.graph_version, 'policy_version', NEW.policy_version));
    ELSE
        PERFORM audit_append('ownergraph', 'alert.evidence', NEW.entity,
            jsonb_build_object('alert', OLD.id, 'status', OLD.status, 'severity', OLD.severity,
                'fingerprint', OLD.fingerprint, 'evidence', OLD.evidence),
            jsonb_build_object('alert', NEW.id, 'status', NEW.status, 'severity', NEW.severity,
                'fingerprint', NEW.fingerprint, 'evidence', NEW.evidence, 'changes', NEW.changes),
            jsonb_build_object('origin', NEW.origin, 'origin_id', NEW.origin_id,
                'graph_version', NEW.graph_version, 'policy_version', NEW.policy_version));
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_alert_open AFTER INSERT ON alerts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_alert();
CREATE CONSTRAINT TRIGGER audit_alert_evidence AFTER UPDATE ON alerts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.fingerprint IS DISTINCT FROM NEW.fingerprint)
    EXECUTE FUNCTION audit_alert();

CREATE FUNCTION audit_alert_decision() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    a alerts;
BEGIN
    SELECT * INTO a FROM alerts WHERE pk = NEW.alert_pk;
    PERFORM audit_append(NEW.actor, 'alert.decide', a.entity, NULL,
        jsonb_build_object('alert', a.id, 'rule', a.rule, 'decision', NEW.decision,
            'note', NEW.note, 'fingerprint', NEW.fingerprint, 'status', a.status,
            'resolution', a.resolution),
        NULL);
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_alert_decision AFTER INSERT ON alert_decisions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_alert_decision();
