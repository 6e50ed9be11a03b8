-- Indexes FerretDB 1.x on PostgreSQL can use for the service's equality filters (`_id`,
-- `batchId`, `courseId`, `hasOutbox`, `status`, `userId`).
--
-- Why: FerretDB 1.24 pushes an equality filter down as `_jsonb -> $1 @> $2`, with the field
-- name as a parameter. Its own indexes are btree on `(_jsonb -> '<field>')`, which serve
-- neither the `@>` operator nor a field name that is a parameter, so every lookup, update and
-- count scans the collection: a conditional update took 12 ms at 3,000 documents. A GIN index
-- on the same expression serves `@>`, and forcing custom plans lets PostgreSQL see the field
-- name as a constant, so the expression matches and the lookup uses the index.
--
-- How: apply once to the FerretDB database as a superuser (devstack does at every start); an
-- event trigger adds the indexes to every table FerretDB creates from then on.

DO $$BEGIN
    EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan', current_database());
END$$;

CREATE OR REPLACE FUNCTION public.batch_service_add_lookup_indexes() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    created record;
    field text;
BEGIN
    FOR created IN
        SELECT object_identity FROM pg_event_trigger_ddl_commands()
        WHERE command_tag = 'CREATE TABLE' AND object_type = 'table'
    LOOP
        IF created.object_identity NOT LIKE '%._ferretdb_%' THEN
            FOREACH field IN ARRAY ARRAY['_id', 'batchId', 'courseId', 'hasOutbox', 'status', 'userId'] LOOP
                EXECUTE format(
                    'CREATE INDEX ON %s USING gin ((_jsonb -> %L) jsonb_path_ops)',
                    created.object_identity, field
                );
            END LOOP;
        END IF;
    END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS batch_service_lookup_indexes;
CREATE EVENT TRIGGER batch_service_lookup_indexes ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION public.batch_service_add_lookup_indexes();
