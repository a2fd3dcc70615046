"""Who owns a thing being made (a scenario run, a layer being written): `pid@host`, and
whether that owner is known to have died."""

import os
import socket


def this_process() -> str:
    """This process as an owner: `pid@host`."""
    return f"{os.getpid()}@{socket.gethostname()}"


def is_dead(owner: str) -> bool:
    """Whether `owner` is a process of this host that no longer runs (another host's processes
    cannot be seen from here: never dead)."""
    pid, _, host = owner.partition("@")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
