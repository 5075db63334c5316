"""Model files: round trip, and clear errors for every kind of bad file."""
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import random_rule, scaled
from rule import modelfile, spec
from rule.modelfile import ModelFileError


def test_round_trip(tmp_path):
    rule = random_rule(1)
    rule.target = np.random.default_rng(0).random((6, 5, 4), dtype=np.float32)
    path = modelfile.save(rule, tmp_path / "m.npz")
    back = modelfile.load(path)
    for name in ("w1", "b1", "w2", "b2", "target"):
        a, b = getattr(rule, name), getattr(back, name)
        assert a.dtype == b.dtype and (a == b).all()
    for k, v in rule.float_params.items():
        assert (back.float_params[k] == v).all()
    assert (back.w1_exp, back.w2_exp, back.name) == (rule.w1_exp, rule.w2_exp, rule.name)
    assert back.content_hash() == rule.content_hash()
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temp files


def test_content_hash_tracks_the_integers():
    a, b = random_rule(1), random_rule(1)
    assert a.content_hash() == b.content_hash()
    b.w2[0, 0] += 1
    assert a.content_hash() != b.content_hash()


def test_state_scales_round_trip_and_files_from_before_load_as_uniform(tmp_path):
    rule = scaled(random_rule(3), 3)
    back = modelfile.load(modelfile.save(rule, tmp_path / "s.npz"))
    assert back.state_frac == rule.state_frac and back.content_hash() == rule.content_hash()
    assert back.content_hash() != dataclasses.replace(rule, state_frac=spec.DEFAULT_STATE_FRAC).content_hash()
    # a file written before state_frac existed: no such key, so every channel at 1/64, hash as it was
    plain = random_rule(4)
    path = modelfile.save(plain, tmp_path / "p.npz")
    meta = json.loads(np.load(path)["meta"].tobytes())
    meta.pop("state_frac")
    old = rewrite(tmp_path / "old.npz", path, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    back = modelfile.load(old)
    assert back.state_frac == spec.DEFAULT_STATE_FRAC and back.content_hash() == plain.content_hash()


def rewrite(path, src, **changes):
    """Copy the arrays of model file `src` into `path`, with changes (None deletes)."""
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    np.savez(path, **arrays)
    return path


def meta_bytes(src, **changes):
    with np.load(src) as z:
        meta = json.loads(z["meta"].tobytes())
    meta.update(changes)
    return np.frombuffer(json.dumps(meta).encode(), np.uint8)


@pytest.fixture
def good(tmp_path):
    return modelfile.save(random_rule(2), tmp_path / "good.npz")


BAD = {  # case -> (changes as a function of the good file, field named, words in the message)
    "missing w1": (lambda g: {"w1": None}, "w1", "missing"),
    "missing meta": (lambda g: {"meta": None}, "meta", "missing"),
    "w1 float": (lambda g: {"w1": np.zeros((24, 48), np.float32)}, "w1", "dtype int8"),
    "w1 shape": (lambda g: {"w1": np.zeros((24, 47), np.int8)}, "w1", "shape"),
    "w2 shape": (lambda g: {"w2": np.zeros((16, 23), np.int8)}, "w2", "shape"),
    "b1 dtype": (lambda g: {"b1": np.zeros(24, np.int32)}, "b1", "dtype int16"),
    "w2 -128": (lambda g: {"w2": np.full((16, 24), -128, np.int8)}, "w2", "[-127, 127]"),
    "nan float": (lambda g: {"float_w1": np.full((24, 48), np.nan, np.float32)}, "float_w1", "NaN"),
    "nan target": (lambda g: {"target": np.full((4, 4, 4), np.nan, np.float32)}, "target", "NaN"),
    "target range": (lambda g: {"target": np.full((4, 4, 4), 2.0, np.float32)}, "target", "[0, 1]"),
    "exp range": (lambda g: {"meta": meta_bytes(g, w1_exp=40)}, "meta.w1_exp", "2..14"),
    "exp type": (lambda g: {"meta": meta_bytes(g, w2_exp="7")}, "meta.w2_exp", "integer"),
    "no exp": (lambda g: {"meta": meta_bytes(g, w1_exp=None)}, "meta.w1_exp", "integer"),
    "format": (lambda g: {"meta": meta_bytes(g, format="onnx")}, "meta.format", "nca-cell-rule"),
    "version": (lambda g: {"meta": meta_bytes(g, version=99)}, "meta.version", "99"),
    "constants": (lambda g: {"meta": meta_bytes(g, rule=dict(modelfile.RULE_CONSTANTS, alive_threshold=5))},
                  "meta.rule.alive_threshold", "expected 6"),
    "bad json": (lambda g: {"meta": np.frombuffer(b"{not json", np.uint8)}, "meta", "JSON"),
    "palette kept": (lambda g: {"meta": meta_bytes(g, palette=16)}, "w1", "at most 16 distinct values"),
    "palette size": (lambda g: {"meta": meta_bytes(g, palette=33)}, "meta.palette", "0 or 2..32"),
    "palette type": (lambda g: {"meta": meta_bytes(g, palette=True)}, "meta.palette", "0 or 2..32"),
    "state_frac rgba": (lambda g: {"meta": meta_bytes(g, state_frac=[5] + [6] * 15)}, "meta.state_frac", "6 for RGBA"),
    "state_frac range": (lambda g: {"meta": meta_bytes(g, state_frac=[6] * 4 + [1] + [6] * 11)}, "meta.state_frac",
                         "each in 2..6"),
    "state_frac high": (lambda g: {"meta": meta_bytes(g, state_frac=[6] * 15 + [7])}, "meta.state_frac", "2..6"),
    "state_frac length": (lambda g: {"meta": meta_bytes(g, state_frac=[6] * 15)}, "meta.state_frac", "16 integers"),
    "state_frac type": (lambda g: {"meta": meta_bytes(g, state_frac=[6] * 4 + [True] * 12)}, "meta.state_frac",
                        "16 integers"),
    "state_frac null": (lambda g: {"meta": meta_bytes(g, state_frac=None)}, "meta.state_frac", "16 integers"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_model_files_are_refused_with_the_field_named(tmp_path, good, case):
    changes, field, words = BAD[case]
    path = rewrite(tmp_path / "bad.npz", good, **changes(good))
    with pytest.raises(ModelFileError) as err:
        modelfile.load(path)
    assert err.value.field == field and words in err.value.problem and str(path) in str(err.value)


def test_not_a_model_file(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(b"this is not a zip")
    with pytest.raises(ModelFileError, match="not a readable .npz"):
        modelfile.load(p)
    with pytest.raises(ModelFileError, match="no such file"):
        modelfile.load(tmp_path / "absent.npz")


def test_pickled_arrays_are_refused(tmp_path, good):
    path = rewrite(tmp_path / "pickle.npz", good, w1=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ModelFileError, match="w1"):
        modelfile.load(path)


def test_cli_reports_bad_file_without_a_traceback(tmp_path, good):
    path = rewrite(tmp_path / "bad.npz", good, w1=np.zeros((24, 47), np.int8))
    r = subprocess.run([sys.executable, "-m", "trainer", "eval", str(path)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "w1" in r.stderr and "shape" in r.stderr


def test_save_refuses_an_invalid_rule(tmp_path):
    rule = random_rule(1)
    rule.w1 = rule.w1.astype(np.int16)
    with pytest.raises(ModelFileError, match="dtype int8"):
        modelfile.save(rule, tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())
