"""Market-data sources behind one interface: candles from VCI, SSI and VNDirect, and the ticker universe."""
