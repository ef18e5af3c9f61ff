"""The one exception type the CLI and the app turn into a one-line message."""


class UserError(Exception):
    """Bad input or an unusable environment: shown to the user as one line, never a traceback."""
