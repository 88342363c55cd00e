"""Server-rendered HTML of the layout, the runs listing, a config's page and error pages (pure).

Invariant: every value that comes from a resource, an event, a log or the request goes through
`e()` (html.escape, quotes included) or `q()` (URL path quoting) before it is placed in the page;
nothing else builds markup from data. Pages read fully without JavaScript.
"""

from __future__ import annotations

import html
from datetime import datetime
from urllib.parse import quote, urlencode

from services.dashboard.inputs import FILTERS, PHASES, RunFilter
from services.dashboard.listing import ConfigView, RunRow, format_duration


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def q(value: str) -> str:
    return quote(value, safe="")


def when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else ""


def layout(title: str, body: str, stream: str = "") -> str:
    data = f' data-stream="{e(stream)}"' if stream else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{e(title)} · c8s</title><link rel="stylesheet" href="/static/app.css"></head>'
        f'<body{data}><header><nav aria-label="main"><a href="/runs">Runs</a></nav></header>'
        f"<main>{body}</main>"
        '<script src="/static/app.js" defer></script></body></html>'
    )


def error_page(status: int, message: str) -> str:
    title = {404: "Not found", 400: "Bad request", 403: "Forbidden", 503: "Unavailable"}.get(status, "Error")
    return layout(
        title, f'<h1>{status} {e(title)}</h1><p>{e(message)}</p><p><a href="/runs">All runs</a></p>'
    )


def run_link(row: RunRow) -> str:
    return f"/runs/{q(row.namespace)}/{q(row.name)}"


def phase(value: str, id_: str = "") -> str:
    ident = f' id="{e(id_)}"' if id_ else ""
    return f'<span class="phase {e(value)}"{ident}>{e(value)}</span>'


def runs_table(rows: list[RunRow]) -> str:
    titles = ("Run", "Phase", "Config", "Branch / PR", "Commit", "By", "Created", "Duration")
    head = "".join(f"<th scope=col>{h}</th>" for h in titles)
    body = "".join(_row(r) for r in rows) or '<tr><td colspan="8">No runs match.</td></tr>'
    return f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _row(r: RunRow) -> str:
    config = f'<a href="/configs/{q(r.namespace)}/{q(r.config)}">{e(r.config)}</a>'
    where = f"PR #{r.pr} → {e(r.target_branch)}" if r.pr is not None else e(r.branch)
    matrix = " ".join(f"{e(k)}={e(v)}" for k, v in sorted(r.matrix.items()))
    cells = (
        f'<a href="{run_link(r)}">{e(r.namespace)}/{e(r.name)}</a> <small>{matrix}</small>',
        phase(r.phase), config, where, f"<code>{e(r.commit[:12])}</code>", e(r.triggered_by),
        e(when(r.created)), e(format_duration(r.duration_seconds)),
    )  # fmt: skip
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def runs_page(rows: list[RunRow], wanted: RunFilter) -> str:
    query = _query(wanted)
    stream = "/runs/stream" + (f"?{query}" if query else "")
    return layout("Runs", f"<h1>Runs</h1>{filter_form(wanted)}{runs_table(rows)}", stream)


def _query(wanted: RunFilter) -> str:
    values = {k: getattr(wanted, k) for k in FILTERS if k != "limit"}
    return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def filter_form(wanted: RunFilter) -> str:
    fields = "".join(
        f'<label>{k} <input name="{k}" value="{e(getattr(wanted, k) or "")}" size="12"></label> '
        for k in ("namespace", "config", "branch", "pr")
    )
    options = "".join(
        f"<option{' selected' if p == wanted.phase else ''}>{p}</option>" for p in ("", *PHASES)
    )
    select = f'<label>phase <select name="phase">{options}</select></label>'
    return f'<form method="get" action="/runs" role="search">{fields}{select} <button>Filter</button></form>'


def config_page(view: ConfigView) -> str:
    stats = view.status
    rate = f"{stats.success_rate * 100:.1f}%" if stats.success_rate is not None else "no finished run yet"
    facts = (
        ("Repository", e(view.repository)), ("Steps", e(", ".join(view.steps))),
        ("Total runs", e(stats.total_runs)), ("Finished", e(stats.finished_runs)),
        ("Success rate", e(rate)), ("Last run", e(when(stats.last_run))),
        ("Mean duration (recent)", e(format_duration(view.mean_duration_seconds))),
    )  # fmt: skip
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    body = (
        f"<h1>{e(view.namespace)}/{e(view.name)}</h1><dl>{dl}</dl><h2>Recent runs</h2>{runs_table(view.runs)}"
    )
    return layout(f"{view.namespace}/{view.name}", body)
