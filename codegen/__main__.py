"""python -m codegen: a model file -> portable C for the cells.

  build    [--model FILE] [--out-dir DIR]: generate the C (default: the shipped rule into
           generated/); `pio run` then builds it
  prepare  [--project DIR] [--model FILE]: what `pio run` does first (make generated/ the rule
           to build, say which)
"""
import signal
import sys

from codegen.build import DEFAULT_OUT, FILES, build
from codegen.outdir import OutDirError
from codegen.prepare import PrepareError, prepare
from rule import cli
from rule.files import REPO
from rule.modelfile import ModelFileError


def main(argv=None):
    ap, sub = cli.tool("python -m codegen", __doc__)
    b = sub.add_parser("build", help="generate the C for a model (default: the shipped rule); pio run then builds it")
    cli.add_model(b)
    b.add_argument("--out-dir", default=str(DEFAULT_OUT), metavar="DIR",
                   help=f"output folder, replaced as a whole (default: {DEFAULT_OUT})")
    cli.alias(b, "--out", "out_dir")
    p = sub.add_parser("prepare", help="what pio run does first: bring generated/ up to date, say which rule")
    p.add_argument("--project", default=str(REPO), metavar="DIR", help="the PlatformIO project (default: this one)")
    p.add_argument("--model", metavar="FILE", help="platformio.ini's custom_nca_model, if set")
    args = ap.parse_args(argv)
    # a kill (SIGTERM) unwinds like Ctrl-C, so the staging folder is removed on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.cmd == "prepare":
            for line in prepare(args.project, args.model):
                print(line)
            return 0
        out, rule, rep = build(args.model, args.out_dir)
    except (ModelFileError, OutDirError, PrepareError, OSError) as e:
        print(f"error: {e}\nnothing was written." if args.cmd == "build" else f"error: {e}", file=sys.stderr)
        return 2
    print(f"{rule.name} ({rule.content_hash()[:12]}): {len(FILES)} files in {out}; `pio run` builds this rule")
    for line in rep.lines():
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
