"""OpenTelemetry spans and metrics, per-provider debug logs."""
