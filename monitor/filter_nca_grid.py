"""PlatformIO monitor filter: `pio device monitor -e emugrid` or `-e twin` (monitor_filters = nca_grid) shows
the grid as python -m monitor does, from a board, a gateway or the emulated grid. What you type
goes to the board as usual (e.g. "G 0 0", "P 12 12", "Z 0 12 23 23")."""
import os
import sys
import time

from platformio.public import DeviceMonitorFilterBase

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from monitor import render  # noqa: E402  (PlatformIO loads this file by path)
from monitor.grid_state import GridState  # noqa: E402
from rule import cli  # noqa: E402


class NcaGrid(DeviceMonitorFilterBase):
    NAME = "nca_grid"
    EVERY_S = 0.25

    def __call__(self):
        # an emulated grid or twin says its size in platformio.ini (custom_grid_size); boards say
        # the size their rule was trained for, which a twin of another size is not
        size = None
        if self.environment:
            size = self.config.get(f"env:{self.environment}", "custom_grid_size", None)
        try:
            width, height = cli.parse_grid(size) if size else (None, None)
        except cli.UsageError:
            width = height = None
        self.grid = GridState(width, height)
        self.drawn = 0.0
        return self

    def rx(self, text):
        self.grid.feed(text.encode("ascii", errors="replace"))
        now = time.monotonic()
        if now - self.drawn < self.EVERY_S:
            return ""
        self.drawn = now
        return render.HOME + render.terminal(self.grid, now) + "\n" + render.status(self.grid, now) + render.CLEAR_BELOW

    def tx(self, text):
        return text
