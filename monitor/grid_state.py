"""The grid as the host sees it, assembled from the lines boards print on their USB serial
(docs/grid.md, "The host's view"): a lone board's "S" lines, or a gateway's "R" reports of every
board. Any byte stream is survivable: garbage bytes, partial, overlong and unknown lines, sizes
and coordinates outside what the firmware can report (one byte each, 0xFF meaning unknown), and
boards that fall silent are counted or shown, never a reason to stop."""
import re
import time

import numpy as np

from trainer import spec
from trainer.plaintext import plain

MAX_LINE = 256     # a longer run of bytes without a newline is garbage
UNKNOWN = 0xFF     # coordinate not learnt (cell.h CELL_UNKNOWN)
KEEP_ERRORS = 10   # the board's last few "E" lines
HEX = re.compile(r"[0-9a-f]+")


class GridState:
    def __init__(self, width: int | None = None, height: int | None = None, silent_after_s: float = 15.0):
        self.width, self.height = width, height
        self.silent_after_s = silent_after_s
        self.rgba = {}            # (x, y) -> int8 [R, G, B, A] of the last report
        self.heard = {}           # (x, y) -> host time of the last report
        self.hello = None         # (rule id, model name) of the attached board, made safe to print
        self.attached = None      # the attached board's last "S" line: dict
        self.reports = self.lines = self.bad_lines = 0
        self.errors = []          # "E" lines: the attached board refused a command
        self._partial = b""

    def feed(self, data: bytes, now: float | None = None):
        """Bytes from the serial port, in any chunks."""
        now = time.monotonic() if now is None else now
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE:
            self._partial = b""
            self.bad_lines += 1
        for raw in lines:
            self.feed_line(raw.decode("ascii", errors="replace").strip("\r"), now)

    def feed_line(self, line: str, now: float | None = None):
        now = time.monotonic() if now is None else now
        if not line.strip():
            return
        self.lines += 1
        try:
            self._parse(line.split(), now)
        except (ValueError, IndexError):
            self.bad_lines += 1

    def _parse(self, f: list, now: float):
        if f[0] == "R" and len(f) == 2 and len(f[1]) == 12:
            x, y, *rgba = bytes.fromhex(_hex(f[1]))
            if not self._inside(x, y):
                raise ValueError("report from outside the grid")
            self.rgba[(x, y)] = np.array(rgba, np.uint8).view(np.int8)
            self.heard[(x, y)] = now
            self.reports += 1
        elif f[0] == "S" and len(f) == 8 and len(f[2]) == 2 * spec.CHANNELS:
            state = np.frombuffer(bytes.fromhex(_hex(f[2])), np.int8)
            fires, good, bad = (int(_hex(v), 16) for v in (f[1], f[3], f[4]))
            x, y, hops = (int(_hex(v), 16) for v in f[5:8])
            if max(fires, good, bad) > 0xFFFF or max(x, y, hops) > 0xFF:
                raise ValueError("S line field out of range")
            if not self._inside(x, y):   # a board told coordinates outside the grid: position unknown
                x = y = UNKNOWN
            self.attached = dict(fires=fires, state=state, good=good, bad=bad, x=x, y=y, hops=hops, at=now)
        elif f[0] == "H" and len(f) >= 7 and f[1] == "nca-cell":
            # H nca-cell <protocol> <rule id> <model name, maybe with spaces> <width> <height>
            width, height = int(f[-2]), int(f[-1])
            if not (1 <= width <= spec.GRID_MAX and 1 <= height <= spec.GRID_MAX):
                raise ValueError("grid size outside what boards can report")
            self.hello = (plain(f[3], 16), plain(" ".join(f[4:-2]), 40))
            if self.width is None:
                self.width, self.height = width, height
        elif f[0] == "E":
            self.errors = (self.errors + [plain(" ".join(f[1:]), 60)])[-KEEP_ERRORS:]
        else:
            raise ValueError("unknown line")

    def _inside(self, x: int, y: int) -> bool:
        return x < (self.width or UNKNOWN) and y < (self.height or UNKNOWN)

    @property
    def grid_mode(self) -> bool:
        """A gateway's reports define the grid; without any, the picture is the attached board."""
        return bool(self.rgba)

    def size(self) -> tuple:
        if not self.grid_mode:
            return (self.width or 1, self.height or 1) if self._attached_xy() else (1, 1)
        w = max([x for x, _ in self.rgba] + [(self.width or 0) - 1]) + 1
        h = max([y for _, y in self.rgba] + [(self.height or 0) - 1]) + 1
        return w, h

    def _attached_xy(self):
        """The attached board's place, if it knows it and the grid's size is known."""
        a = self.attached
        return (a["x"], a["y"]) if a and a["x"] != UNKNOWN and self.width is not None else None

    def cells(self) -> dict:
        """(x, y) -> int8 RGBA of every board heard from."""
        if self.grid_mode:
            return dict(self.rgba)
        if self.attached is None:
            return {}
        return {self._attached_xy() or (0, 0): self.attached["state"][:4]}

    def int8_array(self) -> np.ndarray:
        """RGBA [H, W, 4] as the boards hold it (int8); boards not heard from are empty."""
        w, h = self.size()
        out = np.zeros((h, w, 4), np.int8)
        for (x, y), v in self.cells().items():
            if x < w and y < h:
                out[y, x] = v
        return out

    def rgba_array(self) -> np.ndarray:
        """Premultiplied RGBA [H, W, 4] in [0, 1] units, as training sees it."""
        return self.int8_array().astype(np.float32) / 2 ** spec.STATE_FRAC_BITS

    def silent(self, now: float | None = None) -> list:
        """Boards of the grid not heard from lately (or never), in grid mode."""
        now = time.monotonic() if now is None else now
        if not self.grid_mode:
            return []
        w, h = self.size()
        return [(x, y) for y in range(h) for x in range(w)
                if now - self.heard.get((x, y), -1e18) > self.silent_after_s]

    def loss(self, target: np.ndarray) -> float:
        """Mean squared error of the RGBA picture against a target [H, W, 4] (as in training)."""
        rgba = self.rgba_array()
        if rgba.shape != target.shape:
            raise ValueError(f"the grid is {rgba.shape[1]}x{rgba.shape[0]}, the target {target.shape[1]}x{target.shape[0]}")
        return float(((rgba - target) ** 2).mean())


def _hex(text: str) -> str:
    """Lower-case hex digits only (int(' 1_0', 16) and bytes.fromhex(' a b') would take more)."""
    if not HEX.fullmatch(text):
        raise ValueError(f"not hex: {text!r:.20}")
    return text
