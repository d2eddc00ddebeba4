SELECT ticker FROM symbols WHERE active
