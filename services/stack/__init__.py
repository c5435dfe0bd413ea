"""The local run: one supervisor starts every service, a local Prometheus and the traffic simulator."""
