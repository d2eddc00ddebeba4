-- One Convex call from today's budget (days in Asia/Ho_Chi_Minh), atomically across runs; no row
-- back means the day's budget is spent.
INSERT INTO convex_budget AS b (day, calls)
VALUES ((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, 1)
ON CONFLICT (day) DO UPDATE SET calls = b.calls + 1
WHERE b.calls < %(max_per_day)s
RETURNING calls
