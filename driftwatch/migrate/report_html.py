"""``migrate evaluate --html FILE``: one self-contained page, plots as inline SVG.

No scripts, stylesheets, fonts or images from anywhere: the file opens offline
and can be attached to a ticket. Plots: recall@k per canary for both models,
histograms of the canary hits' similarities per model, and the plan's cost and
time. Every text is HTML-escaped (canary queries are user input).
"""

from __future__ import annotations

from html import escape
from typing import Any

COLOURS = {"current": "#4e79a7", "candidate": "#f28e2b"}
WIDTH = 720


def render_report(evaluation: dict[str, Any], plan: dict[str, Any] | None) -> str:
    cur, cand = evaluation["current_model"], evaluation["candidate_model"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>driftwatch migrate evaluate: {escape(evaluation['collection'])}</title>",
        "<style>body{font-family:sans-serif;max-width:760px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
        "svg text{font-size:11px}</style></head><body>",
        f"<h1>Migration of {escape(evaluation['collection'])}: {escape(cur)} &rarr; "
        f"{escape(cand)}</h1>",
        f"<p>{evaluation['sample']} sampled records, k = {evaluation['k']}, "
        f"{evaluation['canaries']} canaries ({evaluation['canaries_with_expect']} with "
        "expected ids).</p>",
        "<h2>Canaries</h2>",
        _summary_table(evaluation),
        '<h2 id="recall">Recall@k per canary</h2>',
        _recall_bars(evaluation),
        '<h2 id="similarity">Similarity of canary hits</h2>',
        _histograms(evaluation["similarities"]),
        "<h2>Bridge estimate (candidate queries on the unchanged index)</h2>",
        _bridge_table(evaluation["bridge"]),
        '<h2 id="cost">Cost and time</h2>',
        _cost(plan),
        "</body></html>",
    ]
    return "\n".join(parts)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, list | tuple) and len(value) == 2:
        return f"{_fmt(value[0], digits)}&ndash;{_fmt(value[1], digits)}"
    return escape(str(value))


def _summary_table(ev: dict[str, Any]) -> str:
    rows = [
        "<table><tr><th>model</th><th>recall@k</th><th>95% CI</th><th>MRR</th><th>95% CI</th></tr>"
    ]
    for name in ("current", "candidate"):
        s = ev[name]
        rows.append(
            f"<tr><td>{name}</td><td>{_fmt(s['recall_at_k'])}</td><td>{_fmt(s['recall_ci'])}</td>"
            f"<td>{_fmt(s['mrr'])}</td><td>{_fmt(s['mrr_ci'])}</td></tr>"
        )
    agreement = ev["agreement"]
    rows.append(
        f"</table><p>Agreement of the two models' top-k: overlap@k "
        f"{_fmt(agreement['overlap_at_k'])}, rank-biased overlap {_fmt(agreement['rbo'])}.</p>"
    )
    return "".join(rows)


def _recall_bars(ev: dict[str, Any]) -> str:
    rows = [r for r in ev["per_canary"] if r["current_recall"] is not None]
    if not rows:
        return "<p>No canary lists expected ids.</p>"
    row_h, label_w, plot_w = 22, 260, WIDTH - 280
    height = row_h * len(rows) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'role="img" aria-label="recall per canary">'
    ]
    for i, row in enumerate(rows):
        y = 20 + i * row_h
        out.append(f'<text x="0" y="{y + 12}">{escape(row["query"][:40])}</text>')
        for j, name in enumerate(("current", "candidate")):
            value = row[f"{name}_recall"] or 0.0
            out.append(
                f'<rect class="bar-{name}" x="{label_w}" y="{y + j * 9}" '
                f'width="{value * plot_w:.1f}" height="8" fill="{COLOURS[name]}"/>'
            )
    out.append(_legend(label_w, 10))
    out.append("</svg>")
    return "".join(out)


def _legend(x: int, y: int) -> str:
    return "".join(
        f'<rect x="{x + i * 120}" y="{y - 8}" width="10" height="8" fill="{c}"/>'
        f'<text x="{x + i * 120 + 14}" y="{y}">{name}</text>'
        for i, (name, c) in enumerate(COLOURS.items())
    )


def _histograms(similarities: dict[str, list[float]], bins: int = 20) -> str:
    import numpy as np

    values = [v for vs in similarities.values() for v in vs]
    if not values:
        return "<p>No canary hits.</p>"
    edges = np.linspace(min(*values, 0.0), 1.0, bins + 1)
    counts = {n: np.histogram(vs, bins=edges)[0] for n, vs in similarities.items()}
    top = max(int(c.max()) for c in counts.values()) or 1
    height, plot_h, bar_w = 220, 180, (WIDTH - 40) / bins
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'role="img" aria-label="similarity histograms">',
        _legend(40, 12),
    ]
    for j, (name, c) in enumerate(counts.items()):
        for i, n in enumerate(c.tolist()):
            h = plot_h * n / top
            out.append(
                f'<rect class="hist-{name}" x="{40 + i * bar_w + j * bar_w / 2:.1f}" '
                f'y="{20 + plot_h - h:.1f}" width="{bar_w / 2 - 1:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS.get(name, "#888")}"/>'
            )
    out.append(f'<text x="40" y="{height - 4}">{edges[0]:.2f}</text>')
    out.append(f'<text x="{WIDTH - 40}" y="{height - 4}">1.00</text>')
    out.append("</svg>")
    return "".join(out)


def _bridge_table(bridge: dict[str, Any]) -> str:
    rows = [
        f"<p>Fitted on {bridge['train_pairs']} pairs, measured on {bridge['held_out']} "
        "held-out texts.</p><table><tr><th>map</th><th>neighbour recall@k</th>"
        "<th>canary recall@k</th></tr>"
    ]
    for name in ("unmapped", "procrustes", "ridge"):
        if name in bridge:
            row = bridge[name]
            rows.append(
                f"<tr><td>{name}</td><td>{_fmt(row['neighbour_recall'])}</td>"
                f"<td>{_fmt(row.get('canary_recall_at_k'))}</td></tr>"
            )
    rows.append("</table>")
    return "".join(rows)


def _write_rate(plan: dict[str, Any]) -> str:
    rate = plan["write_records_per_s"]
    return "" if rate is None else f", writing {rate:.1f} records/s"


def _cost(plan: dict[str, Any] | None) -> str:
    if plan is None:
        return "<p>No plan.</p>"
    seconds = float(plan["estimated_seconds"])
    cost = plan["estimated_cost"]
    bars = [("time (s)", seconds, f"{seconds:,.0f} s")]
    if cost is not None:
        bars.append(("cost", float(cost), f"{cost:,.4f}"))
    top = max(v for _, v, _ in bars) or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{30 * len(bars) + 10}"'
        ' role="img" aria-label="cost and time">'
    ]
    for i, (label, value, text) in enumerate(bars):
        w = 400 * value / top
        out.append(
            f'<text x="0" y="{20 + i * 30}">{label}</text>'
            f'<rect class="cost-bar" x="100" y="{8 + i * 30}" width="{w:.1f}" height="16" '
            f'fill="#59a14f"/><text x="{110 + w:.1f}" y="{20 + i * 30}">{escape(text)}</text>'
        )
    out.append("</svg>")
    out.append(
        f"<p>{plan['records']} records ({plan['records_without_text']} without text), "
        f"~{plan['estimated_tokens']:,} tokens ({escape(plan['token_method'])}), "
        f"cost {_fmt(cost, 4)}, ~{seconds:,.0f} s ({escape(plan['time_method'])}; "
        f"embedding {plan['throughput_records_per_s']:.1f} records/s{_write_rate(plan)}), "
        f"extra storage ~{plan['extra_storage_bytes'] / 1e6:,.1f} MB.</p>"
    )
    return "".join(out)
