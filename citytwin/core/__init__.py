"""Core types every layer shares: the city grid and the city record."""
