"""The one table each script prints: rows are measurements, columns Posthorn | Postfix |
ratio (Posthorn / Postfix). Markdown, so it pastes into bench/README.md as it is; with
`--json`, the same rows (and every run's raw figures) as one JSON object instead."""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any

Cell = float | int | str | None  # a number, a word ("failed"), or None: not measured


@dataclass
class Row:
    measurement: str
    posthorn: Cell
    postfix: Cell
    unit: str = ""
    ratio: bool = True  # False: the ratio of these two means nothing (a percentage row)

    def ratio_value(self) -> float | None:
        if not self.ratio:
            return None
        if isinstance(self.posthorn, (int, float)) and isinstance(self.postfix, (int, float)) \
                and self.postfix != 0:
            return self.posthorn / self.postfix
        return None


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # raw figures, --json only

    def add(self, measurement: str, posthorn: Cell, postfix: Cell, unit: str = "",
            ratio: bool = True) -> None:
        self.rows.append(Row(measurement, posthorn, postfix, unit, ratio))

    def markdown(self) -> str:
        lines = [f"### {self.title}", "",
                 "| measurement | Posthorn | Postfix | ratio |", "|---|---:|---:|---:|"]
        for row in self.rows:
            label = f"{row.measurement} ({row.unit})" if row.unit else row.measurement
            ratio = row.ratio_value()
            lines.append(f"| {label} | {format_cell(row.posthorn)} | "
                         f"{format_cell(row.postfix)} | "
                         f"{'—' if ratio is None else f'{ratio:.2f}x'} |")
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title,
                "rows": [{"measurement": row.measurement, "unit": row.unit,
                          "posthorn": row.posthorn, "postfix": row.postfix,
                          "ratio": row.ratio_value()} for row in self.rows],
                "notes": self.notes, "runs": self.runs}

    def print(self, as_json: bool) -> None:
        if as_json:
            json.dump(self.as_json(), sys.stdout, indent=2)
            print()
        else:
            print(self.markdown())
        sys.stdout.flush()


def format_cell(value: Cell) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def median(values: list[float | None]) -> float | None:
    """The median of the runs that produced a figure; None if none did."""
    measured = [value for value in values if value is not None]
    return statistics.median(measured) if measured else None


def with_failures(value: float | None, failed: int, runs: int) -> Cell:
    """A median as a cell, saying plainly when runs failed ("failed" when all did)."""
    if failed == 0:
        return value
    if value is None:
        return f"failed ({failed}/{runs})"
    return f"{format_cell(value)} ({failed}/{runs} failed)"
