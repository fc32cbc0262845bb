"""gtctl: where a Ground Truth streaming labeling project stands (status, drop, chain, report)."""
