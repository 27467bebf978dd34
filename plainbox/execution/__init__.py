"""Running jobs: subprocesses, their environment, and what they print."""
