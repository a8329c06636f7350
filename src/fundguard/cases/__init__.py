"""FundGuard cases layer."""
