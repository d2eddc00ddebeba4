-- One row per (article, ticker) link; psycopg2's execute_values fills VALUES.
INSERT INTO article_symbols (article_url, ticker, confidence, method) VALUES %s;
