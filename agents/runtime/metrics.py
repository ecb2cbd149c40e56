"""Run logging: a CSV of per-update metrics, TensorBoard scalars and a learning-curve PNG."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["MetricsLogger", "plot_curves", "read_csv"]


class MetricsLogger:
    """Appends one row per update to ``metrics.csv`` and mirrors scalars to TensorBoard (``tb/``).

    On resume, rows (and TensorBoard events) after the resumed update are dropped, so the logs match an
    uninterrupted run even when the interrupted one got further than its last checkpoint.
    """

    def __init__(self, out_dir: Path, resume_from: int | None = None, tensorboard: bool = True) -> None:
        self.path = out_dir / "metrics.csv"
        self.rows: list[dict[str, Any]] = []
        if resume_from is not None and self.path.exists():
            self.rows = [r for r in read_csv(self.path) if int(float(r["update"])) <= resume_from]
        elif self.path.exists():
            self.path.unlink()
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # On resume, TensorBoard drops the events a killed run wrote after the resumed update.
            purge = resume_from + 1 if resume_from is not None else None
            self._tb = SummaryWriter(str(out_dir / "tb"), purge_step=purge)
        self._rewrite()

    def log(self, update: int, metrics: Mapping[str, float]) -> None:
        row = {"update": update, **{k: float(v) for k, v in metrics.items()}}
        self.rows.append(row)
        self._rewrite()
        if self._tb is not None:
            for key, value in metrics.items():
                self._tb.add_scalar(key, float(value), update)
            self._tb.flush()

    def _rewrite(self) -> None:
        if not self.rows:
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

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def plot_curves(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], path: Path, title: str = "") -> None:
    """One subplot per metric in `keys` against ``update`` (matplotlib Agg, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in keys if rows and k in rows[0]]
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(4 * max(len(keys), 1), 3.2), squeeze=False)
    xs = [float(r["update"]) for r in rows]
    for ax, key in zip(axes[0], keys, strict=False):
        ax.plot(xs, [float(r[key]) for r in rows], marker="o", ms=3)
        ax.set_xlabel("update")
        ax.set_title(key)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
