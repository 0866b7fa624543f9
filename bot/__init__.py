"""Composition root: configuration, the Flask app, channel adapters, workers and the CLI."""
