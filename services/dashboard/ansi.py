"""ANSI colour codes in a step's log -> safe HTML (pure).

Invariant: every byte of the log reaches the page escaped (html.escape on the text between escape
sequences), and what the escape sequences add is chosen from a fixed vocabulary: class names of
the 16 standard colours and styles, or an inline colour built from integers 0..255. So a log can
colour its lines but never inject markup. SGR sequences (`ESC [ ... m`) set the style; every other
escape sequence (cursor moves, OSC titles and hyperlinks, lone ESC) is dropped. The style carries
from one line to the next, as in a terminal, so a renderer keeps a `Style` between lines.
"""

from __future__ import annotations

import html
import re

from msgspec import Struct
from msgspec.structs import replace

#: CSI sequences (SGR and others), OSC sequences (ended by BEL or ST), and any other ESC + char.
_ESCAPE = re.compile(r"\x1b\[([0-9;:]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Style(Struct, frozen=True, kw_only=True):
    """The terminal's current text style: colours as a class suffix or an `#rrggbb` value."""

    fg: str = ""
    bg: str = ""
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False


PLAIN = Style()


def render_line(text: str, style: Style = PLAIN) -> tuple[str, Style]:
    """One log line as HTML, and the style in force at its end (for the next line)."""
    parts: list[str] = []
    pos = 0
    for match in _ESCAPE.finditer(text):
        parts.append(_span(text[pos : match.start()], style))
        if match.group(2) == "m":
            style = apply_sgr(style, match.group(1))
        pos = match.end()
    parts.append(_span(text[pos:], style))
    return "".join(parts), style


def strip(text: str) -> str:
    """The line without any escape sequence (for search and plain-text views)."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))


def apply_sgr(style: Style, params: str) -> Style:
    """The style after one SGR sequence's parameters (`1;31`, `38;5;208`, `38;2;255;0;0`, ``)."""
    codes = [int(p) if p.isdigit() else 0 for p in re.split("[;:]", params)] if params else [0]
    i = 0
    while i < len(codes):
        style, i = _apply_one(style, codes, i)
    return style


_FLAGS = {1: ("bold", True), 2: ("dim", True), 3: ("italic", True), 4: ("underline", True),
          22: ("bold", False), 23: ("italic", False), 24: ("underline", False)}  # fmt: skip


def _apply_one(style: Style, codes: list[int], i: int) -> tuple[Style, int]:
    code = codes[i]
    if code == 0:
        return PLAIN, i + 1
    if code in _FLAGS:
        name, value = _FLAGS[code]
        return replace(style, **{name: value}, **({"dim": False} if code == 22 else {})), i + 1
    if 30 <= code <= 37 or 90 <= code <= 97:
        return replace(style, fg=str(code - 30 if code < 90 else code - 82)), i + 1
    if 40 <= code <= 47 or 100 <= code <= 107:
        return replace(style, bg=str(code - 40 if code < 100 else code - 92)), i + 1
    if code in (39, 49):
        return replace(style, **{"fg" if code == 39 else "bg": ""}), i + 1
    if code in (38, 48):
        colour, used = _extended(codes[i + 1 :])
        return replace(style, **{"fg" if code == 38 else "bg": colour}), i + 1 + used
    return style, i + 1


def _extended(rest: list[int]) -> tuple[str, int]:
    """`5;N` (256 colours) or `2;R;G;B`; a malformed tail leaves the colour unset."""
    if len(rest) >= 2 and rest[0] == 5:
        n = rest[1]
        return (str(n) if n < 16 else _hex(*_xterm256(n))) if 0 <= n <= 255 else "", 2
    if len(rest) >= 4 and rest[0] == 2:
        rgb = rest[1:4]
        return (_hex(*rgb) if all(0 <= c <= 255 for c in rgb) else ""), 4
    return "", len(rest)


def _xterm256(n: int) -> tuple[int, int, int]:
    if n >= 232:
        level = 8 + (n - 232) * 10
        return level, level, level
    n -= 16
    steps = (0, 95, 135, 175, 215, 255)
    return steps[n // 36], steps[(n // 6) % 6], steps[n % 6]


def _hex(r: int, g: int, b: int) -> str:
    return f"#{r:02x}{g:02x}{b:02x}"


def _span(text: str, style: Style) -> str:
    if not text:
        return ""
    safe = html.escape(_CONTROL.sub("", text), quote=True)
    if style == PLAIN:
        return safe
    classes, css = _classes(style)
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    attrs += f' style="{";".join(css)}"' if css else ""
    return f"<span{attrs}>{safe}</span>"


def _classes(style: Style) -> tuple[list[str], list[str]]:
    classes = [name for name in ("bold", "dim", "italic", "underline") if getattr(style, name)]
    css: list[str] = []
    for prop, value, prefix in (("color", style.fg, "fg"), ("background-color", style.bg, "bg")):
        if value.startswith("#"):
            css.append(f"{prop}:{value}")
        elif value:
            classes.append(f"{prefix}{value}")
    return classes, css
