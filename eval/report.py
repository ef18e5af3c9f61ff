"""Reports of one run or of several side by side: Markdown, HTML (escaped) and matplotlib plots."""
from __future__ import annotations

from html import escape
from pathlib import Path

from eval.metrics import HEADLINE, PLOTTED


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(runs) -> list[list[str]]:
    keys = [k for k in HEADLINE if any(s.get(k) is not None for _, s, _ in runs)]
    keys += sorted({k for _, s, _ in runs for k in s if k.startswith(("hit@", "recall@")) and k not in keys})
    return [["metric"] + [name for name, _, _ in runs]] + [[k] + [_fmt(s.get(k)) for _, s, _ in runs] for k in keys]


def _funnel(runs) -> list[list[str]]:
    """Questions by the first stage that failed, one column per run ([] when no run has a funnel)."""
    from eval.funnel import RIGHT, STAGES, UNJUDGED

    if not any(s.get("funnel") for _, s, _ in runs):
        return []
    stages = list(STAGES) + [RIGHT, UNJUDGED]
    rows = [[stage] + [str((s.get("funnel") or {}).get(stage, 0)) for _, s, _ in runs] for stage in stages]
    return [["first stage that failed"] + [name for name, _, _ in runs]] + rows


def _plot(out: Path, runs) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in PLOTTED if any(s.get(k) is not None for _, s, _ in runs)]
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / len(runs)
    for i, (name, summary, _) in enumerate(runs):
        ax.bar([x + i * width for x in range(len(keys))], [summary.get(k) or 0 for k in keys], width, label=name)
    ax.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(keys))], keys, rotation=20, fontsize=8)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Quality by configuration")
    fig.tight_layout()
    fig.savefig(out / "metrics.png", dpi=110)
    plt.close(fig)
    return "metrics.png"


def _verdict(metrics: dict) -> str:
    if "correct_refusal" in metrics:
        return "pass" if metrics["correct_refusal"] else "FAIL"
    if "correct_and_cited" in metrics:
        return "pass" if metrics["correct_and_cited"] else "FAIL"
    return f"hit {metrics.get('mrr', 0):.2f}"


def write_report(out: Path, runs, questions) -> None:
    table = _table(runs)
    plot = _plot(out, runs)
    md = ["# Evaluation report", "", "| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    md += ["| " + " | ".join(row) + " |" for row in table[1:]]
    if plot:
        md += ["", f"![metrics]({plot})"]
    funnel = _funnel(runs)
    if funnel:
        md += ["", "## Where questions were lost", "",
               "The first stage of the answer's way that failed (`eval/funnel.py`; a stage the set gives no gold for is passed over):", "",
               "| " + " | ".join(funnel[0]) + " |", "|" + "---|" * len(funnel[0])]
        md += ["| " + " | ".join(row) + " |" for row in funnel[1:]]
    md += ["", "## Questions", ""]
    html = ["<!doctype html><meta charset='utf-8'><title>Evaluation report</title>",
            "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;vertical-align:top}.FAIL{color:#b00}"
            "details{margin:2px 0}</style>", "<h1>Evaluation report</h1><table>",
            "<tr>" + "".join(f"<th>{escape(c)}</th>" for c in table[0]) + "</tr>"]
    html += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in table[1:]]
    html.append("</table>")
    if plot:
        html.append(f"<p><img src='{plot}' alt='metrics by configuration'></p>")
    if funnel:
        html.append("<h2>Where questions were lost</h2><table>"
                    + "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in funnel)
                    + "</table>")
    html.append("<h2>Questions</h2><table><tr><th>id</th><th>question</th><th>reference</th>"
                + "".join(f"<th>{escape(name)}</th>" for name, _, _ in runs) + "</tr>")
    by_run = [{row["id"]: row for row in rows} for _, _, rows in runs]
    for q in questions:
        cells, md_cells = [], []
        for rows in by_run:
            row = rows.get(q.id)
            if row is None:
                cells.append("<td>–</td>")
                md_cells.append("–")
                continue
            verdict = _verdict(row["metrics"])
            cited = "".join(f"<details><summary>[{c['n']}] {escape(c['section'])}</summary>{escape(c['text'])}</details>"
                            for c in row.get("citations", []))
            cells.append(f"<td><b class='{verdict}'>{verdict}</b> {escape(row.get('answer', ''))}{cited}</td>")
            md_cells.append(f"**{verdict}** {row.get('answer', '')}".replace("|", "/").replace("\n", " "))
        reference = " / ".join(q.answers) or "(not in the documents)"
        html.append(f"<tr><td>{escape(q.id)}</td><td>{escape(q.question)}</td><td>{escape(reference)}</td>"
                    + "".join(cells) + "</tr>")
        md.append(f"- `{q.id}` {q.question} — reference: {reference}")
        md += [f"  - {name}: {cell}" for (name, _, _), cell in zip(runs, md_cells)]
    html.append("</table>")
    (out / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (out / "report.html").write_text("\n".join(html) + "\n", encoding="utf-8")
