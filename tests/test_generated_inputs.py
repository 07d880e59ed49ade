"""Generated bad inputs (seeded, reproducible) for the annotation readers, the prediction-file reader,
the image decoder and the GUI's form fields: each either reads into a valid result or fails with
the reader's own error; nothing else ever escapes (no traceback, no HTTP 500).

The generators mutate valid inputs at random (wrong types, NaN / inf, huge and negative numbers,
strings, missing keys, ragged lists, random and cut bytes), in the manner of property-based
testing; the seeds are fixed so every failure can be replayed.
"""

from __future__ import annotations

import copy
import io
import json
import math
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pytest

from conftest import SHARED
from posekit.data.annotations import AnnotationError, read_mpii_h5, read_mpii_json
from posekit.data.images import DataError, decode_image
from posekit.data.predictions import load_predictions

NASTY_VALUES = [None, True, False, "12", "", "../x.jpg", "/abs.jpg", "C:\\x.jpg", [], [[]], {}, {"x": 1},
                float("nan"), float("inf"), -float("inf"), 0, -1, 5, 1e308, -1e308, 1e-320, 10**30, 2.5,
                [1, 2], [1, 2, 3], [[1, 2]] * 15, [[1, 2]] * 16, [["1", "2"]] * 16, [1] * 16, [5] * 16,
                [[1, 2, 3]] * 16, "héllo", [None, None]]


def _nasty(rng: np.random.Generator):
    """A fresh copy of a random entry of NASTY_VALUES (the lists are mutated afterwards)."""
    return copy.deepcopy(NASTY_VALUES[int(rng.integers(len(NASTY_VALUES)))])


def _base_samples() -> list[dict]:
    return [{"image": f"{i:09d}.jpg", "center": [300.0 + i, 200.0], "scale": 1.5 + i,
             "joints": [[100.0 + k, 50.0 + 2 * k] for k in range(16)], "joints_vis": [1, 0] * 8,
             "head_size": 40.0} for i in range(3)]


def _mutate(samples: list, rng: np.random.Generator):
    """1-3 random changes: a field replaced by a nasty value, a key deleted, an element of a list
    replaced, or the whole document replaced."""
    doc = copy.deepcopy(samples)
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.random()
        if kind < 0.05:
            return _nasty(rng)
        if not isinstance(doc, list) or not doc:
            return doc
        i = int(rng.integers(len(doc)))
        if not isinstance(doc[i], dict):
            continue
        key = ["image", "center", "scale", "joints", "joints_vis", "head_size", "headbox", "parts"][int(rng.integers(8))]
        value = _nasty(rng)
        if kind < 0.15:
            doc[i].pop(key, None)
        elif kind < 0.6 or not isinstance(doc[i].get(key), list) or not doc[i][key]:
            doc[i][key] = value
        else:
            items = doc[i][key]
            items[int(rng.integers(len(items)))] = value
    return doc


def _check_invariants(ann) -> None:
    """What every successfully read annotation file guarantees."""
    n, k = len(ann), ann.num_joints
    assert n > 0 and ann.joints.shape == (n, k, 2) and ann.visible.shape == (n, k)
    assert np.isfinite(ann.centers).all() and np.isfinite(ann.joints).all()
    assert np.isfinite(ann.scales).all() and (ann.scales > 0).all()
    assert set(np.unique(ann.visible)) <= {0.0, 1.0} and not (ann.visible > 0)[~ann.annotated].any()
    for name in ann.image_names:
        assert isinstance(name, str) and name and ".." not in PurePosixPath(name).parts
        assert not PurePosixPath(name).is_absolute() and not PureWindowsPath(name).is_absolute()
    if ann.head_sizes is not None:
        assert np.isfinite(ann.head_sizes).all()


def test_generated_json_annotations_read_or_raise_annotation_error(tmp_path):
    rng = np.random.default_rng(20261123)
    path = tmp_path / "ann.json"
    outcomes = {"read": 0, "refused": 0}
    for trial in range(400):
        doc = _mutate(_base_samples(), rng)
        path.write_text(json.dumps(doc))
        try:
            ann = read_mpii_json(path, num_joints=16 if trial % 2 else None)
        except AnnotationError as e:
            assert str(e).startswith(str(path)), (trial, doc, e)
            outcomes["refused"] += 1
            continue
        _check_invariants(ann)
        outcomes["read"] += 1
    assert outcomes["read"] > 20 and outcomes["refused"] > 200, outcomes   # both paths were exercised


H5_CASES = {
    "string center": {"center": np.array([[b"1", b"2"]] * 4)},
    "visible 5": {"visible": np.full((4, 16), 5.0)},
    "visible -1": {"visible": -np.ones((4, 16))},
    "image outside": {"imgname": np.array([b"../../etc/x.jpg"] * 4)},
    "absolute image": {"imgname": np.array([b"/data/x.jpg"] * 4)},
    "no samples": {"imgname": np.array([], dtype="S5"), "center": np.zeros((0, 2)), "scale": np.zeros(0),
                   "part": np.zeros((0, 16, 2)), "visible": np.zeros((0, 16))},
    "part 15 visible 16": {"part": np.full((4, 15, 2), 30.0)},
    "nan scale": {"scale": np.array([1.0, np.nan, 1.0, 1.0])},
    "zero scale": {"scale": np.array([1.0, 0.0, 1.0, 1.0])},
    "1-D part": {"part": np.ones(4)},
    "complex center": {"center": np.ones((4, 2)) * (1 + 1j)},
}


@pytest.mark.parametrize("case", sorted(H5_CASES))
def test_malformed_h5_files_raise_annotation_error(tmp_path, case):
    import h5py

    data = {"imgname": np.array([b"a.jpg"] * 4), "center": np.full((4, 2), 50.0), "scale": np.ones(4),
            "part": np.full((4, 16, 2), 30.0), "visible": np.ones((4, 16)), **H5_CASES[case]}
    path = tmp_path / "ann.h5"
    with h5py.File(path, "w") as f:
        for key, value in data.items():
            f[key] = value
    with pytest.raises(AnnotationError, match=r"ann\.h5: "):
        read_mpii_h5(path)


def _random_json(rng: np.random.Generator, depth: int = 0):
    r = rng.random()
    if depth > 3 or r < 0.3:
        return _nasty(rng)
    if r < 0.9:
        n = int(rng.choice([0, 1, 2, 16, 3]))
        return [_random_json(rng, depth + 1) for _ in range(n)]
    return {"preds": _random_json(rng, depth + 1)}


def test_generated_prediction_files_read_or_raise_value_error(tmp_path):
    rng = np.random.default_rng(7)
    good = np.arange(3 * 16 * 2, dtype=np.float64).reshape(3, 16, 2)
    read = 0
    for trial in range(300):
        choice = trial % 4
        if choice == 0:
            path = tmp_path / "p.json"
            path.write_text(json.dumps(_random_json(rng)))
        elif choice == 1:   # the good file with one element replaced
            doc = good.tolist()
            doc[int(rng.integers(3))][int(rng.integers(16))][int(rng.integers(2))] = \
                _nasty(rng)
            path = tmp_path / "p.json"
            path.write_text(json.dumps({"preds": doc}))
        elif choice == 2:   # random or cut bytes
            path = tmp_path / ["p.npy", "p.mat", "p.json"][trial % 3]
            buf = io.BytesIO()
            np.save(buf, good)
            data = buf.getvalue()
            data = data[: int(rng.integers(len(data)))] if rng.random() < 0.5 else rng.bytes(int(rng.integers(200)))
            path.write_bytes(data)
        else:               # arrays of other shapes and dtypes
            path = tmp_path / "p.npy"
            shape = tuple(int(v) for v in rng.choice([0, 1, 2, 3, 16], size=int(rng.integers(1, 4))))
            dtype = [np.float64, np.int32, np.bool_, np.complex64, "U3"][int(rng.integers(5))]
            np.save(path, np.ones(shape, dtype=dtype))
        try:
            preds = load_predictions(path)
        except ValueError as e:
            assert str(path) in str(e), (trial, e)
            continue
        assert preds.dtype == np.float64 and preds.ndim == 3 and preds.shape[1:] == (16, 2)
        read += 1
    assert read > 10


def test_generated_image_bytes_decode_or_raise_data_error():
    """Random bytes, cut files and files whose header announces other sizes: an RGB image or a
    DataError with a reason, never an OpenCV exception or a crash."""
    import cv2

    rng = np.random.default_rng(3)
    photo = (SHARED / "mpii" / "images" / "005808361.jpg")
    sources = [cv2.imencode(ext, cv2.resize(cv2.imread(str(photo)), (40, 30)))[1].tobytes()
               for ext in (".jpg", ".png", ".bmp", ".webp", ".tif")] if photo.is_file() else [b"\xff\xd8\xff"]
    reasons = set()
    for trial in range(300):
        data = bytearray(sources[trial % len(sources)])
        action = trial % 3
        if action == 0:
            data = data[: int(rng.integers(len(data)))]
        elif action == 1:
            for _ in range(int(rng.integers(1, 6))):
                data[int(rng.integers(len(data)))] = int(rng.integers(256))
        else:
            data = bytearray(rng.bytes(int(rng.integers(1, 300))))
        try:
            image = decode_image(bytes(data), f"trial {trial}")
        except DataError as e:
            reasons.add(e.reason)
            continue
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert {"corrupt_image", "truncated_image"} <= reasons


FORM_VALUES = ["", " ", "0", "1", "-1", "3", "0.5", "nan", "inf", "-inf", "1e300", "-1e300", "1e-300", "abc",
               "1,2", "1 2", "1 2 3", "10 10 5 50", "0 0 1e15 1e15", "5000 5000 6000 6000", "100 50 600 700",
               "700 100 1250 720", "640 360", "0x10", "\u0661", "9" * 400, "1_0", "None", "[1, 2]"]


@pytest.fixture(scope="module")
def client(tiny_run):
    pytest.importorskip("flask")
    from posekit.gui.app import create_app

    samples = SHARED if (SHARED / "mpii" / "images").is_dir() else None
    return create_app([tiny_run / "best.pt"], samples=samples, device="cpu").test_client()


def test_generated_gui_forms_are_answered_200_or_400(client):
    rng = np.random.default_rng(11)
    photo = SHARED / "mpii" / "images" / "005808361.jpg"
    small = None
    if photo.is_file():
        import cv2

        small = cv2.imencode(".jpg", cv2.resize(cv2.imread(str(photo)), (320, 180)))[1].tobytes()
    valid = {"bbox": "10 10 300 170", "center": "160 90", "scale": "0.6", "threshold": "0.5", "checkpoint": "0",
             "checkpoint_b": "0", "sample": "0"}
    codes = {200: 0, 400: 0}
    for trial in range(80):
        form = {}
        for name, good in valid.items():   # each field: absent, valid or generated
            r = rng.random()
            if r < 0.2:
                form[name] = good
            elif r < 0.45:
                form[name] = FORM_VALUES[int(rng.integers(len(FORM_VALUES)))]
        if small is not None and rng.random() < 0.5:
            form["image"] = (io.BytesIO(small if rng.random() < 0.8 else rng.bytes(100)), "x.jpg")
        reply = client.post("/api/predict", data=form, content_type="multipart/form-data")
        body = reply.get_json()
        assert reply.status_code in (200, 400), (trial, form, body)
        if reply.status_code == 400:
            assert isinstance(body["error"], str) and "Traceback" not in body["error"]
        else:
            for result in body["results"]:
                assert all(math.isfinite(k["x"]) and math.isfinite(k["y"]) for k in result["keypoints"])
        codes[reply.status_code] += 1
    assert codes[200] >= 3 and codes[400] >= 20, codes


def test_generated_paths_stay_inside_the_image_folder(tmp_path):
    """Whatever the image names, an annotation file that reads never points outside its folder."""
    rng = np.random.default_rng(5)
    parts = ["a", "..", ".", "b.jpg", "/", "\\", "C:", "~", "%2e%2e", "", " "]
    path = tmp_path / "ann.json"
    for _ in range(200):
        name = "".join(parts[int(rng.integers(len(parts)))] + rng.choice(["/", "\\", ""]) for _ in range(3))
        doc = _base_samples()
        doc[1]["image"] = name
        path.write_text(json.dumps(doc))
        try:
            ann = read_mpii_json(path)
        except AnnotationError:
            continue
        folder = (tmp_path / "images").resolve()
        resolved = (folder / ann.image_names[1]).resolve()
        assert resolved == folder or folder in resolved.parents, name
        assert not Path(ann.image_names[1]).is_absolute()
