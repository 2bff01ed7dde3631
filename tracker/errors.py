"""The one exception type for user errors: the CLI prints its message on one line."""

from __future__ import annotations

import reprlib

_SHORT = reprlib.Repr()  # a value of any depth or size, shortened (a log can hold any JSON)
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 60, 60


class TrackerError(Exception):
    """Bad input or a refused operation; the message names the bad value."""


INVALID = "invalid {what} {value}: {reason}"


class Invalid(TrackerError):
    """A value refused, as "invalid WHAT 'value': reason" (or another `form` of the same:
    "empty {what}"; `short` is the value shortened to 30 characters); `named` says the
    same of the option that gave it ("invalid --published '17-Sept': ...")."""

    def __init__(self, what: str, value: object, reason: str, form: str = INVALID):
        super().__init__(form.format(what=what, value=shown(value), short=shown(value, 30),
                                     reason=reason))
        self.what, self.value, self.reason, self.form = what, value, reason, form

    def named(self, option: str) -> Invalid:
        return Invalid(option, self.value, self.reason, self.form)

    def __reduce__(self) -> tuple:  # as it was made (from a worker process)
        return Invalid, (self.what, self.value, self.reason, self.form)


def shown(value: object, limit: int = 60) -> str:
    """Quote a user value for a one-line message: escaped, and shortened if long (a text
    to `limit` characters as escaped: "\\x1f" counts four)."""
    if not isinstance(value, str):
        text = _SHORT.repr(value)
        return text[:limit] + "..." if len(text) > limit else text
    if len(repr(value)) - 2 <= limit:
        return repr(value)
    kept = value[:limit]
    while len(repr(kept)) - 2 > limit:
        kept = kept[:-1]
    return repr(kept + "...")


def one_line(message: str) -> str:
    """A message on one line: its line breaks made spaces (the spaces of a quoted value,
    such as `--reason '   '`, kept as given)."""
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def counted(count: int, noun: str) -> str:
    """A count and its noun: "1 event", "2 events"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def listed(names: list[str], most: int = 3) -> str:
    """The first `most` names, then how many more: "a, b, c and 2 more"."""
    more = len(names) - most
    return ", ".join(names[:most]) + (f" and {more} more" if more > 0 else "")


def a_or_an(noun: str) -> str:
    """The noun with its indefinite article: "a meeting", "an announcement"."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
