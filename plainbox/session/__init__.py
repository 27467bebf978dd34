"""Sessions: results, dependency order, state and storage."""
