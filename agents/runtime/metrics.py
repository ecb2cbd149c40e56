"""Run logging: a CSV of per-update metrics, TensorBoard scalars and a learning-curve PNG."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from steptool_agents.reporting import Reporter

__all__ = ["MetricsLogger", "plot_curves", "read_csv"]


class MetricsLogger:
    """Appends one row per update to ``metrics.csv`` and mirrors scalars to TensorBoard (``OUT/tb/``) under
    grouped tags (``rollout/``, ``train/``; see `steptool_agents.reporting`), per ``report_to``.

    On resume, rows (and TensorBoard events) after the resumed update are dropped, so the logs match an
    uninterrupted run even when the interrupted one got further than its last checkpoint.
    """

    def __init__(self, out_dir: Path, resume_from: int | None = None, tensorboard: bool = True,
                 report_to: Sequence[str] = ("tensorboard", "csv"), config: Mapping[str, Any] | None = None) -> None:
        self.path = out_dir / "metrics.csv"
        self.csv = "csv" in report_to
        self.rows: list[dict[str, Any]] = []
        if resume_from is not None and self.path.exists():
            self.rows = [r for r in read_csv(self.path) if int(float(r["update"])) <= resume_from]
        elif self.path.exists():
            self.path.unlink()
        targets = [t for t in report_to if t != "tensorboard" or tensorboard]
        # On resume, TensorBoard drops the events a killed run wrote after the resumed update.
        purge = resume_from + 1 if resume_from is not None else None
        self._reporter = Reporter(out_dir, targets, purge_step=purge, config=config)
        self._rewrite()

    def log(self, update: int, metrics: Mapping[str, float], group: str | None = None) -> None:
        """One row of `metrics` at `update`: CSV (ungrouped keys) and scalars under grouped tags (see `tag`)."""
        row = {"update": update, **{k: float(v) for k, v in metrics.items()}}
        self.rows.append(row)
        self._rewrite()
        self._reporter.scalars(metrics, update, group)

    def _rewrite(self) -> None:
        if not self.rows or not self.csv:
            return
        keys: list[str] = []
        for row in self.rows:
            keys.extend(k for k in row if k not in keys)
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)

    def scalars(self, metrics: Mapping[str, float], step: int, group: str) -> None:
        """Scalars that are not a row of ``metrics.csv`` (the SFT loss, the final evaluation)."""
        self._reporter.scalars(metrics, step, group)

    def close(self) -> None:
        self._reporter.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def plot_curves(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], path: Path, title: str = "") -> None:
    """One subplot per metric in `keys` against ``update`` (matplotlib Agg, no display needed); a key no row has
    is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A metric logged on some updates only (the periodic evaluation) is drawn at those; the CSV leaves it empty.
    keys = [k for k in keys if any(r.get(k) not in (None, "") for r in rows)]
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(4 * max(len(keys), 1), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=False):
        points = [(float(r["update"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
        ax.plot(*zip(*points, strict=True), marker="o", ms=3)
        ax.set_xlabel("update")
        ax.set_title(key)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
