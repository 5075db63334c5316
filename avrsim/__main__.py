"""python -m avrsim {cycles, run}: the rule and the firmware on an emulated ATmega328P."""
import argparse
import sys
from pathlib import Path

import numpy as np

from avrsim import build
from trainer import modelfile, spec


def cmd_cycles(args) -> int:
    """Exact cycles per cell update of each kernel (bench: not a test), with the same inputs."""
    from avrsim.cases import int_model, neighbourhoods_from_growth, random_neighbourhoods
    rule = modelfile.load(args.model)
    macs = spec.PERCEPTION * rule.hidden + rule.hidden * spec.CHANNELS
    sets = {"growth of the rule (alive cells)": neighbourhoods_from_growth(rule),
            "random states (every hidden unit fires)": random_neighbourhoods(300, 0)}
    print(f"{rule.name}: {macs} multiply-adds per update; ATmega328P at 16 MHz (simavr, exact cycles)")
    for kernel in ("reference", "avr"):
        elf = build.rule_image(rule, kernel)
        for name, (selves, nbrs) in sets.items():
            out, cycles = build.run_rule(elf, selves, nbrs)
            same = np.array_equal(out, int_model(rule, selves, nbrs))
            alive = cycles > 1000
            mean, worst = cycles[alive].mean(), cycles.max()
            print(f"  {kernel:9s} {name:40s} mean {mean:8.0f}  max {worst:8d} cycles  "
                  f"{worst / macs:5.1f} cycles/MAC  {worst / 16e3:5.2f} ms  {'== PyTorch' if same else 'DIFFERS'}")
    return 0


def cmd_run(args) -> int:
    out, peak = build.run_firmware(Path(args.elf), int(args.seconds * 16e6), args.input)
    sys.stdout.write(out)
    print(f"[peak stack {peak} bytes]", file=sys.stderr)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m avrsim", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cycles", help="cycles per cell update: reference C vs AVR kernel")
    c.add_argument("--model", default=str(modelfile.DEFAULT_MODEL))
    r = sub.add_parser("run", help="run a firmware image; print its USB serial output")
    r.add_argument("elf", nargs="?", default=".pio/build/nano/program.elf")
    r.add_argument("--seconds", type=float, default=2.0, help="emulated time")
    r.add_argument("--input", default="P", help="bytes sent on its USB serial after 1 ms (P = plant seed)")
    args = ap.parse_args(argv)
    try:
        return {"cycles": cmd_cycles, "run": cmd_run}[args.cmd](args)
    except (build.ToolError, modelfile.ModelFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
