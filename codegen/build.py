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
    storage: str           # "palette" (4- or 5-bit indices) or "int8"
    bits: tuple            # bits a weight of layers 1 and 2: 4 or 5 (palette indices), 8 (int8)
    weight_bytes: int      # flash for weights, palettes, biases and the state scales
    ram_bytes: int         # the rule's working memory for one update
    macs: int              # multiply-adds per update

    @property
    def kind(self) -> str:
        if self.storage != "palette":
            return "int8 weights"
        if self.bits[0] == self.bits[1]:
            return f"{self.bits[0]}-bit indices into a {1 << self.bits[0]}-value palette per layer"
        return "palette indices of " + " and ".join(f"{b} bits ({1 << b} values)" for b in self.bits)

    def lines(self):
        return [f"rule:     {self.hidden:6d} hidden units, {self.kind}, int16 biases",
                f"weights:  {self.weight_bytes:6d} bytes of flash",
                f"RAM:      {self.ram_bytes:6d} bytes per update (own state, 8 neighbours, perception, "
                f"output accumulators)",
                f"compute:  {self.macs:6d} multiply-adds per update"]


def report(rule: CellRule) -> Report:
    C, P, H = spec.CHANNELS, spec.PERCEPTION, rule.hidden
    st = storage(rule)
    arrays = [st[name] for name in ("palette", "w1", "w2q") if name in st]
    weight_bytes = sum(a.nbytes for a in arrays) + rule.b1.nbytes + rule.b2.nbytes + spec.CHANNELS  # nca_state_frac
    return Report(H, "palette" if "palette" in st else "int8", st.get("bits", (8, 8)), weight_bytes,
                  RULE_RAM, P * H + H * C)


def w2_chunks(w2: np.ndarray) -> np.ndarray:
    """[16, H] -> [ceil(H / chunk), 16 * chunk], zero-padded: nca_w2q's layout (weight c * chunk + k
    of chunk q is W2[c][q * chunk + k])."""
    C, H = w2.shape
    q = -(-H // W2_CHUNK)
    padded = np.zeros((C, q * W2_CHUNK), w2.dtype)
    padded[:, :H] = w2
    return padded.reshape(C, q, W2_CHUNK).transpose(1, 0, 2).reshape(q, C * W2_CHUNK)


def pack_nibbles(indices: np.ndarray) -> np.ndarray:
    """Pairs along the last axis -> bytes: the even position in the low nibble."""
    return (indices[..., 0::2] | (indices[..., 1::2] << 4)).astype(np.uint8)


def pack_indices(indices: np.ndarray, bits: int) -> np.ndarray:
    """Indices along the last axis -> bytes: 4 bits as nibbles; 5 bits in groups of 8 weights in 5
    bytes, a byte of their fifth bits (weight r at bit r), then their low 4 bits as nibbles."""
    if bits == 4:
        return pack_nibbles(indices)
    groups = indices.reshape(*indices.shape[:-1], -1, 8).astype(np.uint8)
    fifth = ((groups >> 4) << np.arange(8, dtype=np.uint8)).sum(-1, dtype=np.uint8)
    packed = np.concatenate([fifth[..., None], pack_nibbles(groups & 0x0F)], -1)
    return packed.reshape(*indices.shape[:-1], -1)


def index_bits(values: int) -> int:
    """Bits of a palette index for a layer with this many distinct weights: 4 up to 16, else 5."""
    return 4 if values <= 16 else 5


def storage(rule: CellRule) -> dict:
    """The arrays nca_weights.c holds (docs/cell-rule.md, "Weight storage"): when each layer
    has at most PALETTE_MAX distinct values, nca_palette [2, 16 or 32] (each layer's values
    ascending, padded with the last), indices nca_w1 [H, 48 * bits / 8] and nca_w2q
    [chunks, 64 * bits / 8] at 4 bits for a layer of up to 16 values, 5 bits for up to 32, and
    the bits; otherwise int8 nca_w1 [H, 48] and nca_w2q [chunks, 64]."""
    values = [np.unique(rule.w1), np.unique(rule.w2)]
    if max(len(v) for v in values) > spec.PALETTE_MAX:
        return {"w1": rule.w1, "w2q": w2_chunks(rule.w2)}
    bits = [index_bits(len(v)) for v in values]
    size = 1 << max(bits)
    palette = np.stack([np.pad(v, (0, size - len(v)), mode="edge") for v in values])
    i1, i2 = np.searchsorted(values[0], rule.w1), np.searchsorted(values[1], rule.w2)
    # the padding past H gets index 0: its hidden unit is always 0
    return {"palette": palette.astype(np.int8), "w1": pack_indices(i1, bits[0]),
            "w2q": pack_indices(w2_chunks(i2), bits[1]), "bits": tuple(bits)}


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
               palette=st["palette"].tolist() if "palette" in st else None, bits=st.get("bits", (8, 8)),
               w1=st["w1"].tolist(), b1=rule.b1.tolist(), w2q=st["w2q"].tolist(), b2=rule.b2.tolist(),
               palette_size=st["palette"].shape[1] if "palette" in st else 0,
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
