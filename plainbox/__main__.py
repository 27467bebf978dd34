"""``python -m plainbox``."""

from plainbox.cli.main import console_main


console_main()
