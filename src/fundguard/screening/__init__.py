"""FundGuard screening layer."""
