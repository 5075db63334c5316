"""The integer cell rule's fixed constants and bit-exact primitives (docs/cell-rule.md).

Everything here is the one source of truth shared by the trainer, the integer model, the model
file and (through the model file's metadata) the generated C.
"""
import torch

CHANNELS = 16            # RGB, alpha, 12 hidden
ALPHA = 3                # index of the alpha channel
PERCEPTION = 3 * CHANNELS  # per channel: identity, Sobel-x, Sobel-y (interleaved)
STATE_FRAC_BITS = 6      # state real value = int8 / 64, range [-2, 2)
HIDDEN_FRAC_BITS = 7     # hidden activation real value = uint8 / 128, range [0, 2)
HIDDEN_MAX = 255
SOBEL_SHIFT = 3          # Sobel sums are divided by 8 (rounded) to get back to the state scale
ALIVE_THRESHOLD = 6      # alive iff max alpha in the 3x3 neighbourhood > 6 (0.094 < 0.1 < 0.109)
WEIGHT_MAX = 127         # weights are symmetric int8: [-127, 127]
BIAS_MIN, BIAS_MAX = -32768, 32767  # biases are int16 at the accumulator's scale
EXP_MIN, EXP_MAX = 2, 14  # weight real value = int8 * 2^-exp
FIRE_BITS = 16           # a cell fires iff (hash >> 16) < round(fire_rate * 2^16)
GRID_MAX = 255           # boards' coordinates are one byte each, 0xFF meaning "not known": 0..254

MASK32 = 0xFFFFFFFF
HASH_MUL1 = 0x7FEB352D   # "lowbias32" (C. Wellons): a 32-bit integer hash, cheap in C
HASH_MUL2 = 0x846CA68B


def layer1_shift(w1_exp: int) -> int:
    """Right shift from the layer-1 accumulator (2^-(6+e1)) to hidden units (2^-7)."""
    return STATE_FRAC_BITS + w1_exp - HIDDEN_FRAC_BITS


def layer2_shift(w2_exp: int) -> int:
    """Right shift from the layer-2 accumulator (2^-(7+e2)) to state units (2^-6)."""
    return HIDDEN_FRAC_BITS + w2_exp - STATE_FRAC_BITS


def fire_threshold(fire_rate: float) -> int:
    if not 0.0 <= fire_rate <= 1.0:
        raise ValueError(f"fire rate must be in [0, 1], got {fire_rate}")
    return round(fire_rate * (1 << FIRE_BITS))


# --- schedule hash on int64 tensors (values kept in [0, 2^32), no int64 overflow anywhere) ---

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
