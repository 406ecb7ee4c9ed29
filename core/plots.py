"""Plot helpers shared by the stages that draw: training writes its curves beside each adapter, the eval
report draws the same curves from manifests plus its own charts. Headless (Agg), PNG, 100 dpi."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return path


def plot_curves(curves: dict[str, list[list[float]]], path: Path, title: str) -> Path | None:
    """Training curves ``{key: [[step, value], ...]}`` (as kept in a manifest); None if there are none."""
    if not curves:
        return None
    fig, ax = pyplot().subplots(figsize=(6.5, 3.5))
    for key, points in curves.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=key)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save(fig, path)
