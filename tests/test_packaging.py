"""The package as users get it: build the wheel, install it (not editable) into a fresh virtual
environment outside the source tree, and run a tiny `posekit train quickstart` from another folder."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from conftest import REPO


def test_wheel_installs_and_trains_the_packaged_quickstart_outside_the_source_tree(tmp_path, synthetic_root):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist)], check=True, capture_output=True, text=True)
    (wheel,) = dist.glob("posekit-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # posekit's dependencies (torch, OpenCV, ...) come from this interpreter's site-packages; a path line
    # in a .pth file does not run that folder's own .pth files, so the source checkout stays invisible
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # without PYTHONPATH: a source checkout on it would make pip take posekit as installed already
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, text=True, env=env)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([str(python), "-c", "import posekit; print(posekit.__file__)"], cwd=work, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert where.startswith(str(venv)), where
    posekit = str(venv / "bin" / "posekit")
    configs = subprocess.run([posekit, "configs"], cwd=work, env=env, check=True, capture_output=True, text=True)
    assert "quickstart" in configs.stdout.split() and "hourglass/mpii_8stack" in configs.stdout.split()
    tiny = [f"data.root={synthetic_root}", "data.synthetic_train=24", "data.synthetic_val=8",
            "data.synthetic_image_size=64", "data.input_size=64", "data.heatmap_size=16", "model.num_features=16",
            "model.depth=2", "model.stem_width=8", "train.batch_size=8", "train.epochs=1"]
    run = subprocess.run([posekit, "train", "quickstart", "--no-progress"] + [a for kv in tiny for a in ("--set", kv)],
                         cwd=work, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (work / "runs" / "quickstart" / "best.pt").is_file()       # default run folder, in the working folder
