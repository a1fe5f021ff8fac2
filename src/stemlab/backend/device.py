"""Compute device choice and numpy <-> torch transfer. torch is imported lazily."""

from __future__ import annotations

from typing import Any

from ..errors import DeviceError, ParameterError
from .dtypes import native


def cuda_available() -> bool:
    """True when torch sees a usable CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(device: Any = "auto"):
    """Return a ``torch.device`` for ``'auto' | 'cpu' | 'cuda' | 'cuda:N' | torch.device``.

    ``'auto'`` picks CUDA when available, else the CPU. Asking for CUDA on a machine
    without it raises :class:`DeviceError` naming the fix.
    """
    import torch

    if device is None or (isinstance(device, str) and device.lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = device if isinstance(device, torch.device) else torch.device(str(device).lower())
    except (RuntimeError, TypeError):
        raise ParameterError(f"Unknown device {device!r}: use 'auto', 'cpu' or 'cuda'.") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device={device!r} was requested but torch sees no CUDA GPU "
                f"(torch {torch.__version__}). Use device='cpu' or 'auto', or install a CUDA "
                "build of torch and check the NVIDIA driver (nvidia-smi).")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) exist.")
    elif dev.type != "cpu":
        raise DeviceError(f"device={device!r} is not supported: use 'auto', 'cpu' or 'cuda'.")
    return dev


def to_device(block, device: Any = "cpu", dtype: Any = None):
    """Turn a numpy array (or tensor) into a torch tensor on ``device`` with ``dtype``.

    ``dtype`` may be a torch dtype, a numpy dtype or a string such as ``'float32'``;
    ``None`` keeps the input's dtype (unsigned 16/32-bit numpy arrays, which torch cannot
    hold, become float32); any byte order (big-endian ``.mib`` data) is accepted
    (:func:`stemlab.backend.dtypes.native`). A cupy array (``__cuda_array_interface__``) is wrapped
    on its GPU without a copy to the host. Avoids copies where possible (CPU, same
    dtype, native byte order); transfers to CUDA use pinned-memory-free non-blocking copies.
    """
    import numpy as np
    import torch

    dev = resolve_device(device) if not isinstance(device, torch.device) else device
    tdtype = _torch_dtype(dtype) if dtype is not None else None
    if isinstance(block, torch.Tensor):
        return block.to(device=dev, dtype=tdtype or block.dtype, non_blocking=True)
    if hasattr(block, "__cuda_array_interface__"):  # cupy (or numba) GPU array: shared, not copied to the host
        tensor = torch.as_tensor(block, device=dev if dev.type == "cuda" else None)
        return tensor.to(device=dev, dtype=tdtype or _gpu_dtype(tensor.dtype), non_blocking=True)
    arr = native(block)
    if arr.dtype in (np.uint16, np.uint32, np.uint64):
        arr = arr.astype(np.float32 if tdtype is None else np.dtype(str(tdtype).replace("torch.", "")))
    if not arr.flags.c_contiguous or not arr.flags.writeable:
        arr = np.ascontiguousarray(arr) if arr.flags.writeable else arr.copy()
    tensor = torch.from_numpy(arr)
    return tensor.to(device=dev, dtype=tdtype or tensor.dtype, non_blocking=True)


def _gpu_dtype(dtype):
    """Torch dtype a GPU block keeps: unsigned 16/32/64-bit (few torch kernels) become float32."""
    import torch

    return torch.float32 if dtype in (torch.uint16, torch.uint32, torch.uint64) else dtype


def _torch_dtype(dtype):
    import numpy as np
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    name = np.dtype(dtype).name
    try:
        return getattr(torch, name)
    except AttributeError:
        raise ParameterError(f"dtype {dtype!r} has no torch equivalent.") from None
