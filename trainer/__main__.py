"""python -m trainer: train a cell rule and judge it.

  train   train a rule (default: the shipped lizard recipe; --tiny runs in about a minute)
  eval    the quality bars of a model file (growth, persistence, regeneration, dead boards)
  init    write an untrained random rule (for tests and benchmarks)
  bench   training and integer-model speed, float vs integer, CPU (and CUDA)
  bench-recipe  the default recipe on six of the article's emoji: a table of bars and training times
  polish  move a trained rule's palette values by +-1, layer 2's biases by half a state unit,
          where the training check gets better (the same firmware)
  import  bring your own rule: a published Growing-NCA model (the article demo's JSON, a plain .npz)
          into a model file, quantized, evaluated before and after, optionally fine-tuned
"""
import argparse
import dataclasses
import json
import sys

from rule import cli, conditions, modelfile, spec
from rule.conditions import ConditionsError
from rule.modelfile import ModelFileError
from rule.npzfile import NpzError
from trainer.config import TrainConfig, palette_ok, tiny
from trainer.train import TrainError
from trainer.target import TargetError


UsageError = cli.UsageError


def cmd_train(args):
    import torch
    from trainer.evaluate import BARS, evaluate, passes, save_pictures
    from trainer.train import Trainer
    cfg = tiny() if args.tiny else TrainConfig()
    overrides = {k: v for k, v in vars(args).items() if k in {f.name for f in dataclasses.fields(TrainConfig)} and v is not None}
    cfg = dataclasses.replace(cfg, **overrides)
    torch.set_num_threads(cli.at_least_one("--threads", args.threads))
    trainer = Trainer(cfg, device=args.device)
    if args.restart:
        old = trainer.set_checkpoint_aside()
        if old:
            print(f"--restart: the old checkpoint is kept as {old}")
    rule = trainer.run(progress=not args.quiet)
    if args.out:
        modelfile.save(rule, args.out)
        print(f"model written to {args.out}")
    for p in save_pictures(rule, cfg.out_dir, cfg.fire_rate):
        print(f"picture: {p}")
    if not args.no_eval:
        print_eval(evaluate(rule, device=trainer.device), BARS, passes, cfg.half_damage)


def print_eval(result, bars, passes, half_damage=None):
    """The bars as lines; `half_damage`: the rule's training's, for the hint when regrowth lags."""
    from trainer.evaluate import DEAD_SHARE, failing_text, regrowth_lags
    ok = passes(result)
    for key, bar in bars.items():
        if key in result:
            name = key.removesuffix("_loss")
            worst = f"   (worst run {result[name + '_worst']:.2e}" if name + "_worst" in result else ""
            if worst:
                failing = result.get(name + "_failing", 0)
                worst += (f"; {failing_text(failing, result['runs'])})" if failing else ")")
            print(f"{key:18s} {result[key]:10.3e}   bar <= {bar:.0e}   {'pass' if ok[key] else 'FAIL'}{worst}")
    notes = {"float_growth_loss": f"({result['runs']} schedule seeds, fire rate {result['fire_rate']})",
             "dead_boards_loss": f"(growth with {DEAD_SHARE:.0%} of the boards dead, on the living ones"
                                 + (", their relays lost)" if "grid_conditions" in result else ")"),
             "corrupt_loss": "(growth with the neighbour states of a grid with corrupted bytes)"}
    for key, note in notes.items():
        if key in result:
            print(f"{key:18s} {result[key]:10.3e}   {note}")
    if half_damage is not None and half_damage < 1 and regrowth_lags(result):
        print("regrowth lags growth: a picture whose erased half comes back wrong trains better with "
              "--half-damage 1 (docs/default-rule.md, \"Half the grid erased in training\")")


def eval_conditions(args, rule, path):
    """--grid: the conditions the model was trained for, else the measured default; --grid-conditions FILE."""
    if args.grid_conditions:
        return conditions.load(conditions.resolve(args.grid_conditions)), args.grid_conditions
    if not args.grid:
        return None, None
    if "grid_conditions" in rule.meta:
        # checked on load; normalised here (a file from before `relays` reads as east-west)
        trained_for = conditions.check(rule.meta["grid_conditions"])
        return trained_for, f"{path}'s meta.grid_conditions (what it was trained for)"
    return conditions.load(conditions.DEFAULT_FILE), f"{conditions.DEFAULT_FILE} (the model records none)"


def cmd_eval(args):
    from trainer.evaluate import BARS, evaluate, passes
    cli.at_least_one("--runs", args.runs, " schedule seed")
    path = args.model
    rule = modelfile.load(path)
    grid, source = eval_conditions(args, rule, path)
    result = evaluate(rule, runs=args.runs, device=args.device or "cpu", path=path, grid=grid)
    if args.json:
        print(json.dumps(result))
    else:
        shared = f", at most {rule.meta['palette']} values per layer" if rule.meta.get("palette") else ""
        print(f"{path}: {rule.name}, hidden {rule.hidden}, {rule.w1.size + rule.w2.size} int8 weights{shared}")
        if grid is not None:
            print(f"neighbour states as late as on a grid: {source}; "
                  f"{conditions.RELAYS_SAY[grid['relays']]}")
        config = rule.meta.get("config")     # a trained rule's recipe (none for imports; files before half damage: 0)
        half = config.get("half_damage", 0) if isinstance(config, dict) else None
        print_eval(result, BARS, passes, half if type(half) in (int, float) else None)
    return 0 if all(passes(result).values()) or args.json else 1


def cmd_init(args):
    from trainer.nca import NCA
    if not 1 <= args.hidden <= 1024:
        raise UsageError(f"--hidden: expected 1..1024, got {args.hidden}")
    if not palette_ok(args.palette):
        raise UsageError(f"--palette: expected 0 or 2..{spec.PALETTE_MAX}, got {args.palette}")
    rule = NCA.random(args.hidden, args.seed, args.scale, args.palette).export(meta={"name": f"random-{args.seed}", "init_seed": args.seed, "scale": args.scale})
    modelfile.save(rule, args.out)
    print(f"untrained random rule (seed {args.seed}, hidden {args.hidden}) written to {args.out}")


def cmd_bench(args):
    from trainer.bench import main
    main(args)


def cmd_polish(args):
    import functools
    import torch
    from trainer import evaluate
    from trainer.polish import polish
    cli.at_least_one("--sweeps", args.sweeps)
    cli.at_least_one("--runs", args.runs, " schedule seed")
    if not 0.0 <= args.min_gain < 1.0:
        raise UsageError(f"--min-gain: expected a share in [0, 1), got {args.min_gain}")
    torch.set_num_threads(cli.at_least_one("--threads", args.threads))
    rule = modelfile.load(args.model)
    if rule.target is None:
        raise ModelFileError(args.model, "target", "missing: the check compares the rule's states with its picture")
    device = args.device or "cpu"
    source = rule.content_hash()[:12]

    def save(polished, kept, start):   # each better rule at once: an interrupted polish keeps what it found
        record = {"from": source, "moves": [list(m[:3]) for m in kept], "check": [start, kept[-1][3] if kept else start]}
        modelfile.save(dataclasses.replace(polished, meta=dict(polished.meta, polish=record)), args.out)

    score = functools.partial(evaluate.check_score, device=device)
    polished, kept, start = polish(rule, score, args.sweeps, args.min_gain, not args.quiet, on_better=save)
    save(polished, kept, start)
    end = kept[-1][3] if kept else start
    gain = f" ({start / end:.3f}x better)" if end > 0 else ""
    print(f"{len(kept)} moves kept; check {start:.3e} -> {end:.3e}{gain}; model written to {args.out}")
    if not args.no_eval:
        print_eval(evaluate.evaluate(polished, runs=args.runs, device=device, path=args.out),
                   evaluate.BARS, evaluate.passes)
    return 0


def cmd_import(args):
    from trainer.importer import main
    return main(args)


def cmd_bench_recipe(args):
    from trainer.bench_recipe import main
    return main(args)


def main(argv=None):
    ap, sub = cli.tool("python -m trainer", __doc__)
    t = sub.add_parser("train", help="train a rule (default: the shipped lizard recipe)")
    t.add_argument("--tiny", action="store_true", help="a tiny config that runs in about a minute")
    t.add_argument("--target", help="emoji, U+XXXX, or RGBA image path")
    t.add_argument("--pattern-size", type=int, dest="pattern_size")
    t.add_argument("--grid", metavar="WxH", help="training grid, square (default: the recipe's)")
    cli.alias(t, "--grid-size", "grid_size", type=int)
    t.add_argument("--hidden", type=int)
    t.add_argument("--palette", type=int, help="distinct weight values per layer: up to 16 stores 4-bit indices, up to 32 5-bit; 0 any int8")
    t.add_argument("--float-iters", type=int, dest="float_iters")
    t.add_argument("--qat-iters", type=int, dest="qat_iters")
    t.add_argument("--seed", type=int)
    t.add_argument("--check-every", type=int, dest="check_every",
                   help="QAT: check the rule on other schedule seeds this often, keep the best (0: the last rule)")
    t.add_argument("--half-damage", type=float, dest="half_damage",
                   help="of the damaged samples per batch, this many lose a random half of the grid instead of a "
                        "circle (a fraction, e.g. 0.5: one in that share of the batches)")
    t.add_argument("--dead-share", type=float, dest="dead_share",
                   help="train with up to this share of dead cells per sample (e.g. 0.1)")
    t.add_argument("--grid-conditions", dest="grid_conditions", metavar="FILE",
                   help="train with neighbour states as late as on this measured grid (python -m twin staleness "
                        "--out; default models/grid-conditions.json); '' for fresh neighbour states")
    t.add_argument("--fresh-share", type=float, dest="fresh_share",
                   help="share of each batch's samples with fresh neighbour states, dead boards kept (default 0.5)")
    t.add_argument("--clean-share", type=float, dest="clean_share",
                   help="share of each batch's samples on a clean grid (no dead boards, fresh neighbours)")
    t.add_argument("--init-from", dest="init_from", help="fine-tune: start from this model's float rule")
    t.add_argument("--lr", type=float)
    t.add_argument("--lr-drop-at", type=int, dest="lr_drop_at")
    t.add_argument("--name")
    t.add_argument("--out-dir", dest="out_dir", metavar="DIR",
                   help="run folder: checkpoint, model, pictures (resumes if present)")
    t.add_argument("--out", metavar="FILE", help="also write the model file here (e.g. models/lizard.npz)")
    t.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    t.add_argument("--threads", type=int, default=1,
                   help="CPU threads (default 1: a run's bits depend on the thread count, and 1 reproduces the "
                        "shipped rule; 2 were no faster on 2 cores)")
    t.add_argument("--restart", action="store_true",
                   help="start over even if the run folder has a checkpoint (kept as checkpoint.npz.old)")
    t.add_argument("--no-eval", action="store_true")
    t.add_argument("--quiet", action="store_true")
    e = sub.add_parser("eval", help="quality bars of a model (default: the shipped rule)")
    cli.add_model(e)
    e.add_argument("model_positional", nargs="?", help=argparse.SUPPRESS)   # the old spelling
    e.add_argument("--json", action="store_true")
    e.add_argument("--runs", type=int, default=16, help="schedule seeds to average over")
    e.add_argument("--device")
    e.add_argument("--grid", action="store_true", help="with neighbour states as late as on a grid: the conditions "
                   "the model was trained for (meta.grid_conditions), else the measured default")
    e.add_argument("--grid-conditions", metavar="FILE", help="with the grid conditions in FILE (as python -m twin staleness writes them)")
    i = sub.add_parser("init", help="write an untrained random rule (for tests)")
    i.add_argument("--out", required=True, metavar="FILE", help="the model file to write")
    i.add_argument("--seed", type=int, required=True)
    i.add_argument("--hidden", type=int, default=TrainConfig.hidden, help="hidden units (default: the recipe's)")
    i.add_argument("--scale", type=float, default=1.0, help="weight scale (large values drive saturation)")
    i.add_argument("--palette", type=int, default=TrainConfig.palette, help="distinct weight values per layer (0: any)")
    b = sub.add_parser("bench", help="training it/s and cell updates/s, float vs integer, CPU (and CUDA)")
    b.add_argument("--seconds", type=float, default=3.0, help="wall-clock time per measurement")
    br = sub.add_parser("bench-recipe", help="train six of the article's emoji with the default recipe: bars and times")
    br.add_argument("--emoji", nargs="+", metavar="NAME", help="a subset: lizard smiley boom fish butterfly ladybug")
    br.add_argument("--jobs", type=int, default=2, help="runs at a time (the cores are shared out; default 2)")
    br.add_argument("--runs", type=int, default=16, help="schedule seeds per evaluation")
    br.add_argument("--out-dir", default="runs/bench-recipe", metavar="DIR", help="one run folder per picture")
    br.add_argument("--tiny", action="store_true", help="the tiny config (a smoke test, not the recipe)")
    br.add_argument("--palette", type=int, help="distinct weight values per layer for every picture (default: the "
                    "recipe's 16; 32 takes 5-bit indices, more flash than the cell's 10 KB)")
    br.add_argument("--half-damage", type=float, dest="half_damage",
                    help="of the damaged samples a batch, this many lose half the grid (default: the recipe's "
                         f"{TrainConfig.half_damage:g})")
    im = sub.add_parser("import", help="a published Growing-NCA rule into a model file (quantized, evaluated)")
    im.add_argument("file", metavar="FILE", help="the published rule")
    im.add_argument("--format", required=True, choices=["distill-webgl", "torch"],
                    help="distill-webgl: the article demo's JSON; torch: a plain .npz of w1, b1, w2, b2")
    im.add_argument("--out", required=True, metavar="FILE", help="the model file to write")
    im.add_argument("--target", required=True, help="what it grows: emoji, U+XXXX or an RGBA picture")
    im.add_argument("--pattern-size", type=int, default=40, help="the pattern's size in cells (the article's: 40)")
    im.add_argument("--grid", metavar="WxH", help="square grid it grows on (default 72x72, the article's)")
    im.add_argument("--name", help="the rule's name (default: from the file's name)")
    im.add_argument("--palette", type=int, default=TrainConfig.palette,
                    help="distinct weight values per layer (16: 4-bit indices, 32: 5-bit; 0: any int8, "
                         "closest to the float rule, 128 units need a board with 14 KB: NCA_FLASH_BUDGET)")
    im.add_argument("--perception-order", choices=["interleaved", "grouped"], default="interleaved",
                    help="torch format: layer 1's inputs 3c + k (a grouped convolution's order) or 16k + c (concatenated)")
    im.add_argument("--state-frac", default="auto", metavar="auto|uniform|F4,...,F15",
                    help="each hidden channel's scale, 1.0 = 2^f (f 2..6): auto calibrates it on the float rule's "
                         "rollouts; uniform keeps 6 (range +-2) everywhere")
    im.add_argument("--finetune", type=int, default=0, metavar="N", help="then N quantization-aware iterations")
    im.add_argument("--out-dir", metavar="DIR", help="run folder of the fine-tuning (default runs/import-NAME)")
    im.add_argument("--runs", type=int, default=16, help="schedule seeds per evaluation")
    im.add_argument("--no-eval", action="store_true")
    im.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    im.add_argument("--quiet", action="store_true")
    po = sub.add_parser("polish", help="move a trained rule's palette values by +-1 (and layer 2's biases by half a state unit) where the training check gets better")
    cli.add_model(po, " to polish")
    po.add_argument("--out", required=True, metavar="FILE", help="the polished model file (written at each better rule)")
    po.add_argument("--sweeps", type=int, default=2, help="passes over every palette value (default 2; stops early "
                    "after a pass that kept nothing)")
    po.add_argument("--min-gain", type=float, default=0.005, dest="min_gain",
                    help="keep a move only if the check gets at least this share better (default 0.005)")
    po.add_argument("--runs", type=int, default=16, help="schedule seeds of the evaluation at the end")
    po.add_argument("--device", help="cpu or cuda (default: cpu)")
    po.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    po.add_argument("--no-eval", action="store_true")
    po.add_argument("--quiet", action="store_true")
    args = cli.resolve(ap.parse_args(argv))
    if args.cmd == "train" and args.grid:
        try:
            width, height = cli.parse_grid(args.grid)
        except cli.UsageError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if width != height:
            print(f"error: --grid: training grids are square, got {args.grid!r}", file=sys.stderr)
            return 2
        args.grid_size = width
    try:
        if getattr(args, "device", None):
            args.device = cli.parse_device(args.device)
        return {"train": cmd_train, "eval": cmd_eval, "init": cmd_init, "bench": cmd_bench,
                "bench-recipe": cmd_bench_recipe, "import": cmd_import, "polish": cmd_polish}[args.cmd](args) or 0
    except (ModelFileError, TargetError, TrainError, UsageError, ConditionsError, NpzError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
