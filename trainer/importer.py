"""python -m trainer import: bring your own rule. A published Growing-NCA rule (the article's
48 -> H -> 16 network) becomes a model file: its float weights kept, quantized to this project's
int8 rule after training (docs/cell-rule.md), optionally fine-tuned quantization-aware.

Formats (files from anyone: every field is checked, nothing in them is ever executed):
  distill-webgl  the article demo's JSON: a list of two layers {data_b64, in_ch, out_ch,
                 weight_scale, bias_scale, type: "uint8"}; data is uint8 [in_ch + 1, out_ch]
                 row-major, the bias the last row; value = (q / 255 - 0.5) * scale; layer 1's 48
                 inputs grouped 16 * k + c (k: identity, Sobel-x, Sobel-y)
  torch          a plain .npz of the reference architecture: w1 [H, 48], b1 [H], w2 [16, H], b2
                 [16] (or PyTorch's names: <layer>.weight [H, 48, 1, 1] / <layer>.bias); a .pt
                 or .pth file is a pickle and is refused (convert it where you trust it)
"""
import base64
import binascii
import math
import re
from pathlib import Path

import numpy as np

from rule import spec
from rule.files import read_json
from rule.npzfile import NpzError, read

FORMATS = ("distill-webgl", "torch")
FINETUNE_POOL = 256     # --finetune: states in the pool, all from the float rule's rollouts at the start
FINETUNE_LR = 1e-4      # --finetune: QAT's first rate (falls to a tenth); the trainer's 2e-4 undid the import
FINETUNE_CHECK_EVERY = 25   # --finetune: iterations between checks; the best-checked rule is kept
MAX_JSON_BYTES = 16 << 20
MAX_HIDDEN = 1024
FLOAT_TYPES = (np.float16, np.float32, np.float64)


class ImportFileError(NpzError):
    """ImportFileError(path, field, problem): a file that is not a rule of the named format."""


def interleave(w1_grouped: np.ndarray) -> np.ndarray:
    """Layer-1 weights [H, 48] with inputs 16 * k + c -> ours, 3 * c + k."""
    H = w1_grouped.shape[0]
    return w1_grouped.reshape(H, 3, spec.CHANNELS).transpose(0, 2, 1).reshape(H, spec.PERCEPTION)


def _field(path, layer, key, value, ok, want):
    if not ok:
        raise ImportFileError(path, f"layer {layer}.{key}", f"expected {want}, got {value!r:.60}")


def read_distill_webgl(path) -> dict:
    """{w1, b1, w2, b2} float32 (ours: w1 [H, 48] interleaved) from the article demo's JSON."""
    path = Path(path)
    layers = read_json(path, MAX_JSON_BYTES, ImportFileError)
    if not (isinstance(layers, list) and len(layers) == 2 and all(isinstance(x, dict) for x in layers)):
        raise ImportFileError(path, "file", f"expected a list of two layer objects, got {str(layers)[:60]!r}")
    out = []
    for i, (layer, want_in, want_out) in enumerate(((layers[0], spec.PERCEPTION, None),
                                                    (layers[1], None, spec.CHANNELS))):
        ints = {}
        for key in ("in_ch", "out_ch"):
            v = layer.get(key)
            _field(path, i, key, v, isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_HIDDEN,
                   f"an integer 1..{MAX_HIDDEN}")
            ints[key] = v
        if want_in is not None:
            _field(path, i, "in_ch", ints["in_ch"], ints["in_ch"] == want_in, f"{want_in} (16 channels x 3 filters)")
        if want_out is not None:
            _field(path, i, "out_ch", ints["out_ch"], ints["out_ch"] == want_out, f"{want_out} (the state's channels)")
        if i == 1:
            _field(path, i, "in_ch", ints["in_ch"], ints["in_ch"] == out[0][0].shape[0],
                   f"{out[0][0].shape[0]} (layer 0's out_ch)")
        _field(path, i, "type", layer.get("type"), layer.get("type") == "uint8", '"uint8"')
        scales = {}
        for key in ("weight_scale", "bias_scale"):
            v = layer.get(key)
            _field(path, i, key, v, isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   and 0 < v < 1e6, "a finite number in (0, 1e6)")
            scales[key] = float(v)
        data = layer.get("data_b64")
        _field(path, i, "data_b64", type(data).__name__, isinstance(data, str), "a base64 string")
        try:
            q = np.frombuffer(base64.b64decode(data, validate=True), np.uint8)
        except (binascii.Error, ValueError) as e:
            raise ImportFileError(path, f"layer {i}.data_b64", f"not valid base64 ({e})") from None
        n = (ints["in_ch"] + 1) * ints["out_ch"]
        _field(path, i, "data_b64", f"{q.size} bytes", q.size == n, f"{n} bytes ((in_ch + 1) x out_ch)")
        values = q.reshape(ints["in_ch"] + 1, ints["out_ch"]).astype(np.float64) / 255 - 0.5
        out.append((values[:-1].T * scales["weight_scale"], values[-1] * scales["bias_scale"]))
    (w1, b1), (w2, b2) = out
    return {"w1": interleave(w1), "b1": b1, "w2": w2, "b2": b2}


# PyTorch re-implementations name the two 1x1 convolutions in many ways; their shapes say which is which
WEIGHT_NAME = re.compile(r"(.*?)\.?weight")


def read_torch_npz(path, perception_order: str = "interleaved") -> dict:
    """{w1, b1, w2, b2} from a plain .npz: w1/b1/w2/b2, or two layers' <name>.weight/<name>.bias."""
    path = Path(path)
    if path.suffix.lower() in (".pt", ".pth", ".ckpt", ".pkl", ".bin"):
        raise ImportFileError(path, "file", "a PyTorch file is a pickle, which can run code: it is refused. Convert "
                              "it where you trust it: python -c \"import torch, numpy as np; sd = torch.load('m.pt', weights_only=True); "
                              "np.savez('m.npz', **{k: v.numpy() for k, v in sd.items()})\"")
    arrays = read(path, {"*": (FLOAT_TYPES, MAX_HIDDEN * spec.PERCEPTION)}, ImportFileError)
    if {"w1", "b1", "w2", "b2"} <= set(arrays):
        found = {k: arrays[k] for k in ("w1", "b1", "w2", "b2")}
    else:
        layers = []
        for name, a in arrays.items():
            m = WEIGHT_NAME.fullmatch(name)
            if m and a.ndim in (2, 4) and a.shape[2:] in ((), (1, 1)):
                bias = next((b for b in (f"{m[1]}.bias", f"{m[1]}bias") if b in arrays), None)
                layers.append((name, a.reshape(a.shape[:2]), arrays.get(bias)))
        w1s = [x for x in layers if x[1].shape[1] == spec.PERCEPTION]
        w2s = [x for x in layers if x[1].shape[0] == spec.CHANNELS and x not in w1s]
        if len(w1s) != 1 or len(w2s) != 1:
            raise ImportFileError(path, "file", f"expected w1, b1, w2, b2, or exactly two 1x1 layers <name>.weight "
                                  f"[H, 48] and [16, H] with their biases; found {sorted(arrays)[:12]}")
        (n1, w1, b1), (n2, w2, b2) = w1s[0], w2s[0]
        for name, b in ((n1, b1), (n2, b2)):
            if b is None:
                raise ImportFileError(path, name, "no bias beside it (<name>.bias)")
        found = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
    H = found["w1"].shape[0] if found["w1"].ndim == 2 else -1
    want = {"w1": (H, spec.PERCEPTION), "b1": (H,), "w2": (spec.CHANNELS, H), "b2": (spec.CHANNELS,)}
    for k, shape in want.items():
        if found[k].shape != shape or not 1 <= H <= MAX_HIDDEN:
            raise ImportFileError(path, k, f"expected shape {shape} (H = 1..{MAX_HIDDEN}), got {found[k].shape}")
        if not np.isfinite(found[k]).all():
            raise ImportFileError(path, k, "contains NaN or infinity")
    if perception_order == "grouped":
        found["w1"] = interleave(found["w1"])
    return found


def read_rule(path, fmt: str, perception_order: str = "interleaved") -> dict:
    if fmt == "distill-webgl":
        floats = read_distill_webgl(path)
    elif fmt == "torch":
        floats = read_torch_npz(path, perception_order)
    else:
        raise ImportFileError(path, "--format", f"expected one of {', '.join(FORMATS)}, got {fmt!r}")
    return {k: np.ascontiguousarray(v, np.float32) for k, v in floats.items()}


def model_name(path: Path) -> str:
    """A name the firmware can print, from the file's name."""
    return (re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem) or "imported")[:32]


def quantize(floats: dict, palette: int, meta: dict, target: np.ndarray, state_frac=spec.DEFAULT_STATE_FRAC,
             calibration: dict | None = None):
    """The int8 rule of these float weights, quantized after training: the trainer's own rounding,
    or with `calibration` (ptq.calibrate) rounding that keeps each layer's outputs on the rule's
    own inputs (ptq.round_compensated), to any int8 or to the layer's 16-value palette."""
    import dataclasses

    from trainer.palette import palettize
    from trainer.ptq import float_model, round_compensated
    model = float_model(floats, state_frac)
    model.palette = palette
    rule = model.export(meta=meta, target=target)
    if calibration is None:
        return rule
    e1, e2 = model.exponents()
    scale = 2.0 ** (np.repeat(np.array(state_frac, np.float64), 3) - spec.STATE_FRAC_BITS)
    layers = ((model.folded_w1().detach().double().numpy() * 2.0 ** e1, calibration["perception"] * scale),
              (floats["w2"].astype(np.float64) * 2.0 ** e2, calibration["hidden"] * 2.0 ** spec.HIDDEN_FRAC_BITS))
    ints = []
    for w, inputs in layers:
        values = np.unique(palettize(w, palette)) if palette else np.arange(-spec.WEIGHT_MAX, spec.WEIGHT_MAX + 1.0)
        ints.append(round_compensated(w, inputs, values).astype(np.int8))
    return dataclasses.replace(rule, w1=ints[0], w2=ints[1])


def finetune_config(args, start: Path, hidden: int, width: int, name: str):
    """--finetune N: QAT from the imported integers (their calibrated scales and palettes held, so
    fine-tuning only moves weights between those values), on a pool filled with the float rule's
    own rollouts, in clean conditions at a low rate (docs/import.md: what was tried)."""
    import dataclasses

    from trainer.config import TrainConfig
    return dataclasses.replace(TrainConfig(), target=args.target, pattern_size=args.pattern_size, grid_size=width,
                               hidden=hidden, palette=args.palette, init_from=str(start), init_integers=True,
                               pool_from_start=True, pool_size=FINETUNE_POOL, grid_conditions="", dead_share=0.0, half_damage=0,
                               float_iters=0, qat_iters=args.finetune, qat_lr=FINETUNE_LR, qat_lr_end=FINETUNE_LR / 10,
                               checkpoint_every=FINETUNE_CHECK_EVERY, check_every=FINETUNE_CHECK_EVERY,
                               out_dir=args.out_dir or f"runs/import-{name}", name=name)


def parse_state_frac(text: str):
    """--state-frac: 'auto' (None: calibrate), 'uniform' (all 6), or 12 numbers for the hidden channels."""
    from rule import cli
    if text == "auto":
        return None
    if text == "uniform":
        return spec.DEFAULT_STATE_FRAC
    try:
        hidden = [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        hidden = []
    f = (spec.STATE_FRAC_BITS,) * (spec.ALPHA + 1) + tuple(hidden)
    if len(hidden) != spec.CHANNELS - spec.ALPHA - 1 or not all(spec.STATE_FRAC_MIN <= v <= spec.STATE_FRAC_BITS
                                                                for v in hidden):
        raise cli.UsageError(f"--state-frac: expected auto, uniform or {spec.CHANNELS - spec.ALPHA - 1} integers "
                             f"{spec.STATE_FRAC_MIN}..{spec.STATE_FRAC_BITS} (hidden channels 4-15), got {text!r:.80}")
    return f


def print_figures(title: str, figures: dict, reference: dict | None = None):
    keys = ("growth_loss", "persist_loss", "regen_loss")
    text = "  ".join(f"{k.split('_')[0]} {figures[k]:.2e}" + (f" ({figures[k] / reference['growth_loss']:.2f}x float "
                                                              "growth)" if reference else "") for k in keys)
    print(f"  {title:34s} {text}", flush=True)


def main(args) -> int:
    from rule import cli, modelfile
    from trainer.evaluate import evaluate, evaluate_float
    from trainer.ptq import calibrate
    from trainer.target import load_target
    from trainer.train import Trainer
    src = Path(args.file)
    width, height = cli.parse_grid(args.grid) if args.grid else (72, 72)
    if width != height:
        raise cli.UsageError(f"--grid: training grids are square, got {args.grid!r}")
    if not 1 <= args.pattern_size <= width:
        raise cli.UsageError(f"--pattern-size: expected 1..{width} (the grid), got {args.pattern_size}")
    if args.finetune < 0 or args.runs < 1:
        raise cli.UsageError("--finetune: expected at least 0; --runs: at least 1")
    state_frac = parse_state_frac(args.state_frac)
    floats = read_rule(src, args.format, args.perception_order)
    hidden = floats["w1"].shape[0]
    name = args.name or model_name(src)
    target = load_target(args.target, args.pattern_size, width)
    meta = {"name": name, "target": args.target, "pattern_size": args.pattern_size, "grid": [width, height],
            "imported": {"format": args.format, "file": src.name[:80], "perception_order": args.perception_order}}
    if not args.quiet:
        print(f"{src}: calibrating on the float rule's own rollouts ({width}x{height}, from the seed)...", flush=True)
    calibration = calibrate(floats, width, height, device=args.device or "cpu")
    state_frac = state_frac or calibration["state_frac"]
    rule = quantize(floats, args.palette, meta, target, state_frac, calibration)
    out = modelfile.save(rule, args.out)
    print(f"{src}: {args.format}, 48 -> {hidden} -> 16; quantized to int8"
          + (f" with {args.palette}-value palettes" if args.palette else "") + f": {out}")
    print("  state scale per channel (1.0 = 2^f): f = " + " ".join(map(str, state_frac))
          + "  (range of a channel: +-2^(7-f))")
    if args.no_eval and not args.finetune:
        return 0
    fig_float = evaluate_float(rule, args.runs) if not args.no_eval else None
    if fig_float:
        print(f"eval ({args.runs} schedule seeds, {width}x{height}, fire rate 0.5):")
        print_figures("float rule (as published)", fig_float)
        print_figures("int8 rule, right after import", evaluate(rule, args.runs), fig_float)
    if args.finetune:
        cfg = finetune_config(args, out, hidden, width, name)
        rule = Trainer(cfg, device=args.device).run(progress=not args.quiet)
        rule.meta["imported"] = meta["imported"]
        modelfile.save(rule, out)
        print(f"fine-tuned {args.finetune} QAT iterations, kept the rule of iteration {rule.meta['trained_iterations']} "
              f"(the best by growth x persistence x regeneration on schedule seeds eval does not use): {out}")
        if fig_float:
            print_figures(f"int8 rule, fine-tuned {args.finetune}", evaluate(rule, args.runs), fig_float)
    return 0
