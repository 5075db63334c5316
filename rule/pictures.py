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


def grid_growth(lines, width: int, height: int, seconds: float, every_ms: int, target, out: Path) -> list:
    """A grid run's boards' own states (their S lines, as (ms, x, y, line) from the emulated grid
    or the twin) every `every_ms`: a GIF at `out`, a strip of 8 frames beside it (.png); returns
    [(ms, loss against target)] when the target fits the grid."""
    from rule import boardlines
    grid = np.zeros((height, width, spec.CHANNELS), np.int8)
    frames, losses, t_next = [], [], 0
    fits = target is not None and target.shape[:2] == (height, width)
    for ms, x, y, line in sorted(lines, key=lambda v: v[0]) + [(10 ** 9, 0, 0, "")]:
        while ms >= t_next and t_next <= seconds * 1000:
            frames.append(state_to_image(grid))
            if fits:
                losses.append((t_next, float(((grid[..., :4] / 2 ** spec.STATE_FRAC_BITS - target) ** 2).mean())))
            t_next += every_ms
        if line.startswith("S "):
            grid[y, x] = boardlines.parse(line).state
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_gif(frames, out)
    picks = np.linspace(0, len(frames) - 1, min(8, len(frames))).astype(int)
    strip([frames[i] for i in picks], [f"{i * every_ms / 1000:.1f} s" for i in picks]).save(out.with_suffix(".png"))
    return losses
