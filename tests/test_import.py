"""python -m trainer import: published rules in their own formats (files these tests write with
small exporters of their own), read exactly, quantized, evaluated; hostile files refused."""
import base64
import json
import subprocess
import sys

import numpy as np
import pytest

from rule import modelfile
from trainer.importer import ImportFileError, interleave, read_distill_webgl, read_torch_npz


def float_rule(hidden=20, seed=0):
    g = np.random.default_rng(seed)
    return {"w1": g.normal(0, 0.1, (hidden, 48)), "b1": g.normal(0, 0.05, hidden),
            "w2": g.normal(0, 0.05, (16, hidden)), "b2": g.normal(0, 0.01, 16)}


def grouped(w1):
    """Ours (3c + k) -> the demo's input order (16k + c)."""
    return w1.reshape(len(w1), 16, 3).transpose(0, 2, 1).reshape(len(w1), 48)


def webgl_layers(rule):
    """The article demo's JSON for a float rule, and the values its uint8 codes stand for."""
    layers, decoded = [], []
    for w, b in ((grouped(rule["w1"]), rule["b1"]), (rule["w2"], rule["b2"])):
        ws, bs = 2.2 * np.abs(w).max(), 2.2 * np.abs(b).max()
        q = np.vstack([np.round((w.T / ws + 0.5) * 255), np.round((b / bs + 0.5) * 255)]).clip(0, 255).astype(np.uint8)
        layers.append({"data_b64": base64.b64encode(q.tobytes()).decode(), "in_ch": w.shape[1], "out_ch": w.shape[0],
                       "weight_scale": ws, "bias_scale": bs, "type": "uint8"})
        v = q.astype(np.float64) / 255 - 0.5
        decoded.append((v[:-1].T * ws, v[-1] * bs))
    (w1, b1), (w2, b2) = decoded
    return layers, {"w1": interleave(w1), "b1": b1, "w2": w2, "b2": b2}


def test_interleave_puts_filter_k_of_channel_c_at_3c_plus_k():
    w = np.arange(48.0)[None]               # input i of the demo's order holds i = 16k + c
    got = interleave(w)[0]
    assert all(got[3 * c + k] == 16 * k + c for c in range(16) for k in range(3))


def test_distill_webgl_is_read_exactly(tmp_path):
    layers, want = webgl_layers(float_rule())
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(layers))
    got = read_distill_webgl(path)
    for k in want:
        assert np.array_equal(got[k], want[k]), k


def test_torch_npz_by_pytorch_names_and_orders(tmp_path):
    rule = float_rule(hidden=12, seed=1)
    path = tmp_path / "sd.npz"
    np.savez(path, **{"update.0.weight": grouped(rule["w1"])[..., None, None].astype(np.float32),
                      "update.0.bias": rule["b1"].astype(np.float32),
                      "update.2.weight": rule["w2"][..., None, None].astype(np.float32),
                      "update.2.bias": rule["b2"].astype(np.float32)})
    got = read_torch_npz(path, "grouped")
    assert np.array_equal(got["w1"], rule["w1"].astype(np.float32)) and np.array_equal(got["b2"], rule["b2"].astype(np.float32))
    np.savez(tmp_path / "plain.npz", **rule)
    got = read_torch_npz(tmp_path / "plain.npz")
    assert all(np.array_equal(got[k], rule[k]) for k in rule)


def test_import_quantizes_evaluates_and_fine_tunes(tmp_path):
    layers, want = webgl_layers(float_rule(hidden=24, seed=2))
    src = tmp_path / "demo.json"
    src.write_text(json.dumps(layers))
    out = tmp_path / "imported.npz"
    cmd = [sys.executable, "-m", "trainer", "import", str(src), "--format", "distill-webgl", "--target", "🦎",
           "--pattern-size", "8", "--grid", "12x12", "--out", str(out), "--runs", "1", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "float rule (as published)" in r.stdout and "int8 rule, right after import" in r.stdout
    rule = modelfile.load(out)
    assert rule.hidden == 24 and rule.meta["imported"]["format"] == "distill-webgl" and rule.meta["name"] == "demo"
    assert all(np.array_equal(rule.float_params[f"float_{k}"], want[k].astype(np.float32)) for k in want)
    assert len(np.unique(rule.w1)) <= 16 and rule.target.shape == (12, 12, 4)
    # state scales given by hand: kept through fine-tuning (QAT learns within them)
    hidden_frac = [5, 4, 3, 2, 6, 6, 5, 4, 3, 2, 6, 6]
    r = subprocess.run(cmd + ["--finetune", "3", "--out-dir", str(tmp_path / "ft"), "--no-eval", "--state-frac",
                              ",".join(map(str, hidden_frac))], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "f = 6 6 6 6 5 4 3 2 6 6 5 4 3 2 6 6" in r.stdout
    tuned = modelfile.load(out)
    kept = tuned.meta["trained_iterations"]   # the better-checked of the start (0) and the end (3)
    assert f"kept the rule of iteration {kept} " in r.stdout and kept in (0, 3)
    assert tuned.meta["imported"]["file"] == "demo.json" and tuned.state_frac == (6, 6, 6, 6, *hidden_frac)
    assert len(np.unique(tuned.w1)) <= 16 and len(np.unique(tuned.w2)) <= 16


@pytest.mark.parametrize("text", ["7,6,6,6,6,6,6,6,6,6,6,6", "6,6", "six", "1,6,6,6,6,6,6,6,6,6,6,6"])
def test_bad_state_frac_is_refused(tmp_path, text):
    layers, _ = webgl_layers(float_rule(hidden=8))
    src = tmp_path / "demo.json"
    src.write_text(json.dumps(layers))
    r = subprocess.run([sys.executable, "-m", "trainer", "import", str(src), "--format", "distill-webgl", "--target",
                        "🦎", "--pattern-size", "8", "--grid", "12x12", "--out", str(tmp_path / "m.npz"),
                        "--no-eval", "--state-frac", text], capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "--state-frac" in r.stderr and "Traceback" not in r.stderr


def damaged(change):
    layers, _ = webgl_layers(float_rule(hidden=8))
    change(layers)
    return json.dumps(layers)


@pytest.mark.parametrize("text, field", [
    (damaged(lambda x: x[0].update(type="float16")), "layer 0.type"),
    (damaged(lambda x: x[0].update(data_b64="not base64!")), "layer 0.data_b64"),
    (damaged(lambda x: x[1].update(data_b64=x[1]["data_b64"][:-8])), "layer 1.data_b64"),
    (damaged(lambda x: x[0].update(in_ch=47)), "layer 0.in_ch"),
    (damaged(lambda x: x[1].update(in_ch=9)), "layer 1.in_ch"),
    (damaged(lambda x: x[1].update(out_ch=15)), "layer 1.out_ch"),
    (damaged(lambda x: x[0].update(weight_scale=float("nan"))), "layer 0.weight_scale"),
    (damaged(lambda x: x[0].update(bias_scale=True)), "layer 0.bias_scale"),
    (damaged(lambda x: x[0].update(out_ch=10 ** 9)), "layer 0.out_ch"),
    (damaged(lambda x: x.append(x[0])), "file"),
    ('{"layers": []}', "file"), ("[" * 100000, "file"), ("\udcff", "file"),
])
def test_a_bad_demo_file_is_refused_naming_the_field(text, field, tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ImportFileError) as e:
        read_distill_webgl(path)
    assert e.value.field == field


def test_bad_torch_files_are_refused(tmp_path):
    pickled = tmp_path / "model.pt"
    pickled.write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ImportFileError, match="pickle"):
        read_torch_npz(pickled)
    rule = float_rule()
    for name, arrays, field in [("nan.npz", dict(rule, b1=np.full(20, np.nan)), "b1"),
                                ("shape.npz", dict(rule, w2=rule["w2"][:8]), "w2"),
                                ("missing.npz", {"w1": rule["w1"]}, "file"),
                                ("ints.npz", dict(rule, w1=rule["w1"].astype(np.int64)), "w1")]:
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(ImportFileError) as e:
            read_torch_npz(tmp_path / name)
        assert e.value.field == field, name
    r = subprocess.run([sys.executable, "-m", "trainer", "import", str(pickled), "--format", "torch", "--target", "🦎",
                        "--out", str(tmp_path / "x.npz")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "refused" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.npz").exists()
