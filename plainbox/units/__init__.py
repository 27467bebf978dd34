"""Unit files: parsing, the unit model, loading, providers and validation."""
