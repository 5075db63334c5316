"""Compile the generated C (+ the host grid stepper) with the host compiler, cached by content
hash, and bind it with ctypes."""
import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from codegen.build import render
from rule import modelfile, schedule, spec
from rule.files import REPO, cached

CSRC = Path(__file__).resolve().parent / "csrc"
WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZE = ["-fsanitize=undefined,address", "-fno-sanitize-recover=all", "-g", "-O1"]
RULE_SOURCES = ["nca_rule.c", "nca_common.c", "nca_weights.c", "hostsim.c"]


class CompileError(RuntimeError):
    pass


def compiler() -> str:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise CompileError(f"C compiler {cc!r} not found (install gcc: ./setup.sh, or set CC)")
    return cc


FIRMWARE_CORE = REPO / "firmware" / "core"
CORE_SOURCES = ["cell.c", "link.c", "report.c", "core_shim.c"]
CORE_SHIM = {"core": "core_shim.c", "fuzz": "fuzz.c"}  # csrc/: what the core is built with


def build(rule: modelfile.CellRule, source_name="model", kind="lib") -> Path:
    """kind 'lib': shared library (-O2); 'sanitized': stand-alone executable with UBSan+ASan;
    'core': the portable firmware core (firmware/core) with the rule, as a shared library,
    built with UBSan; 'fuzz': the core with csrc/fuzz.c, an executable with UBSan+ASan. Returns the cached artefact; rebuilt only when sources change."""
    files = render(rule, source_name)
    for name in ("hostsim.c", "hostsim.h", "main.c"):
        files[name] = (CSRC / name).read_text()
    if kind == "lib":
        flags, sources, artefact = WARNINGS + ["-O2", "-fPIC", "-shared"], RULE_SOURCES, "libnca.so"
    elif kind == "sanitized":
        flags, sources, artefact = WARNINGS + SANITIZE, RULE_SOURCES + ["main.c"], "hostsim"
    elif kind in ("core", "fuzz"):
        for path in list(FIRMWARE_CORE.glob("*.[ch]")) + [CSRC / CORE_SHIM[kind]]:
            files[path.name] = path.read_text()
        if kind == "core":
            flags = WARNINGS + ["-O1", "-g", "-fPIC", "-shared", "-fsanitize=undefined", "-fno-sanitize-recover=all"]
            artefact = "libcore.so"
        else:
            flags, artefact = WARNINGS + SANITIZE, "fuzz"
        sources = ["nca_rule.c", "nca_common.c", "nca_weights.c", *CORE_SOURCES[:-1], CORE_SHIM[kind]]
    else:
        raise ValueError(kind)
    return compile_c("hostsim", files, flags, sources, artefact)


def compile_c(tool: str, files: dict, flags: list, sources: list, artefact: str) -> Path:
    """Write {name: text} into build/<tool>/<content hash>/ and compile `sources` there into
    `artefact`, unless that was done before for the same files, compiler and flags."""
    cc = compiler()

    def compile_in(folder: Path, tmp: str):
        for name, text in files.items():
            (folder / name).write_text(text)
        r = subprocess.run([cc, *flags, "-o", tmp, *sources], cwd=folder, capture_output=True, text=True)
        if r.returncode != 0:
            raise CompileError(f"compiling the generated C in {folder} failed:\n{r.stderr}")

    return cached(tool, (sorted(files.items()), cc, flags), artefact, compile_in)


def c_defines(header: Path) -> dict:
    """{NAME: value} of a C header's integer #defines (`#define NAME 123` with an optional U/L
    suffix and comment), for tests that need the firmware's constants without retyping them."""
    found = re.findall(r"^#define\s+(\w+)\s+(0x[0-9A-Fa-f]+|\d+)[UL]*\b", Path(header).read_text(), re.M)
    return {name: int(value, 0) for name, value in found}


class CRule:
    """The generated C rule, loaded as a shared library."""

    def __init__(self, rule: modelfile.CellRule, source_name="model"):
        self.path = build(rule, source_name)
        lib = ctypes.CDLL(str(self.path))
        i8p = np.ctypeslib.ndpointer(np.int8, flags="C_CONTIGUOUS")
        lib.hostsim_model_hash.restype = ctypes.c_char_p
        lib.hostsim_fire_batch.argtypes = [ctypes.c_int32, i8p, i8p, i8p]
        lib.hostsim_hash32.argtypes, lib.hostsim_hash32.restype = [ctypes.c_uint32], ctypes.c_uint32
        lib.hostsim_step.argtypes = [i8p, i8p, ctypes.c_int32, ctypes.c_int32,
                                     ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32]
        self.lib = lib
        if lib.hostsim_model_hash().decode() != rule.content_hash():
            raise CompileError(f"{self.path} is not the build of this model")

    def fire(self, selves: np.ndarray, nbrs: np.ndarray) -> np.ndarray:
        """selves int8 [n, 16], nbrs int8 [n, 8, 16] -> new states int8 [n, 16]."""
        selves = np.ascontiguousarray(selves, np.int8)
        nbrs = np.ascontiguousarray(nbrs, np.int8)
        out = np.empty_like(selves)
        self.lib.hostsim_fire_batch(len(selves), selves, nbrs, out)
        return out

    def hash32(self, x: int) -> int:
        return self.lib.hostsim_hash32(x)


class CGrid:
    """One grid [height, width, 16] stepped by the C rule under the shared schedule."""

    def __init__(self, crule: CRule, state: np.ndarray, schedule_seed: int, fire_rate: float = 0.5):
        self.crule, self.seed = crule, schedule_seed & spec.MASK32
        self.state = np.ascontiguousarray(state, np.int8).copy()
        self.scratch = np.empty_like(self.state)
        self.threshold = schedule.fire_threshold(fire_rate)

    def step(self, step_index: int):
        h, w = self.state.shape[:2]
        self.crule.lib.hostsim_step(self.state, self.scratch, w, h, self.seed, step_index & spec.MASK32,
                                    self.threshold)
        return self.state
