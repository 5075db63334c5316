"""What `pio run` does before it compiles: make generated/ hold the rule the user means.

- `python -m codegen build --model X` chose the rule: pio run builds generated/ as it is, and
  regenerates it from X only when X changed since or codegen's output for X did (an upgrade).
- No generated/ yet: the shipped default rule (models/lizard.npz) is generated.
- `custom_nca_model = X` in platformio.ini (optional) names the rule for that project: it is
  generated from X, unless generated/ holds another rule that `codegen build` put there, which
  is an error naming both (never a silent choice between two rules).
- A hand-edited or incomplete generated/ is refused: its firmware would match no model file.
Every run says which rule (name and rule hash) it builds.
"""
import os
from pathlib import Path

from codegen import outdir
from codegen.build import build, render
from rule import modelfile


class PrepareError(ValueError):
    pass


def describe(name: str, rule_hash: str, path) -> str:
    return f"rule {name} (sha256 {rule_hash[:16]}) from {_short(path)}"


def _short(path) -> str:
    """A path as the user would type it in the project (relative when it lies inside)."""
    rel = os.path.relpath(os.path.abspath(path))
    return rel if not rel.startswith("..") else str(path)


def prepare(project: Path, ini_model: str | None = None) -> list:
    """Bring project/generated up to date; returns the lines to print. Raises PrepareError or
    ModelFileError with what the user should do."""
    project = Path(project)
    out = project / "generated"
    man, problem = outdir.read_manifest(out)
    missing = not out.exists()
    if problem and not missing:
        hint = (f"python -m codegen build --model {outdir.model_path(out, man)}" if man
                else "python -m codegen build --model YOUR_MODEL.npz")
        raise PrepareError(f"{problem}. Refusing to build a firmware that matches no model file: run {hint}")

    if ini_model:
        model = project / ini_model
        rule = modelfile.load(model)
        if man and man["model"]["rule_hash"] != rule.content_hash() and man.get("by") == "codegen build":
            raise PrepareError(
                f"platformio.ini's custom_nca_model names {ini_model} ({rule.name}, "
                f"{rule.content_hash()[:16]}), but generated/ holds {man['model']['name']} "
                f"({man['model']['rule_hash'][:16]}) from `python -m codegen build --model "
                f"{outdir.model_path(out, man)}`. Remove custom_nca_model to build generated/, or run "
                f"python -m codegen build --model {ini_model}")
        reason = "platformio.ini's custom_nca_model" if missing or man["model"]["rule_hash"] != rule.content_hash() \
            else _stale(out, man, rule, model)
        return _regenerate(model, out, reason, "pio run (custom_nca_model)") if reason else \
            [describe(rule.name, rule.content_hash(), ini_model)]

    if missing:
        return _regenerate(modelfile.DEFAULT_MODEL, out, "no generated/ yet: the shipped default rule", "pio run")
    model = outdir.model_path(out, man)
    if not model.is_file():
        return [describe(man["model"]["name"], man["model"]["rule_hash"], out) +
                f" (its model file {model} is gone; building generated/ as it is)"]
    rule = modelfile.load(model)
    reason = _stale(out, man, rule, model)
    return _regenerate(model, out, reason, man.get("by", "pio run")) if reason else \
        [describe(rule.name, rule.content_hash(), model)]


def _stale(out: Path, man: dict, rule, model: Path) -> str | None:
    """Why generated/ no longer is what codegen makes of `model`, or None."""
    if man["model"]["rule_hash"] != rule.content_hash():
        return f"{model} changed since generated/ was written"
    files = render(rule, model.name)
    if {n: outdir.sha256(t) for n, t in files.items()} != man["files"]:
        return "codegen's output for it changed (a new codegen version or templates)"
    return None


def _regenerate(model: Path, out: Path, reason: str, by: str) -> list:
    _, rule, _ = build(model, out, by=by)
    return [f"codegen: regenerating generated/ ({reason})", describe(rule.name, rule.content_hash(), model)]
