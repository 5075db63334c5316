"""The one escaping function for text that crosses a boundary: into generated C (string
literals and comments), into a line a board prints, onto the user's terminal.

A whitelist, not a blacklist: letters, digits, space and _ . , : + = ( ) - stay; anything else
(quotes, backslashes, '/', '*', '?' which C99 trigraphs read, newlines, control and escape
characters, non-ASCII) becomes '_'. So the result can close no string, end no comment, start no
directive and move no cursor, whatever comes in.
"""
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,:+=()-]")


def plain(text, max_len: int = 80) -> str:
    s = _UNSAFE.sub("_", str(text))
    return s if len(s) <= max_len else s[:max_len - 3] + "..."
