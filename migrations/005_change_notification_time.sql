-- Change notifications carry when their statement began, as "at" (epoch milliseconds):
--
--   {"t":"articles","op":"UPDATE","at":1796218497360,"ids":[7],"slugs":["a-1"],"authors":[3]}
--
-- so each instance can report how long a change took from the writer to its cache (the
-- invalidation lag metric). statement_timestamp(), not clock_timestamp(): it is the same for every
-- trigger a client statement fires, so identical notifications of one statement are still merged
-- by PostgreSQL. For a single-statement transaction (every API write) it is within the statement's
-- own run time of the commit that sends the notification. Everything else is as in 002.
CREATE OR REPLACE FUNCTION gravity_send_change(tbl text, op text, n bigint, fields text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  max_rows  constant int := 200;   -- keep in step with the LIMIT 201 of the trigger functions
  max_bytes constant int := 7900;  -- NOTIFY payloads must stay below 8000 bytes
  head      constant text := format('{"t":%s,"op":%s,"at":%s', to_json(tbl), to_json(op),
                                    floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint);
  payload   text;
BEGIN
  IF n = 0 THEN
    RETURN;
  END IF;
  IF n <= max_rows THEN
    payload := head || ',' || fields || '}';
  END IF;
  IF payload IS NULL OR octet_length(payload) > max_bytes THEN
    payload := head || ',"all":true}';
  END IF;
  PERFORM pg_notify('gravity_changes', payload);
END
$$;
