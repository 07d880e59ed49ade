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
  Bad input (not an image, corrupt or truncated, > 10 MB, > 50 megapixels, a malformed box or
  one outside the image, an unknown sample or checkpoint index) -> HTTP 400 ``{"error": message}``.
  The image size is read from the file header and checked before the image is decoded; at most
  two predictions run at once (others wait), which bounds the server's memory.

Sample photos come from :mod:`posekit.data.samples` (real MPII photos with ground truth, real COCO
photos with a person box) and, for each checkpoint whose run folder names a synthetic dataset on
disk, its first synthetic validation images. The reply says where the PCKh head size came from.
Every model is run as its model artifact says (keypoints, crop, flip testing).
"""

from __future__ import annotations

import base64
import math
import threading
from pathlib import Path

import cv2
import numpy as np

from posekit.data.samples import Sample, sample_photos

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Largest accepted upload (bytes).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Largest accepted image (width x height) of an upload, checked on the file header before decoding
#: (also capped by the library limit, :func:`posekit.data.images.max_image_pixels`).
MAX_UPLOAD_PIXELS = 50_000_000
#: Predictions that may run at once (decoding and network); more requests wait their turn.
MAX_CONCURRENT_PREDICTIONS = 2
#: Longest side of the returned overlay images (px); larger images are shrunk for display.
DISPLAY_SIZE = 720


class InputError(ValueError):
    """A user mistake in the request: answered with HTTP 400 and the message."""


def find_samples(samples: Path | None, checkpoints: list[str] = (), max_synthetic: int = 6) -> list[Sample]:
    """The sample photos (:func:`posekit.data.samples.sample_photos`) and the first synthetic val
    images of each checkpoint's run when its dataset is on disk."""
    out = sample_photos(samples)
    seen: set[str] = set()
    for ckpt in checkpoints:
        out.extend(_synthetic_samples(Path(ckpt), max_synthetic, seen))
    return out


def _synthetic_samples(checkpoint: Path, limit: int, seen: set) -> list[Sample]:
    """Synthetic val images of the run a checkpoint belongs to (its ``config.yaml``), if on disk."""
    cfg_path = checkpoint.parent / "config.yaml"
    if not cfg_path.is_file():
        return []
    import yaml

    from posekit.data.annotations import load_annotations

    data = (yaml.safe_load(cfg_path.read_text()) or {}).get("data", {})
    if data.get("dataset") != "synthetic" or not data.get("root") or data.get("keypoints", "mpii") != "mpii":
        return []
    path = Path(data["root"]) / "val" / "annotations.json"
    if not path.is_file() or str(path) in seen:
        return []
    seen.add(str(path))
    ann = load_annotations(path)
    return [Sample(f"synthetic val {ann.image_names[i]}", str(path.parent / "images" / ann.image_names[i]),
                   {"center": ann.centers[i].tolist(), "scale": float(ann.scales[i])}, ann.joints[i],
                   ~ann.annotated[i], float(ann.head_sizes[i]), "synthetic head_size (0.6 x head box diagonal)")
            for i in range(min(limit, len(ann)))]


def png_base64(image: np.ndarray) -> str:
    """``data:`` URL of an RGB (or gray) uint8 image encoded as PNG."""
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buf = cv2.imencode(".png", bgr)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
        raise RuntimeError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def decode_upload(data: bytes) -> np.ndarray:
    """RGB image from uploaded bytes (:func:`posekit.data.images.decode_image`).

    Raises:
        InputError: empty, larger than :data:`MAX_UPLOAD_BYTES`, above :data:`MAX_UPLOAD_PIXELS`
            (read from the header, before decoding), truncated, or not a decodable image.
    """
    from posekit.data.images import DataError, decode_image, max_image_pixels

    if not data:
        raise InputError("the uploaded file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"the image is too large ({len(data) / 1e6:.1f} MB); the limit is "
                         f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    try:
        return decode_image(data, "the upload", limit=min(MAX_UPLOAD_PIXELS, max_image_pixels()))
    except DataError as e:
        if e.reason == "corrupt_image":
            raise InputError("the upload is not an image OpenCV can read (JPEG, PNG, BMP, ...) or it is "
                             "corrupt") from None
        raise InputError(str(e)) from None


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


def heatmap_tiles(pred, size: int = 256) -> list[dict]:
    """One image per predicted joint: its heat map (jet colours, values clipped to [0, 1]) blended
    over the crop, ``size`` px square (shown small, enlarged on click)."""
    crop = cv2.resize(pred.crop, (size, size), interpolation=cv2.INTER_AREA)
    tiles = []
    for name, hm in zip(pred.keypoint_set.names, pred.heatmaps):
        hm = cv2.resize((np.clip(hm, 0, 1) * 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_LINEAR)
        color = cv2.cvtColor(cv2.applyColorMap(hm, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
        tiles.append({"joint": name, "png": png_base64(cv2.addWeighted(crop, 0.45, color, 0.55, 0))})
    return tiles


def _ground_truth(sample: Sample | None, names: tuple[str, ...]):
    """The sample's MPII ground truth for the model's keypoints, or None (no ground truth, or a
    model whose keypoints are not MPII joints)."""
    if sample is None or sample.joints is None or not sample.head_size:
        return None
    from posekit.keypoints import MPII

    ids = [MPII.find(n) for n in names]
    if any(i is None for i in ids):
        return None
    return sample.joints[ids], sample.missing[ids], float(sample.head_size)


def analyse(predictor, image: np.ndarray, boxes: list[dict], sample: Sample | None, threshold: float,
            flip: bool | None = None) -> dict:
    """Run one predictor on one image, one person per entry of ``boxes`` (keyword arguments of
    :meth:`PosePredictor.predict`; ``[{}]``: the whole image); JSON-ready result: overlay (every
    person), keypoint rows (``person`` index; with ground truth for the first person: distance and
    correctness), the first person's heat maps, PCKh, the flip setting used and the model's summary."""
    from posekit.pipelines.predict import prediction_overlay

    preds = [predictor.predict(image, flip=flip, **box) for box in boxes]
    names = preds[0].keypoint_set.names
    gt = _ground_truth(sample, names)
    correct = dist = None
    if gt is not None:
        dist = np.linalg.norm(preds[0].keypoints - gt[0], axis=1) / gt[2]
        correct = np.where(np.isfinite(dist), dist <= threshold, False)
    rows = []
    for k, pred in enumerate(preds):
        for j, name in enumerate(names):
            if not np.isfinite(pred.confidence[j]):
                continue
            row = {"person": k, "joint": name, "x": round(float(pred.keypoints[j, 0]), 1),
                   "y": round(float(pred.keypoints[j, 1]), 1), "confidence": round(float(pred.confidence[j]), 3)}
            if k == 0 and gt is not None and not gt[1][j]:
                row["distance"] = round(float(dist[j]), 3)
                row["correct"] = bool(correct[j])
            rows.append(row)
    evaluated = [r for r in rows if "correct" in r]
    overlay = image
    for k, pred in enumerate(preds):
        last = k == len(preds) - 1
        overlay = prediction_overlay(overlay, pred, correct=correct if k == 0 else None,
                                     gt_points=None if gt is None or k else gt[0],
                                     gt_missing=None if gt is None or k else gt[1],
                                     display_size=DISPLAY_SIZE if last else None)
    first = preds[0]
    return {
        "overlay": png_base64(overlay),
        "people": len(preds),
        "boxes": [[round(float(v), 1) for v in b["bbox"]] for b in boxes if "bbox" in b],
        "keypoints": rows,
        "heatmaps": heatmap_tiles(first) if np.isfinite(first.confidence).any() else [],
        "center": [round(float(v), 1) for v in first.center],
        "scale": round(float(first.scale), 3),
        "flip_test": first.flip_test,
        "model": predictor.artifact.summary(),
        "pckh": (round(100.0 * sum(r["correct"] for r in evaluated) / len(evaluated), 1) if evaluated else None),
    }


def compare(a: dict, b: dict) -> list[dict]:
    """Per-joint differences of two models' first person (:func:`analyse` results): both
    positions, their distance in original px and, with ground truth, each one's correctness."""
    rows_b = {r["joint"]: r for r in b["keypoints"] if r["person"] == 0}
    out = []
    for ra in (r for r in a["keypoints"] if r["person"] == 0):
        rb = rows_b.get(ra["joint"])
        if rb is None:
            continue
        row = {"joint": ra["joint"], "a": [ra["x"], ra["y"]], "b": [rb["x"], rb["y"]],
               "distance_px": round(math.hypot(ra["x"] - rb["x"], ra["y"] - rb["y"]), 1)}
        if "correct" in ra and "correct" in rb:
            row["a_correct"], row["b_correct"] = ra["correct"], rb["correct"]
        out.append(row)
    return out


def create_app(checkpoints: list[str], samples: str | Path | None = None, device: str = "cpu"):
    """The Flask application.

    Args:
        checkpoints: posekit checkpoint files the user can pick from (loaded on first use).
        samples: folder with the sample photos (:mod:`posekit.data.samples`), or None.
        device: where the models run.
    """
    from flask import Flask, jsonify, request, send_from_directory
    from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

    from posekit.decoding.predictor import PosePredictor

    app = Flask(__name__, static_folder=None)
    # the request may carry a few form fields besides the image; the image itself is checked exactly
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES + 64 * 1024
    checkpoints = [str(c) for c in checkpoints]
    samples = find_samples(Path(samples) if samples else None, checkpoints)
    predictors: dict[int, PosePredictor] = {}
    detector = {}
    lock = threading.Lock()
    running = threading.BoundedSemaphore(MAX_CONCURRENT_PREDICTIONS)

    def index_of(text: str | None, items: list, what: str) -> int:
        """A list index from a form field: a non-negative integer below ``len(items)``."""
        try:
            index = int(text)
        except (TypeError, ValueError):
            index = -1
        if not 0 <= index < len(items):
            raise InputError(f"unknown {what} {text!r}: expected 0 .. {len(items) - 1}")
        return index

    def label(index: int) -> str:
        """Run folder, file and epoch: tells apart every run's best.pt."""
        p = Path(checkpoints[index])
        epochs = predictor(index).artifact.trained_on.get("epochs")
        return f"{p.parent.name}/{p.name}" + (f" (epoch {epochs})" if epochs is not None else "")

    def predictor(index: int) -> PosePredictor:
        path = checkpoints[index]
        with lock:
            if index not in predictors:
                try:
                    predictors[index] = PosePredictor.from_checkpoint(path, device=device)
                except (FileNotFoundError, ValueError, KeyError, RuntimeError) as e:
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
        models = []
        for i, c in enumerate(checkpoints):
            p = predictor(i)
            models.append({"index": i, "label": label(i), "path": c, "model": p.artifact.summary(),
                           "trained_on": p.artifact.trained_on, "flip_test": p.flip,
                           "keypoints": list(p.keypoints.names)})
        return jsonify(checkpoints=models,
                       samples=[{"index": i, "label": s.label, "has_gt": s.joints is not None}
                                for i, s in enumerate(samples)],
                       max_upload_mb=MAX_UPLOAD_BYTES // (1024 * 1024))

    @app.get("/api/sample/<index>")
    def sample_preview(index):
        """A sample's picture (shrunk for display), its size and its person box, for the preview."""
        from posekit.data.dataset import DataError, load_image

        sample = samples[index_of(index, samples, "sample")]
        try:
            image = load_image(sample.path)
        except DataError as e:
            raise InputError(str(e)) from None
        scale = min(1.0, DISPLAY_SIZE / max(image.shape[:2]))
        shown = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        return jsonify(image=png_base64(shown), width=int(image.shape[1]), height=int(image.shape[0]),
                       box=sample.box.get("bbox"), center=sample.box.get("center"), scale=sample.box.get("scale"))

    @app.post("/api/predict")
    def predict():
        with running:
            return run_prediction()

    def run_prediction():
        from posekit.data.dataset import DataError, load_image

        if not checkpoints:
            raise InputError("no checkpoint: start the GUI with --checkpoint CKPT")
        form = request.form
        sample = None
        upload = request.files.get("image")
        if upload is not None and upload.filename:
            image, name = decode_upload(upload.read(MAX_UPLOAD_BYTES + 1)), upload.filename
        elif form.get("sample", "") != "":
            sample = samples[index_of(form["sample"], samples, "sample")]
            try:
                image, name = load_image(sample.path), sample.label
            except DataError as e:
                raise InputError(str(e)) from None
        else:
            raise InputError("choose an image file or a sample")
        box = parse_box(form)
        if not box and sample is not None:
            box = dict(sample.box)
        boxes = [box]
        if not box and form.get("detector", "auto") != "none":      # several people: one box each
            from posekit.decoding.detection import HOGPersonDetector

            try:
                detector.setdefault("hog", HOGPersonDetector())
                found = detector["hog"](image)
            except RuntimeError:
                found = []
            boxes = [{"bbox": list(d.box)} for d in found] or [{}]
        flip = {"": None, "default": None, "on": True, "off": False}.get(form.get("flip", ""), "bad")
        if flip == "bad":
            raise InputError(f"flip must be default, on or off, got {form.get('flip')!r}")
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
            index = index_of(c or "0", checkpoints, "checkpoint")
            try:
                res = analyse(predictor(index), image, boxes, sample, threshold, flip)
            except ValueError as e:  # e.g. a degenerate box, or one outside the image
                raise InputError(str(e)) from None
            res["flip_source"] = "the model's setting" if flip is None else "chosen on the page"
            results.append({"checkpoint": label(index), **res})
        has_gt = any(r.get("pckh") is not None for r in results)
        return jsonify(image={"name": name, "width": int(image.shape[1]), "height": int(image.shape[0])},
                       results=results, threshold=threshold, has_gt=has_gt,
                       comparison=compare(*results) if len(results) == 2 else None,
                       head_size=round(float(sample.head_size), 2) if has_gt else None,
                       head_size_source=sample.head_size_source if has_gt else None)

    return app
