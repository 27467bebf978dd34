"""The ``plainbox`` command line."""
