"""FundGuard realtime layer."""
