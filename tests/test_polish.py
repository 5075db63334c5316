"""trainer polish: palette values moved by +-1, kept only where the check gets better."""
import subprocess
import sys

import numpy as np
import pytest

from conftest import palette_rule
from rule import modelfile, spec
from rule.modelfile import CellRule
from trainer import evaluate
from trainer.__main__ import main as trainer_main
from trainer.polish import moved, moves, polish


def test_a_move_changes_one_cluster_or_one_bias_and_keeps_the_palette():
    rule = palette_rule(3)
    weight_moves, bias_moves = 0, 0
    for layer, key, new in moves(rule):
        after = moved(rule, layer, key, new)
        assert (after.b1 == rule.b1).all() and after.w1_exp == rule.w1_exp and after.w2_exp == rule.w2_exp
        if layer == "b2":
            bias_moves += 1
            changed = after.b2 != rule.b2
            assert changed.sum() == 1 and changed[key] and spec.BIAS_MIN <= new <= spec.BIAS_MAX
            assert abs(int(after.b2[key]) - int(rule.b2[key])) == 1 << max(0, rule.shift2[key] - 1)  # half a state unit
            assert (after.w1 == rule.w1).all() and (after.w2 == rule.w2).all()
            continue
        weight_moves += 1
        w = getattr(rule, layer)
        assert abs(new) <= spec.WEIGHT_MAX and new not in w and key in w
        changed = getattr(after, layer) != w
        assert (changed == (w == key)).all() and (getattr(after, layer)[changed] == new).all()
        assert len(np.unique(getattr(after, layer))) == len(np.unique(w))      # still 16 values: 4-bit indices
        other = "w2" if layer == "w1" else "w1"
        assert (getattr(after, other) == getattr(rule, other)).all() and (after.b2 == rule.b2).all()
    # -127 and 127 can only move inwards, and only where that value is free; a bias at its limit one way
    assert 0 < weight_moves <= 2 * 2 * spec.PALETTE_MAX - 2
    assert spec.CHANNELS <= bias_moves <= 2 * spec.CHANNELS


def test_polish_keeps_only_moves_that_beat_the_check_by_min_gain():
    rule = palette_rule(4)
    goal = np.sort(np.unique(rule.w2)) + 3        # a made-up check: w2's values 3 higher is best

    calls = []

    def score(r, to_beat):
        calls.append(r)
        return 1.0 + float(np.abs(np.sort(np.unique(r.w2)) - goal).sum())

    polished, kept, start = polish(rule, score, sweeps=10, min_gain=0.01, progress=False)
    assert start == score(rule, np.inf) and kept
    best = start
    for layer, value, new, s in kept:
        assert layer == "w2" and new == value + 1 and s < best * 0.99
        best = s
    assert score(polished, np.inf) == best < start
    assert (polished.w1 == rule.w1).all()

    step = 1 << max(0, rule.shift2[0] - 1)
    goal_b2 = int(rule.b2[0]) - 3 * step            # another: channel 0's bias 1.5 state units lower

    def bias_score(r, to_beat):
        return 1.0 + abs(int(r.b2[0]) - goal_b2) / step
    polished, kept, start = polish(rule, bias_score, sweeps=10, progress=False)
    assert [(m[0], m[1], m[2]) for m in kept] == [("b2", 0, goal_b2 + 2 * step), ("b2", 0, goal_b2 + step),
                                                  ("b2", 0, goal_b2)]    # one a sweep: +-, never both
    assert (polished.w1 == rule.w1).all() and (polished.w2 == rule.w2).all() and polished.b2[0] == goal_b2

    def never_better(r, to_beat):
        calls.append(r)
        return 1.0
    calls.clear()
    same, kept, start = polish(rule, never_better, sweeps=5, progress=False)
    assert same is rule and kept == [] and start == 1.0
    assert len(calls) == 1 + len(list(moves(rule)))      # one sweep, then it stops


def small_rule(tmp_path) -> str:
    """A rule with three weight values per layer on an 8x8 picture: few moves, quick checks."""
    rng = np.random.default_rng(2)
    hidden = 6
    target = np.zeros((8, 8, 4), np.float32)
    target[2:6, 2:6] = [0.8, 0.4, 0.1, 1.0]
    rule = CellRule(w1=rng.choice([-20, 0, 20], (hidden, spec.PERCEPTION)).astype(np.int8),
                    b1=rng.integers(0, 400, hidden).astype(np.int16),
                    w2=rng.choice([-3, 1, 4], (spec.CHANNELS, hidden)).astype(np.int8),
                    b2=np.zeros(spec.CHANNELS, np.int16), w1_exp=6, w2_exp=6,
                    meta={"name": "small", "palette": 16}, target=target)
    path = tmp_path / "small.npz"
    modelfile.save(rule, path)
    return str(path)


def test_polish_cli_writes_a_better_rule_and_says_what_moved(tmp_path, monkeypatch, capsys):
    # the real check on shorter runs (steps 20 / 60 / +30 instead of 200 / 2,000 / +300): quick
    for name, steps in (("GROWTH_STEPS", 20), ("PERSIST_STEPS", 60), ("REGEN_STEPS", 30)):
        monkeypatch.setattr(evaluate, name, steps)
    src, out = small_rule(tmp_path), tmp_path / "polished.npz"
    assert trainer_main(["polish", "--model", src, "--out", str(out), "--sweeps", "2", "--no-eval", "--quiet"]) == 0
    assert "moves kept" in capsys.readouterr().out
    before, after = modelfile.load(src), modelfile.load(out)
    record = after.meta["polish"]
    assert record["from"] == before.content_hash()[:12]
    start, end = record["check"]
    assert start == evaluate.check_score(before) and end == evaluate.check_score(after)
    assert end <= start
    replay = before
    for layer, value, new in record["moves"]:
        replay = moved(replay, layer, value, new)
    assert (replay.w1 == after.w1).all() and (replay.w2 == after.w2).all() and (replay.b2 == after.b2).all()
    assert (after.b1 == before.b1).all()
    assert record["moves"] and end < start      # this rule has moves that help (a random rule is far from its picture)


@pytest.mark.parametrize("args, field", [(["--sweeps", "0"], "--sweeps"), (["--min-gain", "1"], "--min-gain"),
                                         (["--runs", "0"], "--runs")])
def test_polish_cli_rejects_bad_settings(tmp_path, args, field):
    r = subprocess.run([sys.executable, "-m", "trainer", "polish", "--out", str(tmp_path / "x.npz")] + args,
                       capture_output=True, text=True)
    assert r.returncode == 2 and field in r.stderr and "Traceback" not in r.stderr


def test_polish_needs_a_target(tmp_path):
    p = tmp_path / "random.npz"
    subprocess.run([sys.executable, "-m", "trainer", "init", "--out", str(p), "--seed", "1"], check=True,
                   capture_output=True)
    r = subprocess.run([sys.executable, "-m", "trainer", "polish", "--model", str(p), "--out", str(tmp_path / "y.npz")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "target" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "y.npz").exists()
