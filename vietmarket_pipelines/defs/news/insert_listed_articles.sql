-- Articles found on a channel listing page: pending, with the listing's title; known ones untouched.
INSERT INTO articles (url, title)
VALUES %s
ON CONFLICT (url) DO NOTHING
RETURNING url
