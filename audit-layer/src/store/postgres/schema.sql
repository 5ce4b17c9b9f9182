-- The audit-layer PostgreSQL store, schema version 1.
--
-- Installed by `audit db init` (or `PgStore::init`), which runs this whole
-- file in one transaction. Every statement may run again: nothing is
-- dropped, no privilege is widened, and functions are put back as written
-- here. The privileges it leaves are checked afterwards (`install_problems`).
--
-- Roles: audit_owner owns everything and no service uses it; audit_writer
-- may only INSERT records (and checkpoints) and learn its stream's head
-- through audit.stream_head; audit_reader may only read. Grant the writer
-- or reader role to the login role of each process.

DO $roles$
DECLARE
    role text;
BEGIN
    FOREACH role IN ARRAY ARRAY['audit_owner', 'audit_writer', 'audit_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by an install into another database
            END;
        END IF;
    END LOOP;
END
$roles$;

CREATE SCHEMA IF NOT EXISTS audit AUTHORIZATION audit_owner;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO audit_writer, audit_reader;

-- Every object below is created by, and so owned by, audit_owner.
SET LOCAL ROLE audit_owner;

-- One row per record. `line` is the record's exact line, without its
-- newline: the chain is verified on it. The other columns are derived from
-- the line when it is stored, for indexes; `audit verify --db` checks that
-- they still say what the line says.
-- Text compares byte by byte (COLLATE "C"): faster to index, and the same
-- on every server whatever its locale.
CREATE TABLE IF NOT EXISTS audit.records (
    stream    text COLLATE "C" NOT NULL CHECK (stream <> '' AND length(stream) <= 200),
    seq       bigint      NOT NULL CHECK (seq >= 0),
    hash      bytea       NOT NULL CHECK (length(hash) = 32),
    prev      bytea       NOT NULL CHECK (length(prev) = 32),
    time      timestamptz NOT NULL,
    kind      text COLLATE "C" NOT NULL,
    action    text COLLATE "C" NOT NULL,
    actor     text COLLATE "C",
    resource  text COLLATE "C",
    outcome   text COLLATE "C" NOT NULL,
    category  text COLLATE "C",
    service   text COLLATE "C",
    host      text COLLATE "C",
    line      bytea       NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (stream, seq)
);

-- Values may be megabytes long; an index holds the first 200 characters and
-- every query also compares the whole value. Each index costs every insert
-- its upkeep, so there are three: a resource's records (timelines), an
-- actor's over time, and time itself as a BRIN index, which costs almost
-- nothing on rows that arrive in time order. A query by action reads the
-- time range it names.
CREATE INDEX IF NOT EXISTS records_resource
    ON audit.records (left(resource, 200));
CREATE INDEX IF NOT EXISTS records_actor
    ON audit.records (left(actor, 200), time);
CREATE INDEX IF NOT EXISTS records_time
    ON audit.records USING brin (time);

-- Signed checkpoints of each stream, as published (for `audit streams`; a
-- verifier trusts only checkpoints kept outside the store).
CREATE TABLE IF NOT EXISTS audit.checkpoints (
    stream    text COLLATE "C" NOT NULL,
    size      bigint      NOT NULL CHECK (size > 0),
    note      text        NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (stream, size, note)
);

-- Every retention: the signed anchor that says where the stream now begins.
CREATE TABLE IF NOT EXISTS audit.retirements (
    stream     text COLLATE "C" NOT NULL,
    first_seq  bigint      NOT NULL,
    anchor     text        NOT NULL,
    txid       bigint      NOT NULL,
    retired_by text        NOT NULL DEFAULT session_user,
    retired_at timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (stream, first_seq)
);

CREATE TABLE IF NOT EXISTS audit.schema_version (
    version integer NOT NULL
);
INSERT INTO audit.schema_version (version)
    SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM audit.schema_version);

-- Rows are never changed, and deleted only by audit.retire: below the seq
-- that the retirement of the same transaction names.
CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $body$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'records' THEN
        IF EXISTS (
            SELECT 1 FROM audit.retirements r
            WHERE r.txid = txid_current() AND r.stream = OLD.stream AND OLD.seq < r.first_seq
        ) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit.%: % refused: the audit trail is append-only', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$body$;

DO $triggers$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['records', 'checkpoints', 'retirements', 'schema_version'] LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_trigger
            WHERE tgrelid = ('audit.' || t)::regclass AND tgname = 'append_only_rows'
        ) THEN
            EXECUTE format(
                'CREATE TRIGGER append_only_rows BEFORE UPDATE OR DELETE ON audit.%I
                 FOR EACH ROW EXECUTE FUNCTION audit.refuse_change()', t);
        END IF;
        IF NOT EXISTS (
            SELECT 1 FROM pg_trigger
            WHERE tgrelid = ('audit.' || t)::regclass AND tgname = 'append_only_table'
        ) THEN
            EXECUTE format(
                'CREATE TRIGGER append_only_table BEFORE TRUNCATE ON audit.%I
                 FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change()', t);
        END IF;
    END LOOP;
END
$triggers$;

-- The writer's one way to learn where its stream ends, without reading it.
CREATE OR REPLACE FUNCTION audit.stream_head(p_stream text, OUT next_seq bigint, OUT prev bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
    SELECT r.seq + 1, r.hash FROM audit.records r
    WHERE r.stream = p_stream ORDER BY r.seq DESC LIMIT 1
$body$;

-- Retention: stores the signed anchor, then deletes the stream's records
-- before it. The anchor's record must be kept. Only the owner may call it.
CREATE OR REPLACE FUNCTION audit.retire(p_stream text, p_first_seq bigint, p_anchor text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $body$
DECLARE
    deleted bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit.records WHERE stream = p_stream AND seq = p_first_seq) THEN
        RAISE EXCEPTION 'stream % has no record at seq %: an anchor must name a record that is kept',
            p_stream, p_first_seq;
    END IF;
    INSERT INTO audit.retirements (stream, first_seq, anchor, txid)
        VALUES (p_stream, p_first_seq, p_anchor, txid_current());
    DELETE FROM audit.records WHERE stream = p_stream AND seq < p_first_seq;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$body$;

-- One typed row per record, for dashboards (Grafana, Metabase).
CREATE OR REPLACE VIEW audit.trail AS
    SELECT stream, seq, time, kind, action, actor, resource, outcome, category,
           service, host, encode(hash, 'hex') AS hash, convert_from(line, 'UTF8') AS line,
           stored_at
    FROM audit.records;

REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA audit FROM PUBLIC;
GRANT INSERT ON audit.records, audit.checkpoints TO audit_writer;
GRANT SELECT ON audit.records, audit.checkpoints, audit.retirements, audit.schema_version,
    audit.trail TO audit_reader;
GRANT EXECUTE ON FUNCTION audit.stream_head(text) TO audit_writer, audit_reader;
