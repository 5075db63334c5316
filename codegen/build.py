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
# The rule's working memory for one update, the same for every rule (hidden units are streamed):
# own state, 8 neighbours, int8 perception, int32 output accumulators
RULE_RAM = spec.CHANNELS + 8 * spec.CHANNELS + spec.PERCEPTION + 4 * spec.CHANNELS


def version() -> str:
    try:
        return metadata.version("nca-cells")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class Report:
    hidden: int            # hidden units
    storage: str           # "palette" (4-bit indices) or "int8"
    weight_bytes: int      # flash for weights, palettes, biases and the state scales
    ram_bytes: int         # the rule's working memory for one update
    macs: int              # multiply-adds per update

    def lines(self):
        kind = ("4-bit indices into a 16-value palette per layer" if self.storage == "palette"
                else "int8 weights")
        return [f"rule:     {self.hidden:6d} hidden units, {kind}, int16 biases",
                f"weights:  {self.weight_bytes:6d} bytes of flash",
                f"RAM:      {self.ram_bytes:6d} bytes per update (own state, 8 neighbours, perception, "
                f"output accumulators)",
                f"compute:  {self.macs:6d} multiply-adds per update"]


def report(rule: CellRule) -> Report:
    C, P, H = spec.CHANNELS, spec.PERCEPTION, rule.hidden
    st = storage(rule)
    weight_bytes = sum(a.nbytes for a in st.values()) + rule.b1.nbytes + rule.b2.nbytes + spec.CHANNELS  # nca_state_frac
    return Report(H, "palette" if "palette" in st else "int8", weight_bytes, RULE_RAM, P * H + H * C)


def w2_chunks(w2: np.ndarray) -> np.ndarray:
    """[16, H] -> [ceil(H / chunk), 16, chunk], zero-padded: nca_w2q's layout."""
    C, H = w2.shape
    q = -(-H // W2_CHUNK)
    padded = np.zeros((C, q * W2_CHUNK), w2.dtype)
    padded[:, :H] = w2
    return padded.reshape(C, q, W2_CHUNK).transpose(1, 0, 2)


def pack_nibbles(indices: np.ndarray) -> np.ndarray:
    """Pairs along the last axis -> bytes: the even position in the low nibble."""
    return (indices[..., 0::2] | (indices[..., 1::2] << 4)).astype(np.uint8)


def storage(rule: CellRule) -> dict:
    """The arrays nca_weights.c holds (docs/cell-rule.md, "Weight storage"): when each layer
    has at most 16 distinct values, nca_palette [2, 16] (each layer's values ascending, padded
    with the last) and 4-bit indices nca_w1 [H, 24] and nca_w2q [chunks, 16, 2]; otherwise
    int8 nca_w1 [H, 48] and nca_w2q [chunks, 16, 4]."""
    values = [np.unique(rule.w1), np.unique(rule.w2)]
    if max(len(v) for v in values) > spec.PALETTE_MAX:
        return {"w1": rule.w1, "w2q": w2_chunks(rule.w2)}
    palette = np.stack([np.pad(v, (0, spec.PALETTE_MAX - len(v)), mode="edge") for v in values])
    i1, i2 = np.searchsorted(values[0], rule.w1), np.searchsorted(values[1], rule.w2)
    # the padding past H gets index 0: its hidden unit is always 0
    return {"palette": palette.astype(np.int8), "w1": pack_nibbles(i1), "w2q": pack_nibbles(w2_chunks(i2))}


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
    st = storage(rule)
    ctx = dict(codegen_version=version(), source_name=plain(source_name, 60), name=rule.name,
               content_hash=rule.content_hash(),
               c=modelfile.RULE_CONSTANTS, perception=spec.PERCEPTION, hidden=rule.hidden,
               hidden_max=spec.HIDDEN_MAX, shift1=rule.shift1, shift2=spec.layer2_shift(rule.w2_exp),
               state_frac=list(rule.state_frac),
               grid_width=grid_width, grid_height=grid_height, fire_bits=spec.FIRE_BITS,
               hash_mul1=spec.HASH_MUL1, hash_mul2=spec.HASH_MUL2,
               palette=st["palette"].tolist() if "palette" in st else None,
               w1=st["w1"].tolist(), b1=rule.b1.tolist(), w2q=st["w2q"].tolist(), b2=rule.b2.tolist(),
               palette_size=spec.PALETTE_MAX, w2_chunk=W2_CHUNK, w2_chunks=-(-rule.hidden // W2_CHUNK))
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
