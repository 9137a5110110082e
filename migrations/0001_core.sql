-- The store of record: entities, ownerships, lists, policy versions, screenings, and the
-- change log that orders every graph change.
--
-- Rows are never deleted: a delete sets deleted_at, so history and as-of answers stay right.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- One row. Every graph write increments it inside its transaction; the row lock serialises
-- writers, so change-log versions are gapless and commit in order.
CREATE TABLE graph_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version bigint NOT NULL
);
INSERT INTO graph_state (version) VALUES (0);

CREATE TABLE change_log (
    version bigint PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    -- Ids of the entities the change touches, for per-entity history.
    entities text[] NOT NULL DEFAULT '{}',
    before jsonb,
    after jsonb,
    -- The graph changes to apply, in order (engine::GraphChange).
    graph jsonb NOT NULL
);
CREATE INDEX change_log_entities ON change_log USING gin (entities);

CREATE TABLE entities (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL CONSTRAINT entities_id_key UNIQUE,
    kind text NOT NULL CHECK (kind IN ('company', 'person', 'trust', 'partnership', 'fund', 'government', 'other')),
    name text NOT NULL,
    aliases text[] NOT NULL DEFAULT '{}',
    jurisdiction text,
    headquarters text,
    identifiers jsonb NOT NULL DEFAULT '{}',
    -- name and aliases, lower-cased, for ?q= search.
    search text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX entities_search ON entities USING gin (search gin_trgm_ops);
CREATE INDEX entities_jurisdiction ON entities (jurisdiction);
CREATE UNIQUE INDEX entities_lei_key ON entities ((identifiers->>'lei'))
    WHERE deleted_at IS NULL AND identifiers ? 'lei';
CREATE UNIQUE INDEX entities_registration_key ON entities (jurisdiction, (identifiers->>'registration_number'))
    WHERE deleted_at IS NULL AND identifiers ? 'registration_number' AND jurisdiction IS NOT NULL;

CREATE TABLE ownerships (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL CONSTRAINT ownerships_id_key UNIQUE,
    owner_pk bigint NOT NULL REFERENCES entities (pk),
    owned_pk bigint NOT NULL REFERENCES entities (pk),
    interest text NOT NULL CHECK (interest IN ('shares', 'votes', 'board', 'control', 'consolidation')),
    share double precision CHECK (share > 0 AND share <= 100),
    share_min double precision CHECK (share_min > 0 AND share_min <= 100),
    share_max double precision CHECK (share_max > 0 AND share_max <= 100),
    valid_from date,
    valid_to date,
    source text,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT ownerships_not_self CHECK (owner_pk <> owned_pk),
    CONSTRAINT ownerships_interval CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from),
    CONSTRAINT ownerships_range CHECK (share_min IS NULL OR share_max IS NULL OR share_min <= share_max),
    CONSTRAINT ownerships_stake CHECK (
        CASE WHEN interest IN ('shares', 'votes')
            THEN (share IS NOT NULL) <> (share_min IS NOT NULL AND share_max IS NOT NULL)
                 AND (share_min IS NULL) = (share_max IS NULL)
            ELSE share IS NULL AND share_min IS NULL AND share_max IS NULL
        END)
);
CREATE INDEX ownerships_owned ON ownerships (owned_pk) WHERE deleted_at IS NULL;
CREATE INDEX ownerships_owner ON ownerships (owner_pk) WHERE deleted_at IS NULL;

CREATE TABLE lists (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL CONSTRAINT lists_id_key UNIQUE,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('sanctions', 'export_control', 'watchlist', 'other')),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE list_entries (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_pk bigint NOT NULL REFERENCES lists (pk),
    id text NOT NULL,
    name text NOT NULL,
    aliases text[] NOT NULL DEFAULT '{}',
    kind text CHECK (kind IN ('company', 'person', 'trust', 'partnership', 'fund', 'government', 'other')),
    programs text[] NOT NULL DEFAULT '{}',
    entity_pk bigint REFERENCES entities (pk),
    listed_on date,
    delisted_on date,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT list_entries_id_key UNIQUE (list_pk, id),
    CONSTRAINT list_entries_interval CHECK (delisted_on IS NULL OR listed_on IS NULL OR delisted_on > listed_on)
);
CREATE INDEX list_entries_entity ON list_entries (entity_pk) WHERE entity_pk IS NOT NULL;

CREATE TABLE policy_versions (
    version bigint PRIMARY KEY,
    rules jsonb NOT NULL,
    actor text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE screenings (
    id text PRIMARY KEY,
    entity text,
    resolved_entity text,
    decision text NOT NULL CHECK (decision IN ('clear', 'review', 'block')),
    as_of date NOT NULL,
    policy_version bigint NOT NULL,
    graph_version bigint NOT NULL,
    screened_at timestamptz NOT NULL,
    actor text NOT NULL,
    request jsonb NOT NULL,
    response jsonb NOT NULL
);
CREATE INDEX screenings_resolved_entity ON screenings (resolved_entity, screened_at DESC);
