"""The integer cell rule's fixed constants and bit-exact primitives (docs/cell-rule.md).

Everything here is the one source of truth shared by the trainer, the integer model, the model
file and (through the model file's metadata) the generated C.
"""
CHANNELS = 16            # RGB, alpha, 12 hidden
ALPHA = 3                # index of the alpha channel
PERCEPTION = 3 * CHANNELS  # per channel: identity, Sobel-x, Sobel-y (interleaved)
STATE_FRAC_BITS = 6      # state real value = int8 / 64, range [-2, 2): RGBA always, hidden by default
STATE_FRAC_MIN = 2       # a hidden channel may trade resolution for range, down to int8 / 4 ([-32, 32))
HIDDEN_FRAC_BITS = 7     # hidden activation real value = uint8 / 128, range [0, 2)
HIDDEN_MAX = 255
SOBEL_SHIFT = 3          # Sobel sums are divided by 8 (rounded) to get back to the state scale
ALIVE_THRESHOLD = 6      # alive iff max alpha in the 3x3 neighbourhood > 6 (0.094 < 0.1 < 0.109)
WEIGHT_MAX = 127         # weights are symmetric int8: [-127, 127]
BIAS_MIN, BIAS_MAX = -32768, 32767  # biases are int16 at the accumulator's scale
EXP_MIN, EXP_MAX = 2, 14  # weight real value = int8 * 2^-exp
PALETTE_MAX = 32         # a layer with at most this many distinct weights is stored as palette indices (4 or 5 bits)
FIRE_BITS = 16           # a cell fires iff (hash >> 16) < round(fire_rate * 2^16)
GRID_MAX = 255           # boards' coordinates are one byte each, 0xFF meaning "not known": 0..254

MASK32 = 0xFFFFFFFF
HASH_MUL1 = 0x7FEB352D   # "lowbias32" (C. Wellons): a 32-bit integer hash, cheap in C
HASH_MUL2 = 0x846CA68B

DEFAULT_STATE_FRAC = (STATE_FRAC_BITS,) * CHANNELS


def seed_cell(state_frac=DEFAULT_STATE_FRAC) -> tuple:
    """The article's seed: one cell with alpha and every hidden channel at 1.0 (2^f_c in channel c's
    units), colour 0. The firmware's 'P' command plants the same (cell.c), from nca_state_frac."""
    return tuple(0 if ch < ALPHA else 1 << f for ch, f in enumerate(state_frac))


SEED_CELL = seed_cell()


def layer1_shift(w1_exp: int) -> int:
    """Right shift from the layer-1 accumulator (2^-(6+e1)) to hidden units (2^-7)."""
    return STATE_FRAC_BITS + w1_exp - HIDDEN_FRAC_BITS


def layer2_shift(w2_exp: int, state_frac: int = STATE_FRAC_BITS) -> int:
    """Right shift from the layer-2 accumulator (2^-(7+e2)) to a channel's state units (2^-f_c)."""
    return HIDDEN_FRAC_BITS + w2_exp - state_frac
