"""Reading image files safely: the size from the file header before decoding, a pixel limit, and
detection of truncated files.

Why: OpenCV decodes whatever a file header announces. A PNG of under 1 MB can announce
30000 x 30000 pixels (2.7 GB once decoded), and OpenCV's ``warpAffine`` indexes an image's bytes
with 32-bit integers, so an RGB image of 2**31 bytes or more (about 715 megapixels) crashes the
process. A JPEG cut short decodes without an error: libjpeg fills the missing rows with grey.

The rules applied by :func:`decode_image` / :func:`read_image_file` (and so by every posekit
command that reads images):

* **Pixel limit.** Width x height is read from the header of JPEG, PNG, BMP, GIF, TIFF, WebP and
  PNM (PPM/PGM/PBM/PAM) files without decoding them; an image above the limit is refused before
  any pixel is decoded. Other formats OpenCV reads (JPEG 2000, OpenEXR, ...) are checked right
  after decoding. The limit is :data:`DEFAULT_MAX_IMAGE_PIXELS` (100 megapixels, e.g.
  10000 x 10000) unless the environment variable ``POSEKIT_MAX_IMAGE_PIXELS`` sets another one,
  which may not exceed :data:`HARD_MAX_IMAGE_PIXELS` (the largest RGB image OpenCV's warp handles).
* **Truncation.** A JPEG must reach its end-of-image marker through a well-formed segment
  structure and a PNG its ``IEND`` chunk; otherwise it is refused as truncated. Truncated BMP,
  TIFF, WebP, PNM and JPEG 2000 files already fail to decode in OpenCV.

Every refusal is a :class:`DataError` whose ``reason`` is one of :data:`REASONS` and whose message
names the file (or upload), the size found and the limit.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "DataError",
    "REASONS",
    "DEFAULT_MAX_IMAGE_PIXELS",
    "HARD_MAX_IMAGE_PIXELS",
    "MAX_PIXELS_ENV",
    "max_image_pixels",
    "header_size",
    "check_pixel_limit",
    "check_complete",
    "decode_image",
    "read_image_file",
]

#: Why a sample could not be used (:attr:`DataError.reason`).
REASONS = ("missing_image", "corrupt_image", "truncated_image", "image_too_large", "bad_box", "bad_labels",
           "other")

#: Default pixel limit (width x height) of an image posekit decodes.
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000
#: Ceiling of ``POSEKIT_MAX_IMAGE_PIXELS``: an RGB uint8 image of fewer than 2**31 bytes.
HARD_MAX_IMAGE_PIXELS = (2**31 - 1) // 3
#: Environment variable that sets the pixel limit.
MAX_PIXELS_ENV = "POSEKIT_MAX_IMAGE_PIXELS"
#: Bytes read from a file to find its size before the whole file is read.
_HEADER_BYTES = 1 << 20


class DataError(RuntimeError):
    """A sample or image that cannot be used; the message names the file (and sample).

    Attributes:
        reason: one of :data:`REASONS` (``"other"`` when not given).
    """

    def __init__(self, message: str, reason: str = "other"):
        super().__init__(message)
        self.reason = reason if reason in REASONS else "other"


def max_image_pixels() -> int:
    """The pixel limit in force: ``POSEKIT_MAX_IMAGE_PIXELS`` when set, else the default.

    Raises:
        ValueError: the variable is not a positive integer or exceeds :data:`HARD_MAX_IMAGE_PIXELS`.
    """
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        value = int(float(text))
    except (ValueError, OverflowError):
        raise ValueError(f"{MAX_PIXELS_ENV}={text!r} is not a number of pixels") from None
    if not 0 < value <= HARD_MAX_IMAGE_PIXELS:
        raise ValueError(f"{MAX_PIXELS_ENV}={text!r} must be in 1 .. {HARD_MAX_IMAGE_PIXELS} "
                         "(larger images crash OpenCV's warp)")
    return value


# ------------------------------------------------------------------------------------ header sizes
def _jpeg_segments(data: bytes):
    """Walk the marker segments of a JPEG: yields ``(marker, payload_start, payload_end)`` and finally
    ``("end", pos, pos)`` at the end-of-image marker, ``("truncated", pos, pos)`` when the data stops
    after image data began (a start-of-scan was seen), or ``("malformed", pos, pos)`` when the
    headers themselves are cut or impossible (left to the decoder to refuse). Entropy-coded data
    after a start-of-scan is skipped to the next marker."""
    n, pos, scanning = len(data), 2, False
    while True:
        cut = "truncated" if scanning else "malformed"
        pos = data.find(b"\xff", pos)
        while 0 <= pos < n - 1 and data[pos + 1] == 0xFF:   # fill bytes
            pos += 1
        if pos < 0 or pos >= n - 1:
            yield cut, n, n
            return
        marker = data[pos + 1]
        if marker == 0xD9:
            yield "end", pos, pos
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD7 or marker == 0x00:
            pos += 2
            continue
        length = (data[pos + 2] << 8) | data[pos + 3] if pos + 4 <= n else 0
        end = pos + 2 + length
        if pos + 4 > n or end > n:
            yield cut, n, n
            return
        if length < 2:
            yield "malformed", pos, pos
            return
        yield marker, pos + 4, end
        if marker == 0xDA:   # start of scan: entropy-coded data until the next real marker
            scanning = True
            found = _JPEG_MARKER.search(data, end)
            if found is None:
                yield "truncated", n, n
                return
            pos = found.start()
        else:
            pos = end


#: A marker inside entropy-coded JPEG data: 0xFF not followed by a stuffed 0x00, a restart marker or fill.
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
#: Start-of-frame markers (the frame header holds the size); 0xC4, 0xC8 and 0xCC are not frames.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    for marker, start, end in _jpeg_segments(data):
        if marker in _JPEG_SOF and end - start >= 5:
            height, width = struct.unpack(">HH", data[start + 1:start + 5])
            return width, height
        if not isinstance(marker, int) or marker == 0xDA:
            return None
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def _bmp_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 26:
        return None
    (dib,) = struct.unpack("<I", data[14:18])
    if dib == 12:
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)


def _gif_size(data: bytes) -> tuple[int, int] | None:
    return struct.unpack("<HH", data[6:10]) if len(data) >= 10 else None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    kind = data[12:16]
    if kind == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and len(data) >= 25:
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        return None
    (ifd,) = struct.unpack(order + "I", data[4:8])
    if ifd + 2 > len(data):
        return None
    (count,) = struct.unpack(order + "H", data[ifd:ifd + 2])
    found: dict[int, int] = {}
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(data):
            break
        tag, kind = struct.unpack(order + "HH", data[entry:entry + 4])
        if tag in (256, 257):
            fmt = order + ("H" if kind == 3 else "I")
            found[tag] = struct.unpack(fmt, data[entry + 8:entry + 8 + struct.calcsize(fmt)])[0]
    return (found[256], found[257]) if len(found) == 2 else None


def _pnm_size(data: bytes) -> tuple[int, int] | None:
    head = data[:4096]
    if head[:2] == b"P7":
        width, height = re.search(rb"\bWIDTH\s+(\d+)", head), re.search(rb"\bHEIGHT\s+(\d+)", head)
        return (int(width.group(1)), int(height.group(1))) if width and height else None
    text = re.sub(rb"#[^\n]*", b" ", head[2:])
    numbers = re.findall(rb"\d+", text)
    return (int(numbers[0]), int(numbers[1])) if len(numbers) >= 2 else None


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", _png_size),
    (b"\xff\xd8", _jpeg_size),
    (b"BM", _bmp_size),
    (b"GIF87a", _gif_size),
    (b"GIF89a", _gif_size),
    (b"II*\x00", _tiff_size),
    (b"MM\x00*", _tiff_size),
)


def header_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` in pixels from the header of an encoded image, without decoding it.

    Args:
        data: the file's bytes (its first megabyte suffices for every format below).

    Returns:
        The size for JPEG, PNG, BMP, GIF, TIFF (first image), WebP and PNM/PAM data; None for other
        formats or a header too damaged to read.
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data[:1] == b"P" and data[1:2] in b"1234567" and len(data) > 2 and data[2:3].isspace():
        return _pnm_size(data)
    for signature, reader in _SIGNATURES:
        if data.startswith(signature):
            try:
                return reader(data)
            except struct.error:
                return None
    return None


def check_pixel_limit(width: int, height: int, where: str, limit: int | None = None) -> None:
    """Refuse an image of more than ``limit`` pixels (default: :func:`max_image_pixels`, and the
    message then says how to change it).

    Raises:
        DataError: reason ``"image_too_large"``; the message names ``where``, the size and the limit.
    """
    hint = f" (set {MAX_PIXELS_ENV} to change it)" if limit is None else ""
    limit = max_image_pixels() if limit is None else int(limit)
    if int(width) * int(height) > limit:
        raise DataError(f"{where}: the image is {width}x{height} = {width * height / 1e6:.1f} megapixels, above "
                        f"the limit of {limit / 1e6:.1f} megapixels{hint}", "image_too_large")


def check_complete(data: bytes, where: str) -> None:
    """Refuse a JPEG or PNG whose image data stops before the end of the image: a JPEG cut after
    its start of scan (before the end-of-image marker), a PNG cut after its first ``IDAT`` chunk
    (before ``IEND``). Files cut inside their headers are left to the decoder, which refuses them.

    Raises:
        DataError: reason ``"truncated_image"``.
    """
    truncated = False
    if data.startswith(b"\xff\xd8"):
        truncated = any(marker == "truncated" for marker, _, _ in _jpeg_segments(data))
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        pos, n, image_data = 8, len(data), False
        while True:
            if pos + 8 > n:
                truncated = image_data
                break
            (length,) = struct.unpack(">I", data[pos:pos + 4])
            kind, pos = data[pos + 4:pos + 8], pos + 12 + length
            image_data |= kind == b"IDAT"
            if kind == b"IEND" or pos > n:
                truncated = image_data and pos > n
                break
    if truncated:
        raise DataError(f"{where}: the image file is truncated (its image data stops before the end of the "
                        "image: an incomplete download or copy?)", "truncated_image")


def decode_image(data: bytes, where: str, limit: int | None = None) -> np.ndarray:
    """Decode an encoded image (file contents or an upload) to RGB, with the checks of the module docstring.

    Args:
        data: the encoded bytes.
        where: what to name in messages (a path or ``"the upload"``).
        limit: pixel limit (default: :func:`max_image_pixels`).

    Returns:
        ``(H, W, 3)`` uint8 RGB.

    Raises:
        DataError: empty, too large (``image_too_large``), truncated (``truncated_image``) or not
            decodable (``corrupt_image``).
    """
    if not data:
        raise DataError(f"{where}: empty file, not an image", "corrupt_image")
    size = header_size(data[:_HEADER_BYTES])
    if size is not None:
        check_pixel_limit(*size, where, limit)
    check_complete(data, where)
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as e:   # e.g. OpenCV's own size limit
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else "OpenCV error"
        raise DataError(f"{where}: cannot decode the image ({reason})", "corrupt_image") from None
    if bgr is None or bgr.size == 0:
        raise DataError(f"{where}: cannot decode the image (corrupt, or not an image format OpenCV reads)",
                        "corrupt_image")
    if size is None:
        check_pixel_limit(bgr.shape[1], bgr.shape[0], where, limit)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image_file(path: str | Path, limit: int | None = None) -> np.ndarray:
    """Read an image file as RGB, refusing it before decoding when its header announces more than
    ``limit`` pixels (see :func:`decode_image`).

    Returns:
        ``(H, W, 3)`` uint8 RGB.

    Raises:
        DataError: missing (``missing_image``), too large, truncated or undecodable; names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image file not found: {path}", "missing_image")
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_BYTES)
            size = header_size(head)
            if size is not None:
                check_pixel_limit(*size, str(path), limit)
            data = head + f.read()
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror or e})", "missing_image") from None
    return decode_image(data, str(path), limit)
