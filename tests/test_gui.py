"""The web GUI: Flask test-client checks of the JSON API, and a headless-Chromium end-to-end test."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("flask")

REPO = Path(__file__).resolve().parents[1]
MPII_IMAGE = "mpii/images/005808361.jpg"


@pytest.fixture(scope="module")
def app(tiny_run, shared):
    from posekit.gui.app import create_app

    return create_app([tiny_run / "best.pt", tiny_run / "best.pt"], samples=shared, device="cpu")


@pytest.fixture()
def client(app):
    return app.test_client()


def _png(data_url: str) -> np.ndarray:
    assert data_url.startswith("data:image/png;base64,")
    img = cv2.imdecode(np.frombuffer(base64.b64decode(data_url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def test_upload_real_image_returns_16_keypoints(client, shared):
    data = (shared / MPII_IMAGE).read_bytes()
    reply = client.post("/api/predict", data={"image": (io.BytesIO(data), "photo.jpg"),
                                              "checkpoint": "0", "bbox": "700 100 1250 720"},
                        content_type="multipart/form-data")
    assert reply.status_code == 200, reply.get_json()
    body = reply.get_json()
    assert body["image"] == {"name": "photo.jpg", "width": 1280, "height": 720}
    (res,) = body["results"]
    assert len(res["keypoints"]) == 16 and len(res["heatmaps"]) == 16
    assert all(np.isfinite([k["x"], k["y"], k["confidence"]]).all() for k in res["keypoints"])
    assert _png(res["overlay"]).shape[1] == 720  # shrunk for display, aspect kept
    assert body["has_gt"] is False and res["pckh"] is None


def test_sample_with_ground_truth_and_comparison(client, app):
    info = client.get("/api/info").get_json()
    assert len(info["checkpoints"]) == 2
    mpii = [s for s in info["samples"] if "005808361" in s["label"]]
    assert mpii and mpii[0]["has_gt"]
    assert any(s["label"].startswith("COCO") and not s["has_gt"] for s in info["samples"])
    assert any(s["label"].startswith("synthetic") for s in info["samples"])  # the run's val images
    reply = client.post("/api/predict", data={"sample": str(mpii[0]["index"]), "checkpoint": "0",
                                              "checkpoint_b": "1", "threshold": "0.5"})
    body = reply.get_json()
    assert reply.status_code == 200, body
    assert body["has_gt"] and body["head_size"] == pytest.approx(117.96, abs=0.01)  # valid.h5 normalize
    assert "valid.h5" in body["head_size_source"]
    a, b = body["results"]
    assert a["keypoints"] == b["keypoints"]  # the same checkpoint twice gives the same answer
    judged = [k for k in a["keypoints"] if "correct" in k]
    assert len(judged) == 16
    assert a["pckh"] == pytest.approx(100 * sum(k["correct"] for k in judged) / 16, abs=0.05)
    assert all(k["correct"] == (k["distance"] <= 0.5) for k in judged)


def test_models_are_labelled_and_described(client, tiny_run):
    info = client.get("/api/info").get_json()
    a = info["checkpoints"][0]
    assert a["label"] == f"{tiny_run.name}/best.pt (epoch 1)"             # run folder, file and epoch
    assert "trained on synthetic" in a["model"] and a["trained_on"]["keypoint_set"] == "mpii"
    assert a["flip_test"] is True and len(a["keypoints"]) == 16


def test_flip_toggle_defaults_to_the_model_and_says_which(client, shared):
    data = (shared / MPII_IMAGE).read_bytes()
    answers = {}
    for flip in ("default", "off", "on"):
        reply = client.post("/api/predict", data={"image": (io.BytesIO(data), "p.jpg"), "checkpoint": "0",
                                                  "bbox": "700 100 1250 720", "flip": flip},
                            content_type="multipart/form-data")
        (res,) = reply.get_json()["results"]
        answers[flip] = res
    assert answers["default"]["flip_test"] is True and answers["default"]["flip_source"] == "the model's setting"
    assert answers["off"]["flip_test"] is False and answers["off"]["flip_source"] == "chosen on the page"
    assert answers["on"]["keypoints"] == answers["default"]["keypoints"] != answers["off"]["keypoints"]
    bad = client.post("/api/predict", data={"sample": "0", "checkpoint": "0", "flip": "maybe"})
    assert bad.status_code == 400 and "flip" in bad.get_json()["error"]


def test_comparison_gives_per_joint_differences(client, app):
    info = client.get("/api/info").get_json()
    mpii = next(s for s in info["samples"] if "005808361" in s["label"])
    body = client.post("/api/predict", data={"sample": str(mpii["index"]), "checkpoint": "0", "checkpoint_b": "1",
                                             "flip": "off"}).get_json()
    rows = body["comparison"]
    assert len(rows) == 16 and all(r["distance_px"] == 0.0 for r in rows)      # the same model twice
    assert all(r["a_correct"] == r["b_correct"] for r in rows)


def test_sample_preview_and_upload_through_the_detector(client, shared):
    info = client.get("/api/info").get_json()
    coco = next(s for s in info["samples"] if "000000196141" in s["label"])
    preview = client.get(f"/api/sample/{coco['index']}").get_json()
    assert (preview["width"], preview["height"]) == (640, 429) and preview["box"] is not None
    assert _png(preview["image"]).shape[1] == 640
    assert client.get("/api/sample/999").status_code == 400
    data = (shared / "coco" / "000000196141.jpg").read_bytes()
    body = client.post("/api/predict", data={"image": (io.BytesIO(data), "crowd.jpg"), "checkpoint": "0"},
                       content_type="multipart/form-data").get_json()
    (res,) = body["results"]
    # no box on an upload: the person detector's boxes, one person each (the whole image when it finds none)
    assert res["people"] == max(1, len(res["boxes"])) and {k["person"] for k in res["keypoints"]} == set(
        range(res["people"]))
    whole = client.post("/api/predict", data={"image": (io.BytesIO(data), "crowd.jpg"), "checkpoint": "0",
                                              "detector": "none"}, content_type="multipart/form-data").get_json()
    assert whole["results"][0]["people"] == 1 and whole["results"][0]["boxes"] == []


@pytest.mark.parametrize("payload, message", [
    (b"this is not an image at all", "not an image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "not an image"),  # truncated JPEG header
    (b"", "empty"),
])
def test_bad_uploads_are_400_with_message(client, payload, message):
    reply = client.post("/api/predict", data={"image": (io.BytesIO(payload), "x.jpg"), "checkpoint": "0"},
                        content_type="multipart/form-data")
    assert reply.status_code == 400
    assert message in reply.get_json()["error"]


def test_too_large_upload_is_400(client):
    big = io.BytesIO(b"\x00" * (10 * 1024 * 1024 + 100_000))
    reply = client.post("/api/predict", data={"image": (big, "big.jpg"), "checkpoint": "0"},
                        content_type="multipart/form-data")
    assert reply.status_code == 400
    assert "too large" in reply.get_json()["error"]


def test_malformed_box_is_400(client, shared):
    data = (shared / MPII_IMAGE).read_bytes()
    for fields, message in (({"bbox": "1 2 3"}, "bbox"), ({"bbox": "10 10 5 50"}, "x2 > x1"),
                            ({"center": "5 5"}, "both center and scale"), ({"checkpoint": "7"}, "checkpoint")):
        form = {"image": (io.BytesIO(data), "a.jpg"), "checkpoint": "0", **fields}
        reply = client.post("/api/predict", data=form, content_type="multipart/form-data")
        assert reply.status_code == 400 and message in reply.get_json()["error"], fields


# ----------------------------------------------------------------------------- browser end to end


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").is_file() else None)
    if not chromium or not driver:
        pytest.skip(f"headless browser test needs chromium and chromedriver (found browser={chromium}, "
                    f"driver={driver}); install with: apt-get install chromium chromium-driver")
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_browser_upload_shows_overlay(app, shared, tmp_path):
    chromium, driver_path = _browser_paths()
    webdriver = pytest.importorskip("selenium.webdriver")
    from urllib.parse import unquote

    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait
    from werkzeug.serving import make_server

    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1500"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(browser, 60)
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#checkpoint option")) == 2)
        assert "trained on synthetic" in browser.find_element(By.ID, "model_info").text
        browser.find_element(By.ID, "image").send_keys(str(shared / MPII_IMAGE))
        canvas = browser.find_element(By.ID, "preview")
        wait.until(lambda b: "1280 x 720 px" in b.find_element(By.ID, "preview_note").text)
        # draw the person box with the mouse (offsets from the canvas centre): from 55% / 14% to 97% / 99%
        width, height = canvas.size["width"], canvas.size["height"]
        ActionChains(browser).move_to_element_with_offset(canvas, int(width * 0.05), int(-height * 0.36)) \
            .click_and_hold().move_by_offset(int(width * 0.42), int(height * 0.85)).release().perform()
        box = [float(v) for v in browser.find_element(By.ID, "bbox").get_attribute("value").split()]
        assert box == pytest.approx([704, 101, 1242, 713], abs=12)            # original image pixels
        Select(browser.find_element(By.ID, "checkpoint_b")).select_by_value("1")
        browser.find_element(By.ID, "run").click()
        overlay = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "img.overlay")))
        wait.until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", overlay))
        assert len(browser.find_elements(By.CSS_SELECTOR, "img.overlay")) == 2  # side by side
        assert len(browser.find_elements(By.CSS_SELECTOR, ".grid img")) == 32   # 16 heat maps each
        assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None
        assert "Per-joint differences" in browser.find_element(By.ID, "comparison").text
        # the downloads: the JSON record and the PNG overlay
        json_link, png_link = browser.find_elements(By.CSS_SELECTOR, ".downloads a")[:2]
        assert json_link.get_attribute("download") == "photo_pose.json".replace("photo", Path(MPII_IMAGE).stem)
        record = json.loads(unquote(json_link.get_attribute("href").split(",", 1)[1]))
        assert len(record["keypoints"]) == 16 and record["boxes"] == [pytest.approx(box, abs=0.1)]
        assert png_link.get_attribute("href").startswith("data:image/png;base64,")
        # click-to-enlarge a heat map
        browser.find_elements(By.CSS_SELECTOR, ".grid img")[0].click()
        wait.until(ec.visibility_of_element_located((By.ID, "lightbox")))
        browser.find_element(By.ID, "lightbox").click()
        browser.execute_script("window.scrollTo(0, 0)")
        shot = tmp_path / "gui.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("POSEKIT_UPDATE_DOCS") == "1":  # refresh docs/gui_screenshot.png on request only
            small = cv2.imread(str(shot))
            small = cv2.resize(small, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(REPO / "docs" / "gui_screenshot.png"), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])

        # a corrupt upload: the message appears on the page, no stack trace
        bad = tmp_path / "corrupt.jpg"
        bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
        browser.find_element(By.ID, "image").send_keys(str(bad))
        browser.find_element(By.ID, "run").click()
        error = wait.until(ec.visibility_of_element_located((By.ID, "error")))
        assert "not an image" in error.text and "Traceback" not in browser.page_source
    finally:
        browser.quit()
        server.shutdown()
