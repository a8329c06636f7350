"""FundGuard web layer."""
