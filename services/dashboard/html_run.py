"""Server-rendered HTML of a run's page and of a step's log (pure; escaping as in html_pages).

A log line is `<div class="l" id="<step>-L<n>"><a href="#<step>-L<n>">n</a>...</div>`: the anchor
is the line's permalink, and the text is services.dashboard.ansi's output (escaped, coloured).
"""

from __future__ import annotations

from services.dashboard.ansi import PLAIN, Style, render_line
from services.dashboard.html_pages import e, layout, phase, q, run_link, when
from services.dashboard.listing import format_duration
from services.dashboard.run_view import RunView, StepView

#: Stored logs above this are shown from their end on the run page (the log page shows them whole).
INLINE_LOG_BYTES = 1024 * 1024


def log_lines(step: str, data: bytes, first: int = 1) -> str:
    style: Style = PLAIN
    out = []
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=first):
        rendered, style = render_line(line, style)
        out.append(line_html(step, n, rendered))
    return "".join(out)


def line_html(step: str, n: int, rendered: str) -> str:
    anchor = f"{e(step)}-L{n}"
    return f'<div class="l" id="{anchor}"><a href="#{anchor}">{n}</a>{rendered}</div>'


def run_page(view: RunView, logs: dict[str, bytes], token: str) -> str:
    row = view.row
    base = run_link(row)
    body = (
        f"<h1>{e(row.namespace)}/{e(row.name)} {phase(row.phase, 'run-phase')}</h1>"
        f'<p id="run-reason">{e(_reason(view))}</p>{_facts(view)}{_actions(view, base, token)}'
        f"<h2>Steps</h2>{_dag(view, base)}<h2>Logs</h2>{_logs(view, logs, base)}"
        f"<h2>Events</h2>{_events(view)}"
    )
    return layout(f"{row.namespace}/{row.name}", body, "" if view.terminal else f"{base}/stream")


def _reason(view: RunView) -> str:
    return f"{view.reason}: {view.message}" if view.message else view.reason


def _facts(view: RunView) -> str:
    row = view.row
    commit = f"<code>{e(row.commit)}</code>"
    if view.commit_url:
        commit = f'<a href="{e(view.commit_url)}">{commit}</a>'
    branch = f"PR #{row.pr} → {e(row.target_branch)}" if row.pr is not None else e(row.branch or "(none)")
    where = f"{branch} ({e(row.event)})"
    matrix = ", ".join(f"{e(k)}={e(v)}" for k, v in sorted(row.matrix.items())) or "(none)"
    config = f'<a href="/configs/{q(row.namespace)}/{q(row.config)}">{e(row.config)}</a>'
    facts = (
        ("Config", config), ("Commit", commit), ("Branch / PR", where), ("Matrix", matrix),
        ("Repository", e(view.repository)), ("Triggered by", e(row.triggered_by)),
        ("Started", e(when(row.started))),
        ("Duration", f'<span id="run-duration">{e(format_duration(row.duration_seconds))}</span>'),
    )  # fmt: skip
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"


def _actions(view: RunView, base: str, token: str) -> str:
    hidden = f'<input type="hidden" name="csrf" value="{e(token)}">'
    rerun = f'<form class="inline" method="post" action="{base}/rerun">{hidden}<button>Re-run</button></form>'
    if view.terminal:
        return f"<p>{rerun}</p>"
    label = "Cancelling…" if view.cancel_requested else "Cancel"
    cancel = (
        f'<form class="inline" method="post" action="{base}/cancel">{hidden}<button>{label}</button></form>'
    )
    return f"<p>{cancel} {rerun}</p>"


def _dag(view: RunView, base: str) -> str:
    columns = "".join(
        f'<div class="level" role="list" aria-label="stage {n + 1}">'
        + "".join(_step(s, base) for s in level)
        + "</div>"
        for n, level in enumerate(view.levels)
    )
    return f'<div class="dag">{columns or "<p>No steps yet (the run was not accepted yet).</p>"}</div>'


def _step(s: StepView, base: str) -> str:
    needs = f"<div>needs {e(', '.join(s.depends_on))}</div>" if s.depends_on else ""
    exit_code = f"exit {s.exit_code}" if s.exit_code is not None else ""
    why = s.message or s.reason
    arts = "".join(
        f'<li><a href="{base}/artifacts/{q(s.name)}/{a.index}" download="{e(a.name)}">{e(a.name)}</a></li>'
        for a in s.artifacts
    )
    return (
        f'<div class="step" role="listitem" id="step-{e(s.name)}">'
        f'<a href="#log-{e(s.name)}"><b>{e(s.name)}</b></a> '
        f'{phase(s.phase)} <span class="exit">{e(exit_code)}</span> '
        f'<span class="duration">{e(format_duration(s.duration_seconds))}</span>'
        f'<div class="reason">{e(why)}</div>{needs}<ul class="artifacts">{arts}</ul></div>'
    )


def _logs(view: RunView, logs: dict[str, bytes], base: str) -> str:
    parts = []
    for s in view.steps:
        data = logs.get(s.name, b"")
        cut = len(data) > INLINE_LOG_BYTES
        shown = data[-INLINE_LOG_BYTES:] if cut else data
        note = (
            f'<p>Only the end is shown: <a href="{base}/logs/{q(s.name)}">the whole log</a>.</p>'
            if cut
            else ""
        )
        link = f'<a href="{base}/logs/{q(s.name)}">log page</a>' if s.has_log else ""
        open_ = " open" if s.phase in ("Running", "Failed") else ""
        parts.append(
            f"<details{open_}><summary>{e(s.name)} {phase(s.phase, 'log-phase-' + s.name)} {link}"
            f"</summary>{note}"
            f'<div class="log" id="log-{e(s.name)}">{log_lines(s.name, shown)}</div></details>'
        )
    find = (
        '<input type="search" placeholder="Find in logs" aria-label="Find in logs" data-find="#logs" hidden>'
    )
    return f'{find}<div id="logs">{"".join(parts)}</div>'


def _events(view: RunView) -> str:
    cells = ((ev.seq, ev.at, ev.type, " ".join(ev.details)) for ev in view.events)
    rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in cells)
    head = "".join(f"<th scope=col>{h}</th>" for h in ("Seq", "Time", "Type", "Details"))
    return f'<table id="events"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def log_page(namespace: str, run: str, step: str, data: bytes | None) -> str:
    base = f"/runs/{q(namespace)}/{q(run)}"
    find = find_box("Find in log", f"#log-{step}")
    body = (
        f'<h1><a href="{base}">{e(namespace)}/{e(run)}</a> · {e(step)}</h1>{find}'
        + (f'<div class="log" id="log-{e(step)}">{log_lines(step, data)}</div>' if data is not None else
           "<p>No stored log yet: the step has not finished, or never ran.</p>")
    )  # fmt: skip
    return layout(f"{run} {step}", body)


def find_box(label: str, target: str) -> str:
    """A search box the script reveals and wires to filter the lines under `target`."""
    label = e(label)
    return f'<input type="search" placeholder="{label}" aria-label="{label}" data-find="{e(target)}" hidden>'
