"""The grid twin (twin/twin.c): the firmware's portable core on many host boards. Exact (every
rule update it made replays through the PyTorch integer model), deterministic, and its shortcut
(passes only at ticks where something can happen) changes nothing. Its faithfulness to the
simavr grid is tested in test_grid.py, beside the emulated boards."""
import numpy as np
import pytest

from avrsim.build import read_trace
from avrsim.cases import replay
from rule import boardlines, spec
from twin import build, measure

FAULTS = [(1, "0 0 G 0 0"), (1500, "0 0 P 4 4"), (3000, "corrupt 20000"), (4000, "kill 2 5"),
          (5000, "reset 4 4"), (6000, "erase 0 4 7 7"), (6500, "corrupt 0"), (7000, "7 7 P")]


def test_passes_only_where_something_can_happen_change_nothing(shipped_rule, tmp_path):
    runs = []
    for every_tick in (False, True):
        trace = tmp_path / f"{every_tick}.bin"
        lines, run = build.run_grid(shipped_rule, 8, 8, 10, FAULTS, trace=trace, every_tick=every_tick)
        runs.append((lines, trace.read_bytes(), run))
    (lines, trace, run), (lines_all, trace_all, _) = runs
    assert run["traced"] > 1000 and run["corrupted"] > 100
    assert lines == lines_all and trace == trace_all


def test_a_seed_gives_one_run(shipped_rule):
    a, _ = build.run_grid(shipped_rule, 6, 6, 4, FAULTS[:2], seed=3)
    b, _ = build.run_grid(shipped_rule, 6, 6, 4, FAULTS[:2], seed=3)
    c, _ = build.run_grid(shipped_rule, 6, 6, 4, FAULTS[:2], seed=4)
    assert a == b and a != c


def test_every_rule_update_replays_exactly(shipped_rule, tmp_path):
    """Over 100,000 updates of the shipped rule on 24x24 twin boards, with a kill, an erase, a
    reset and corruption on the way: each equals the PyTorch integer model's (python -m twin
    replay runs a million)."""
    trace = tmp_path / "updates.bin"
    script = [(1, "12 12 G 12 12"), (1500, "12 12 P 12 12"), (12000, "kill 5 12"), (16000, "erase 0 12 23 23"),
              (20000, "reset 12 13"), (22000, "corrupt 5000"), (30000, "corrupt 0")]
    _, run = build.run_grid(shipped_rule, 24, 24, 42, script, trace=trace)
    records = read_trace(trace)
    assert len(records) == run["traced"] >= 100_000
    assert len(set(zip(records["x"].tolist(), records["y"].tolist()))) == 24 * 24
    assert (records["output"][:, spec.ALPHA] > spec.ALIVE_THRESHOLD).sum() > 10_000   # measured 18,919
    for i in range(0, len(records), 50_000):
        part = records[i:i + 50_000]
        assert np.array_equal(replay(shipped_rule, part), part["output"])


def test_boards_grow_report_and_say_who_they_are(shipped_rule):
    lines, run = build.run_grid(shipped_rule, 6, 6, 5, FAULTS[:2])
    hellos = [boardlines.parse(line) for _, _, _, line in lines if line.startswith("H ")]
    assert len(hellos) == 36 and {h.rule_id for h in hellos} == {shipped_rule.content_hash()[:16]}
    reports = {(r.x, r.y) for r in (boardlines.parse(line) for _, x, y, line in lines if (x, y) == (0, 0)
                                    and line.startswith("R "))}
    assert len(reports) >= 30                        # the gateway heard the grid
    last = {(x, y): s for _, x, y, s in boardlines.statuses(lines)}
    assert sum(s.state[spec.ALPHA] > spec.ALIVE_THRESHOLD for s in last.values()) >= 20   # it grew
    assert {(s.x, s.y) for s in last.values()} == {(x, y) for x in range(6) for y in range(6)}   # coordinates


def test_staleness_counts_ages_in_the_neighbours_own_updates():
    rec = np.zeros(4, read_trace.__globals__["TRACE_RECORD"])
    alive = np.full(16, 20, np.int8)
    rec["x"], rec["y"], rec["ms"] = [1, 1, 0, 0], [0, 0, 0, 0], [10, 20, 15, 30]
    rec["output"][0] = alive                         # (1, 0) fires at 10 and 20
    rec["output"][1] = alive + 1
    rec["inputs"][2, 1 + 4] = alive                  # (0, 0) at 15 holds its east neighbour's latest: 0
    rec["inputs"][3, 1 + 4] = alive                  # at 30 the one before the latest: 1
    got = measure.staleness(rec, "both")
    assert got["orthogonal"]["count"] == 2 and got["diagonal"]["count"] == 0
    # (1, 0)'s west neighbour (0, 0) is never alive: its updates are not counted
    assert got["orthogonal"]["share"] == [0.5, 0.5, 0.0, 0.0]


@pytest.mark.parametrize("relays", ["east-west", "both"])
def test_staleness_counts_empty_slots_and_leaves_out_relays_of_dead_boards(relays):
    rec = np.zeros(5, read_trace.__globals__["TRACE_RECORD"])
    alive = np.full(16, 20, np.int8)
    rec["x"], rec["y"], rec["ms"] = [1, 0, 0, 1, 0], [0, 0, 0, 1, 1], [10, 15, 30, 40, 50]
    rec["output"][0] = rec["output"][3] = alive      # (1, 0) and (1, 1) alive
    rec["inputs"][1, 1 + 4] = alive                  # (0, 0) holds (1, 0): latest
    rec["inputs"][3, 1 + 1] = alive                  # (1, 1) holds its north (1, 0): latest
    # at 30 (0, 0) holds zeros for (1, 0) (a timeout) and for its diagonal (1, 1): (1, 0) relays it
    got = measure.staleness(rec[:4], relays)
    assert got["orthogonal"]["share"] == pytest.approx([2 / 3, 0, 0, 1 / 3]) and got["orthogonal"]["count"] == 3
    assert got["diagonal"]["count"] == 0             # (1, 1) had not updated before 30
    rec["ms"][3] = 20
    got = measure.staleness(rec[:4], relays)
    assert got["diagonal"]["share"] == [0.0, 0.0, 0.0, 1.0] and got["diagonal"]["count"] == 1
    # (0, 1) at 50: its NE (1, 0) is relayed by its east neighbour (1, 1) and, with relays both
    # ways, its north one (0, 0): counted while one of them has records, not when all are dead
    # from the start (no records)
    rec["inputs"][4, 1 + 2] = alive
    assert measure.staleness(rec, relays)["diagonal"]["count"] == 2
    without_east = np.array([0, 1, 2, 4])
    assert measure.staleness(rec[without_east], relays)["diagonal"]["count"] == (1 if relays == "both" else 0)
    assert measure.staleness(rec[[0, 4]], relays)["diagonal"]["count"] == 0


def test_serve_shows_the_twin_in_the_monitor(tmp_path):
    """python -m twin serve runs the twin in real time behind a TCP port, as the emulated grid's
    serve does; python -m monitor attaches, makes (0, 0) the gateway and plants the seed."""
    import socket
    import subprocess
    import sys
    import time
    from rule import files
    port = 4012
    server = subprocess.Popen([sys.executable, "-m", "twin", "serve", "--grid", "5x5", "--port", str(port)],
                              cwd=files.REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        m = subprocess.run([sys.executable, "-m", "monitor", f"socket://localhost:{port}", "--plain", "--grow",
                            "--grid", "5x5", "--seconds", "10", "--npz", str(tmp_path / "g.npz")],
                           capture_output=True, text=True, timeout=60, cwd=files.REPO)
        assert m.returncode == 0, m.stderr
        assert "5x5 grid: 25 boards reported" in m.stdout.splitlines()[-1]
        saved = np.load(tmp_path / "g.npz")
        assert (saved["rgba"][..., spec.ALPHA] > spec.ALIVE_THRESHOLD).sum() >= 10
    finally:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"!stop\n")
            server.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            server.kill()


def test_a_rule_without_a_target_grows_on_the_twin(tmp_path):
    """Model files need no target (trainer init writes none): the twin's grid command takes the
    rule's default grid and draws it, without a loss."""
    from conftest import random_rule
    from rule import modelfile
    from twin.__main__ import main
    path = tmp_path / "r.npz"
    modelfile.save(random_rule(4, hidden=16), path)
    out = tmp_path / "g.gif"
    assert main(["grid", "--model", str(path), "--grid", "5x4", "--emulated-seconds", "3", "--out", str(out)]) == 0
    assert out.is_file() and out.with_suffix(".png").is_file()


def test_acceptance_puts_the_grid_beside_the_integer_model(shipped_rule):
    """python -m twin acceptance: the boards' own losses (clean, 10% dead, 1% corrupted, regrown)
    beside the integer model at the matching step, fresh and with the grid's late neighbours."""
    import json
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "twin", "acceptance", "--runs", "2", "--seeds", "2", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(out) == 4 and all(80 <= row["step"] <= 240 for row in out.values())   # 11 s and 27 s at ~228 ms
    empty = float((shipped_rule.target ** 2).mean())
    for row in out.values():
        assert 0 < row["twin_min"] <= row["twin"] <= row["twin_max"] < 0.25 * empty and 0 < row["integer_model"]
    # the grid grows and regrows no slower than the integer model at the same step; at 11 s seeds
    # differ more (one of 8 grew 3x slower). It may regrow faster (0.26x over 8 seeds with rule
    # 05f4a64eff8f, 1.00x with 85e07806ca08; likely as slots can hold an erased neighbour's old state
    # until its next frame, where the models erase every slot at once: not yet traced)
    regrown, grown = out["erased at 15 s, regrown 27 s"], out["grown, 11 s"]
    assert regrown["twin"] / regrown["integer_model"] < 1.5 and grown["twin"] / grown["integer_model"] < 4
    # late neighbour states cost a clean grid little, and the model in the grid's conditions is on the same order
    for name, row in out.items():
        assert row["twin"] / row["as_late"] < 10 and (name == "erased at 15 s, regrown 27 s" or row["twin"] / row["as_late"] > 0.1)
