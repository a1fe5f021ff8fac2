"""dask.distributed clients, cached per scheduler address."""

from __future__ import annotations

import threading
from typing import Any

from ..errors import StemlabError

_CLIENTS: dict[str, Any] = {}
_LOCK = threading.Lock()


def get_client(address_or_client: Any, timeout: float = 5.0):
    """Return a ``distributed.Client`` for ``'tcp://host:port'`` (cached) or pass a Client through.

    Raises :class:`StemlabError` naming the address and the fix when no scheduler answers
    within ``timeout`` seconds.
    """
    from distributed import Client

    if isinstance(address_or_client, Client):
        return address_or_client
    address = str(address_or_client)
    if "://" not in address:
        address = "tcp://" + address
    with _LOCK:
        client = _CLIENTS.get(address)
        if client is not None and client.status == "running":
            return client
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise StemlabError(
                f"Cannot reach the dask scheduler at {address} within {timeout:g} s ({error}). Start one "
                f"with `dask scheduler` and `dask worker {address}`, check host/port and firewall, or "
                "leave scheduler empty to compute locally.") from None
        _CLIENTS[address] = client
        return client


def close_clients() -> None:
    """Close every cached client (tests, application exit)."""
    with _LOCK:
        for client in _CLIENTS.values():
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing best effort
                pass
        _CLIENTS.clear()
