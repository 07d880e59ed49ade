"""The source documents' tables and figures as data, and their rendering beside posekit's results.

Every ``*.yaml`` file in ``posekit/assets/paper_tables/`` describes one document::

    document: 000_dcec52a648770445.txt     # the document's file name
    tables:
      - name: kptransfer-table5              # unique reproduce target name
        item: "Table 5"                      # "Table N", "Fig. N", "Figs. N-M" as the document numbers it
        title: "..."                         # short description
        metric: "PCKh@0.5"                   # "" where the item has none
        dataset: "MPII validation"
        columns: [Head, Elbow, Knee, Average]
        rows:
          - {method: "...", values: [97.1, 87.9, 83.3, 89.4]}   # as printed; null where blank
        configs: [kptransfer/split_d]        # packaged configs whose runs reproduce it (may be [])
        notes: "..."                         # what the text leaves unreadable or unsaid

Figures may have empty ``columns`` and ``rows``. :func:`load_paper_tables` reads and checks every
file of the folder (a new document needs only a new file); :func:`render_table` prints one item
in the paper's layout with posekit's measured rows below the paper's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

#: The packaged folder of paper tables.
PAPER_TABLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "paper_tables"

_ITEM = re.compile(r"^(Table|Fig\.|Figs\.) [0-9IVXL]+(-[0-9IVXL]+)?$")
_TEXT_FIELDS = ("name", "item", "title", "metric", "dataset")


class PaperTableError(ValueError):
    """A malformed paper-table file; the message names the file and the field."""


@dataclass
class PaperTable:
    """One table or figure of a source document.

    ``rows`` holds ``(method, values)`` pairs, ``values`` as printed (numbers, text, or None for a
    blank cell), one per column.
    """

    document: str
    name: str
    item: str
    title: str
    metric: str
    dataset: str
    columns: list[str]
    rows: list[tuple[str, list]]
    configs: list[str]
    notes: str = ""
    source: str = ""

    @property
    def is_figure(self) -> bool:
        """True for a figure (``Fig.`` / ``Figs.``)."""
        return self.item.startswith("Fig")


def _check_table(entry, where: str, configs: set[str] | None) -> PaperTable:
    if not isinstance(entry, dict):
        raise PaperTableError(f"{where}: expected a mapping, got {type(entry).__name__}")
    allowed = set(_TEXT_FIELDS) | {"columns", "rows", "configs", "notes"}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise PaperTableError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(allowed)}")
    for key in _TEXT_FIELDS:
        if not isinstance(entry.get(key), str):
            raise PaperTableError(f"{where}.{key}: missing or not a string")
    if not entry["name"] or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", entry["name"]):
        raise PaperTableError(f"{where}.name: {entry['name']!r} must be lower-case letters, digits and '-'")
    if not _ITEM.match(entry["item"]):
        raise PaperTableError(f"{where}.item: {entry['item']!r} is not 'Table N', 'Fig. N' or 'Figs. N-M'")
    columns = entry.get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise PaperTableError(f"{where}.columns: expected a list of column names")
    rows = entry.get("rows", [])
    if not isinstance(rows, list):
        raise PaperTableError(f"{where}.rows: expected a list")
    parsed = []
    for i, row in enumerate(rows):
        at = f"{where}.rows[{i}]"
        if not isinstance(row, dict) or set(row) != {"method", "values"}:
            raise PaperTableError(f"{at}: expected {{method: ..., values: [...]}}")
        values = row["values"]
        if not isinstance(row["method"], str) or not isinstance(values, list):
            raise PaperTableError(f"{at}: method must be a string and values a list")
        if len(values) != len(columns):
            raise PaperTableError(f"{at}.values: {len(values)} values for {len(columns)} columns")
        for j, v in enumerate(values):
            if not (v is None or isinstance(v, (int, float, str))) or isinstance(v, bool):
                raise PaperTableError(f"{at}.values[{j}]: {v!r} is not a number, text or null")
        parsed.append((row["method"], values))
    cfgs = entry.get("configs", [])
    if not isinstance(cfgs, list) or not all(isinstance(c, str) for c in cfgs):
        raise PaperTableError(f"{where}.configs: expected a list of packaged config names")
    if configs is not None:
        missing = [c for c in cfgs if c not in configs]
        if missing:
            raise PaperTableError(f"{where}.configs: no packaged config {missing} (posekit configs lists them)")
    notes = entry.get("notes", "")
    if not isinstance(notes, str):
        raise PaperTableError(f"{where}.notes: expected a string")
    return PaperTable(document="", name=entry["name"], item=entry["item"], title=entry["title"],
                      metric=entry["metric"], dataset=entry["dataset"], columns=list(columns), rows=parsed,
                      configs=list(cfgs), notes=notes)


def load_paper_table_file(path: str | Path, configs: set[str] | None = None) -> list[PaperTable]:
    """Read and check one paper-table file.

    Args:
        path: the YAML file.
        configs: packaged config names every ``configs`` entry must be among (None: not checked).

    Raises:
        PaperTableError: malformed file (the message names the file and the field).
        FileNotFoundError: no such file.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise PaperTableError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(data, dict) or set(data) != {"document", "tables"}:
        raise PaperTableError(f"{path}: expected exactly the fields 'document' and 'tables'")
    if not isinstance(data["document"], str) or not data["document"]:
        raise PaperTableError(f"{path}: document: expected the document's file name")
    if not isinstance(data["tables"], list) or not data["tables"]:
        raise PaperTableError(f"{path}: tables: expected a non-empty list")
    out = []
    for i, entry in enumerate(data["tables"]):
        table = _check_table(entry, f"{path}: tables[{i}]", configs)
        table.document, table.source = data["document"], str(path)
        out.append(table)
    return out


def load_paper_tables(folder: str | Path | None = None, check_configs: bool = True) -> list[PaperTable]:
    """Every table and figure of every ``*.yaml`` file in ``folder`` (default: the packaged one),
    in file-name order, then file order.

    Raises:
        PaperTableError: a malformed file, an unknown config, or a name used twice (both places named).
    """
    from posekit.config import list_configs

    folder = PAPER_TABLES_DIR if folder is None else Path(folder)
    configs = set(list_configs()) if check_configs else None
    tables: list[PaperTable] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        for t in load_paper_table_file(path, configs):
            if t.name in seen:
                raise PaperTableError(f"{path}: name {t.name!r} is already used in {seen[t.name]}")
            seen[t.name] = str(path)
            tables.append(t)
    return tables


def format_value(v) -> str:
    """A cell as printed: ``-`` for a blank / missing / NaN value, numbers without trailing zeros
    added (``56`` stays ``56``, ``0.00113494`` stays as written)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) >= 1 and v != round(v, 2) else repr(v)
    return str(v)


def render_table(table: PaperTable, measured: list[tuple[str, list]] | None = None,
                 measured_columns: list[str] | None = None) -> str:
    """Markdown of one item: a heading, the paper's rows in its column layout, posekit's rows below.

    Args:
        table: the item.
        measured: ``(label, values)`` rows of posekit's results (``values`` one per column; a row
            whose values are None is a run that does not exist yet, printed "not run").
        measured_columns: the measured rows' columns when they differ from the paper's (figures
            whose curves have no printed numbers); default the paper's columns.

    Returns:
        The text (ends with a newline).
    """
    lines = [f"{table.item} ({table.document}): {table.title}"]
    if table.metric or table.dataset:
        lines.append(f"metric: {table.metric or '-'}; data: {table.dataset or '-'}")
    lines.append("")
    if table.columns:
        lines += ["| method | " + " | ".join(table.columns) + " |", "|---" * (len(table.columns) + 1) + "|"]
        lines += [f"| {m} (paper) | " + " | ".join(format_value(v) for v in vals) + " |" for m, vals in table.rows]
        if measured and (measured_columns is None or measured_columns == table.columns):
            lines += [_measured_line(label, vals, len(table.columns)) for label, vals in measured]
            measured = None
        lines.append("")
    else:
        lines += ["The document prints no numbers for this item.", ""]
    if measured:
        cols = measured_columns or []
        lines += ["posekit:", "", "| run | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        lines += [_measured_line(label, vals, len(cols)) for label, vals in measured]
        lines.append("")
    if table.notes:
        lines.append(f"Notes: {table.notes}")
    return "\n".join(lines).rstrip() + "\n"


def format_measured(v) -> str:
    """A measured cell: floats of magnitude >= 1 with 2 decimals, smaller ones with 4 significant
    digits, ``-`` for None / NaN."""
    if isinstance(v, float) and not isinstance(v, bool):
        return "-" if math.isnan(v) else (f"{v:.2f}" if abs(v) >= 1 else f"{v:.4g}")
    return format_value(v)


def _measured_line(label: str, values: list | None, n: int) -> str:
    if values is None:
        return f"| {label} | " + " | ".join(["not run"] * max(n, 1)) + " |"
    return f"| {label} | " + " | ".join(format_measured(v) for v in values) + " |"
