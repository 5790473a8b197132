-- Idempotency-Key of the POSTs that create something (an article, a comment, a user).
--
-- A row is inserted by the same statement that inserts the created row (a data-modifying CTE),
-- so the key is recorded if and only if the write commits: a retry after a failure that came
-- after the commit (a lost COMMIT acknowledgement, a failed read of the response, a response lost
-- on the network) finds the row and is answered with the resource it names, and a retry racing
-- the first attempt waits on the primary key and then finds it. Rows are deleted once they are
-- older than the retention (see src/plugins/idempotency.ts).
--
-- No change-notification trigger: nothing cached is derived from this table.
CREATE TABLE idempotency_keys (
  -- whose key it is: 'user:<id>', or 'email:<lower-cased address>' for a registration
  scope       text NOT NULL,
  key         text NOT NULL,
  -- sha256 of the route and the request's fields: the same key for another request is refused
  fingerprint text NOT NULL,
  -- the article, comment or user the first request created: a retry is answered with it, and
  -- with the status of the same route (the route is in the fingerprint)
  resource_id integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
