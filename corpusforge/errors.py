"""Errors meant for the person running a command: the CLI prints them as one line, without a traceback."""


class ConfigError(Exception):
    """A config or usage problem, phrased for the user: which key or path, what was wrong, what to do."""
