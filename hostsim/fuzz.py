"""python -m hostsim fuzz: hostile bytes into every parser that reads them, for N seconds each.

- The firmware core's link and command parsers (hostsim/csrc/fuzz.c, host build with ASan and
  UBSan): random and mutated frames on every link, random command lines.
- The monitor's line parser (monitor/grid_state.py): random bytes, and valid lines mutated,
  in random chunks; it must never raise, and its grid never exceeds what boards can report.
Not a test (CI runs it for a few seconds as a smoke test); run it longer after changing a parser.
"""
import random
import subprocess
import time

from hostsim import clib
from rule import modelfile, spec

VALID_LINES = [b"H nca-cell 2 0123456789abcdef lizard 24 24", b"R 0c0b10203040",
               b"S 0010 " + b"00" * 16 + b" 0005 0001 03 04 02", b"E bad command", b"S 0001 " + b"7f" * 16 + b" 0 0 ff ff ff"]


def fuzz_core(seconds: float, seed: int) -> tuple[int, str]:
    exe = clib.build(modelfile.load(), "fuzz", kind="fuzz")
    r = subprocess.run([str(exe), str(seconds), str(seed)], capture_output=True, text=True, timeout=seconds + 120)
    return r.returncode, (r.stdout + r.stderr).strip()


def fuzz_monitor(seconds: float, seed: int) -> tuple[int, str]:
    # the one import of a later stage (monitor) from an earlier one: a developer tool, like the tests
    from monitor.grid_state import GridState
    rng = random.Random(seed)
    end, chunks, grids = time.monotonic() + seconds, 0, 0
    while time.monotonic() < end:
        g = GridState(*rng.choice([(None, None), (24, 24), (3, 2)]))
        for _ in range(200):
            if rng.random() < 0.3:
                data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(80)))
            else:
                line = bytearray(rng.choice(VALID_LINES))
                for _ in range(rng.randrange(4)):
                    i = rng.randrange(len(line))
                    line[i:i + 1] = rng.choice([b"", bytes([rng.getrandbits(8)]), b" ", b"ff", b"-1", b"99999", b"\n"])
                data = bytes(line) + b"\n"
            try:
                g.feed(data, now=float(chunks))
                w, h = g.size()
                assert 1 <= w <= spec.GRID_MAX and 1 <= h <= spec.GRID_MAX, (w, h)
                g.int8_array(), g.silent(now=float(chunks))
            except Exception as e:  # noqa: BLE001 (anything at all is a finding)
                return 1, f"monitor: {type(e).__name__}: {e} after the bytes {data!r}"
            chunks += 1
        grids += 1
    return 0, f"monitor: {chunks} chunks of hostile bytes into {grids} grids: no exception, sizes in bounds"


def main(seconds: float, seed: int) -> int:
    worst = 0
    for name, run in (("core", fuzz_core), ("monitor", fuzz_monitor)):
        code, text = run(seconds, seed)
        print(text if code == 0 else f"FOUND A PROBLEM in the {name} parser:\n{text[-3000:]}")
        worst = max(worst, code)
    return 1 if worst else 0
