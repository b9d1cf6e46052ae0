"""Checks of a ``--scheduler`` address before any work: its form, a connect timeout, and that a
dask scheduler answers there (a server that accepts TCP but does not speak dask's protocol would
otherwise keep ``distributed.Client`` waiting forever)."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

from micro_bench.errors import MicroBenchError

__all__ = ["CONNECT_TIMEOUT", "check_scheduler"]

#: Seconds to connect to a scheduler and hear its identity (``$MICRO_BENCH_CONNECT_TIMEOUT``).
CONNECT_TIMEOUT = 10.0

_ADDRESS = re.compile(r"^(?:(tcp|tls|ucx|ws|wss)://)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-_]+):(\d{1,5})$")


async def _identity(address: str, timeout: float) -> Any:
    from distributed.comm import connect

    comm = await connect(address, timeout=timeout)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def check_scheduler(address: str, timeout: float | None = None) -> str:
    """``address`` as ``tcp://HOST:PORT`` once a dask scheduler answered there within ``timeout``
    seconds; else a one-line :class:`MicroBenchError` saying which check failed."""
    if timeout is None:
        try:
            timeout = float(os.environ.get("MICRO_BENCH_CONNECT_TIMEOUT") or CONNECT_TIMEOUT)
        except ValueError:
            timeout = CONNECT_TIMEOUT
    text = str(address).strip()
    if text.startswith("inproc://"):  # a scheduler inside this process (tests, notebooks): nothing to probe
        return text
    match = _ADDRESS.match(text)
    if not match or not 0 < int(match.group(3)) < 65536:
        raise MicroBenchError(f"--scheduler {address!r}: not a scheduler address; expected tcp://HOST:PORT "
                              "(e.g. tcp://10.0.0.5:8786, printed by `dask scheduler`)")
    full = text if match.group(1) else f"tcp://{text}"
    try:
        reply = asyncio.run(asyncio.wait_for(_identity(full, timeout), timeout))
    except TimeoutError:
        raise MicroBenchError(f"cannot reach the dask scheduler at {full}: none answered within {timeout:g} s "
                              "(nothing listens there, or a server that does not speak dask's protocol)") from None
    except (OSError, ValueError, TypeError, EOFError) as exc:
        raise MicroBenchError(f"cannot reach the dask scheduler at {full} ({type(exc).__name__}: "
                              f"{str(exc)[:160]})") from None
    except Exception as exc:  # noqa: BLE001 - distributed's comm errors (CommClosedError, ...)
        raise MicroBenchError(f"cannot reach the dask scheduler at {full} ({type(exc).__name__}: "
                              f"{str(exc)[:160]})") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise MicroBenchError(f"cannot reach the dask scheduler at {full}: the server there is not a dask scheduler (it answered "
                              f"{str(reply)[:80]!r})")
    return full
