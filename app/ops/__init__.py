"""What operators read: Prometheus metrics and JSON logs."""
