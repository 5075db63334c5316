import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rule import modelfile, spec
from rule.files import REPO
from rule.modelfile import CellRule
from trainer.nca import NCA


def random_state_frac(seed: int) -> tuple:
    """Per-channel fraction bits: RGBA at 6, hidden channels anywhere in STATE_FRAC_MIN..6, both ends
    among them."""
    rng = np.random.default_rng(seed)
    hidden = rng.integers(spec.STATE_FRAC_MIN, spec.STATE_FRAC_BITS + 1, spec.CHANNELS - spec.ALPHA - 1)
    hidden[rng.permutation(len(hidden))[:2]] = [spec.STATE_FRAC_MIN, spec.STATE_FRAC_BITS]
    return (spec.STATE_FRAC_BITS,) * (spec.ALPHA + 1) + tuple(int(v) for v in hidden)


def random_rule(seed: int, hidden: int = 24, scale: float = 1.0, state_frac=spec.DEFAULT_STATE_FRAC) -> CellRule:
    """An untrained rule that changes states, as `trainer init` makes."""
    return NCA.random(hidden, seed, scale, state_frac=state_frac).export(meta={"name": f"test-random-{seed}"})


def scaled(rule: CellRule, seed: int) -> CellRule:
    """The same integers with per-channel state scales (random_state_frac)."""
    return dataclasses.replace(rule, state_frac=random_state_frac(seed), float_params=None)


def extreme_rule(seed: int, hidden: int = 16) -> CellRule:
    """Integers chosen directly: weights at +-127, biases at the int16 ends, smallest shifts,
    so every saturation path (Sobel, hidden, state) is hit."""
    rng = np.random.default_rng(seed)
    return CellRule(
        w1=rng.choice([-127, -1, 0, 1, 127], size=(hidden, spec.PERCEPTION)).astype(np.int8),
        b1=rng.choice([spec.BIAS_MIN, 0, spec.BIAS_MAX], size=hidden).astype(np.int16),
        w2=rng.choice([-127, 0, 127], size=(spec.CHANNELS, hidden)).astype(np.int8),
        b2=rng.choice([spec.BIAS_MIN, 0, spec.BIAS_MAX], size=spec.CHANNELS).astype(np.int16),
        w1_exp=spec.EXP_MIN, w2_exp=spec.EXP_MIN, meta={"name": f"extreme-{seed}"})


def palette_rule(seed: int, hidden: int = 20, sizes=(16, 16)) -> CellRule:
    """Weights stored as palette indices: layers 1 and 2 have exactly sizes[0] and sizes[1]
    distinct values (16: 4-bit indices, 17..32: 5-bit), -127 and 127 among them, and use every
    index; random biases and shifts."""
    rng = np.random.default_rng(seed)

    def layer(shape, size):
        values = np.concatenate([[-127, 127], rng.choice(np.arange(-126, 127), size - 2, replace=False)])
        w = rng.choice(values, size=shape)
        w.flat[rng.permutation(w.size)[:size]] = values  # every value, so every index, at least once
        return w.astype(np.int8)

    return CellRule(
        w1=layer((hidden, spec.PERCEPTION), sizes[0]), w2=layer((spec.CHANNELS, hidden), sizes[1]),
        b1=rng.integers(spec.BIAS_MIN, spec.BIAS_MAX + 1, size=hidden).astype(np.int16),
        b2=rng.integers(spec.BIAS_MIN, spec.BIAS_MAX + 1, size=spec.CHANNELS).astype(np.int16),
        w1_exp=int(rng.integers(spec.EXP_MIN, 9)), w2_exp=int(rng.integers(spec.EXP_MIN, 12)),
        meta={"name": f"palette-{seed}", "palette": max(sizes)})


def unpack(packed: np.ndarray, palette: np.ndarray, bits: int) -> np.ndarray:
    """Palette values of packed indices (docs/cell-rule.md, "Weight storage"), read back one weight at
    a time as the layout is described there, not as codegen writes it."""
    flat = packed.reshape(-1, packed.shape[-1])
    n = flat.shape[1] * 8 // bits
    idx = np.zeros((len(flat), n), int)
    for k in range(n):
        if bits == 4:
            idx[:, k] = (flat[:, k // 2] >> (4 * (k % 2))) & 15
        else:   # groups of 8 in 5 bytes: fifth bits, then nibbles
            group = flat[:, 5 * (k // 8):5 * (k // 8) + 5]
            idx[:, k] = ((group[:, 1 + (k % 8) // 2] >> (4 * (k % 2))) & 15) | (((group[:, 0] >> (k % 8)) & 1) << 4)
    return palette[idx].reshape(*packed.shape[:-1], n)


def random_states(seed: int, batch: int, height: int, width: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-128, 128, (batch, height, width, spec.CHANNELS), generator=g, dtype=torch.int8)


@pytest.fixture(scope="session")
def shipped_rule():
    return modelfile.load()


@pytest.fixture(scope="session")
def crules_shipped(shipped_rule):
    from hostsim.clib import CRule
    return CRule(shipped_rule, "shipped")


OFFLINE = ["unshare", "-n"] if shutil.which("unshare") and subprocess.run(
    ["unshare", "-n", "true"], capture_output=True).returncode == 0 else []


def pio(project: Path, *args, check=True, offline=True, **variables):
    """pio in a project copy, with no network when the machine allows (offline=False: the
    emulated grid's upload talks to it on localhost), with these environment variables set."""
    env = dict(os.environ, PLATFORMIO_DISABLE_UPGRADE_CHECK="true", PLATFORMIO_SETTING_ENABLE_TELEMETRY="no",
               **variables)
    r = subprocess.run([*(OFFLINE if offline else []), sys.executable, "-m", "platformio", *args], cwd=project, env=env,
                       capture_output=True, text=True, timeout=600)
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """A copy of the project without build output, prepared as ./setup.sh prepares it."""
    dst = tmp_path_factory.mktemp("proj") / "nca"
    shutil.copytree(REPO, dst, ignore=shutil.ignore_patterns(".git", ".pio", ".pio-core", "build", "generated",
                                                             "runs", "__pycache__", "*.egg-info", ".hypothesis"))
    subprocess.run([sys.executable, "pio/offline.py"], cwd=dst, check=True, capture_output=True)
    return dst
