"""The lines a board prints on its USB serial (firmware/core/report.c; docs/grid.md, "The host's
view"), parsed in one place. Every line is untrusted: parse() raises ValueError unless the line
is exactly one of these, with every field in the range the firmware can print.

  H nca-cell <protocol> <rule id> <model name, maybe with spaces> <width> <height>   who it is
  S <fires> <16 state bytes> <good frames> <bad frames> <x> <y> <hops>              own state
  R <x y r g b a as 6 hex bytes>                            a gateway passes on a board's report
  E <text>                                                  the board refused a command
"""
import re
from typing import NamedTuple

import numpy as np

from rule import spec
from rule.plaintext import plain

UNKNOWN = 0xFF     # a coordinate not learnt yet (cell.h CELL_UNKNOWN)
HEX = re.compile(r"[0-9a-f]+")


class Hello(NamedTuple):
    rule_id: str       # made safe to print
    name: str          # made safe to print
    width: int
    height: int


class Status(NamedTuple):
    fires: int
    state: np.ndarray  # int8 [16]
    good: int
    bad: int
    x: int
    y: int
    hops: int


class Report(NamedTuple):
    x: int
    y: int
    rgba: np.ndarray   # int8 [4]


class Error(NamedTuple):
    text: str          # made safe to print


def parse(line: str):
    """One line (without its end of line) -> Hello, Status, Report or Error."""
    f = line.split()
    if not f:
        raise ValueError("empty line")
    if f[0] == "R" and len(f) == 2 and len(f[1]) == 12:
        x, y, *rgba = bytes.fromhex(_hex(f[1]))
        return Report(x, y, np.array(rgba, np.uint8).view(np.int8))
    if f[0] == "S" and len(f) == 8 and len(f[2]) == 2 * spec.CHANNELS:
        state = np.frombuffer(bytes.fromhex(_hex(f[2])), np.int8)
        fires, good, bad = (int(_hex(v), 16) for v in (f[1], f[3], f[4]))
        x, y, hops = (int(_hex(v), 16) for v in f[5:8])
        if max(fires, good, bad) > 0xFFFF or max(x, y, hops) > 0xFF:
            raise ValueError("S line field out of range")
        return Status(fires, state, good, bad, x, y, hops)
    if f[0] == "H" and len(f) >= 7 and f[1] == "nca-cell":
        width, height = int(f[-2]), int(f[-1])
        if not (1 <= width <= spec.GRID_MAX and 1 <= height <= spec.GRID_MAX):
            raise ValueError("grid size outside what boards can report")
        return Hello(plain(f[3], 16), plain(" ".join(f[4:-2]), 40), width, height)
    if f[0] == "E":
        return Error(plain(" ".join(f[1:]), 60))
    raise ValueError("unknown line")


def statuses(lines):
    """(ms, x, y, Status) of every S line in an emulated grid's (ms, x, y, line) output."""
    for ms, x, y, line in lines:
        if line.startswith("S "):
            yield ms, x, y, parse(line)


def _hex(text: str) -> str:
    """Lower-case hex digits only (int(' 1_0', 16) and bytes.fromhex(' a b') would take more)."""
    if not HEX.fullmatch(text):
        raise ValueError(f"not hex: {text!r:.20}")
    return text
