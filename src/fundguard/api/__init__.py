"""FundGuard api layer."""
