"""FundGuard engine layer."""
