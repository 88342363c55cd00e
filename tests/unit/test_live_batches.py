"""Cutting masked output into live-log messages (steps/live_batches.py).

Covers: whole lines keep their newline and a partial line waits for the rest or flush; many lines
go in one batch; batches never exceed the limit and are cut at line ends where possible; a line
longer than the limit is cut into limit-sized pieces, with or without its newline yet; any input
and chunking comes out byte for byte (property).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from steps.live_batches import LineBatcher


def test_lines_keep_their_newline_and_hold_partial_line() -> None:
    """Complete lines are returned with their newline; a partial line waits for the rest or flush."""
    lines = LineBatcher()
    assert lines.feed(b"one\ntw") == [b"one\n"]
    assert lines.feed(b"o\nthree") == [b"two\n"]
    assert lines.flush() == [b"three"]
    assert lines.flush() == []


def test_many_lines_in_one_batch() -> None:
    """Every whole line of a chunk goes into one message when it fits."""
    assert LineBatcher().feed(b"a\n" * 1000 + b"b") == [b"a\n" * 1000]


def test_batches_are_cut_at_line_ends_within_the_limit() -> None:
    """Batches stay within max_batch and end at a newline when one is in reach."""
    assert LineBatcher(max_batch=8).feed(b"abc\ndef\nghi\n") == [b"abc\ndef\n", b"ghi\n"]


def test_long_lines_are_cut() -> None:
    """A line longer than max_batch is cut into max_batch pieces, with or without a newline yet."""
    lines = LineBatcher(max_batch=4)
    assert lines.feed(b"abcdefghij") == [b"abcd", b"efgh"]
    assert lines.feed(b"k\nxy") == [b"ijk\n"]
    assert lines.feed(b"0123456\n") == [b"xy01", b"2345", b"6\n"]


@given(st.lists(st.binary(max_size=50), max_size=20), st.integers(min_value=1, max_value=16))
def test_output_is_the_input(chunks: list[bytes], limit: int) -> None:
    """The batches, joined, are exactly the input; none exceeds the limit."""
    lines = LineBatcher(max_batch=limit)
    out = [b for chunk in chunks for b in lines.feed(chunk)] + lines.flush()
    assert b"".join(out) == b"".join(chunks)
    assert all(0 < len(b) <= limit for b in out)
