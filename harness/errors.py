"""Errors the CLI reports as one line and exit code 2."""


class TunebenchError(Exception):
    """A problem with the user's input or stored files, explained in one line."""
