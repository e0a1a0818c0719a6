"""One error type for bad user input, and the wrapper that turns it into a one-line exit.

Every script raises `InputError` for a problem the user can fix (a missing file, a bad
field, mismatched shapes). `run_main` prints it as a single `error: ...` line on stderr
and exits with status 2, so no user ever has to read a traceback for their own typo.

Example:
    >>> raise InputError("bert_config.json: missing field 'hidden_size'")
"""

import sys


class InputError(Exception):
    """A problem with the user's files, flags or data; the message names the file and field."""


def run_main(main, argv=None):
    """Runs `main(argv)`; an `InputError` becomes `error: <message>` on stderr and exit status 2."""
    try:
        return main(argv)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
