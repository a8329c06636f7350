"""FundGuard synth layer."""
