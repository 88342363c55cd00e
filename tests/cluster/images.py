"""Loading tests/cluster/build's images into the cluster's loopback registry.

The build leaves one OCI archive per image (``<name>.oci.tar`` beside ``bin/``); ``push_all`` copies
each to ``<registry>/c8s/<name>:latest`` with skopeo over plain HTTP, so the node pulls them like any
image. The archives are the only source: nothing is fetched from outside this machine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

PUSH_TIMEOUT = 120.0


class ImageError(Exception):
    """An image could not be pushed; the message quotes skopeo."""


def archives(build_dir: Path) -> dict[str, Path]:
    """Image name -> OCI archive made by the build."""
    return {p.name.removesuffix(".oci.tar"): p for p in sorted(build_dir.glob("*.oci.tar"))}


async def push(archive: Path, ref: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci-archive:{archive}", f"docker://{ref}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(PUSH_TIMEOUT):
        out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise ImageError(f"skopeo copy {archive} -> {ref} exited {proc.returncode}: {out.decode()[-2000:]}")


async def push_all(build_dir: Path, registry: str) -> list[str]:
    found = archives(build_dir)
    if not found:
        raise ImageError(f"no *.oci.tar in {build_dir}: run tests/cluster/build")
    refs = {name: f"{registry}/c8s/{name}:latest" for name in found}
    await asyncio.gather(*(push(found[name], ref) for name, ref in refs.items()))
    return list(refs.values())
