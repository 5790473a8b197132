-- Change notifications carry a WAL position, "lsn", and "async":true from a writer with
-- synchronous_commit off:
--
--   {"t":"articles","op":"UPDATE","at":1796218497360,"lsn":"0/1A2B3C8","ids":[7],"slugs":["a-1"],"authors":[3]}
--
-- "lsn" is the primary's WAL insert position when the transaction's first change notification was
-- queued. Triggers run before the commit record is written, so it is a lower bound of the commit's
-- position, never the commit itself: a replica that has replayed up to it may not show the change
-- yet. What the service waits for before reading a replica is exact (src/db/read-pool.ts): on
-- receiving a notification, delivered after the commit, it reads the primary's WAL positions. A
-- synchronous commit is flushed before its notifications go out, so the flush position then covers
-- it; an asynchronous one may not be, so "async" asks for the insert position, which always does
-- (but also covers WAL written since and not flushed yet, a wait of up to wal_writer_delay).
-- "async" is the setting when the trigger ran: a transaction that turns synchronous_commit off
-- after its last change is taken for synchronous. One "lsn" per transaction (kept in a
-- transaction-local setting), so identical notifications of a transaction are still merged by
-- PostgreSQL. Everything else is as in 005.
CREATE OR REPLACE FUNCTION gravity_send_change(tbl text, op text, n bigint, fields text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  max_rows  constant int := 200;   -- keep in step with the LIMIT 201 of the trigger functions
  max_bytes constant int := 7900;  -- NOTIFY payloads must stay below 8000 bytes
  lsn       text := nullif(current_setting('gravity.change_lsn', true), '');
  head      text;
  payload   text;
BEGIN
  IF n = 0 THEN
    RETURN;
  END IF;
  IF lsn IS NULL THEN
    lsn := pg_current_wal_insert_lsn()::text;
    PERFORM set_config('gravity.change_lsn', lsn, true);
  END IF;
  head := format('{"t":%s,"op":%s,"at":%s,"lsn":%s%s', to_json(tbl), to_json(op),
                 floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint, to_json(lsn),
                 CASE WHEN current_setting('synchronous_commit') = 'off' THEN ',"async":true' ELSE '' END);
  IF n <= max_rows THEN
    payload := head || ',' || fields || '}';
  END IF;
  IF payload IS NULL OR octet_length(payload) > max_bytes THEN
    payload := head || ',"all":true}';
  END IF;
  PERFORM pg_notify('gravity_changes', payload);
END
$$;
