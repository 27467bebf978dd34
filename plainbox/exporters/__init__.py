"""Exporters: reports rendered from a session's results."""
