"""The grid's acceptance, end to end: the default rule's 24x24 grid, seeded and damaged from the
host through the gateway board's USB serial, measured from what the monitor receives there.

Run on the grid twin (the firmware's portable core on host boards, twin/twin.c: seconds); the
same runs on the emulated grid (every board's real image in simavr, wired pin to pin: about 40
minutes on 2 cores) with NCA_SIMAVR_GRID=1. The real image on simavr is always tested here on an
8x8 grid, where the twin must agree with it (test_the_twin_is_faithful_to_the_emulated_grid),
and in the board tests of test_firmware.py."""
import copy
import functools
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from avrsim import build as avrsim
from avrsim.build import read_trace
from avrsim.cases import replay
from conftest import pio
from monitor.grid_state import GridState
from rule import boardlines, spec
from twin import build as twin
from twin import measure
from twin.measure import boards_own

BACKENDS = ["twin"] + (["simavr"] if os.environ.get("NCA_SIMAVR_GRID") else [])

BAR = 5e-3                       # loss against the target, from the monitor's picture (docs/grid.md)
GATEWAY = (12, 12)               # the USB cable on the middle board: 4 links in, 24 hops at most
PLANT_MS = 1500
GROWN_MS = 11000                 # growth, plus the time reports take to reach the gateway
ERASE_MS = 15000                 # persisted until here; then the bottom half is erased
REGROWN_MS = 27000
DEAD_SHARE, CORRUPT_PPM = 0.10, 10_000
HEARD_MS = 20000                 # with 1% of link bytes corrupted the monitor hears every board by then


def monitor_views(lines, size, times_ms) -> list:
    """What a monitor attached to the gateway had assembled at each of those emulated times."""
    g, views, times = GridState(*size), [], sorted(times_ms)
    for ms, x, y, line in lines + [(10 ** 9, *GATEWAY, "")]:
        while times and ms > times[0]:
            times.pop(0)
            views.append(copy.deepcopy(g))
        if (x, y) == GATEWAY:
            g.feed_line(line, now=ms / 1000)
    return views


def to_gateway(ms, text):
    return ms, f"{GATEWAY[0]} {GATEWAY[1]} {text}"


@pytest.fixture(scope="module")
def images(project):
    pio(project, "run", "-e", "emugrid")
    pio(project, "run", "-e", "emugrid_debug")
    return {env: project / ".pio" / "build" / env / "program.elf" for env in ("emugrid", "emugrid_debug")}


@pytest.fixture(scope="module")
def size(shipped_rule):
    return shipped_rule.target.shape[1], shipped_rule.target.shape[0]


@pytest.fixture(scope="module", params=BACKENDS)
def run_grid(request, shipped_rule):
    """run_grid(width, height, seconds, script, trace=None) on the twin or the simavr grid."""
    if request.param == "twin":
        return lambda *a, **k: twin.run_grid(shipped_rule, *a, **k)
    elf = request.getfixturevalue("images")["emugrid"]
    return lambda *a, **k: avrsim.run_grid(elf, *a, **k)


def grow_script(size):
    return [to_gateway(1, f"G {GATEWAY[0]} {GATEWAY[1]}"), to_gateway(PLANT_MS, f"P {size[0] // 2} {size[1] // 2}")]


def speed(name, run, size):
    print(f"\n{name}: {run['emulated_s']:.1f} s of {size[0]}x{size[1]} boards in {run['wall_s']:.1f} s "
          f"on {run['threads']:.0f} threads: {run['emulated_s'] / max(run['wall_s'], 0.05):.3g}x real time")


def test_grows_persists_and_regrows_after_half_is_erased(run_grid, size, shipped_rule):
    erase = to_gateway(ERASE_MS, f"Z 0 {size[1] // 2} {size[0] - 1} {size[1] - 1}")
    lines, run = run_grid(*size, REGROWN_MS / 1000, grow_script(size) + [erase])
    speed("acceptance run", run, size)
    after = list(range(ERASE_MS + 500, REGROWN_MS, 500))
    grown, persisted, *damaged, regrown = monitor_views(lines, size, [GROWN_MS, ERASE_MS, *after, REGROWN_MS])
    target = shipped_rule.target
    losses = {"grown": grown.loss(target), "persisted": persisted.loss(target),
              "worst after the erase": max(v.loss(target) for v in damaged), "regrown": regrown.loss(target)}
    print("  loss from the monitor's picture: " + ", ".join(f"{k} {v:.2e}" for k, v in losses.items()))
    own = {k: float(((boards_own(lines, size, ms) / 2 ** spec.STATE_FRAC_BITS - target) ** 2).mean())
           for k, ms in (("grown", GROWN_MS), ("persisted", ERASE_MS), ("regrown", REGROWN_MS))}
    print("  loss of the boards' own states: " + ", ".join(f"{k} {v:.2e} (picture / own {losses[k] / v:.2f})"
                                                         for k, v in own.items()))
    # most boards have reported through the gateway (504 of 576 at 11 s when first measured; the rest
    # are empty boards at the edges, whose reports wait behind the changing ones)
    assert len(grown.rgba) >= 0.8 * size[0] * size[1]
    assert losses["grown"] <= BAR and losses["persisted"] <= BAR and losses["regrown"] <= BAR
    # the monitor saw the damage (it regrows from the cut while the reports come in)
    assert losses["worst after the erase"] > 3 * losses["persisted"]   # measured 4.1x
    # the erase reached exactly the bottom half: a board prints an S line without a new fire when
    # a command clears it (only boards inside the rectangle do); every living board there did
    assert erased_boards(lines, size, ERASE_MS) == "exactly the bottom half"


def erased_boards(lines, size, erase_ms) -> str:
    """Which boards the erase command at erase_ms cleared, from their S lines; a description
    of what was wrong, or "exactly the bottom half"."""
    bottom = {(x, y) for x in range(size[0]) for y in range(size[1] // 2, size[1])}
    zero = bytes(spec.CHANNELS)
    before, fires_before, on_command = {}, {}, {}
    for ms, x, y, s in boardlines.statuses(lines):
        fires, state = s.fires, s.state.tobytes()
        if ms < erase_ms:
            before[(x, y)] = state
        elif ms < erase_ms + 3000 and fires_before.get((x, y)) == fires:
            on_command.setdefault((x, y), state)
        fires_before[(x, y)] = fires
    living = {k for k, state in before.items() if state != zero}
    if len(living & bottom) <= 50:
        return f"only {len(living & bottom)} living boards in the bottom half before the erase"
    problems = [f"{what}: {sorted(boards)[:10]}" for what, boards in [
        ("living boards in the bottom half the command never reached", living & bottom - set(on_command)),
        ("boards outside the bottom half that took the command", set(on_command) - bottom),
        ("boards the command reached but did not clear", {k for k, s in on_command.items() if s != zero})] if boards]
    return "; ".join(problems) or "exactly the bottom half"


@pytest.mark.parametrize("fault", ["1% of link bytes corrupted", "10% of boards dead"])
def test_still_grows_with(fault, run_grid, size, shipped_rule):
    """The grid's loss is taken from every board's own USB serial (the emulator has them all) at
    11 s; under corruption the run goes on to 20 s, by which the monitor must have heard every
    board (576 on both the twin and simavr; 570 with reports every 2-4 s, 252 before reports
    were acknowledged hop by hop) and its picture be within 1.5x of the boards' own loss."""
    rng = np.random.default_rng(5)
    spare = {GATEWAY, (size[0] // 2, size[1] // 2)}
    cells = [(x, y) for y in range(size[1]) for x in range(size[0]) if (x, y) not in spare]
    dead = set()
    if fault.endswith("dead"):
        dead = {cells[i] for i in rng.choice(len(cells), round(DEAD_SHARE * size[0] * size[1]), replace=False)}
        faults = [(1, f"kill {x} {y}") for x, y in sorted(dead)]
    else:
        faults = [(1, f"corrupt {CORRUPT_PPM}")]
    seconds = (GROWN_MS if dead else HEARD_MS) / 1000
    lines, run = run_grid(*size, seconds, grow_script(size) + faults)
    speed(f"{fault} run", run, size)
    share = run["corrupted"] / run["link_bytes"]
    bad = sum(s.bad for _, _, _, s in boardlines.statuses(lines))
    living = np.array([[(x, y) not in dead for x in range(size[0])] for y in range(size[1])])
    target = shipped_rule.target
    empty = float((target ** 2).mean())
    at = {}
    for ms in sorted({GROWN_MS, int(seconds * 1000)}):
        error = (boards_own(lines, size, ms) / 2 ** spec.STATE_FRAC_BITS - target) ** 2
        seen = monitor_views(lines, size, [ms])[0]
        at[ms] = dict(loss=float(error.mean()), living=float(error[living].mean()), heard=len(seen.rgba),
                      picture=seen.loss(target))
        print(f"  at {ms / 1000:.0f} s: loss {at[ms]['loss']:.2e} (dead boards read as empty), {at[ms]['living']:.2e} "
              f"on the living boards (empty grid {empty:.2e}); the monitor heard from {at[ms]['heard']} boards, "
              f"loss of its picture {at[ms]['picture']:.2e} ({at[ms]['picture'] / at[ms]['loss']:.2f}x the boards' own)")
    print(f"  {share:.2%} of {run['link_bytes']:.0f} link bytes corrupted, {len(dead)} boards dead")
    # it must still grow; the loss it reached is in docs/grid.md
    assert at[GROWN_MS]["living"] < 0.25 * empty
    if dead:
        assert share == 0 and not dead & set(monitor_views(lines, size, [GROWN_MS])[0].rgba)   # dead boards never report
    else:
        assert 0.008 < share < 0.012 and bad > 100         # the CRC caught the corruption
        # every board heard in spite of the noise, the picture within 1.5x of the boards' own loss
        assert at[HEARD_MS]["heard"] == size[0] * size[1]
        assert at[HEARD_MS]["picture"] <= 1.5 * at[HEARD_MS]["loss"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_update_of_a_debug_build_equals_the_pytorch_integer_model(backend, size, shipped_rule, tmp_path,
                                                                      request):
    if backend == "twin":
        run_grid = functools.partial(twin.run_grid, shipped_rule)
    else:
        run_grid = functools.partial(avrsim.run_grid, request.getfixturevalue("images")["emugrid_debug"])
    trace = tmp_path / "updates.bin"
    _, run = run_grid(*size, 3.0, [(1, f"{size[0] // 2} {size[1] // 2} P")], trace=trace)
    speed("trace run", run, size)
    records = read_trace(trace)
    assert len(records) == run["traced"] > 5000
    assert len(set(zip(records["x"].tolist(), records["y"].tolist()))) == size[0] * size[1]
    alive = records["output"][:, spec.ALPHA] > spec.ALIVE_THRESHOLD
    assert alive.sum() > 500                               # the pattern grew during the trace
    want = replay(shipped_rule, records)
    print(f"  {len(records)} updates ({int(alive.sum())} alive) replayed: "
          f"{int((want == records['output']).all(axis=1).sum())} identical")
    assert np.array_equal(want, records["output"])


FAITHFUL_SIZE, FAITHFUL_SCRIPT = (8, 8), [(1000, "4 4 P"), (8000, "erase 0 4 7 7")]


def grid_figures(lines, records, target) -> dict:
    """What the twin must reproduce of the emulated grid: firing interval, neighbour-state age at
    firing, frames per board, the boards' own loss (against the target's centre) at 6 s and 16 s."""
    last = {}
    for _, x, y, s in boardlines.statuses(lines):
        last[(x, y)] = s
    w, h = FAITHFUL_SIZE
    y0, x0 = (target.shape[0] - h) // 2, (target.shape[1] - w) // 2
    loss = {}
    for ms in (6000, 16000):
        own = boards_own(lines, FAITHFUL_SIZE, ms) / 2 ** spec.STATE_FRAC_BITS
        loss[ms] = float(((own - target[y0:y0 + h, x0:x0 + w]) ** 2).mean())
    return dict(interval=measure.firing_interval_ms(records),
                staleness=measure.staleness(records, twin.firmware_relays()),
                good=float(np.mean([s.good for s in last.values()])), bad=float(np.mean([s.bad for s in last.values()])),
                loss=loss, updates=len(records))


def test_the_twin_is_faithful_to_the_emulated_grid(images, shipped_rule, tmp_path):
    """The same script (seed at 1 s, bottom half erased at 8 s, 16 s) on 8x8 boards: the debug
    image in simavr (every update traced and replayed: the real image's rule is exact) and the
    twin agree on the firing interval (5%), the age of neighbours' states at firing (0.05 per
    bin), frames per board (10%) and the loss at 6 s and 16 s (2x). docs/grid.md has the figures."""
    figures = {}
    for name in ("simavr", "twin"):
        trace = tmp_path / f"{name}.bin"
        if name == "simavr":
            lines, run = avrsim.run_grid(images["emugrid_debug"], *FAITHFUL_SIZE, 16, FAITHFUL_SCRIPT, trace=trace)
        else:
            lines, run = twin.run_grid(shipped_rule, *FAITHFUL_SIZE, 16, FAITHFUL_SCRIPT, trace=trace)
        records = read_trace(trace)
        figures[name] = grid_figures(lines, records, shipped_rule.target)
        print(f"\n{name}: {run['emulated_s']:.0f} s in {run['wall_s']:.1f} s: {figures[name]}")
        if name == "simavr":
            assert np.array_equal(replay(shipped_rule, records), records["output"])
    a, t = figures["simavr"], figures["twin"]
    assert a["updates"] > 3000 and abs(t["interval"] / a["interval"] - 1) < 0.05
    for kind in ("orthogonal", "diagonal"):
        assert np.abs(np.subtract(t["staleness"][kind]["share"], a["staleness"][kind]["share"])).max() < 0.05, kind
    assert abs(t["good"] / a["good"] - 1) < 0.10 and a["bad"] == t["bad"] == 0
    for ms in (6000, 16000):
        assert 0.5 < t["loss"][ms] / a["loss"][ms] < 2, ms


def _wait_for(port, seconds=20):
    for _ in range(int(seconds * 10)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def test_upload_flashes_the_emulated_grid_and_the_monitor_attaches(project, tmp_path):
    """pio run -e emugrid -t upload starts the emulated grid (here 4x4, through custom_grid_size)
    or reflashes the running one; python -m monitor socket://localhost:4000 shows it."""
    ini = project / "platformio.ini"
    text = ini.read_text()
    ini.write_text(text.replace("custom_grid_size = 24x24", "custom_grid_size = 4x4"))
    try:
        r = pio(project, "run", "-e", "emugrid", "-t", "upload", offline=False)
        assert "started the emulated grid" in r.stdout and _wait_for(4000)
        m = subprocess.run([sys.executable, "-m", "monitor", "socket://localhost:4000", "--plain", "--grow",
                            "--grid", "4x4", "--seconds", "15", "--npz", str(tmp_path / "g.npz")],
                           capture_output=True, text=True, timeout=60, cwd=project)
        assert m.returncode == 0, m.stderr
        assert "4x4 grid: 16 boards reported" in m.stdout.splitlines()[-1]
        saved = np.load(tmp_path / "g.npz")
        assert saved["rgba"].shape == (4, 4, 4) and (saved["rgba"][..., 3] > spec.ALIVE_THRESHOLD).sum() >= 8
        r = pio(project, "run", "-e", "emugrid", "-t", "upload", offline=False)
        assert "flashed" in r.stdout and "into the emulated grid" in r.stdout
    finally:
        ini.write_text(text)
        subprocess.run([sys.executable, "-m", "avrsim", "stop"], cwd=project, capture_output=True)


def test_upload_starts_the_twin_and_the_monitor_attaches(project, tmp_path):
    """pio run -e twin -t upload (re)starts a twin of the rule pio run built (here 5x5, through
    custom_grid_size) on port 4001; the monitor shows it."""
    ini = project / "platformio.ini"
    text = ini.read_text()
    ini.write_text(text.replace("custom_grid_size = 64x64", "custom_grid_size = 5x5"))
    try:
        for _ in range(2):   # the second upload replaces the running twin
            r = pio(project, "run", "-e", "twin", "-t", "upload", offline=False)
            assert "started a grid twin of lizard" in r.stdout and _wait_for(4001)
        m = subprocess.run([sys.executable, "-m", "monitor", "socket://localhost:4001", "--plain", "--grow",
                            "--grid", "5x5", "--seconds", "10"], capture_output=True, text=True, timeout=60, cwd=project)
        assert m.returncode == 0, m.stderr
        assert "5x5 grid: 25 boards reported" in m.stdout.splitlines()[-1]
    finally:
        ini.write_text(text)
        subprocess.run([sys.executable, "-m", "avrsim", "stop", "--port", "4001"], cwd=project, capture_output=True)
