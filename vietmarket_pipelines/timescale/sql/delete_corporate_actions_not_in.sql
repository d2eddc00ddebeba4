-- The ticker's actions from this source that its prices no longer show (the provider corrected itself).
DELETE FROM corporate_actions
 WHERE ticker = %(ticker)s AND source = %(source)s AND NOT (ex_date = ANY (%(ex_dates)s::date[]));
