"""Targets: emoji rendered offline, image files, and clear errors for bad ones."""
import numpy as np
import pytest
from PIL import Image

from trainer.target import TargetError, load_target, parse_emoji


def test_lizard_renders_offline():
    t = load_target("🦎", 16, 24)
    assert t.shape == (24, 24, 4) and t.dtype == np.float32
    alpha = t[..., 3]
    ys, xs = np.nonzero(alpha > 0.1)
    assert alpha.max() > 0.9 and 100 < len(ys) < 16 * 16
    assert ys.min() >= 4 and ys.max() < 20 and xs.min() >= 4 and xs.max() < 20  # fitted, centred
    assert (t[..., :3] <= alpha[..., None] + 1e-6).all()   # premultiplied
    assert t[..., 1].sum() > t[..., 0].sum()                # a green lizard


def test_emoji_spellings():
    assert parse_emoji("U+1F98E") == parse_emoji("1f98e") == parse_emoji("🦎") == "🦎"
    assert np.array_equal(load_target("U+1F98E", 16, 24), load_target("🦎", 16, 24))


def test_image_file_target(tmp_path):
    img = np.zeros((40, 20, 4), np.uint8)
    img[5:35, 5:15] = (255, 0, 0, 255)
    Image.fromarray(img, "RGBA").save(tmp_path / "bar.png")
    t = load_target(str(tmp_path / "bar.png"), 8, 12)
    assert t.shape == (12, 12, 4)
    assert t[..., 3].max() == pytest.approx(1.0, abs=1e-3) and t[..., 1].max() < 1e-3
    ys, xs = np.nonzero(t[..., 3] > 0.5)
    assert ys.max() - ys.min() + 1 == 8 and xs.max() - xs.min() + 1 <= 4  # tall bar, aspect kept


def test_unknown_emoji():
    with pytest.raises(TargetError, match="unknown emoji"):
        load_target("\ue000", 16, 24)  # private use area: no picture


def test_unreadable_image(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("not an image")
    with pytest.raises(TargetError, match="not a readable image"):
        load_target(str(p), 16, 24)
    with pytest.raises(TargetError, match="not a readable image"):
        load_target(str(tmp_path / "missing.png"), 16, 24)


def test_empty_alpha(tmp_path):
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    with pytest.raises(TargetError, match="alpha channel is empty"):
        load_target(str(tmp_path / "clear.png"), 16, 24)


def test_grid_smaller_than_pattern():
    with pytest.raises(TargetError, match="smaller than"):
        load_target("🦎", 16, 12)
