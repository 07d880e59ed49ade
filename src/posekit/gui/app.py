"""The posekit web GUI: a small Flask app that runs a checkpoint on one image and shows the result.

The page (``static/index.html`` + ``app.js`` + ``style.css``, no external assets) lets a user upload
an image or pick a bundled sample, optionally give the person box, pick one checkpoint (or two, to
compare them side by side) and see the skeleton overlay, a per-joint confidence table and every
joint's heat map. When the sample has ground truth the joints are marked correct / wrong at the
chosen PCKh threshold and the ground-truth skeleton is drawn too.

JSON API (all images are PNG, base64-encoded):

* ``GET /api/info`` -> checkpoints (index, label) and samples (index, label, has_gt);
* ``POST /api/predict`` (multipart form) -> per checkpoint: overlay, keypoints, heat maps, PCKh.
  Form fields: ``image`` (file) or ``sample`` (index); ``checkpoint`` and optional ``checkpoint_b``
  (indices); optional ``bbox`` ("x1 y1 x2 y2") or ``center`` ("x y") + ``scale``; ``threshold``.
  Bad input (not an image, corrupt, > 10 MB, a malformed box) -> HTTP 400 ``{"error": message}``.

Head size for PCKh on the bundled MPII photos: these json records carry no head box. When the image
is one of the ``valid.h5`` people (matched by file name and center x) its ``normalize`` field is
used, which is the official head size (docs/conventions.md). Otherwise the head size is estimated
as ``0.1 * 200 * scale * 1.25``: on ``valid.h5`` ``normalize / (200 * scale)`` is 0.1 (10th to 90th
percentile), and the mmpose json ``scale`` is the ``valid.h5`` scale divided by 1.25 on the five
bundled photos. The reply says which of the two was used. COCO photos have no MPII ground truth.
"""

from __future__ import annotations

import base64
import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from posekit.joints import JOINT_NAMES, NUM_JOINTS

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Largest accepted upload (bytes).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Longest side of the returned overlay images (px); larger images are shrunk for display.
DISPLAY_SIZE = 720
GT_COLOR, CORRECT_COLOR, WRONG_COLOR = (255, 255, 255), (40, 220, 40), (255, 30, 30)


class InputError(ValueError):
    """A user mistake in the request: answered with HTTP 400 and the message."""


@dataclass
class Sample:
    """A bundled image, its person box and (optionally) MPII ground truth."""

    label: str
    path: str
    box: dict
    joints: np.ndarray | None = None
    missing: np.ndarray | None = None
    head_size: float | None = None
    head_size_source: str = ""
    extra: dict = field(default_factory=dict)


def _valid_h5_head_sizes(shared: Path) -> dict[tuple[str, int], float]:
    """(image name, rounded center x) -> ``normalize`` from ``mpii/valid.h5`` (empty if absent)."""
    path = shared / "mpii" / "valid.h5"
    if not path.is_file():
        return {}
    import h5py

    with h5py.File(path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["imgname"][:]]
        return {(n, int(round(c[0]))): float(h) for n, c, h in zip(names, f["center"][:], f["normalize"][:])}


def find_samples(shared: Path | None, checkpoints: list[str] = (), max_synthetic: int = 6) -> list[Sample]:
    """The bundled samples: real MPII photos (with ground truth), real COCO photos (box only), and
    the first synthetic val images of each checkpoint's run when its dataset is on disk."""
    samples: list[Sample] = []
    if shared is not None and Path(shared).is_dir():
        shared = Path(shared)
        heads = _valid_h5_head_sizes(shared)
        mpii = shared / "mpii" / "images" / "annotations.json"
        if mpii.is_file():
            for rec in json.loads(mpii.read_text()):
                joints = np.asarray(rec["joints"], dtype=np.float64)
                key = (rec["image"], int(round(rec["center"][0])))
                if key in heads:
                    head, source = heads[key], "valid.h5 normalize (official head size)"
                else:
                    head, source = 0.1 * 200 * rec["scale"] * 1.25, "estimate 0.1 x 200 x scale x 1.25"
                samples.append(Sample(f"MPII {rec['image']}", str(mpii.parent / rec["image"]),
                                      {"center": rec["center"], "scale": rec["scale"]}, joints,
                                      np.all(joints == 0, axis=1) | np.all(joints == -1, axis=1), head, source))
        from posekit.cli.quickstart import real_images

        for path, box in real_images(shared):
            if "/coco/" in path.replace("\\", "/"):
                samples.append(Sample(f"COCO {Path(path).name} (no MPII ground truth)", path, box))
    seen = set()
    for ckpt in checkpoints:
        samples.extend(_synthetic_samples(Path(ckpt), max_synthetic, seen))
    return samples


def _synthetic_samples(checkpoint: Path, limit: int, seen: set) -> list[Sample]:
    """Synthetic val images of the run a checkpoint belongs to (its ``config.yaml``), if on disk."""
    cfg_path = checkpoint.parent / "config.yaml"
    if not cfg_path.is_file():
        return []
    import yaml

    data = (yaml.safe_load(cfg_path.read_text()) or {}).get("data", {})
    if data.get("dataset") != "synthetic" or not data.get("root"):
        return []
    ann = Path(data["root"]) / "val" / "annotations.json"
    if not ann.is_file() or str(ann) in seen:
        return []
    seen.add(str(ann))
    out = []
    for rec in json.loads(ann.read_text())[:limit]:
        joints = np.asarray(rec["joints"], dtype=np.float64)
        out.append(Sample(f"synthetic val {rec['image']}", str(ann.parent / "images" / rec["image"]),
                          {"center": rec["center"], "scale": rec["scale"]}, joints,
                          np.all(joints == 0, axis=1) | np.all(joints == -1, axis=1),
                          rec.get("head_size"), "synthetic head_size (0.6 x head box diagonal)"))
    return out


def png_base64(image: np.ndarray) -> str:
    """``data:`` URL of an RGB (or gray) uint8 image encoded as PNG."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buf = cv2.imencode(".png", bgr)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
        raise RuntimeError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def decode_upload(data: bytes) -> np.ndarray:
    """RGB image from uploaded bytes.

    Raises:
        InputError: empty, larger than :data:`MAX_UPLOAD_BYTES`, or not a decodable image.
    """
    if not data:
        raise InputError("the uploaded file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"the image is too large ({len(data) / 1e6:.1f} MB); the limit is "
                         f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise InputError("the file is not an image OpenCV can read (JPEG, PNG, BMP, ...) or it is corrupt")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def parse_box(form) -> dict:
    """Person box from form fields ``bbox`` ("x1 y1 x2 y2") or ``center`` ("x y") + ``scale``.

    Returns:
        Keyword arguments for :meth:`PosePredictor.predict` (empty: the whole image).

    Raises:
        InputError: malformed numbers, a partial center/scale, or a degenerate box.
    """
    def numbers(name: str, count: int) -> list[float] | None:
        text = (form.get(name) or "").replace(",", " ").strip()
        if not text:
            return None
        try:
            vals = [float(v) for v in text.split()]
        except ValueError:
            raise InputError(f"{name}: expected {count} numbers, got {text!r}") from None
        if len(vals) != count or not all(math.isfinite(v) for v in vals):
            raise InputError(f"{name}: expected {count} finite numbers, got {text!r}")
        return vals

    bbox, center, scale = numbers("bbox", 4), numbers("center", 2), numbers("scale", 1)
    if bbox is not None:
        if bbox[2] <= bbox[0] or bbox[3] <= bbox[1]:
            raise InputError(f"bbox {bbox}: need x2 > x1 and y2 > y1")
        return {"bbox": bbox}
    if (center is None) != (scale is None):
        raise InputError("give both center and scale, or neither")
    if center is not None:
        if scale[0] <= 0:
            raise InputError("scale must be > 0")
        return {"center": center, "scale": scale[0]}
    return {}


def heatmap_tiles(pred, size: int = 96) -> list[dict]:
    """One small image per predicted joint: its heat map (jet colours) blended over the crop."""
    crop = cv2.resize(pred.crop, (size, size), interpolation=cv2.INTER_AREA)
    tiles = []
    for channel, j in enumerate(pred.joint_ids):
        hm = np.clip(pred.heatmaps[channel], 0, 1)
        hm = cv2.resize((hm * 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_LINEAR)
        color = cv2.cvtColor(cv2.applyColorMap(hm, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
        tiles.append({"joint": JOINT_NAMES[j], "png": png_base64(cv2.addWeighted(crop, 0.45, color, 0.55, 0))})
    return tiles


def draw_result(image: np.ndarray, pred, correct: np.ndarray | None = None, gt_joints: np.ndarray | None = None,
                gt_missing: np.ndarray | None = None, display_size: int | None = DISPLAY_SIZE) -> np.ndarray:
    """The overlay: the predicted skeleton (right red, left blue); with ground truth, the GT skeleton
    in white and a ring around each predicted joint, green when correct and red when wrong."""
    from posekit.analysis.draw import draw_skeleton

    valid = np.isfinite(pred.confidence)
    out = image
    th = max(1, round(max(image.shape[:2]) / 200))
    if correct is not None:
        out = draw_skeleton(out, gt_joints, valid=~gt_missing, color=GT_COLOR, thickness=max(1, th // 2))
    out = draw_skeleton(out, np.nan_to_num(pred.keypoints), valid=valid, thickness=th)
    if correct is not None:
        for j in range(NUM_JOINTS):
            if valid[j] and not gt_missing[j]:
                p = tuple(int(round(v)) for v in pred.keypoints[j])
                cv2.circle(out, p, 3 * th + 2, CORRECT_COLOR if correct[j] else WRONG_COLOR, th, cv2.LINE_AA)
    scale = display_size / max(out.shape[:2]) if display_size else 1.0
    if scale < 1:
        out = cv2.resize(out, (round(out.shape[1] * scale), round(out.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    return out


def analyse(predictor, image: np.ndarray, box: dict, sample: Sample | None, threshold: float) -> dict:
    """Run one predictor on one image; JSON-ready result (overlay, keypoints, heat maps, PCKh)."""
    pred = predictor.predict(image, **box)
    has_gt = sample is not None and sample.joints is not None and sample.head_size
    correct = dist = None
    if has_gt:
        dist = np.linalg.norm(pred.keypoints - sample.joints, axis=1) / sample.head_size
        correct = np.where(np.isfinite(dist), dist <= threshold, False)
    rows = []
    for j in range(NUM_JOINTS):
        if not np.isfinite(pred.confidence[j]):
            continue
        row = {"joint": JOINT_NAMES[j], "x": round(float(pred.keypoints[j, 0]), 1),
               "y": round(float(pred.keypoints[j, 1]), 1), "confidence": round(float(pred.confidence[j]), 3)}
        if has_gt and not sample.missing[j]:
            row["distance"] = round(float(dist[j]), 3)
            row["correct"] = bool(correct[j])
        rows.append(row)
    evaluated = [r for r in rows if "correct" in r]
    return {
        "overlay": png_base64(draw_result(image, pred, correct, *((sample.joints, sample.missing) if has_gt else ()))),
        "keypoints": rows,
        "heatmaps": heatmap_tiles(pred),
        "center": [round(float(v), 1) for v in pred.center],
        "scale": round(float(pred.scale), 3),
        "pckh": (round(100.0 * sum(r["correct"] for r in evaluated) / len(evaluated), 1) if evaluated else None),
    }


def create_app(checkpoints: list[str], shared: str | Path | None = None, device: str = "cpu"):
    """The Flask application.

    Args:
        checkpoints: posekit checkpoint files the user can pick from (loaded on first use).
        shared: folder with the real sample photos (``../shared/data``), or None.
        device: where the models run.
    """
    from flask import Flask, jsonify, request, send_from_directory
    from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

    from posekit.decoding.predictor import PosePredictor

    app = Flask(__name__, static_folder=None)
    # the request may carry a few form fields besides the image; the image itself is checked exactly
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES + 64 * 1024
    checkpoints = [str(c) for c in checkpoints]
    samples = find_samples(Path(shared) if shared else None, checkpoints)
    predictors: dict[int, PosePredictor] = {}
    lock = threading.Lock()

    def label(path: str) -> str:
        p = Path(path)
        return f"{p.parent.name}/{p.name}"

    def predictor(index_text: str | None) -> PosePredictor:
        try:
            index = int(index_text or 0)
            path = checkpoints[index]
        except (ValueError, IndexError):
            raise InputError(f"unknown checkpoint {index_text!r}") from None
        with lock:
            if index not in predictors:
                try:
                    predictors[index] = PosePredictor.from_checkpoint(path, device=device)
                except (FileNotFoundError, ValueError, KeyError) as e:
                    raise InputError(f"cannot load checkpoint {path}: {e}") from None
            return predictors[index]

    @app.errorhandler(InputError)
    def bad_input(e):
        return jsonify(error=str(e)), 400

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(e):
        return jsonify(error=f"the upload is too large; the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"), 400

    @app.errorhandler(HTTPException)
    def http_error(e):
        return jsonify(error=f"{e.code} {e.name}"), e.code

    @app.errorhandler(Exception)
    def internal(e):  # never a stack trace in the page
        app.logger.exception("prediction failed")
        return jsonify(error=f"internal error: {type(e).__name__}: {e}"), 500

    @app.get("/")
    def index():
        return send_from_directory(STATIC_DIR, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name):
        return send_from_directory(STATIC_DIR, name)

    @app.get("/api/info")
    def info():
        return jsonify(checkpoints=[{"index": i, "label": label(c)} for i, c in enumerate(checkpoints)],
                       samples=[{"index": i, "label": s.label, "has_gt": s.joints is not None}
                                for i, s in enumerate(samples)],
                       max_upload_mb=MAX_UPLOAD_BYTES // (1024 * 1024))

    @app.post("/api/predict")
    def predict():
        from posekit.data.dataset import DataError, load_image

        if not checkpoints:
            raise InputError("no checkpoint: start the GUI with --checkpoint CKPT")
        form = request.form
        sample = None
        upload = request.files.get("image")
        if upload is not None and upload.filename:
            image, name = decode_upload(upload.read(MAX_UPLOAD_BYTES + 1)), upload.filename
        elif form.get("sample", "") != "":
            try:
                sample = samples[int(form["sample"])]
            except (ValueError, IndexError):
                raise InputError(f"unknown sample {form['sample']!r}") from None
            try:
                image, name = load_image(sample.path), sample.label
            except DataError as e:
                raise InputError(str(e)) from None
        else:
            raise InputError("choose an image file or a sample")
        box = parse_box(form)
        if not box and sample is not None:
            box = dict(sample.box)
        try:
            threshold = float(form.get("threshold") or 0.5)
        except ValueError:
            raise InputError("threshold must be a number") from None
        if not 0 < threshold <= 5:
            raise InputError("threshold must be in (0, 5]")
        chosen = [form.get("checkpoint", "0")]
        if form.get("checkpoint_b", "") != "":
            chosen.append(form["checkpoint_b"])
        results = []
        for c in chosen:
            p = predictor(c)
            try:
                res = analyse(p, image, box, sample, threshold)
            except ValueError as e:  # e.g. a degenerate box
                raise InputError(str(e)) from None
            results.append({"checkpoint": label(checkpoints[int(c)]), **res})
        has_gt = sample is not None and sample.joints is not None and bool(sample.head_size)
        return jsonify(image={"name": name, "width": int(image.shape[1]), "height": int(image.shape[0])},
                       results=results, threshold=threshold, has_gt=has_gt,
                       head_size=round(float(sample.head_size), 2) if has_gt else None,
                       head_size_source=sample.head_size_source if has_gt else None)

    return app
