"""What the artifacts container reports through its termination message, and how it is read back.

The kubelet keeps at most 4096 bytes of a termination message, so the report is compact JSON:
the URL prefix once (`base`), then `[path, bytes]` per uploaded file (url = base + path), the
paths that could not be uploaded, and how many uploaded files did not fit (`omitted`, dropped
from the end rather than cutting the JSON). Reading is lenient: a message that is not a report
(an empty file, a crash trace) reads as "nothing reported", never as an error.
"""

from __future__ import annotations

import msgspec
from msgspec import Struct

MAX_MESSAGE = 4096


class ArtifactReport(Struct, frozen=True, kw_only=True):
    base: str = ""
    files: list[tuple[str, int]] = msgspec.field(default_factory=list)
    failed: list[str] = msgspec.field(default_factory=list)
    omitted: int = 0

    def urls(self) -> list[tuple[str, str, int]]:
        """(path, url, bytes) of every reported upload."""
        return [(path, self.base + path, size) for path, size in self.files]


_decoder = msgspec.json.Decoder(ArtifactReport)


def encode(report: ArtifactReport, limit: int = MAX_MESSAGE) -> bytes:
    """The report as at most `limit` bytes, dropping uploaded files from the end if needed."""
    files, failed = list(report.files), list(report.failed)
    while True:
        omitted = report.omitted + len(report.files) - len(files)
        body = msgspec.json.encode(
            ArtifactReport(base=report.base, files=files, failed=failed, omitted=omitted)
        )
        if len(body) <= limit:
            return body
        if files:
            files.pop()
        elif failed:
            failed.pop()
        else:
            return b"{}"


def decode(message: str | None) -> ArtifactReport | None:
    if not message:
        return None
    try:
        return _decoder.decode(message)
    except msgspec.DecodeError:
        return None
