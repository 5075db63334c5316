"""Pictures of grids: target, growth and regeneration strips, GIFs."""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from rule import spec

SCALE = 8  # screen pixels per cell


def rgba_to_image(rgba: np.ndarray, scale: int = SCALE) -> Image.Image:
    """Premultiplied RGBA [H, W, 4] in [0, 1] -> RGB picture on white, each cell a scale^2 block."""
    a = np.clip(rgba[..., 3:4], 0, 1)
    rgb = np.clip(1.0 - a + rgba[..., :3], 0, 1)
    img = Image.fromarray((rgb * 255 + 0.5).astype(np.uint8), "RGB")
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)


def state_to_image(state, scale: int = SCALE) -> Image.Image:
    """An int8 grid state [H, W, 16] (tensor or array) as a picture."""
    s = np.asarray(state)[..., :4].astype(np.float32) / 2 ** spec.STATE_FRAC_BITS
    return rgba_to_image(s, scale)


def strip(images: list, labels: list | None = None, gap: int = 4) -> Image.Image:
    """Pictures side by side, each with its label (e.g. the step) underneath."""
    label_h = 14 if labels else 0
    w = sum(i.width for i in images) + gap * (len(images) - 1)
    out = Image.new("RGB", (w, max(i.height for i in images) + label_h), (128, 128, 128))
    draw = ImageDraw.Draw(out)
    x = 0
    for k, i in enumerate(images):
        out.paste(i, (x, 0))
        if labels:
            draw.rectangle((x, i.height, x + i.width - 1, i.height + label_h), fill=(255, 255, 255))
            draw.text((x + 3, i.height + 1), str(labels[k]), fill=(0, 0, 0))
        x += i.width + gap
    return out


def save_gif(images: list, path: Path, ms_per_frame: int = 60):
    images[0].save(path, save_all=True, append_images=images[1:], duration=ms_per_frame, loop=0)
