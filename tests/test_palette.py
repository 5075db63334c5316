"""Weight sharing: the trainer's palette (trainer/palette.py) and codegen's 4- and 5-bit storage of
it (docs/cell-rule.md, "Weight storage"). Whether C and AVR read it right is in test_hostsim.py and
test_avr.py (the palette rules there)."""
import numpy as np
import pytest

from codegen.build import storage
from conftest import extreme_rule, palette_rule, random_rule, unpack
from rule import spec
from trainer.nca import NCA
from trainer.palette import palettize


def test_few_values_are_plain_rounding():
    x = np.array([[-3.4, 0.5, 1.5, 126.7], [-127.2, 2.49, -0.5, 7.0]])
    assert np.array_equal(palettize(x, 16), np.clip(np.round(x), -127, 127))


def test_at_most_size_values_in_range_and_better_than_a_uniform_grid():
    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(0, 25, (64, 48)), -127, 127)
    x[0, 0], x[0, 1] = -127, 127
    for size in (2, 7, 16):
        q = palettize(x, size)
        values = np.unique(q)
        assert len(values) <= size and values.min() >= -127 and values.max() <= 127
        assert np.array_equal(q, np.round(q))
        grid = np.round(np.linspace(-127, 127, size))        # the same number of evenly spaced values
        uniform = grid[np.abs(x[..., None] - grid).argmin(-1)]
        assert ((q - x) ** 2).mean() < ((uniform - x) ** 2).mean()
    assert np.array_equal(palettize(x, 16), palettize(x.copy(), 16))   # deterministic


def test_every_weight_goes_to_its_nearest_palette_value():
    x = np.random.default_rng(1).uniform(-100, 100, 500)
    q = palettize(x, 16)
    values = np.unique(q)
    best = values[np.abs(x[:, None] - values).argmin(1)]
    assert np.all(np.abs(q - x) <= np.abs(best - x) + 1e-12)


def test_a_palette_rule_exports_what_it_was_trained_for():
    rule = NCA.random(40, 3, palette=16).export()
    assert rule.meta["palette"] == 16
    assert len(np.unique(rule.w1)) == 16 and len(np.unique(rule.w2)) == 16
    again = NCA.from_rule(rule).export()   # the float rule gives back the same integers
    assert np.array_equal(again.w1, rule.w1) and np.array_equal(again.w2, rule.w2)


@pytest.mark.parametrize("make", [lambda: palette_rule(5), lambda: palette_rule(6, hidden=37),
                                  lambda: extreme_rule(3, hidden=9), lambda: palette_rule(8, sizes=(32, 32)),
                                  lambda: palette_rule(9, hidden=37, sizes=(16, 17)),
                                  lambda: palette_rule(10, hidden=5, sizes=(30, 3))])
def test_storage_holds_the_rules_integers(make):
    rule = make()
    st = storage(rule)
    bits = tuple(4 if len(np.unique(w)) <= 16 else 5 for w in (rule.w1, rule.w2))
    assert set(st) == {"palette", "w1", "w2q", "bits"} and st["w1"].dtype == np.uint8 and st["bits"] == bits
    H, Q = rule.hidden, -(-rule.hidden // 4)
    assert st["w1"].shape == (H, 48 * bits[0] // 8) and st["w2q"].shape == (Q, 64 * bits[1] // 8)
    p1, p2 = st["palette"]
    assert len(p1) == (16 if bits == (4, 4) else 32)
    assert np.all(np.diff(p1.astype(int)) >= 0) and np.all(np.diff(p2.astype(int)) >= 0)  # ascending
    assert np.array_equal(unpack(st["w1"], p1, bits[0]), rule.w1)
    chunks = unpack(st["w2q"], p2, bits[1]).reshape(Q, spec.CHANNELS, 4)        # [q][c * 4 + k]
    assert np.array_equal(chunks.transpose(1, 0, 2).reshape(spec.CHANNELS, -1)[:, :H], rule.w2)
    assert np.all(chunks.transpose(1, 0, 2).reshape(spec.CHANNELS, -1)[:, H:] == p2[0])  # padding: index 0


def test_thirty_three_values_are_stored_as_int8():
    rule = palette_rule(7, sizes=(16, 32))
    assert "palette" in storage(rule)
    rule.meta.pop("palette")
    rule.w2[0, 0] = next(v for v in range(-126, 127) if v not in rule.w2)   # a 33rd value
    assert len(np.unique(rule.w2)) == spec.PALETTE_MAX + 1
    st = storage(rule)
    assert "palette" not in st and np.array_equal(st["w1"], rule.w1) and st["w1"].dtype == np.int8
    assert "palette" not in storage(random_rule(1))
