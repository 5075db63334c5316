"""A model file -> the rule's portable C: nca_config.h and nca_weights.c rendered from the templates
in codegen/templates/ (what varies with the model), the fixed C of firmware/rule/ copied beside
them, every file with the generated-file banner."""
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import jinja2
import numpy as np

from codegen import outdir
from rule import modelfile, spec
from rule.modelfile import CellRule
from rule.files import REPO
from rule.plaintext import plain

TEMPLATES = Path(__file__).resolve().parent / "templates"   # what varies with the model
RUNTIME = REPO / "firmware" / "rule"                          # the rule's fixed C, copied with the banner
DEFAULT_OUT = REPO / "generated"
TEMPLATED = ("nca_config.h", "nca_weights.c")
COPIED = ("nca_weights.h", "nca_rule.h", "nca_common.c", "nca_rule.c", "nca_schedule.h")
FILES = TEMPLATED + COPIED
W2_CHUNK = 4  # hidden units per layer-2 chunk: the AVR kernel keeps 4 of them in registers


def version() -> str:
    try:
        return metadata.version("nca-cells")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class Report:
    weight_bytes: int      # flash for weights and biases
    ram_bytes: int         # the rule's working memory for one update
    macs: int              # multiply-adds per update

    def lines(self):
        return [f"weights:  {self.weight_bytes:6d} bytes of flash (int8 weights, int16 biases)",
                f"RAM:      {self.ram_bytes:6d} bytes per update (own state, 8 neighbours, perception, "
                f"output accumulators)",
                f"compute:  {self.macs:6d} multiply-adds per update"]


def report(rule: CellRule) -> Report:
    C, P, H = spec.CHANNELS, spec.PERCEPTION, rule.hidden
    weight_bytes = rule.w1.nbytes + rule.b1.nbytes + w2_chunks(rule.w2).nbytes + rule.b2.nbytes
    ram = C + 8 * C + P + 4 * C  # self, neighbours, int8 perception, int32 accumulators
    return Report(weight_bytes, ram, P * H + H * C)


def w2_chunks(w2: np.ndarray) -> np.ndarray:
    """[16, H] -> [ceil(H / chunk), 16, chunk], zero-padded: nca_w2q's layout."""
    C, H = w2.shape
    q = -(-H // W2_CHUNK)
    padded = np.zeros((C, q * W2_CHUNK), w2.dtype)
    padded[:, :H] = w2
    return padded.reshape(C, q, W2_CHUNK).transpose(1, 0, 2)


def _emit(value):
    """Every {{ value }} in a template passes here: integers as they are, text through the one
    escaping function (so no model field or file name can close a string or a comment)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"a template may only emit integers and text, got {type(value).__name__}")
    return value if isinstance(value, int) else plain(value, max_len=1 << 20)


ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                         keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, finalize=_emit)


def render(rule: CellRule, source_name: str) -> dict:
    """All generated files as {name: text}; nothing touches the disk here. `rule` is validated
    (modelfile.load or validate): names and sizes are in range."""
    grid_width, grid_height = modelfile.grid_size(rule)
    ctx = dict(codegen_version=version(), source_name=plain(source_name, 60), name=rule.name,
               content_hash=rule.content_hash(),
               c=modelfile.RULE_CONSTANTS, perception=spec.PERCEPTION, hidden=rule.hidden,
               hidden_max=spec.HIDDEN_MAX, shift1=rule.shift1, shift2=rule.shift2,
               grid_width=grid_width, grid_height=grid_height, fire_bits=spec.FIRE_BITS,
               hash_mul1=spec.HASH_MUL1, hash_mul2=spec.HASH_MUL2,
               w1=rule.w1.tolist(), b1=rule.b1.tolist(), w2q=w2_chunks(rule.w2).tolist(), b2=rule.b2.tolist(),
               w2_chunk=W2_CHUNK, w2_chunks=-(-rule.hidden // W2_CHUNK))
    files = {name: ENV.get_template(name + ".j2").render(**ctx) for name in TEMPLATED}
    banner = ENV.get_template("banner.j2").render(**ctx)
    files.update({name: banner + (RUNTIME / name).read_text() for name in COPIED})
    return files


def build(model_path=None, out_dir=None, by: str = "codegen build") -> tuple[Path, CellRule, Report]:
    """Validate the model (raises ModelFileError before anything is written), render, and
    replace the output folder's set of files as one (codegen/outdir.py)."""
    model_path = Path(model_path) if model_path else modelfile.DEFAULT_MODEL
    out = Path(out_dir) if out_dir else DEFAULT_OUT
    rule = modelfile.load(model_path)
    files = render(rule, model_path.name)
    outdir.write_set(out, files, outdir.manifest(files, rule, model_path, out, version(), by))
    return out, rule, report(rule)
