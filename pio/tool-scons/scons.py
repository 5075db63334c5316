"""Entry point PlatformIO runs as <core>/packages/tool-scons/scons.py: SCons from PyPI (the
`scons` package this project depends on), so no registry download is needed."""
import sys

import SCons.Script

if __name__ == "__main__":
    sys.exit(SCons.Script.main())
