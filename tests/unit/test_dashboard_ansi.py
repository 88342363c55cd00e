"""ANSI colours in step logs rendered to HTML (services/dashboard/ansi.py).

Covers: plain text is escaped (markup, quotes, ampersands) and nothing else added; SGR colours and
styles become fixed class names, 256-colour and true-colour codes inline `#rrggbb` values; reset;
a style carries to the next line; other escape sequences (cursor moves, OSC titles and hyperlinks,
lone ESC) are dropped; control characters are removed; and, for any input, the output holds no
markup but the renderer's own spans (hypothesis).
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from services.dashboard.ansi import PLAIN, Style, render_line, strip


def test_plain_text_is_escaped() -> None:
    """Markup in a log line reaches the page as text."""
    html, style = render_line("<script>alert(\"x\")</script> & 'y'")
    assert html == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;y&#x27;"
    assert style == PLAIN


def test_standard_colours_and_bold() -> None:
    """`1;31` is bold red as classes; `0` resets to plain text."""
    html, style = render_line("\x1b[1;31mfail\x1b[0m ok")
    assert html == '<span class="bold fg1">fail</span> ok'
    assert style == PLAIN


def test_bright_and_background() -> None:
    """Bright foregrounds (90-97) map to 8-15, backgrounds to bg classes."""
    html, _ = render_line("\x1b[92;44mx")
    assert html == '<span class="fg10 bg4">x</span>'


def test_extended_colours_are_inline_hex() -> None:
    """`38;5;208` and `48;2;1;2;3` become computed #rrggbb values."""
    html, _ = render_line("\x1b[38;5;208;48;2;1;2;3mx")
    assert html == '<span style="color:#ff8700;background-color:#010203">x</span>'


def test_out_of_range_true_colour_is_ignored() -> None:
    """An RGB component above 255 leaves the colour unset rather than emitting it."""
    html, _ = render_line("\x1b[38;2;999;0;0mx")
    assert html == "x"


def test_style_carries_to_next_line() -> None:
    """A colour opened on one line still applies on the next, as in a terminal."""
    _, style = render_line("\x1b[32mstart")
    html, _ = render_line("next", style)
    assert html == '<span class="fg2">next</span>'


def test_other_sequences_are_dropped() -> None:
    """Cursor moves, an OSC title, an OSC 8 hyperlink and a lone ESC leave only the text."""
    line = "\x1b[2K\x1b]0;title\x07a\x1b]8;;http://evil/\x1b\\b\x1b]8;;\x1b\\\x1bc"
    assert render_line(line)[0] == "ab"
    assert strip("\x1b[31mred\x1b[0m\x07") == "red"


_SPAN = re.compile(r'<span( class="[a-z0-9 ]+")?( style="[a-z\-:#0-9;]+")?>|</span>')


@given(st.text(alphabet=st.sampled_from(list("<>&\"'ab;[m\x1b]\x07\\0123458")), max_size=60))
def test_any_line_yields_only_our_markup(line: str) -> None:
    """Whatever the bytes, removing the renderer's spans leaves no '<' or '>' and no raw quote."""
    html, _ = render_line(line, Style(fg="1"))
    rest = _SPAN.sub("", html)
    assert "<" not in rest and ">" not in rest and '"' not in rest and "\x1b" not in rest
