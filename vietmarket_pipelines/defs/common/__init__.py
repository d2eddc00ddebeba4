"""What every domain shares: the TimescaleDB resource and the vocabulary of run tags."""
