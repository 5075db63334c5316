"""The rule on an emulated ATmega328P (simavr), built with the firmware's own flags: the same
bits as the PyTorch integer model, and its exact cycle count per update."""
import numpy as np
import pytest

from avrsim import build
from avrsim.cases import int_model, neighbourhoods_from_growth, random_neighbourhoods
from conftest import extreme_rule, palette_rule, random_rule, scaled
from rule import spec

KERNELS = ["reference", "avr"]
CYCLE_BAR = 200_000


@pytest.fixture(scope="module")
def cases(shipped_rule):
    rs, rn = random_neighbourhoods(1000, 1)
    gs, gn = neighbourhoods_from_growth(shipped_rule)
    return np.concatenate([rs, gs]), np.concatenate([rn, gn]), len(gs)


@pytest.mark.parametrize("kernel", KERNELS)
def test_shipped_rule_on_avr_equals_integer_model(shipped_rule, cases, kernel):
    selves, nbrs, n_growth = cases
    assert n_growth >= 300
    out, cycles = build.run_rule(build.rule_image(shipped_rule, kernel), selves, nbrs)
    want = int_model(shipped_rule, selves, nbrs)
    bad = np.argwhere(out != want)
    assert len(bad) == 0, f"case {bad[0][0]} channel {bad[0][1]}: AVR {out[tuple(bad[0])]}, PyTorch {want[tuple(bad[0])]}"
    if kernel == "avr":
        assert cycles.max() <= CYCLE_BAR, f"{cycles.max()} cycles per update > {CYCLE_BAR}"


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("make", [lambda: random_rule(2, hidden=24, scale=4.0), lambda: extreme_rule(3, hidden=16),
                                  lambda: extreme_rule(4, hidden=36), lambda: palette_rule(5),
                                  lambda: palette_rule(6, hidden=37), lambda: scaled(palette_rule(7, hidden=20), 7),
                                  lambda: palette_rule(8, sizes=(32, 32)), lambda: palette_rule(9, hidden=37, sizes=(16, 17)),
                                  lambda: palette_rule(10, hidden=21, sizes=(32, 16))])
def test_saturating_rules_on_avr(kernel, make):
    """Both storages: int8 (the random rule) and palette indices (the others: 4-bit, 5-bit, and
    one layer of each; 37 hidden units leave a padded layer-2 chunk)."""
    rule = make()
    selves, nbrs = random_neighbourhoods(300, 2)
    out, _ = build.run_rule(build.rule_image(rule, kernel), selves, nbrs)
    assert np.array_equal(out, int_model(rule, selves, nbrs))


@pytest.mark.parametrize("sizes", [(32, 32), (16, 16)])
def test_the_articles_size_with_either_index_width_keeps_the_cycle_bar(sizes):
    """128 hidden units, every one firing (random weights and states): 5-bit indices cost more
    cycles than 4-bit ones and must stay inside the bar too."""
    rule = palette_rule(12, hidden=128, sizes=sizes)
    selves, nbrs = random_neighbourhoods(40, 3)
    out, cycles = build.run_rule(build.rule_image(rule, "avr"), selves, nbrs)
    assert np.array_equal(out, int_model(rule, selves, nbrs))
    assert cycles.max() <= CYCLE_BAR, f"{cycles.max()} cycles per update > {CYCLE_BAR}"


def test_cycle_count_is_exact_and_repeatable(shipped_rule, cases):
    selves, nbrs, _ = cases
    elf = build.rule_image(shipped_rule, "avr")
    _, a = build.run_rule(elf, selves[:50], nbrs[:50])
    _, b = build.run_rule(elf, selves[:50], nbrs[:50])
    assert np.array_equal(a, b)
    dead = (selves[:, spec.ALPHA] <= spec.ALIVE_THRESHOLD) & (nbrs[:, :, spec.ALPHA].max(1) <= spec.ALIVE_THRESHOLD)
    assert dead.any()
    _, c = build.run_rule(elf, selves[dead][:5], nbrs[dead][:5])
    assert c.max() < 1000   # a dead cell skips the network


def test_growth_cases_of_a_rule_without_a_target():
    """avrsim cycles takes any model file: without a target the growth runs on the rule's default grid."""
    rule = random_rule(5, hidden=16)
    assert rule.target is None
    selves, nbrs = neighbourhoods_from_growth(rule, n_per_step=5, steps=(1, 3))
    assert selves.shape[1:] == (16,) and nbrs.shape[1:] == (8, 16) and len(selves) == len(nbrs) >= 1
