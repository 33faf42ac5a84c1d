"""The gateway: configuration, HTTP wiring, CLI."""
