-- Registry imports (BODS, GLEIF, UK PSC): which source said what about an entity, ownerships
-- kept with the source's own record id, interests a source declares indirect, owners a
-- source declares unknown, pairs of entities that may be one, and a record of every import.

-- One row per (source, record) an entity was resolved from, with what that record stated.
-- The entity's own name, aliases, places and identifiers are these statements folded in the
-- order of src/db/registry.rs (`store` first: what was written through the API, the seed or
-- a list import before any registry named the entity).
CREATE TABLE entity_sources (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_pk bigint NOT NULL REFERENCES entities (pk),
    source text NOT NULL,
    record text NOT NULL,
    -- The record only named the entity by id (a GLEIF relationship naming an LEI).
    placeholder boolean NOT NULL DEFAULT false,
    statement jsonb NOT NULL,
    -- How the record was tied to the entity: record, lei, registration_number, identifier,
    -- new, merged.
    resolved_by text NOT NULL,
    first_import_pk bigint,
    last_import_pk bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT entity_sources_record_key UNIQUE (source, record)
);
CREATE INDEX entity_sources_entity ON entity_sources (entity_pk);

-- Other identifiers (SWIFT, tax ids, register-specific ids) resolve records too.
CREATE INDEX entities_identifiers ON entities USING gin (identifiers jsonb_path_ops)
    WHERE deleted_at IS NULL;

-- Ownerships from a registry keep the source's record id (unique per source, deleted or
-- not, so a re-import finds it), the source's wording, the share exactly as stated
-- (`{"min": 25, "min_exclusive": true, "max": 50}`; the numeric columns are what the rules
-- compute with), and whether a bound is exclusive ("more than 25%").
ALTER TABLE ownerships
    ADD COLUMN source_record text,
    ADD COLUMN details text,
    ADD COLUMN stated_share jsonb,
    ADD COLUMN share_min_exclusive boolean NOT NULL DEFAULT false,
    ADD COLUMN share_max_exclusive boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX ownerships_source_record ON ownerships (source, source_record)
    WHERE source_record IS NOT NULL;

-- An interest a source declares as held indirectly (BODS `directOrIndirect: indirect`, a
-- GLEIF ultimate parent). Kept as declared; never part of the graph the rules compute on.
CREATE TABLE declared_interests (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_pk bigint NOT NULL REFERENCES entities (pk),
    owned_pk bigint NOT NULL REFERENCES entities (pk),
    interest text NOT NULL CHECK (interest IN ('shares', 'votes', 'board', 'control', 'consolidation')),
    -- As stated, like ownerships.stated_share; null when no size is stated.
    share jsonb,
    valid_from date,
    valid_to date,
    source text NOT NULL,
    source_record text NOT NULL,
    details text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT declared_interests_record_key UNIQUE (source, source_record)
);
CREATE INDEX declared_interests_owned ON declared_interests (owned_pk);
CREATE INDEX declared_interests_owner ON declared_interests (owner_pk);

-- A source states that an entity's owners are unknown, exempt or withheld: distinct from
-- having no data. `reason` is a BODS unspecifiedReason code; `source_reason` the source's.
CREATE TABLE declared_unknowns (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_pk bigint NOT NULL REFERENCES entities (pk),
    reason text NOT NULL,
    source_reason text NOT NULL,
    details text,
    -- What the unknown owner holds, when stated.
    interest text CHECK (interest IN ('shares', 'votes', 'board', 'control', 'consolidation')),
    share jsonb,
    valid_from date,
    valid_to date,
    source text NOT NULL,
    source_record text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT declared_unknowns_record_key UNIQUE (source, source_record)
);
CREATE INDEX declared_unknowns_entity ON declared_unknowns (entity_pk);

-- Two entities that may be one: a record without identifiers whose name matches an entity in
-- its jurisdiction, or records whose identifiers disagree. Never merged until a person
-- confirms.
CREATE TABLE possible_matches (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_pk bigint NOT NULL REFERENCES entities (pk),
    candidate_pk bigint NOT NULL REFERENCES entities (pk),
    basis text NOT NULL CHECK (basis IN ('name', 'identifier_conflict')),
    score double precision,
    explanation jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'rejected')),
    decided_by text,
    decided_at timestamptz,
    note text,
    import_pk bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT possible_matches_pair_key UNIQUE (entity_pk, candidate_pk),
    CONSTRAINT possible_matches_not_self CHECK (entity_pk <> candidate_pk)
);
CREATE INDEX possible_matches_pending ON possible_matches (created_at) WHERE status = 'pending';
CREATE INDEX possible_matches_candidate ON possible_matches (candidate_pk);

-- One row per registry import, in the same transaction as what it changed.
CREATE TABLE registry_imports (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The change-log version; null when the import changed nothing.
    version bigint,
    format text NOT NULL,
    sha256 text NOT NULL,
    actor text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    summary jsonb NOT NULL
);

-- A change too large to carry (a registry import of a million records) is logged with
-- `reload`: an instance applying it rebuilds its graph from the tables.
ALTER TABLE change_log ADD COLUMN reload boolean NOT NULL DEFAULT false;
