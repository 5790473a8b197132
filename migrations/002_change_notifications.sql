-- Change notifications for cache invalidation.
--
-- Every INSERT, UPDATE, DELETE or TRUNCATE statement on a Conduit table, from the API or from any
-- other writer, sends ONE notification on channel `gravity_changes`, delivered when its
-- transaction commits (nothing on rollback). The payload is compact JSON naming the table, the
-- operation and the key columns of every row the statement changed, old and new values on UPDATE:
--
--   {"t":"articles","op":"UPDATE","ids":[7],"slugs":["new-slug","old-slug"],"authors":[3]}
--
-- Arrays are sorted, without duplicates or nulls. Only the changed rows' own columns are reported
-- (no lookups in other tables), so the triggers need no privilege beyond the writer's own. When a
-- statement changes more than 200 rows, when the payload would not fit in the 8000-byte NOTIFY
-- limit, and on TRUNCATE, the rows are not named:
--
--   {"t":"articles","op":"UPDATE","all":true}
--
-- meaning "treat every row of this table as changed". A statement that changes no row (a DELETE
-- matching nothing, INSERT ... ON CONFLICT DO NOTHING that skipped, an UPDATE setting every column
-- to the value it had) sends nothing. Rows removed by ON DELETE CASCADE are reported by the child
-- table's own notification (one per child table per statement). Identical notifications within a
-- transaction are merged by PostgreSQL. Triggers do not fire under session_replication_role =
-- replica (logical replication apply, pg_restore --disable-triggers).
--
-- Statement-level AFTER triggers with transition tables: one notification per statement however
-- many rows it touches. PostgreSQL allows transition tables only on single-event triggers, hence
-- one trigger per event (gravity_install_change_triggers). The per-table functions are static SQL,
-- so PL/pgSQL caches their plans, and read at most 201 rows of the transition tables; pairing old
-- and new rows on UPDATE is a FULL JOIN on the primary key that stops at 201 changed pairs (an
-- UPDATE where nothing changes compares every pair). They pin search_path so writers with another
-- search_path still reach the helper functions.

-- Sends one notification. `n`: rows changed, counted up to 201; NULL for TRUNCATE.
-- `fields`: the JSON members naming them, e.g. '"ids":[1,2],"usernames":["a","b"]'.
CREATE FUNCTION gravity_send_change(tbl text, op text, n bigint, fields text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  max_rows  constant int := 200;   -- keep in step with the LIMIT 201 of the trigger functions
  max_bytes constant int := 7900;  -- NOTIFY payloads must stay below 8000 bytes
  head      constant text := format('{"t":%s,"op":%s', to_json(tbl), to_json(op));
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

-- A JSON array of the distinct non-null values, sorted: '[1,2,3]', '["a","b"]', '[]'.
CREATE FUNCTION gravity_json_set(vals anyarray) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN coalesce((SELECT array_to_json(array_agg(DISTINCT v ORDER BY v))::text
                     FROM unnest(vals) v WHERE v IS NOT NULL), '[]');
END
$$;

-- Attaches a change function to a table: AFTER INSERT / UPDATE / DELETE triggers with the
-- transition tables it reads (new_rows, old_rows), and AFTER TRUNCATE.
CREATE FUNCTION gravity_install_change_triggers(tbl regclass, fn text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TRIGGER gravity_changes_insert AFTER INSERT ON %s
                    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %I()', tbl, fn);
  EXECUTE format('CREATE TRIGGER gravity_changes_update AFTER UPDATE ON %s
                    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %I()', tbl, fn);
  EXECUTE format('CREATE TRIGGER gravity_changes_delete AFTER DELETE ON %s
                    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION %I()', tbl, fn);
  EXECUTE format('CREATE TRIGGER gravity_changes_truncate AFTER TRUNCATE ON %s
                    FOR EACH STATEMENT EXECUTE FUNCTION %I()', tbl, fn);
END
$$;

-- One function per table. Each collects the key columns of at most 201 changed rows (one more
-- than gravity_send_change names) from new_rows (INSERT), old_rows (DELETE) or, on UPDATE, the
-- (old, new) pairs that differ, joined on the primary key; TRUNCATE reaches the end with n NULL.

CREATE FUNCTION gravity_users_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  n         bigint;
  ids       int[];
  usernames text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*), array_agg(id), array_agg(username) INTO n, ids, usernames
      FROM (SELECT id, username FROM new_rows LIMIT 201) r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT count(*), array_agg(id), array_agg(username) INTO n, ids, usernames
      FROM (SELECT id, username FROM old_rows LIMIT 201) r;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT count(*), array_agg(o_id) || array_agg(n_id), array_agg(o_username) || array_agg(n_username)
      INTO n, ids, usernames
      FROM (SELECT o.id AS o_id, nw.id AS n_id, o.username AS o_username, nw.username AS n_username
              FROM old_rows o FULL JOIN new_rows nw ON nw.id = o.id
             WHERE o IS DISTINCT FROM nw LIMIT 201) r;
  END IF;
  PERFORM gravity_send_change(TG_TABLE_NAME, TG_OP, n, format('"ids":%s,"usernames":%s', gravity_json_set(ids), gravity_json_set(usernames)));
  RETURN NULL;
END
$$;
SELECT gravity_install_change_triggers('users', 'gravity_users_changed');

CREATE FUNCTION gravity_articles_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  n         bigint;
  ids       int[];
  slugs     text[];
  authors   int[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*), array_agg(id), array_agg(slug), array_agg(author_id) INTO n, ids, slugs, authors
      FROM (SELECT id, slug, author_id FROM new_rows LIMIT 201) r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT count(*), array_agg(id), array_agg(slug), array_agg(author_id) INTO n, ids, slugs, authors
      FROM (SELECT id, slug, author_id FROM old_rows LIMIT 201) r;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT count(*), array_agg(o_id) || array_agg(n_id), array_agg(o_slug) || array_agg(n_slug), array_agg(o_author_id) || array_agg(n_author_id)
      INTO n, ids, slugs, authors
      FROM (SELECT o.id AS o_id, nw.id AS n_id, o.slug AS o_slug, nw.slug AS n_slug, o.author_id AS o_author_id, nw.author_id AS n_author_id
              FROM old_rows o FULL JOIN new_rows nw ON nw.id = o.id
             WHERE o IS DISTINCT FROM nw LIMIT 201) r;
  END IF;
  PERFORM gravity_send_change(TG_TABLE_NAME, TG_OP, n, format('"ids":%s,"slugs":%s,"authors":%s', gravity_json_set(ids), gravity_json_set(slugs), gravity_json_set(authors)));
  RETURN NULL;
END
$$;
SELECT gravity_install_change_triggers('articles', 'gravity_articles_changed');

CREATE FUNCTION gravity_tags_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  n         bigint;
  ids       int[];
  names     text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*), array_agg(id), array_agg(name) INTO n, ids, names
      FROM (SELECT id, name FROM new_rows LIMIT 201) r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT count(*), array_agg(id), array_agg(name) INTO n, ids, names
      FROM (SELECT id, name FROM old_rows LIMIT 201) r;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT count(*), array_agg(o_id) || array_agg(n_id), array_agg(o_name) || array_agg(n_name)
      INTO n, ids, names
      FROM (SELECT o.id AS o_id, nw.id AS n_id, o.name AS o_name, nw.name AS n_name
              FROM old_rows o FULL JOIN new_rows nw ON nw.id = o.id
             WHERE o IS DISTINCT FROM nw LIMIT 201) r;
  END IF;
  PERFORM gravity_send_change(TG_TABLE_NAME, TG_OP, n, format('"ids":%s,"names":%s', gravity_json_set(ids), gravity_json_set(names)));
  RETURN NULL;
END
$$;
SELECT gravity_install_change_triggers('tags', 'gravity_tags_changed');

CREATE FUNCTION gravity_article_tags_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  n         bigint;
  articles  int[];
  tags      int[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*), array_agg(article_id), array_agg(tag_id) INTO n, articles, tags
      FROM (SELECT article_id, tag_id FROM new_rows LIMIT 201) r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT count(*), array_agg(article_id), array_agg(tag_id) INTO n, articles, tags
      FROM (SELECT article_id, tag_id FROM old_rows LIMIT 201) r;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT count(*), array_agg(o_article_id) || array_agg(n_article_id), array_agg(o_tag_id) || array_agg(n_tag_id)
      INTO n, articles, tags
      FROM (SELECT o.article_id AS o_article_id, nw.article_id AS n_article_id, o.tag_id AS o_tag_id, nw.tag_id AS n_tag_id
              FROM old_rows o FULL JOIN new_rows nw ON nw.article_id = o.article_id AND nw.tag_id = o.tag_id
             WHERE o IS DISTINCT FROM nw LIMIT 201) r;
  END IF;
  PERFORM gravity_send_change(TG_TABLE_NAME, TG_OP, n, format('"articles":%s,"tags":%s', gravity_json_set(articles), gravity_json_set(tags)));
  RETURN NULL;
END
$$;
SELECT gravity_install_change_triggers('article_tags', 'gravity_article_tags_changed');

CREATE FUNCTION gravity_favorites_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  n         bigint;
  articles  int[];
  users     int[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*), array_agg(article_id), array_agg(user_id) INTO n, articles, users
      FROM (SELECT article_id, user_id FROM new_rows LIMIT 201) r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT count(*), array_agg(article_id), array_agg(user_id) INTO n, articles, users
      FROM (SELECT article_id, user_id FROM old_rows LIMIT 201) r;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT count(*), array_agg(o_article_id) || array_agg(n_article_id), array_agg(o_user_id) || array_agg(n_user_id)
      INTO n, articles, users
      FROM (SELECT o.article_id AS o_article_id, nw.article_id AS n_article_id, o.user_id AS o_user_id, nw.user_id AS n_user_id
              FROM old_rows o FULL JOIN new_rows nw ON nw.user_id = o.user_id AND nw.article_id = o.article_id
             WHERE o IS DISTINCT FROM nw LIMIT 201) r;
  END IF;
  PERFORM gravity_send_change(TG_TABLE_NAME, TG_OP, n, format('"articles":%s,"users":%s', gravity_json_set(articles), gravity_json_set(users)));
  RETURN NULL;
END
$$;
SELECT gravity_install_change_triggers('favorites', 'gravity_favorites_changed');

CREATE FUNCTION gravity_follows_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  n         bigint;
  followers int[];
  followees int[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*), array_agg(follower_id), array_agg(followee_id) INTO n, followers, followees
      FROM (SELECT follower_id, followee_id FROM new_rows LIMIT 201) r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT count(*), array_agg(follower_id), array_agg(followee_id) INTO n, followers, followees
      FROM (SELECT follower_id, followee_id FROM old_rows LIMIT 201) r;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT count(*), array_agg(o_follower_id) || array_agg(n_follower_id), array_agg(o_followee_id) || array_agg(n_followee_id)
      INTO n, followers, followees
      FROM (SELECT o.follower_id AS o_follower_id, nw.follower_id AS n_follower_id, o.followee_id AS o_followee_id, nw.followee_id AS n_followee_id
              FROM old_rows o FULL JOIN new_rows nw ON nw.follower_id = o.follower_id AND nw.followee_id = o.followee_id
             WHERE o IS DISTINCT FROM nw LIMIT 201) r;
  END IF;
  PERFORM gravity_send_change(TG_TABLE_NAME, TG_OP, n, format('"followers":%s,"followees":%s', gravity_json_set(followers), gravity_json_set(followees)));
  RETURN NULL;
END
$$;
SELECT gravity_install_change_triggers('follows', 'gravity_follows_changed');

CREATE FUNCTION gravity_comments_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
  n         bigint;
  ids       int[];
  articles  int[];
  authors   int[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT count(*), array_agg(id), array_agg(article_id), array_agg(author_id) INTO n, ids, articles, authors
      FROM (SELECT id, article_id, author_id FROM new_rows LIMIT 201) r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT count(*), array_agg(id), array_agg(article_id), array_agg(author_id) INTO n, ids, articles, authors
      FROM (SELECT id, article_id, author_id FROM old_rows LIMIT 201) r;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT count(*), array_agg(o_id) || array_agg(n_id), array_agg(o_article_id) || array_agg(n_article_id), array_agg(o_author_id) || array_agg(n_author_id)
      INTO n, ids, articles, authors
      FROM (SELECT o.id AS o_id, nw.id AS n_id, o.article_id AS o_article_id, nw.article_id AS n_article_id, o.author_id AS o_author_id, nw.author_id AS n_author_id
              FROM old_rows o FULL JOIN new_rows nw ON nw.id = o.id
             WHERE o IS DISTINCT FROM nw LIMIT 201) r;
  END IF;
  PERFORM gravity_send_change(TG_TABLE_NAME, TG_OP, n, format('"ids":%s,"articles":%s,"authors":%s', gravity_json_set(ids), gravity_json_set(articles), gravity_json_set(authors)));
  RETURN NULL;
END
$$;
SELECT gravity_install_change_triggers('comments', 'gravity_comments_changed');

