"""Reading TOML that strangers send (a trust list, say): the nesting depth first, then `tomllib`.

Invariants: the depth is counted before the parser runs, in one linear scan with strings and comments cut
out, because `tomllib` recurses once per nested array or inline table (a traceback, 300 levels down) and
takes quadratic time over the parts of a dotted key or table name (minutes for 100,000). Every failure is an
`InvalidInput` subclass chosen by the caller, with a one-line message.
"""

import re
import tomllib
from typing import Any

from anchoring.errors import InvalidInput
from anchoring.jsonio import MAX_DEPTH, bracket_depth

# Strings and comments. A multi-line string ends at the last three of up to five quotes ('''a'''' is "a'").
# Each alternative also takes an unterminated string (to the end of its line or of the text), so a match
# never fails and the scan never starts over: linear on any input.
_SKIPPED = re.compile(
    rb'"""(?:[^\\]|\\.)*?(?:"{3,5}(?!")|\Z)'
    rb"|'''.*?(?:'{3,5}(?!')|\Z)"
    rb'|"(?:[^"\\\n]|\\.)*"?'
    rb"|'[^'\n]*'?"
    rb"|#[^\n]*",
    re.DOTALL,
)
# What remains of a key or table name's dots once all but them and the bytes that end a key are dropped.
_NOT_KEY_DOTS = bytes(b for b in range(256) if b not in b".=,[]{}\n")
_DOTS = re.compile(rb"\.+")


def nesting_depth(data: bytes) -> int:
    """The deepest nesting `data` asks for: of arrays and inline tables, or of the tables a dotted key or a
    table name opens (a value's dots, as in 1.5, count one level at most)."""
    outside = _SKIPPED.sub(b" ", data)
    dots = max(map(len, _DOTS.findall(outside.translate(None, _NOT_KEY_DOTS))), default=0)
    return max(bracket_depth(outside), dots + 1)


def parse_toml(data: bytes, what: str, error: type[InvalidInput] = InvalidInput, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `data` as TOML; `what` names the input in errors (a path, usually)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what}: not valid TOML: {exc}") from None
    depth = nesting_depth(data)
    if depth > max_depth:
        raise error(f"{what}: nested {depth} levels deep; at most {max_depth}")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what}: not valid TOML: {exc}") from None
    except RecursionError:  # the count above errs on the safe side, so this should never be reached
        raise error(f"{what}: nested too deep") from None
