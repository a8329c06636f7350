"""FundGuard kb layer."""
