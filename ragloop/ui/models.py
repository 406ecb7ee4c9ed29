"""Models page: which adapters are live and where they came from, and how they scored.

Reads two stores of record and nothing else: the configured adapter registry (local or S3:
``state.json`` plus each version's ``manifest.json``, whose logged training curves are drawn here)
and the evaluation reports written by ``ragloop eval run`` /
``make loop-demo`` (``report.json`` + plots per directory).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from ragloop.ui import identity, resources


def version_status(entry, version: int) -> str:
    if entry.retired:
        return "retired"
    if entry.live == version:
        return "live"
    return "previous" if entry.previous == version else ""


def ai_feedback_label(ai_feedback: dict | None) -> str | None:
    """Where an RLAIF adapter's feedback came from, in one cell: judge model, k samples from which adapter."""
    if not ai_feedback:
        return None
    judge, sampling = ai_feedback.get("judge", {}), ai_feedback.get("sampling", {})
    return f"{judge.get('model')} on {sampling.get('k')} samples/question from {sampling.get('adapter')}"


def adapters_frame(registry) -> pd.DataFrame:
    from serving.registry import served_name

    rows = []
    for name, entry in sorted(registry.state().adapters.items()):
        for version in sorted(entry.versions, reverse=True):
            try:
                manifest = registry.manifest(name, version)
            except (FileNotFoundError, ValueError):
                manifest = None
            metrics = manifest.metrics if manifest else {}
            rows.append(
                {
                    "adapter": served_name(name, version),
                    "status": version_status(entry, version),
                    "traffic": entry.weight if entry.live == version and not entry.retired else 0.0,
                    "promoted": entry.promoted and entry.live == version,
                    "method": manifest.method if manifest else "?",
                    "parent": (manifest.parent or {}).get("name") if manifest else None,
                    "AI feedback": ai_feedback_label(manifest.ai_feedback) if manifest else None,
                    "eval AI mean": (metrics.get("eval") or {}).get("candidate", {}).get("judge_mean"),
                    "base model": manifest.base_model if manifest else "?",
                    "rank": manifest.lora_rank if manifest else None,
                    "feedback records": len(manifest.feedback_ids) if manifest else None,
                    "train loss": metrics.get("train_loss_last"),
                    "created": manifest.created_at if manifest else None,
                    "_history": metrics.get("history") or {},
                }
            )
    return pd.DataFrame(rows)


def curves_png(adapter: str, history: dict) -> bytes | None:
    """The adapter's training curves, drawn from its manifest (no need to fetch its weights)."""
    from core.plots import plot_curves

    with tempfile.TemporaryDirectory() as tmp:
        path = plot_curves(history, Path(tmp) / "curves.png", f"training curves of {adapter}")
        return path.read_bytes() if path else None


def report_dirs(reports_dir: Path) -> list[Path]:
    """Report directories, newest first."""
    if not reports_dir.is_dir():
        return []
    found = [p.parent for p in reports_dir.glob("*/report.json")]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def show_report(directory: Path) -> None:
    from eval.report import REPORT_HTML, read_report

    data = read_report(directory)
    st.caption(f"{data['created_at']} · {', '.join(data.get('notes', []))}")
    st.dataframe(pd.DataFrame(data["summary"]).set_index("model"), width="stretch")
    for png in sorted(directory.glob("*.png")):
        st.image(str(png), caption=png.stem.replace("_", " "))
    html = directory / REPORT_HTML
    if html.exists():
        st.download_button("Download HTML report", html.read_bytes(), file_name=f"{directory.name}.html")


def page() -> None:
    identity.sidebar(identity.current())
    st.title("Models")
    settings = resources.settings()

    st.subheader("Adapters")
    adapters = adapters_frame(resources.adapter_registry())
    if adapters.empty:
        st.info(
            "No adapters published yet. Train one (`ragloop train sft`) and `ragloop adapters publish` it."
        )
    else:
        st.dataframe(adapters.drop(columns=["_history"]).set_index("adapter"), width="stretch")
        chosen = st.selectbox("Training curves of", adapters["adapter"].tolist())
        curves = curves_png(chosen, adapters.set_index("adapter").loc[chosen, "_history"])
        if curves is not None:
            st.image(curves)
        else:
            st.caption("This adapter has no training curves.")

    st.subheader("AI judge")
    from judge.figures import configured_identity, describe

    st.markdown(describe(configured_identity(settings)))
    st.caption("Every AI score (Review page, dashboard, gate, RLAIF rewards) comes from this judge.")

    st.subheader("Evaluation reports")
    reports = report_dirs(settings.reports_dir)
    if not reports:
        st.info("No evaluation reports yet. Run `ragloop eval run --model base --model langchain`.")
        return
    chosen_report = st.selectbox("Report", reports, format_func=lambda p: p.name)
    show_report(chosen_report)


page()
