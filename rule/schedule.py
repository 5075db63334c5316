"""The update schedule: which cells fire at a step, the same on the host (here, on int64 tensors
whose values stay in [0, 2^32), so int64 never overflows) and in C (nca_schedule.h)."""
import torch

from rule.spec import FIRE_BITS, HASH_MUL1, HASH_MUL2, MASK32


def fire_threshold(fire_rate: float) -> int:
    if not 0.0 <= fire_rate <= 1.0:
        raise ValueError(f"fire rate must be in [0, 1], got {fire_rate}")
    return round(fire_rate * (1 << FIRE_BITS))


def _mul32(a: torch.Tensor, c: int) -> torch.Tensor:
    """(a * c) mod 2^32 with a < 2^32, computed in 16-bit halves so int64 never overflows."""
    lo = a * (c & 0xFFFF)
    hi = ((a * (c >> 16)) & 0xFFFF) << 16
    return (lo + hi) & MASK32


def hash32(x: torch.Tensor) -> torch.Tensor:
    x = x ^ (x >> 16)
    x = _mul32(x, HASH_MUL1)
    x = x ^ (x >> 15)
    x = _mul32(x, HASH_MUL2)
    return x ^ (x >> 16)


def fire_mask(seeds: torch.Tensor, step: int, height: int, width: int, threshold: int) -> torch.Tensor:
    """Which cells fire at `step`: bool [B, H, W] for int64 schedule seeds [B].

    h = hash32(hash32(hash32(seed) ^ step) ^ (x | y << 16)); fire iff (h >> 16) < threshold.
    """
    dev = seeds.device
    s = hash32(hash32(seeds.to(torch.int64) & MASK32) ^ (step & MASK32))
    ys = torch.arange(height, device=dev, dtype=torch.int64).view(height, 1)
    xs = torch.arange(width, device=dev, dtype=torch.int64).view(1, width)
    xy = xs | (ys << 16)
    h = hash32(s.view(-1, 1, 1) ^ xy)
    return (h >> FIRE_BITS) < threshold


def hash32_int(x: int) -> int:
    """Plain-Python reference of hash32, for known-answer tests and docs."""
    x &= MASK32
    x ^= x >> 16
    x = (x * HASH_MUL1) & MASK32
    x ^= x >> 15
    x = (x * HASH_MUL2) & MASK32
    return x ^ (x >> 16)
