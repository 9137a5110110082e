-- What list files state beyond names: the countries and identifiers of a designated party,
-- which name matching weighs; and a record of every list import.

ALTER TABLE list_entries
    ADD COLUMN countries text[] NOT NULL DEFAULT '{}',
    -- [{"scheme": "imo", "value": "9187629"}, ...]: a party may hold several of one scheme.
    ADD COLUMN identifiers jsonb NOT NULL DEFAULT '[]';

-- One row per import, in the same transaction as the entries it changed.
CREATE TABLE list_imports (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_pk bigint NOT NULL REFERENCES lists (pk),
    -- The change-log version of the import; null when it changed nothing.
    version bigint,
    format text NOT NULL,
    sha256 text NOT NULL,
    actor text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    summary jsonb NOT NULL
);
CREATE INDEX list_imports_list ON list_imports (list_pk, imported_at DESC);

-- Changes to the name indexes (list entries and entities), applied in change-log order like
-- the graph changes beside them.
ALTER TABLE change_log ADD COLUMN names jsonb NOT NULL DEFAULT '[]';
