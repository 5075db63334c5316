"""The generated C equals the PyTorch integer model bit for bit."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from conftest import extreme_rule, palette_rule, random_rule, random_state_frac, scaled
from hostsim import clib, grids
from hostsim.__main__ import main as hostsim_main
from reference import ScalarRule
from rule import intmodel, schedule, spec

RULES = {"random": lambda: random_rule(1), "random-large": lambda: random_rule(2, scale=4.0),
         "extreme": lambda: extreme_rule(3), "extreme-wide": lambda: extreme_rule(4, hidden=200),
         "palette": lambda: palette_rule(5), "palette-odd": lambda: palette_rule(6, hidden=37),
         # 5-bit indices: both layers, or one (layer 2 with a padded chunk)
         "palette-5bit": lambda: palette_rule(8, sizes=(32, 32)),
         "palette-mixed": lambda: palette_rule(9, hidden=37, sizes=(16, 17)),
         # per-channel state scales (each layer-2 shift and the seed its own)
         "scaled-random": lambda: random_rule(7, scale=3.0, state_frac=random_state_frac(7)),
         "scaled-extreme": lambda: scaled(extreme_rule(8), 8)}


@pytest.fixture(scope="module")
def crules(shipped_rule):
    rules = {k: f() for k, f in RULES.items()}
    rules["shipped"] = shipped_rule
    return {k: (r, clib.CRule(r, k)) for k, r in rules.items()}


def compare(rule, crule, start, seed, steps, damage_at=None, rect=None):
    c = clib.CGrid(crule, start, seed)
    r = intmodel.IntRule(rule)
    s = torch.from_numpy(start.copy())[None]
    seeds = torch.tensor([seed])
    for t in range(steps):
        if t == damage_at:
            grids.erase(c.state, rect)
            s = torch.from_numpy(grids.erase(s[0].numpy(), rect))[None]
        s = intmodel.step(r, s, seeds, t, c.threshold)
        assert np.array_equal(c.step(t), s[0].numpy()), f"step {t}"
    return c.state


@pytest.mark.parametrize("shape", [(24, 24), (17, 9), (1, 12), (12, 1)])
@pytest.mark.parametrize("seed", [0, 12345])
def test_shipped_rule_grows_identically(crules, shape, seed):
    rule, crule = crules["shipped"]
    w, h = shape
    final = compare(rule, crule, grids.seeded(w, h), seed, 1000)
    if shape == (24, 24):
        assert (final[..., spec.ALPHA] > spec.ALIVE_THRESHOLD).sum() > 50  # it really grew


@pytest.mark.parametrize("name", list(RULES))
@pytest.mark.parametrize("shape", [(10, 10), (13, 5), (1, 9)])
def test_random_and_extreme_rules_from_random_states(crules, name, shape):
    rule, crule = crules[name]
    compare(rule, crule, grids.random_grid(*shape, seed=7), 99, 1000)


def test_growth_with_damage(crules):
    rule, crule = crules["shipped"]
    compare(rule, crule, grids.seeded(24, 24), 5, 1000, damage_at=200, rect=(0, 0, 12, 24))
    compare(rule, crule, grids.seeded(24, 24, at=(3, 20)), 6, 1000, damage_at=300, rect=(5, 5, 19, 19))


def test_hash_in_c(crules):
    _, crule = crules["random"]
    for x in (0, 1, 2, 12345, 2 ** 32 - 1, 0xDEADBEEF):
        assert crule.hash32(x) == schedule.hash32_int(x)


neighbourhoods = st.tuples(arrays(np.int8, (16,)), arrays(np.int8, (8, 16)))


@settings(max_examples=300, deadline=None)
@given(rule_name=st.sampled_from(list(RULES) + ["shipped"]), cells=st.lists(neighbourhoods, min_size=1, max_size=8),
       alive_bias=st.booleans())
def test_single_cell_updates_property(crules, rule_name, cells, alive_bias):
    rule, crule = crules[rule_name]
    selves = np.stack([c[0] for c in cells])
    nbrs = np.stack([c[1] for c in cells])
    if alive_bias:  # most random alphas are alive anyway; this also covers all-dead neighbourhoods
        nbrs[..., spec.ALPHA] = np.minimum(nbrs[..., spec.ALPHA], spec.ALIVE_THRESHOLD)
    got = crule.fire(selves, nbrs)
    want = intmodel.fire_cells(intmodel.IntRule(rule), torch.from_numpy(selves), torch.from_numpy(nbrs)).numpy()
    assert np.array_equal(got, want)
    ref = ScalarRule(rule)
    nbr = {(x - 1, y - 1): nbrs[0, k].tolist() for k, (y, x) in enumerate(intmodel.NEIGHBOUR_ORDER)}
    nbr[(0, 0)] = selves[0].tolist()
    assert got[0].tolist() == ref.fire(lambda dx, dy: nbr[(dx, dy)])


@pytest.mark.parametrize("name", ["extreme", "random-large", "scaled-extreme"])
def test_sanitized_equivalence_run(crules, name):
    """-fsanitize=undefined,address build, 1000 steps, every state compared."""
    rule, _ = crules[name]
    exe = clib.build(rule, name, kind="sanitized")
    w, h, seed, steps = 9, 7, 3, 1000
    start = grids.random_grid(w, h, seed=1)
    r = subprocess.run([str(exe), str(w), str(h), str(seed), "0", str(steps), "32768"], input=start.tobytes(),
                       capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    assert not r.stderr
    states = np.frombuffer(r.stdout, np.int8).reshape(steps, h, w, 16)
    s, ir = torch.from_numpy(start)[None], intmodel.IntRule(rule)
    for t in range(steps):
        s = intmodel.step(ir, s, torch.tensor([seed]), t, 32768)
        assert np.array_equal(states[t], s[0].numpy()), f"step {t}"


def test_check_cli_identical(capsys):
    assert hostsim_main(["check", "--steps", "50", "--quiet", "--seed", "4"]) == 0
    assert capsys.readouterr().out.startswith("identical: 50 steps x 24x24 cells x 16 channels")


def test_check_cli_reports_the_first_difference(monkeypatch, capsys):
    real = intmodel.step

    def off_by_one_at_step_7(r, s, seeds, t, threshold):
        out = real(r, s, seeds, t, threshold)
        if t == 7:
            out = out.clone()
            out[0, 12, 11, 5] += 1
        return out

    monkeypatch.setattr(intmodel, "step", off_by_one_at_step_7)
    assert hostsim_main(["check", "--steps", "20", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT at step 7: cell (x=11, y=12) channel 5" in out


@pytest.mark.parametrize("args, words", [
    (["--grid", "24by24"], "--grid"), (["--seed-at", "30,1"], "--seed-at"),
    (["--damage-at", "5", "--damage-rect", "3,3,2,9"], "--damage-rect"), (["--fire-rate", "2"], "fire rate"),
    (["--model", "/nonexistent.npz"], "no such file")])
def test_check_cli_bad_options(capsys, args, words):
    assert hostsim_main(["check", "--steps", "1", "--quiet", *args]) == 2
    assert words in capsys.readouterr().err


def test_run_writes_pictures(tmp_path):
    out = tmp_path / "g.gif"
    r = subprocess.run([sys.executable, "-m", "hostsim", "run", "--steps", "60", "--damage-at", "40",
                        "--out", str(out), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.is_file() and out.with_suffix(".png").is_file() and "loss vs target" in r.stdout
