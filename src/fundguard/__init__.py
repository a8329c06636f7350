"""FundGuard 医保基金智能监管平台: rules, engines and supervision for the medical insurance fund."""

__version__ = "0.1.0"
