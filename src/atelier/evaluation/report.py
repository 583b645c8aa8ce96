"""Writing an evaluation's report: Markdown table, per-pair CSV, plots and an HTML image grid.

The table has the shape of the seed paper's Table 1: one column per method, one row per
metric, each cell the mean over pairs and its 95% percentile-bootstrap interval.
"""

from __future__ import annotations

import csv
import html
import io
import math
from pathlib import Path

from ..base.files import atomic_write
from ..io.images import write_text
from .runner import REFERENCE, EvalDir, Evaluation
from .stats import bootstrap_ci, paired_test

# key, label, which direction is better ("+" higher, "-" lower, "" neither)
ROWS = (
    ("deceived", "Deception rate", "+"),
    ("style_distance", "Style distance (Gram, rel.)", "-"),
    ("content_distance", "Content distance (relu4_2, rel.)", "-"),
    ("ssim", "SSIM to content", "+"),
    ("gradient", "Gradient magnitude", ""),
    ("fft_q90", "FFT 0.9-quantile", ""),
    ("seconds", "Seconds per image", "-"),
)
PAIRED_BASELINE = "gatys"  # the paired comparison: each augmented configuration against plain Gatys
PAIRED_METRICS = ("deceived", "gradient", "fft_q90", "style_distance", "content_distance", "ssim")
CSV_FIELDS = ("pair", "method", "content", "style", "artist", "predicted", "deceived", "seconds",
              "style_distance", "content_distance", "ssim", "gradient", "fft_q90")


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "n/a"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def _bootstrap_settings(ev: Evaluation) -> tuple[int, int]:
    """The evaluation's ``(seed, resamples)`` for its bootstrap intervals (defaults without options)."""
    return (ev.options.seed, ev.options.resamples) if ev.options else (0, 2000)


def summary(ev: Evaluation) -> dict[str, dict[str, tuple[float, float, float]]]:
    """``{metric: {column: (mean, low, high)}}`` over the pairs."""
    seed, resamples = _bootstrap_settings(ev)
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for key, _, _ in ROWS:
        out[key] = {}
        for col in ev.columns:
            vals = [r[key] for r in ev.rows if r["method"] == col and key in r]
            out[key][col] = bootstrap_ci(vals, resamples=resamples, seed=seed)
    return out


def markdown_table(ev: Evaluation) -> str:
    """The Table-1-shaped Markdown table (mean and [95% CI] per cell)."""
    summ = summary(ev)
    head = ["Metric"] + [f"{c} (reference)" if c == REFERENCE else c for c in ev.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, better in ROWS:
        if key == "deceived" and not ev.classifier_info:
            continue
        arrow = {"+": " ↑", "-": " ↓"}.get(better, "")
        cells = []
        for col in ev.columns:
            m, lo, hi = summ[key][col]
            cells.append("n/a" if math.isnan(m) else f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]")
        lines.append(f"| {label}{arrow} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired(ev: Evaluation) -> dict[str, dict[str, dict]]:
    """``{column: {metric: paired_test(column, gatys)}}`` for every ``augmented*`` column, on the pairs
    both methods finished (empty without a ``gatys`` column)."""
    if PAIRED_BASELINE not in ev.columns:
        return {}
    seed, resamples = _bootstrap_settings(ev)
    by = {(r["method"], r["pair"]): r for r in ev.rows}
    out: dict[str, dict[str, dict]] = {}
    for col in (c for c in ev.columns if c.startswith("augmented")):
        ids = [p.id for p in ev.pairs if (col, p.id) in by and (PAIRED_BASELINE, p.id) in by]
        out[col] = {}
        for key in PAIRED_METRICS:
            a = [by[(col, i)].get(key, math.nan) for i in ids]
            b = [by[(PAIRED_BASELINE, i)].get(key, math.nan) for i in ids]
            if any(not math.isnan(v) for v in a):
                out[col][key] = paired_test(a, b, binary=key == "deceived", resamples=resamples, seed=seed)
    return out


def markdown_paired(ev: Evaluation) -> str:
    """The paired comparison as Markdown: per metric, the mean difference against gatys [95% CI], p."""
    res = paired(ev)
    if not res:
        return ""
    labels = {k: (label, better) for k, label, better in ROWS}
    cols = list(res)
    lines = [f"Paired comparison against `{PAIRED_BASELINE}` on the same pairs: mean difference "
             f"(method − {PAIRED_BASELINE}) [95% bootstrap interval], two-sided p (deception: exact McNemar "
             "test; others: Wilcoxon signed-rank).", "",
             "| Metric | " + " | ".join(f"{c} − {PAIRED_BASELINE}" for c in cols) + " |",
             "|" + "---|" * (len(cols) + 1)]
    for key in PAIRED_METRICS:
        if not any(key in res[c] for c in cols):
            continue
        label, better = labels[key]
        arrow = {"+": " ↑", "-": " ↓"}.get(better, "")
        cells = []
        for c in cols:
            t = res[c].get(key)
            cells.append("n/a" if t is None else
                         f"{t['diff']:+.3g} [{t['low']:+.3g}, {t['high']:+.3g}], p={t['p']:.2g} (n={t['n']})")
        lines.append(f"| {label}{arrow} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(ev: Evaluation) -> str:
    o = ev.options
    parts = ["# Atelier evaluation", ""]
    if o is not None:
        parts += [f"{len(ev.pairs)} content/style pairs (seed {o.seed}), outputs at {o.size} px long side. "
                  "Each cell: mean over pairs [95% percentile-bootstrap interval]. "
                  f"`{REFERENCE}` is the un-stylized content photo, for scale.", ""]
    parts += [markdown_table(ev), ""]
    comparison = markdown_paired(ev)
    if comparison:
        parts += [comparison, ""]
    if ev.classifier_info:
        i = ev.classifier_info
        parts += [f"Artist classifier: {i.get('n_artists')} artists, {i.get('n_train')} training works; "
                  f"held-out accuracy on the {i.get('held_out_n')} evaluation style images (never trained on): "
                  f"**{float(i['held_out_accuracy']):.0%}**; cross-validated accuracy on its training works "
                  f"(folds grouped by work, C={i.get('C', '?')}): {float(i.get('cv_accuracy', math.nan)):.0%}. "
                  "A stylization deceives when the classifier "
                  "names the artist of its style image.", ""]
    if ev.unavailable:
        parts += ["Unavailable methods (not run, not faked):", ""]
        parts += [f"- `{name}`: {why}" for name, why in ev.unavailable.items()] + [""]
    if ev.failures:
        parts += ["Failures: " + ", ".join(f"`{m}` failed on {n} pair(s)" for m, n in ev.failures.items()), ""]
    parts += ["Metric definitions: `docs/evaluation.md`. Files: `pairs.csv` (per pair), `metrics.png`, "
              "`quality_vs_time.png`, `index.html` (image grid).", ""]
    return "\n".join(parts)


def pairs_csv(ev: Evaluation) -> str:
    by_id = {p.id: p for p in ev.pairs}
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in ev.rows:
        p = by_id[r["pair"]]
        w.writerow({**r, "content": p.content, "style": p.style, "artist": p.artist})
    return buf.getvalue()


def _save_figure(fig, path: Path) -> None:
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110)


def plot_metrics(ev: Evaluation, path: Path) -> None:
    """One panel per metric: each pair's value per column (dots) and the mean (bar)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [(k, label) for k, label, _ in ROWS if any(k in r for r in ev.rows)]
    cols = 3
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    # the grid has rows * cols >= len(keys) panels; the spare ones are switched off below
    for ax, (key, label) in zip(axes.flat, keys, strict=False):
        for i, col in enumerate(ev.columns):
            vals = [r[key] for r in ev.rows if r["method"] == col and key in r and not math.isnan(r[key])]
            if vals:
                ax.bar(i, sum(vals) / len(vals), color="#cdd9ea", width=0.7)
                ax.scatter([i] * len(vals), vals, s=12, color="#2a4d8f", zorder=3)
        positive = [r[key] for r in ev.rows if key in r and r[key] > 0]
        if key == "style_distance" and positive and max(positive) > 20 * min(positive):
            ax.set_yscale("log")  # the un-stylized photo is often 10-100x farther than any method
        ax.set_xticks(range(len(ev.columns)), ev.columns, rotation=30, fontsize=8)
        ax.set_title(label, fontsize=9)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def plot_quality_vs_time(ev: Evaluation, path: Path) -> None:
    """Style and content distance (mean, 95% CI) against seconds per image, one point per method."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summ = summary(ev)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, label in ((axes[0], "style_distance", "style distance"),
                           (axes[1], "content_distance", "content distance")):
        for col in ev.columns:
            t, (m, lo, hi) = summ["seconds"][col][0], summ[key][col]
            if math.isnan(t) or math.isnan(m):
                continue
            ax.errorbar([t], [m], yerr=[[m - lo], [hi - m]], fmt="o", capsize=3)
            ax.annotate(col, (t, m), textcoords="offset points", xytext=(5, 4), fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("seconds per image (log)")
        ax.set_ylabel(f"{label} (lower is closer)")
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)


def html_page(ev: Evaluation, folder: EvalDir) -> str:
    """A self-contained page (relative image links): one row per pair, one column per image."""
    rows_by = {(r["method"], r["pair"]): r for r in ev.rows}
    methods_ = [c for c in ev.columns if c != REFERENCE]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["content", "style"] + methods_)
    body = []
    for p in ev.pairs:
        cells = [f'<td><img src="inputs/{p.id}_content.jpg" alt="content">'
                 f'<div>{html.escape(Path(p.content).name)}</div></td>',
                 f'<td><img src="inputs/{p.id}_style.jpg" alt="style"><div>{html.escape(p.artist)}</div></td>']
        for m in methods_:
            r = rows_by.get((m, p.id))
            if r is None:
                cells.append("<td>failed</td>")
                continue
            rel = folder.result(m, p).relative_to(folder.root).as_posix()
            note = f"style {r['style_distance']:.3g} · content {r['content_distance']:.3g}"
            if "predicted" in r:
                note += f"<br>classified: {html.escape(r['predicted'])}"
            cells.append(f'<td><img src="{html.escape(rel)}" alt="{html.escape(m)}"><div>{note}</div></td>')
        body.append(f"<tr><th>{p.id}</th>{''.join(cells)}</tr>")
    missing = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>" for k, v in ev.unavailable.items())
    plots = ('<img src="metrics.png" style="max-width:100%;max-height:none">'
             '<img src="quality_vs_time.png" style="max-width:100%;max-height:none">')
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Atelier evaluation</title>
<style>body{{font-family:sans-serif;margin:1em}}td,th{{vertical-align:top;padding:4px;font-size:12px}}
img{{max-width:220px;max-height:220px;display:block}}</style></head>
<body><h1>Atelier evaluation</h1>
<table><tr><th>pair</th>{head}</tr>
{''.join(body)}
</table>
{f'<h2>Unavailable methods</h2><ul>{missing}</ul>' if missing else ''}
<p>Summary table: <a href="report.md">report.md</a>; per-pair numbers: <a href="pairs.csv">pairs.csv</a>.</p>
<p>{plots}</p>
</body></html>
"""


def write_report(ev: Evaluation, out: Path) -> dict[str, Path]:
    """Write every report file into ``out``; returns them by kind."""
    folder = EvalDir(out)
    files = {
        "report": write_text(out / "report.md", markdown_report(ev)),
        "csv": write_text(out / "pairs.csv", pairs_csv(ev)),
        "html": write_text(out / "index.html", html_page(ev, folder)),
    }
    plot_metrics(ev, out / "metrics.png")
    plot_quality_vs_time(ev, out / "quality_vs_time.png")
    files["plots"] = out / "metrics.png"
    return files

