"""The web GUI: Flask test-client checks of the JSON API, and a headless-Chromium end-to-end test."""

from __future__ import annotations

import base64
import io
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
        browser.find_element(By.ID, "image").send_keys(str(shared / MPII_IMAGE))
        browser.find_element(By.ID, "bbox").send_keys("700 100 1250 720")
        Select(browser.find_element(By.ID, "checkpoint_b")).select_by_value("1")
        browser.find_element(By.ID, "run").click()
        overlay = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "img.overlay")))
        wait.until(lambda b: b.execute_script("return arguments[0].complete && arguments[0].naturalWidth", overlay))
        assert len(browser.find_elements(By.CSS_SELECTOR, "img.overlay")) == 2  # side by side
        assert len(browser.find_elements(By.CSS_SELECTOR, ".grid img")) == 32   # 16 heat maps each
        assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None
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
