"""Training targets: any RGBA image file, or an emoji rendered offline from Noto Color Emoji."""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_FONT_SIZE = 109  # the only size this bitmap font renders at
MAX_IMAGE_PIXELS = 4096 * 4096  # a target becomes at most 255x255 cells: a larger picture is refused unread


class TargetError(ValueError):
    pass


def parse_emoji(text: str) -> str:
    """'🦎', 'U+1F98E' or '1f98e' -> '🦎'."""
    t = text.strip()
    code = t[2:] if t.upper().startswith("U+") else t
    if len(code) >= 4 and all(c in "0123456789abcdefABCDEF" for c in code):
        if int(code, 16) > 0x10FFFF:
            raise TargetError(f"{text!r:.40}: not a Unicode code point (the largest is U+10FFFF)")
        return chr(int(code, 16))
    return t


def render_emoji(text: str) -> Image.Image:
    if not EMOJI_FONT.is_file():
        raise TargetError(f"emoji font {EMOJI_FONT} not found: install Debian's fonts-noto-color-emoji")
    emoji = parse_emoji(text)
    font = ImageFont.truetype(str(EMOJI_FONT), EMOJI_FONT_SIZE)
    img = Image.new("RGBA", (EMOJI_FONT_SIZE * 2 * max(1, len(emoji)), EMOJI_FONT_SIZE * 2), (0, 0, 0, 0))
    ImageDraw.Draw(img).text((EMOJI_FONT_SIZE // 2, EMOJI_FONT_SIZE // 2), emoji, font=font, embedded_color=True)
    if img.getchannel("A").getbbox() is None:
        raise TargetError(f"unknown emoji {text!r}: the Noto colour emoji font has no picture for it")
    return img


def load_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:  # reads the header only
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise TargetError(f"{path}: {im.width}x{im.height} pixels is too large for a target "
                                  f"(at most {MAX_IMAGE_PIXELS} pixels; it becomes at most 255x255 cells)")
            return im.convert("RGBA")
    except Image.DecompressionBombError as e:
        raise TargetError(f"{path}: too large for a target ({e})") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        if isinstance(e, TargetError):
            raise
        raise TargetError(f"{path}: not a readable image ({e})") from None


def load_target(target: str, size: int, grid: int) -> np.ndarray:
    """Premultiplied RGBA float32 [grid, grid, 4]: the picture fitted into size x size, centred."""
    if grid < size:
        raise TargetError(f"grid {grid} is smaller than the pattern size {size}")
    p = Path(target)
    looks_like_file = p.suffix != "" or "/" in target or p.exists()
    img = load_image(p) if looks_like_file else render_emoji(target)
    bbox = img.getchannel("A").getbbox()
    if bbox is None:
        raise TargetError(f"{target}: the image's alpha channel is empty (fully transparent): nothing to grow")
    img = img.crop(bbox)
    scale = size / max(img.size)
    w, h = max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))
    # resize premultiplied, so transparent pixels' colours do not bleed into the edges
    rgba = np.asarray(img, dtype=np.float32) / 255.0
    rgba[..., :3] *= rgba[..., 3:]
    chans = [Image.fromarray(rgba[..., c]).resize((w, h), Image.Resampling.LANCZOS) for c in range(4)]
    small = np.clip(np.stack([np.asarray(c) for c in chans], -1), 0.0, 1.0)
    small[..., :3] = np.minimum(small[..., :3], small[..., 3:])
    out = np.zeros((grid, grid, 4), np.float32)
    y0, x0 = (grid - h) // 2, (grid - w) // 2
    out[y0:y0 + h, x0:x0 + w] = small
    return out
