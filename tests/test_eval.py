"""The shipped default rule meets its quality bars (trainer/evaluate.py BARS); eval's CLI contract."""
import json
import subprocess
import sys

import pytest

from trainer.evaluate import BARS, evaluate

FLASH_WEIGHT_BUDGET = 8 * 1024  # bytes of weights+biases that leave room for the firmware in 10 KB


@pytest.fixture(scope="module")
def shipped_eval(shipped_rule):
    return evaluate(shipped_rule)


@pytest.mark.parametrize("key", list(BARS))
def test_shipped_rule_meets_bar(shipped_eval, key):
    assert shipped_eval[key] <= BARS[key], f"{key} = {shipped_eval[key]:.3e} > {BARS[key]:.0e}"


def test_shipped_rule_fits_the_cell(shipped_rule):
    r = shipped_rule
    weight_bytes = r.w1.nbytes + r.b1.nbytes + r.w2.nbytes + r.b2.nbytes
    assert weight_bytes <= FLASH_WEIGHT_BUDGET
    assert r.target.shape == (24, 24, 4) and r.meta["name"] == "lizard"


def test_eval_json_cli():
    r = subprocess.run([sys.executable, "-m", "trainer", "eval", "--json", "--runs", "2"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("growth_loss", "persist_loss", "regen_loss", "float_growth_loss"):
        assert isinstance(out[key], float) and out[key] >= 0


def test_eval_needs_a_target(tmp_path):
    p = tmp_path / "random.npz"
    subprocess.run([sys.executable, "-m", "trainer", "init", "--out", str(p), "--seed", "1"], check=True,
                   capture_output=True)
    r = subprocess.run([sys.executable, "-m", "trainer", "eval", "--model", str(p)], capture_output=True, text=True)
    assert r.returncode == 2 and "target" in r.stderr and "Traceback" not in r.stderr
