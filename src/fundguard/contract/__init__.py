"""FundGuard contract layer."""
