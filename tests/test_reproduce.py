"""``posekit reproduce``: targets from the paper-table files, --list [--json], --dry-run (nothing is
trained), --report beside the paper's numbers, --plot, and the paper-table loader's checks."""

from __future__ import annotations

import json
import math

import pytest

from conftest import SHARED
from posekit.cli.main import main
from posekit.config import list_configs
from posekit.pipelines.paper_tables import PaperTableError, load_paper_tables, render_table
from posekit.pipelines.reproduce import GPU_REFERENCE_IMG_PER_S, estimate_seconds, gpu_seconds, targets

SEEDS = SHARED.parent / "seeds"


def test_list_json_has_every_document_and_only_packaged_configs(capsys):
    assert main(["reproduce", "--list", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert all(set(e) == {"name", "document", "item", "configs"} for e in entries)
    assert len({e["name"] for e in entries}) == len(entries)
    packaged = set(list_configs())
    for e in entries:
        assert set(e["configs"]) <= packaged, e
    documents = {e["document"] for e in entries}
    if SEEDS.is_dir():
        assert documents == {p.name for p in SEEDS.glob("*.txt")}
    items = {(e["document"][:3], e["item"]) for e in entries}
    for expected in [("000", "Table 1"), ("000", "Table 5"), ("000", "Fig. 3"), ("001", "Table 1"),
                     ("002", "Table II"), ("002", "Figs. 2-4"), ("004", "Fig. 7"), ("004", "Fig. 8")]:
        assert expected in items
    by_name = {e["name"]: e for e in entries}
    assert len(by_name["reduced-stem-figs2-4"]["configs"]) == 6
    assert by_name["kptransfer-table5"]["configs"] == ["kptransfer/split_d"]


def test_list_shows_every_target_and_its_commands(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name in targets():
        assert f"{name}: " in out
    assert "posekit train multitask/joint" in out
    assert "posekit transfer --split c --config kptransfer/split_c" in out
    assert "posekit train reduced_stem/m6_adam_reduced" in out


def test_dry_run_prints_commands_cpu_and_assumed_gpu_estimates(capsys, monkeypatch):
    import subprocess

    monkeypatch.setattr(subprocess, "call", lambda *a, **k: pytest.fail("dry run must not train"))
    assert main(["reproduce", "reduced-stem-table2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "posekit train reduced_stem/final" in out
    # 10 epochs x 22246 people at the measured 1.6 img/s: 38.6 h on the CPU; on the GPU the assumed
    # 4 x 100 x 22246 / 3 days = 34.3 img/s: 1.8 h
    assert "~38.6 h on the 2-core CPU, ~1.8 h on one GPU (assumed)" in out
    assert "an assumption, not a measurement" in out
    assert GPU_REFERENCE_IMG_PER_S == pytest.approx(34.33, abs=0.01)


def test_estimate_scales_with_model_size():
    big, _ = estimate_seconds("hourglass/mpii_8stack")
    small, how = estimate_seconds("hourglass/mpii_2stack")
    assert big / small == pytest.approx(4.0)  # 8 vs 2 stacks, same epochs and data
    assert "100 epochs x 22246 img" in how
    # the assumed GPU time of Newell's 8-stack schedule is its basis: three days
    assert gpu_seconds(estimate_seconds("hourglass_reimpl/rmsprop_bs8")[0]) == pytest.approx(3 * 86400)
    quick, _ = estimate_seconds("quickstart")
    assert quick < 3600  # the quickstart: minutes, not days


def test_multitask_estimate_and_unknown_table(capsys):
    from posekit.pipelines.reproduce import MULTITASK_IMG_PER_S

    seconds, how = estimate_seconds("multitask/joint")
    assert seconds == pytest.approx(3 * 3000 / MULTITASK_IMG_PER_S)  # 3 epochs x 3000 people, measured rate
    assert "VGG trunk width 32 at 128 px" in how
    assert main(["reproduce", "multitask-table1", "--dry-run"]) == 0
    assert "multitask/fcn32" in capsys.readouterr().out
    assert main(["reproduce", "no-such-table"]) == 2
    assert "unknown table" in capsys.readouterr().err
    assert main(["reproduce", "kptransfer-table5", "--json"]) == 2


def _write_metrics(path, rows):
    path.mkdir(parents=True, exist_ok=True)
    cols = list(rows[0])
    (path / "metrics.csv").write_text("\n".join(",".join(str(r[c]) for c in cols) for r in [dict(zip(cols, cols))] + rows) + "\n")


def test_report_puts_posekit_rows_beside_the_papers(tmp_path, capsys):
    runs = tmp_path / "runs"
    (runs / "kptransfer_d").mkdir(parents=True)
    table = {"head": 90.0, "elbow": 65.0, "knee": 45.0, "average": 200 / 3}
    (runs / "kptransfer_d" / "pckh_s2.json").write_text(json.dumps({"configurations": {
        m: {"table": table} for m in ("transfer", "frozen", "random")}}))
    assert main(["reproduce", "kptransfer-table5", "--report", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "| method | Head | Elbow | Knee | Average |" in out
    assert "| Random initialization (paper) | 97.1 | 87.9 | 83.3 | 89.4 |" in out
    assert "| Transfer learning (paper) | - | 88.3 | - | - |" in out
    assert "| posekit transfer | 90.00 | 65.00 | 45.00 | 66.67 |" in out
    # per-config runs: the training loss after 5 epochs of model 1; the other five not run
    _write_metrics(runs / "reduced_stem_m1_rmsprop_original",
                   [{"epoch": e, "train_loss": 0.01 / e, "val_loss": 0.02 / e, "pckh": 10.0 * e} for e in range(1, 6)])
    assert main(["reproduce", "reduced-stem-figs2-4", "--report", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "| Model 1 (RMSprop, original) (paper) | 0.00113494 |" in out
    assert "| posekit reduced_stem/m1_rmsprop_original | 0.002 |" in out
    assert out.count("not run |") == 5
    # a figure without printed numbers: epochs, best PCKh, final losses per run
    _write_metrics(runs / "hourglass_reimpl_adam_bs16", [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.25, "pckh": 40.0}])
    assert main(["reproduce", "hourglass-reimpl-fig8", "--report", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "The document prints no numbers for this item." in out
    assert "| posekit hourglass_reimpl/adam_bs16 | 1 | 40.00 | 0.5 | 0.25 |" in out
    assert "| posekit hourglass_reimpl/rmsprop_bs8 | not run | not run | not run | not run |" in out
    # a hyperparameter table: the config's own values
    assert main(["reproduce", "reduced-stem-table2", "--report"]) == 0
    assert "| posekit reduced_stem/final (config) | rmsprop | 16 | 10 | 0.00025 |" in capsys.readouterr().out


def test_plot_of_figure_targets(tmp_path, capsys):
    runs = tmp_path / "runs"
    for name in ("reduced_stem_m1_rmsprop_original", "reduced_stem_m5_rmsprop_reduced"):
        _write_metrics(runs / name, [{"epoch": e, "train_loss": 0.01 / e, "val_loss": 0.02 / e, "pckh": 10.0 * e}
                                     for e in range(1, 6)])
    out = tmp_path / "figs2-4.png"
    assert main(["reproduce", "reduced-stem-figs2-4", "--plot", str(out), "--runs-dir", str(runs)]) == 0
    assert out.stat().st_size > 1000
    assert main(["reproduce", "kptransfer-table5", "--plot", str(out)]) == 2
    assert "has no plot" in capsys.readouterr().err


def test_kptransfer_tables_average_is_the_plain_mean_of_the_shown_columns():
    """Where a row of Tables 2-5 has every cell, its printed Average is the plain mean of the other
    columns at the printed precision (Table 5: (97.1 + 87.9 + 83.3) / 3 = 89.4)."""
    from posekit.pipelines.kptransfer import PAPER_COLUMNS, plain_average

    tables = {t.name: t for t in load_paper_tables()}
    checked = 0
    for n, split in zip((2, 3, 4, 5), "abcd"):
        t = tables[f"kptransfer-table{n}"]
        assert [c.lower() for c in t.columns] == [*PAPER_COLUMNS[split], "average"]
        for _, values in t.rows:
            if None in values:
                continue
            *cells, printed = values
            decimals = len(str(printed).split(".")[1]) if "." in str(printed) else 0
            assert round(plain_average(cells), decimals) == printed
            checked += 1
    assert checked == 7  # Table 2: 3 rows, Table 3: 2, Tables 4 and 5: 1 each
    random_d = dict(tables["kptransfer-table5"].rows)["Random initialization"]
    assert random_d == [97.1, 87.9, 83.3, 89.4]


def test_multitask_table1_numbers():
    t = {t.name: t for t in load_paper_tables()}["multitask-table1"]
    assert dict(t.rows) == {"Joint Pipeline": [38.01, 89.93, 60.12, 48.41, 82.77],
                            "FCN32": [None, 89.90, 61.82, 50.05, 83.52],
                            "PAF ( Stage 1 )": [76.34, None, None, None, None]}


GOOD = """document: 003_x.txt
tables:
  - name: pbn-table9
    item: "Table 9"
    title: "t"
    metric: "PCKh@0.5"
    dataset: "MPII"
    columns: [Head, Mean]
    rows:
      - {method: "PBN", values: [98.1, null]}
    configs: [pbn/quickstart_pbn]
    notes: ""
"""


def test_loader_picks_up_a_new_file_and_names_file_and_field_in_errors(tmp_path):
    (tmp_path / "pbn.yaml").write_text(GOOD)
    [t] = load_paper_tables(tmp_path)
    assert (t.document, t.name, t.item, t.rows) == ("003_x.txt", "pbn-table9", "Table 9", [("PBN", [98.1, None])])
    text = render_table(t, [("posekit PBN", [97.0, 90.5]), ("posekit other", None)])
    assert "| PBN (paper) | 98.1 | - |" in text
    assert "| posekit PBN | 97.00 | 90.50 |" in text and "| posekit other | not run | not run |" in text
    bad = {
        "values: [98.1, null]": ("values: [98.1]", r"pbn\.yaml: tables\[0\]\.rows\[0\]\.values: 1 values for 2 columns"),
        'item: "Table 9"': ('item: "Tab 9"', r"tables\[0\]\.item"),
        "configs: [pbn/quickstart_pbn]": ("configs: [pbn/nope]", r"tables\[0\]\.configs: no packaged config"),
        'title: "t"': ("colour: red", r"unknown field"),
    }
    for old, (new, message) in bad.items():
        (tmp_path / "pbn.yaml").write_text(GOOD.replace(old, new))
        with pytest.raises(PaperTableError, match=message):
            load_paper_tables(tmp_path)
    (tmp_path / "pbn.yaml").write_text(GOOD)
    (tmp_path / "pbn2.yaml").write_text(GOOD)
    with pytest.raises(PaperTableError, match="already used"):
        load_paper_tables(tmp_path)


def test_pbn_targets_give_way_to_a_paper_table_file(monkeypatch, tmp_path):
    import posekit.pipelines.paper_tables as pt
    from posekit.pipelines.reproduce import PBN_DOCUMENT

    assert {"pbn-table6", "pbn-ablation"} <= set(targets())
    for p in pt.PAPER_TABLES_DIR.glob("*.yaml"):
        (tmp_path / p.name).write_text(p.read_text())
    (tmp_path / "pbn.yaml").write_text(GOOD.replace("003_x.txt", PBN_DOCUMENT).replace("Table 9", "Table 6"))
    monkeypatch.setattr(pt, "PAPER_TABLES_DIR", tmp_path)
    names = set(targets())
    assert "pbn-table9" in names and "pbn-table6" not in names and "pbn-ablation" in names
    assert not math.isnan(GPU_REFERENCE_IMG_PER_S)
