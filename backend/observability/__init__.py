"""What an operator's tools see of the backend: reflection, health per subsystem, Prometheus
metrics and structured logs (docs/deployment.md)."""
