SELECT ticker, name, exchange, kind, active FROM symbols WHERE ticker = $1
