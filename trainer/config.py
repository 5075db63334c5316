"""Training configuration as plain code. `TrainConfig()` is the default command's recipe (a model
file records the recipe it was trained by in meta.config)."""
import dataclasses

from rule import spec


def palette_ok(n) -> bool:
    """Distinct weight values per layer a rule may be trained for: 0 (any int8) or 2..PALETTE_MAX."""
    return n == 0 or 2 <= n <= spec.PALETTE_MAX


@dataclasses.dataclass
class TrainConfig:
    target: str = "🦎"          # an emoji (or U+XXXX) or a path to an RGBA image
    pattern_size: int = 16      # the picture is fitted into pattern_size^2 cells...
    grid_size: int = 24         # ...centred on a grid_size^2 grid of boards
    hidden: int = 128           # hidden units: 48*128 + 128*16 = 8,192 multiply-adds per update (the article's size)
    palette: int = 16           # distinct int8 values per layer (0: any): 4-bit weights, what fits 10 KB of flash
    batch: int = 8
    pool_size: int = 1024
    rollout_min: int = 32       # steps per rollout, uniform in [min, max)
    rollout_max: int = 64
    damage: int = 3             # lowest-loss samples per batch that get a circle erased
    half_damage: float = 0.5    # ...of which this many lose a half of the grid instead (a random side);
                                # a fraction: one more in that share of the batches. Eval erases a half: with 0
                                # the smiley's and the ladybug's halves regrew wrong, with 1 the boom lost 1.6x
    fire_rate: float = 0.5
    dead_share: float = 0.05    # each sample has up to this share of dead boards (state held at 0, relays lost);
                                # 0.1 cost every picture 1.25-4x on the clean figures (docs/default-rule.md)
    grid_conditions: str = "models/grid-conditions.json"   # late neighbour states as the twin measured them ("": fresh)
    fresh_share: float = 0.5    # share of samples whose neighbour states are fresh, their dead boards kept:
                                # the fish 1.6-17x better, every dead-boards figure 1.2-1.45x (docs/default-rule.md)
    clean_share: float = 0.0    # share of samples on a clean grid (no dead boards, fresh neighbours)
    init_from: str = ""         # start from this model file's float rule (fine-tuning) instead of random
    init_integers: bool = False  # ...from its integer rule instead, its scales and allowed values held (imports)
    pool_from_start: bool = False  # fill the pool with init_from's float rollouts (late states from the start)
    float_iters: int = 6000     # phase 1: the float rule (the smiley still learning at 4,000: docs/default-rule.md)
    qat_iters: int = 2000       # phase 2: quantization-aware fine-tuning of the int8 rule (where the bars are won)
    lr: float = 2e-3
    lr_drop_at: int = 4800
    lr_late: float = 2e-4
    qat_lr: float = 2e-4
    qat_lr_end: float = 2e-5    # QAT's rate falls from qat_lr to this along a half cosine
    check_every: int = 50       # in QAT, the rule is checked this often on other schedule seeds and the run
                                # ends with the best (0: with the last); QAT's rule jitters 10x between checks
                                # (evaluate.check_score: growth, persistence, regeneration)
    seed: int = 0
    checkpoint_every: int = 100
    out_dir: str = "runs/lizard"
    name: str = "lizard"

    @property
    def total_iters(self) -> int:
        return self.float_iters + self.qat_iters

    def problems(self) -> list:
        """What is wrong with this config, as 'field: expected ..., got ...' (checked before training)."""
        from rule.modelfile import name_problem
        checks = [
            ("hidden", 1 <= self.hidden <= 1024, "1..1024"),
            ("palette", palette_ok(self.palette), f"0 (any int8) or 2..{spec.PALETTE_MAX}"),
            ("pattern_size", 1 <= self.pattern_size <= spec.GRID_MAX, f"1..{spec.GRID_MAX}"),
            ("grid_size", self.pattern_size <= self.grid_size <= spec.GRID_MAX,
             f"pattern_size ({self.pattern_size})..{spec.GRID_MAX}"),
            ("batch", 1 <= self.batch <= 4096, "1..4096"),
            ("pool_size", self.batch <= self.pool_size <= 65536, f"batch ({self.batch})..65536"),
            ("rollout_min", 1 <= self.rollout_min, "at least 1"),
            ("rollout_max", self.rollout_min < self.rollout_max <= 100000, f"rollout_min + 1 ({self.rollout_min + 1})..100000"),
            ("damage", 0 <= self.damage < self.batch, f"0..batch - 1 ({self.batch - 1})"),
            ("half_damage", 0 <= self.half_damage <= self.damage, f"0..damage ({self.damage})"),
            ("fire_rate", 0.0 < self.fire_rate <= 1.0, "in (0, 1]"),
            ("dead_share", 0.0 <= self.dead_share < 1.0, "in [0, 1)"),
            ("fresh_share", 0.0 <= self.fresh_share <= 1.0, "in [0, 1]"),
            ("clean_share", 0.0 <= self.clean_share <= 1.0, "in [0, 1]"),
            ("float_iters", self.float_iters >= 0, "at least 0"),
            ("qat_iters", self.qat_iters >= 0 and self.total_iters >= 1, "at least 0, with float_iters + qat_iters >= 1"),
            ("lr", self.lr > 0, "> 0"), ("lr_late", self.lr_late > 0, "> 0"), ("qat_lr", self.qat_lr > 0, "> 0"),
            ("qat_lr_end", 0 < self.qat_lr_end <= self.qat_lr, f"in (0, qat_lr ({self.qat_lr})]"),
            ("lr_drop_at", self.lr_drop_at >= 0, "at least 0"),
            ("checkpoint_every", self.checkpoint_every >= 1, "at least 1"),
            ("check_every", self.check_every >= 0, "at least 0"),
            ("seed", 0 <= self.seed < 2 ** 63, "0..2^63 - 1"),
            ("init_integers", not self.init_integers or bool(self.init_from), "False without init_from"),
            ("pool_from_start", not self.pool_from_start or bool(self.init_from), "False without init_from"),
        ]
        out = [f"{field}: expected {want}, got {getattr(self, field)!r}" for field, ok, want in checks if not ok]
        if name_problem(self.name):
            out.append(f"name: {name_problem(self.name)}")
        if not self.target.strip():
            out.append("target: expected an emoji, U+XXXX or a picture file, got an empty string")
        return out


def tiny() -> TrainConfig:
    """Runs in about a minute on a CPU: for smoke tests, not for quality."""
    return TrainConfig(hidden=32, batch=4, pool_size=64, rollout_min=8, rollout_max=16,
                       float_iters=20, qat_iters=10, pattern_size=8, grid_size=12,
                       checkpoint_every=10, out_dir="runs/tiny", name="tiny")
