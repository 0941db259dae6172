"""User-facing errors: the CLI prints ``str(exc)`` as one line and exits with code 2 (no traceback)."""


class UserError(Exception):
    """A problem the user can fix (bad flag, unreadable input file, missing weights...)."""

    exit_code = 2


class InputError(UserError):
    """The input dataset file as a whole is unusable (unreadable, malformed JSON, missing keys)."""
