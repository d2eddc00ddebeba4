-- A refetched page's ticker links are replaced whole, in the transaction that saves the page.
DELETE FROM article_symbols WHERE article_url = %(url)s;
