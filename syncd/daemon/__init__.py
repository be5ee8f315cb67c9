"""The long-running service: scheduler wiring, sd_notify, the root lock and signal handling."""
