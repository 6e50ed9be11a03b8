-- The revision guard: makes FerretDB 1.x's conditional updates atomic on PostgreSQL.
--
-- Why: FerretDB 1.x runs `update({_id: k, rev: r}, ...)` as a query followed by a separate
-- UPDATE by _id. Two writers that both read revision r can therefore both "match", and the
-- second overwrites the first (a lost update). MongoDB applies the same filter atomically.
--
-- What: Batch Service writes every revision as "<n>:<random>", where n is one more than the
-- revision it read. This trigger, run by PostgreSQL under the row lock of the UPDATE, refuses
-- a row update unless the new n is exactly the stored n + 1: it raises SQLSTATE 40001 with
-- the message "batch-service revision conflict", which FerretDB returns as the command's
-- error (InternalError). The command stops there: the writes before it in the same command are
-- applied, those after it are not. The losing writer reads those documents back and folds the
-- ones it lost again: what happens on MongoDB when the filter does not match. Raising (rather
-- than silently keeping the row) makes a command that succeeds exact, so writers need no
-- read-back when nothing conflicts. Documents without such a revision (other applications'
-- data) are never touched, nor is a write that leaves the revision as it is (an operator's
-- manual `$set`: the service's own writes always change it).
--
-- How: an event trigger attaches the row trigger to every table FerretDB creates in this
-- database. Apply this file once to the FerretDB database, as a superuser (devstack does it at
-- every start; it is idempotent). Tables created before it need:
--   CREATE TRIGGER batch_service_rev_guard BEFORE UPDATE ON <schema>.<table>
--     FOR EACH ROW EXECUTE FUNCTION public.batch_service_rev_guard();

CREATE OR REPLACE FUNCTION public.batch_service_rev_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_rev text := OLD._jsonb ->> 'rev';
    new_rev text := NEW._jsonb ->> 'rev';
BEGIN
    IF old_rev ~ '^[0-9]{1,18}:' AND new_rev ~ '^[0-9]{1,18}:' AND new_rev <> old_rev
       AND split_part(new_rev, ':', 1)::bigint <> split_part(old_rev, ':', 1)::bigint + 1 THEN
        -- a write computed from a revision that is no longer current
        RAISE EXCEPTION 'batch-service revision conflict' USING ERRCODE = '40001';
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION public.batch_service_attach_rev_guard() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    created record;
BEGIN
    FOR created IN
        SELECT object_identity FROM pg_event_trigger_ddl_commands()
        WHERE command_tag = 'CREATE TABLE' AND object_type = 'table'
    LOOP
        IF created.object_identity NOT LIKE '%._ferretdb_%' THEN
            EXECUTE format(
                'CREATE TRIGGER batch_service_rev_guard BEFORE UPDATE ON %s '
                'FOR EACH ROW EXECUTE FUNCTION public.batch_service_rev_guard()',
                created.object_identity
            );
        END IF;
    END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS batch_service_rev_guard;
CREATE EVENT TRIGGER batch_service_rev_guard ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION public.batch_service_attach_rev_guard();
