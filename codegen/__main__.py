"""python -m codegen build [--model FILE] [--out DIR]"""
import argparse
import sys

from codegen.build import DEFAULT_OUT, FILES, build
from trainer.modelfile import DEFAULT_MODEL, ModelFileError


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m codegen", description="model file -> portable C for the cells")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="generate the C for a model (default: the shipped rule)")
    b.add_argument("--model", default=str(DEFAULT_MODEL), help=f"model file (default: {DEFAULT_MODEL})")
    b.add_argument("--out", default=str(DEFAULT_OUT), help=f"output folder (default: {DEFAULT_OUT})")
    args = ap.parse_args(argv)
    try:
        out, rule, rep = build(args.model, args.out)
    except ModelFileError as e:
        print(f"error: {e}\nnothing was written.", file=sys.stderr)
        return 2
    print(f"{rule.name} ({rule.content_hash()[:12]}): {len(FILES)} files in {out}")
    for line in rep.lines():
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
