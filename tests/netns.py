"""A network namespace joined to this host by a veth pair: "another host" for tests that
cut a worker off the network.

Needs root and iproute2 (``ip netns``), as CI has. Names are unique per call; the
namespace and both ends of the link are removed however the test ends. Addresses come
from the link-local range (169.254.0.0/16), which nothing on this machine routes, so
the link can shadow no real network.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


def unavailable() -> str:
    """Why no namespace can be made here ("" when one can)."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    try:
        _ip("netns", "list")
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"`ip netns` does not work here: {exc}"
    return ""


@dataclass(frozen=True)
class Namespace:
    name: str
    host_link: str  # the host's end of the veth pair
    host_address: str  # what the namespace reaches this host at
    address: str  # the namespace's own address, as the host sees its packets come
    network: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace (the environment passes through)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def cut(self) -> None:
        """Take the link down: from now on no packet passes either way."""
        _ip("link", "set", self.host_link, "down")


def _free_subnet(rng: random.Random) -> int:
    """A /30 of 169.254.0.0/16 that no interface here uses (another run may hold one)."""
    used = set(re.findall(r"169\.254\.(\d+)\.", _ip("-o", "-4", "addr", "show").stdout))
    while True:
        third = rng.randrange(100, 200)
        if str(third) not in used:
            return third


@contextmanager
def namespace() -> Iterator[Namespace]:
    rng = random.Random()
    suffix = f"{os.getpid() % 100000:05d}{rng.randrange(16**3):03x}"
    third = _free_subnet(rng)
    ns = Namespace(
        name=f"touchflow-{suffix}",
        host_link=f"tfh{suffix}",
        host_address=f"169.254.{third}.1",
        address=f"169.254.{third}.2",
        network=f"169.254.{third}.0/30",
    )
    inner = f"tfn{suffix}"
    try:
        _ip("netns", "add", ns.name)
        _ip("link", "add", ns.host_link, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", ns.name)
        _ip("addr", "add", f"{ns.host_address}/30", "dev", ns.host_link)
        _ip("link", "set", ns.host_link, "up")
        _ip("-n", ns.name, "addr", "add", f"{ns.address}/30", "dev", inner)
        _ip("-n", ns.name, "link", "set", inner, "up")
        _ip("-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        # Deleting the namespace deletes its end, and a veth pair dies with either end.
        _ip("netns", "delete", ns.name, check=False)
        _ip("link", "delete", ns.host_link, check=False)
