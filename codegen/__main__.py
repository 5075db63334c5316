"""python -m codegen build [--model FILE] [--out DIR]: a model file -> portable C for the cells.
python -m codegen prepare [--project DIR] [--model FILE]: what `pio run` does first (make
generated/ the rule to build, say which)."""
import argparse
import signal
import sys

from codegen.build import DEFAULT_OUT, FILES, REPO, build
from codegen.outdir import OutDirError
from codegen.prepare import PrepareError, prepare
from trainer.modelfile import DEFAULT_MODEL, ModelFileError


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m codegen", description="model file -> portable C for the cells")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="generate the C for a model (default: the shipped rule); pio run then builds it")
    b.add_argument("--model", default=str(DEFAULT_MODEL), help=f"model file (default: {DEFAULT_MODEL})")
    b.add_argument("--out", default=str(DEFAULT_OUT),
                   help=f"output folder, replaced as a whole (default: {DEFAULT_OUT})")
    p = sub.add_parser("prepare", help="what pio run does first: bring generated/ up to date, say which rule")
    p.add_argument("--project", default=str(REPO))
    p.add_argument("--model", help="platformio.ini's custom_nca_model, if set")
    args = ap.parse_args(argv)
    # a kill (SIGTERM) unwinds like Ctrl-C, so the staging folder is removed on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.cmd == "prepare":
            for line in prepare(args.project, args.model):
                print(line)
            return 0
        out, rule, rep = build(args.model, args.out)
    except (ModelFileError, OutDirError, PrepareError, OSError) as e:
        print(f"error: {e}\nnothing was written." if args.cmd == "build" else f"error: {e}", file=sys.stderr)
        return 2
    print(f"{rule.name} ({rule.content_hash()[:12]}): {len(FILES)} files in {out}; `pio run` builds this rule")
    for line in rep.lines():
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
