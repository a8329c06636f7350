"""FundGuard rules layer."""
