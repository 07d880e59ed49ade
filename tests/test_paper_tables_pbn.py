"""The PBN paper's tables as data (src/posekit/assets/paper_tables/pbn.yaml): the schema the
reproduce report reads, and numbers checked against the paper's text in ../shared/seeds."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from posekit.config import list_configs

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "src" / "posekit" / "assets" / "paper_tables" / "pbn.yaml"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "003_a73aed17e0b777a4.txt"
KEYS = {"name", "item", "title", "metric", "dataset", "columns", "rows", "configs", "notes"}


@pytest.fixture(scope="module")
def doc():
    return yaml.safe_load(TABLES.read_text())


def _table(doc, name):
    return next(t for t in doc["tables"] if t["name"] == name)


def _row(table, method):
    return next(r["values"] for r in table["rows"] if r["method"] == method)


def test_schema(doc):
    assert set(doc) == {"document", "tables"} and doc["document"] == "003_a73aed17e0b777a4.txt"
    names = [t["name"] for t in doc["tables"]]
    assert names == [f"pbn-table{n}" for n in range(1, 8)]
    packaged = set(list_configs())
    for t in doc["tables"]:
        assert set(t) == KEYS, t["name"]
        assert t["item"] == f"Table {t['name'][-1]}" and t["metric"] in ("PCKh@0.5", "PCK@0.2")
        assert all(isinstance(t[k], str) and t[k] for k in ("title", "dataset", "notes"))
        assert t["rows"] and all(set(r) == {"method", "values"} for r in t["rows"])
        for r in t["rows"]:
            assert len(r["values"]) == len(t["columns"]), (t["name"], r["method"])
            assert all(v is None or isinstance(v, float) for v in r["values"]), (t["name"], r["method"])
        assert set(t["configs"]) <= packaged, t["name"]


def test_numbers_match_the_paper(doc):
    assert _row(_table(doc, "pbn-table2"), "PBN, 8 stacks (Tang & Wu)")[-1] == 91.8
    assert _row(_table(doc, "pbn-table1"), "PBN, 8 stacks (Tang & Wu)") == [98.7, 97.1, 93.1, 89.4, 91.9, 90.1,
                                                                             86.7, 92.7]
    assert _row(_table(doc, "pbn-table3"), "PBN, 8 stacks (Tang & Wu)")[:2] == [None, 92.0]   # head: "-"
    assert _row(_table(doc, "pbn-table4"), "PBN, 8 stacks (Tang & Wu)")[-1] == 94.5
    assert _row(_table(doc, "pbn-table5"), "PBN, 8 stacks (Tang & Wu)")[-1] == 95.4
    t6, t7 = _table(doc, "pbn-table6"), _table(doc, "pbn-table7")
    assert _row(t6, "PBN (8 stacks)") == [71.59, 93.31, 88.14, 26.69]
    for method in ("PBN (8 stacks)", "Deep BS (8 stacks)"):
        values = _row(t7, method)
        assert sum(values[:5]) / 5 == pytest.approx(values[5], abs=0.005)     # Table 7's Mean: plain mean
        assert values[5] == _row(t6, method)[0]                              # = Table 6, invisible parts


@pytest.mark.skipif(not SEED.exists(), reason="the source paper text is not next to the checkout")
def test_every_row_is_in_the_paper_text(doc):
    """Each row's cells appear in sequence in the extracted text, each printed as in the yaml, or
    without its decimal point / with a comma (the extraction's damage, listed in the notes)."""
    text = " ".join(SEED.read_text().split())
    restored = 0
    for t in doc["tables"]:
        digits = 2 if t["name"] in ("pbn-table6", "pbn-table7") else 1
        for r in t["rows"]:
            cells = []
            for k, v in enumerate(r["values"]):
                if v is None:
                    cells.append("-")
                    continue
                s = f"{v:.{digits}f}"
                unit = "M" if t["columns"][k].startswith("Parameters") else ""
                cells.append(f"(?:{re.escape(s)}|{s.replace('.', '')}|{s.replace('.', ',')}){unit}")
            match = re.search(r" ".join(cells), text)
            assert match, (t["name"], r["method"])
            for token in match.group(0).split():
                if "." not in token and token != "-":
                    restored += 1
                    assert f'({token})' in t["notes"] or f'"{token}"' in t["notes"], (t["name"], r["method"], token)
    assert restored == 40


def test_the_yaml_is_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["posekit"]
    assert any(fnmatch.fnmatch("assets/paper_tables/pbn.yaml", p) for p in patterns)
