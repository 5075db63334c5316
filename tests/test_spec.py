"""The schedule PRNG and the integer primitives, against known answers."""
import pytest
import torch

from rule import intmodel, schedule, spec


# hash32 ("lowbias32") evaluated by hand-checkable Python integer arithmetic
HASH_TABLE = [(0, 0x00000000), (1, 0x688990C0), (2, 0xD1132181), (12345, 0x912EFCF7),
              (0xFFFFFFFF, 0x6768824A)]


@pytest.mark.parametrize("x, h", HASH_TABLE)
def test_hash32_known_answers(x, h):
    assert schedule.hash32_int(x) == h
    assert int(schedule.hash32(torch.tensor([x], dtype=torch.int64))[0]) == h


def test_hash32_tensor_matches_python_over_the_whole_range():
    g = torch.Generator().manual_seed(0)
    xs = torch.cat([torch.randint(0, 2 ** 32, (5000,), generator=g, dtype=torch.int64),
                    torch.tensor([0, 1, 2 ** 16 - 1, 2 ** 16, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1])])
    got = schedule.hash32(xs).tolist()
    assert got == [schedule.hash32_int(x) for x in xs.tolist()]


def test_fire_mask_is_the_documented_formula():
    seeds = torch.tensor([0, 7, 2 ** 32 - 1], dtype=torch.int64)
    threshold = schedule.fire_threshold(0.5)
    mask = schedule.fire_mask(seeds, 123, 5, 9, threshold)
    H = schedule.hash32_int
    for b, seed in enumerate(seeds.tolist()):
        for y in range(5):
            for x in range(9):
                h = H(H(H(seed) ^ 123) ^ (x | (y << 16)))
                assert bool(mask[b, y, x]) == ((h >> 16) < threshold)


def test_fire_rate_extremes_and_mean():
    seeds = torch.arange(4, dtype=torch.int64)
    assert not schedule.fire_mask(seeds, 0, 24, 24, schedule.fire_threshold(0.0)).any()
    assert schedule.fire_mask(seeds, 0, 24, 24, schedule.fire_threshold(1.0)).all()
    rate = torch.stack([schedule.fire_mask(seeds, t, 24, 24, 32768) for t in range(50)]).float().mean()
    assert abs(float(rate) - 0.5) < 0.01
    assert schedule.fire_threshold(0.5) == 32768
    with pytest.raises(ValueError, match="fire rate"):
        schedule.fire_threshold(1.5)


def test_schedule_differs_between_steps_and_seeds():
    a = schedule.fire_mask(torch.tensor([1]), 0, 24, 24, 32768)
    assert not torch.equal(a, schedule.fire_mask(torch.tensor([1]), 1, 24, 24, 32768))
    assert not torch.equal(a, schedule.fire_mask(torch.tensor([2]), 0, 24, 24, 32768))


# round_shift(v, k) = floor((v + 2^(k-1)) / 2^k): nearest, ties toward +infinity
ROUNDING_TABLE = [  # (v, k, expected)
    (-6, 2, -1), (-5, 2, -1), (-3, 2, -1), (-2, 2, 0), (-1, 2, 0), (0, 2, 0), (1, 2, 0), (2, 2, 1),
    (5, 2, 1), (6, 2, 2), (-1, 1, 0), (-3, 1, -1), (3, 1, 2), (-12, 3, -1), (-13, 3, -2), (12, 3, 2),
    (-(2 ** 30), 10, -(2 ** 20)), (2 ** 30 - 1, 10, 2 ** 20),
]


@pytest.mark.parametrize("v, k, expected", ROUNDING_TABLE)
def test_round_shift_known_answers(v, k, expected):
    assert int(intmodel.round_shift(torch.tensor([v], dtype=torch.int64), k)[0]) == expected


def test_shifts_from_exponents():
    assert spec.layer1_shift(7) == 6 and spec.layer2_shift(7) == 8
    assert spec.layer1_shift(spec.EXP_MIN) >= 1  # every allowed exponent gives a valid shift
