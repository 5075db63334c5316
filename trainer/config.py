"""Training configuration as plain code. `TrainConfig()` is the shipped default rule's recipe."""
import dataclasses


@dataclasses.dataclass
class TrainConfig:
    target: str = "🦎"          # an emoji (or U+XXXX) or a path to an RGBA image
    pattern_size: int = 16      # the picture is fitted into pattern_size^2 cells...
    grid_size: int = 24         # ...centred on a grid_size^2 grid of boards
    hidden: int = 64            # hidden units: 48*64 + 64*16 = 4,096 int8 weights (10 KB flash with the gateway code)
    batch: int = 8
    pool_size: int = 1024
    rollout_min: int = 32       # steps per rollout, uniform in [min, max)
    rollout_max: int = 64
    damage: int = 3             # lowest-loss samples per batch that get a circle erased
    fire_rate: float = 0.5
    dead_share: float = 0.1     # each sample has up to this share of dead boards (state held at 0)
    init_from: str = ""         # start from this model file's float rule (fine-tuning) instead of random
    float_iters: int = 2500     # phase 1: the float rule
    qat_iters: int = 1200       # phase 2: quantization-aware fine-tuning of the int8 rule
    lr: float = 2e-3
    lr_drop_at: int = 2000
    lr_late: float = 2e-4
    qat_lr: float = 2e-4
    seed: int = 0
    checkpoint_every: int = 100
    out_dir: str = "runs/lizard"
    name: str = "lizard"

    @property
    def total_iters(self) -> int:
        return self.float_iters + self.qat_iters


def tiny() -> TrainConfig:
    """Runs in about a minute on a CPU: for smoke tests, not for quality."""
    return TrainConfig(hidden=32, batch=4, pool_size=64, rollout_min=8, rollout_max=16,
                       float_iters=20, qat_iters=10, pattern_size=8, grid_size=12,
                       checkpoint_every=10, out_dir="runs/tiny", name="tiny")
