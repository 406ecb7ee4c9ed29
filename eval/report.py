"""Evaluation reports: one table and a set of plots for several models evaluated in the same run.

Input is what ``eval.run.evaluate`` returns per model (base, adapters, the LangChain peer baseline) plus,
optionally, the manifests of the adapters (their training curves). Output, in one directory:

- ``report.json`` — every model's metrics and per-item rows, for machines;
- ``report.md`` — the summary table and the plots, for people (the app's Models page renders it);
- ``report.html`` — the same, self-contained (plots embedded), to mail or archive;
- ``*.png`` — similarity and judge-score histograms, per-metric bars, training curves.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.plots import plot_curves, pyplot, save
from eval.run import result_recall, result_unsafe_share

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: str  # format spec for the value; percentages use '%'


COLUMNS = (
    Column("recall", "recall@k", ".3f"),
    Column("mrr", "MRR", ".3f"),
    Column("similarity", "similarity", ".3f"),
    Column("judge_mean", "judge mean", ".2f"),
    Column("judge_above_3", "judge >3", ".1%"),
    Column("judge_below_3", "judge <3", ".1%"),
    Column("grounding", "grounding", ".2f"),
    Column("grounding_cosine", "grounding (cosine, before)", ".2f"),
    Column("unsafe", "unsafe", ".1%"),
    Column("correct_refusals", "says so when docs are silent", ".1%"),
    Column("false_refusals", 'false "docs don\'t say"', ".1%"),
    Column("heading_only", "heading-only answers", ".1%"),
    Column("p50_ms", "p50 ms", ".0f"),
    Column("p95_ms", "p95 ms", ".0f"),
)


def summary_row(result: dict[str, Any]) -> dict[str, Any]:
    judge = result.get("judge", {})
    return {
        "model": result["model"],
        "n": result["n"],
        "recall": result_recall(result),
        "mrr": result["retrieval"].get("mrr", math.nan),
        "similarity": result["similarity"]["mean"],
        "judge_mean": judge.get("mean", math.nan),
        "judge_above_3": judge.get("share_above_3", math.nan),
        "judge_below_3": judge.get("share_below_3", math.nan),
        "grounding": result["grounding"]["mean"],
        # the sentence-cosine measure the gate used before K-Precision (nan in results older than it)
        "grounding_cosine": result.get("grounding_cosine", {}).get("mean", math.nan),
        "unsafe": _or_nan(result_unsafe_share(result)),
        **refusal_shares(result),
        "heading_only": result.get("answer_shape", {}).get("heading_only"),
        "p50_ms": result["latency_ms"]["p50"],
        "p95_ms": result["latency_ms"]["p95"],
    }


def refusal_shares(result: dict[str, Any]) -> dict[str, float | None]:
    """The designed "the documents don't say" answers: the share of unanswerable questions that got it
    (correct) and of answerable ones (false); None (shown "n/a") where the set had none of that kind —
    None, not nan, so the row survives a JSON round trip (adapter manifests keep it) unchanged."""
    counts = result.get("refusals") or {}

    def share(hits: str, total: str) -> float | None:
        return counts[hits] / counts[total] if counts.get(total) else None

    return {
        "correct_refusals": share("correct", "unanswerable"),
        "false_refusals": share("false", "answerable"),
    }


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, fmt)


def summary_table(results: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows, one row per model, in the order given."""
    header = ["model", "n", *(c.header for c in COLUMNS)]
    rows = []
    for result in results:
        row = summary_row(result)
        rows.append([row["model"], str(row["n"]), *(_cell(row[c.key], c.fmt) for c in COLUMNS)])
    return header, rows


def text_table(results: list[dict[str, Any]]) -> str:
    """The summary as aligned plain text, for the terminal."""
    header, rows = summary_table(results)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def markdown_table(results: list[dict[str, Any]]) -> str:
    header, rows = summary_table(results)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---- plots -------------------------------------------------------------------------------------------


def plot_similarity(results: list[dict[str, Any]], path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    bins = [i / 20 for i in range(-2, 21)]
    for result in results:
        values = [r["similarity"] for r in result.get("items", [])]
        if values:
            ax.hist(
                values,
                bins=bins,
                alpha=0.45,
                label=f"{result['model']} (mean {sum(values) / len(values):.2f})",
            )
    ax.set_xlabel("cosine similarity of answer to reference")
    ax.set_ylabel("questions")
    ax.set_title("Semantic similarity")
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_judge(results: list[dict[str, Any]], path: Path) -> Path | None:
    scored = [
        (r["model"], [i["judge_score"] for i in r.get("items", []) if "judge_score" in i]) for r in results
    ]
    scored = [(m, s) for m, s in scored if s]
    if not scored:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.hist([s for _, s in scored], bins=[0, 1, 2, 3, 4, 5.001], label=[m for m, _ in scored])
    ax.axvline(3, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("AI-judge score (0-5)")
    ax.set_ylabel("questions")
    ax.set_title("Judge scores")
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_metric_bars(results: list[dict[str, Any]], path: Path) -> Path:
    plt = pyplot()
    keys = [("recall", "recall@k"), ("mrr", "MRR"), ("similarity", "similarity"), ("grounding", "grounding")]
    rows = [summary_row(r) for r in results]
    if any(not math.isnan(r["judge_mean"]) for r in rows):
        keys.append(("judge_mean_01", "judge mean / 5"))
        for r in rows:
            r["judge_mean_01"] = r["judge_mean"] / 5 if not math.isnan(r["judge_mean"]) else 0.0
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        xs = [j + i * width for j in range(len(keys))]
        ax.bar(xs, [0.0 if math.isnan(row[k]) else row[k] for k, _ in keys], width, label=row["model"])
    ax.set_xticks([j + width * (len(rows) - 1) / 2 for j in range(len(keys))], [label for _, label in keys])
    ax.set_ylim(0, 1.05)
    ax.set_title("Metrics per model")
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_training(manifest: dict[str, Any], path: Path) -> Path | None:
    curves = manifest.get("metrics", {}).get("history") or {}
    return plot_curves(curves, path, f"Training: {manifest['name']} ({manifest['method']})")


# ---- the report --------------------------------------------------------------------------------------


def judge_notes(results: list[dict[str, Any]]) -> list[str]:
    """One line per judge that scored these results: its name and its judge-benchmark figures."""
    from judge.figures import describe

    identities = {json.dumps(i, sort_keys=True) for r in results if (i := r.get("judge", {}).get("identity"))}
    return [describe(json.loads(i)) for i in sorted(identities)]


def write_report(
    results: list[dict[str, Any]],
    out_dir: Path,
    *,
    manifests: list[dict[str, Any]] | None = None,
    title: str = "ragloop evaluation",
    notes: list[str] | None = None,
    extra_figures: list[tuple[str, Path]] | None = None,
) -> Path:
    """Write report.json/.md/.html and the plots into ``out_dir`` (``extra_figures``: (caption, PNG in
    ``out_dir``) drawn by the caller, shown after the report's own); returns the Markdown path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifests = manifests or []
    notes = [*(notes or []), *judge_notes(results)]
    created = datetime.now(UTC).isoformat(timespec="seconds")
    (out_dir / REPORT_JSON).write_text(
        json.dumps(
            {
                "title": title,
                "created_at": created,
                "summary": [summary_row(r) for r in results],
                "results": results,
                "manifests": manifests,
                "notes": notes or [],
            },
            indent=2,
        )
        + "\n"
    )
    figures: list[tuple[str, Path]] = [
        ("Metrics per model", plot_metric_bars(results, out_dir / "metrics.png")),
        (
            "Semantic similarity to the reference answers",
            plot_similarity(results, out_dir / "similarity.png"),
        ),
    ]
    judge = plot_judge(results, out_dir / "judge_scores.png")
    if judge:
        figures.append(("AI-judge score distribution", judge))
    for manifest in manifests:
        curve = plot_training(manifest, out_dir / f"training-{manifest['name']}.png")
        if curve:
            figures.append((f"Training curves of {manifest['name']} ({manifest['method']})", curve))
    figures += extra_figures or []

    n = results[0]["n"] if results else 0
    md = [
        f"# {title}",
        "",
        f"{created} · {n} questions · models: {', '.join(r['model'] for r in results)}",
        "",
    ]
    md += [markdown_table(results), ""]
    for note in notes or []:
        md.append(f"- {note}")
    if notes:
        md.append("")
    for manifest in manifests:
        m = manifest.get("metrics", {})
        md.append(
            f"- adapter **{manifest['name']}**: {manifest['method']} on {manifest['base_model']}, "
            f"rank {manifest['lora_rank']}, {len(manifest.get('feedback_ids', []))} feedback records, "
            f"dataset {str(manifest.get('dataset_hash'))[:12]}, "
            f"train loss {_cell(m.get('train_loss_first'), '.3f')} → {_cell(m.get('train_loss_last'), '.3f')}"
        )
    if manifests:
        md.append("")
    for caption, path in figures:
        md += [f"## {caption}", "", f"![{caption}]({path.name})", ""]
    (out_dir / REPORT_MD).write_text("\n".join(md))
    (out_dir / REPORT_HTML).write_text(_html(title, created, results, figures, notes or [], md))
    return out_dir / REPORT_MD


def _html(
    title: str,
    created: str,
    results: list[dict[str, Any]],
    figures: list[tuple[str, Path]],
    notes: list[str],
    md: list[str],
) -> str:
    header, rows = summary_table(results)
    table = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    for row in rows:
        table += "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
    table += "</table>"
    adapters = "".join(f"<li>{html.escape(line[2:])}</li>" for line in md if line.startswith("- adapter "))
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
        "td:first-child,th:first-child{text-align:left}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(created)}</p>",
        table,
        "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + adapters + "</ul>",
    ]
    for caption, path in figures:
        data = base64.b64encode(path.read_bytes()).decode()
        alt = html.escape(caption)
        parts.append(f"<h2>{alt}</h2><img alt='{alt}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def read_report(out_dir: Path) -> dict[str, Any]:
    return json.loads((Path(out_dir) / REPORT_JSON).read_text())
