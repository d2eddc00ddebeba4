-- A failed page: retried after base * 2^(attempts so far), until max_attempts, then left failed.
UPDATE articles SET
  fetch_status   = 'failed',
  fetch_error    = left(%(error)s, 2000),
  fetch_attempts = fetch_attempts + 1,
  next_fetch_at  = CASE WHEN fetch_attempts + 1 >= %(max_attempts)s THEN NULL
                        ELSE now() + make_interval(secs => %(base_delay_s)s * power(2, fetch_attempts)) END,
  updated_at     = now()
WHERE url = %(url)s AND fetch_status <> 'fetched'
