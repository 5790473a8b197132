-- A profile image is shown to every reader as a link or an <img src>: only an http(s) URL (or
-- nothing) may be stored, whichever service writes it. Images already stored with another scheme
-- (javascript:, data:, file:...) are cleared rather than served.
UPDATE users SET image = '' WHERE image <> '' AND image !~* '^https?://[^[:space:]/?#]+';
ALTER TABLE users ADD CONSTRAINT users_image_http CHECK (image = '' OR image ~* '^https?://[^[:space:]/?#]+');
