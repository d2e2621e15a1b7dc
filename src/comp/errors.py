"""The project's error class.

Library code raises :class:`CompError` for bad input (a file, key or value the user can fix);
the CLI prints its message as one line and exits with status 2. Anything else is a bug and
exits with status 1.
"""


class CompError(ValueError):
    """Bad input: the message names the file, key or value and what would be accepted."""
