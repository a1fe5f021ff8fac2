"""Fast live preview of one virtual detector image on an in-memory array.

The exact anti-aliased mask is applied only to its bounding-box crop of each pattern
(``data[..., y0:y1, x0:x1]``); when that still touches more than ``budget_bytes``, the
scan is subsampled with a stride ``s`` (every s-th position along every navigation axis)
chosen so the touched bytes ``<= budget``. The caller shows the image with ``scale * s``.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import ParameterError
from .detectors import mask, pixel_bbox

_ROWS_PER_STEP = 16 * 2**20  # bytes of float32 converted per step


def preview_plan(shape: tuple[int, ...], itemsize: int, detector, budget_bytes: float = 64e6) -> dict:
    """Stride and cost of a preview: ``{'bbox': (y0, x0, y1, x1), 'stride': s, 'touched_bytes': b}``.

    ``touched_bytes`` = positions read x bbox area x itemsize (bytes), after striding.
    """
    nav, sig = tuple(shape[:-2]), tuple(shape[-2:])
    y0, x0, y1, x1 = pixel_bbox(detector, sig)
    area = (y1 - y0) * (x1 - x0)
    full = math.prod(nav) * area * itemsize
    stride = 1
    if full > budget_bytes:
        stride = max(1, math.ceil((full / budget_bytes) ** (1.0 / max(1, len(nav)))))
        while math.prod(-(-n // stride) for n in nav) * area * itemsize > budget_bytes:
            stride += 1
    touched = math.prod(-(-n // stride) for n in nav) * area * itemsize
    return {"bbox": (y0, x0, y1, x1), "stride": stride, "touched_bytes": int(touched)}


def preview_virtual_image(data: np.ndarray, detector, budget_bytes: float = 64e6, supersample: int = 4,
                          threads: int = 2):
    """``(image, stride)``: the virtual image of ``detector`` at every ``stride``-th scan position.

    ``data`` is an in-memory numpy array ``nav_shape + (ky, kx)``. The image is float32 of
    shape ``ceil(nav / stride)`` and equals the full virtual image at those positions.
    The crop read is memory-latency bound (one short run of bytes per pattern row), so
    ``threads`` workers split the scan rows.
    """
    if isinstance(data, np.ndarray) is False or data.ndim < 3:
        raise ParameterError("preview_virtual_image needs an in-memory numpy array with >= 1 scan axis "
                             "and 2 pattern axes; use virtual_images for lazy data.")
    plan = preview_plan(data.shape, data.dtype.itemsize, detector, budget_bytes)
    y0, x0, y1, x1 = plan["bbox"]
    s = plan["stride"]
    nav = data.shape[:-2]
    sub = data[tuple(slice(None, None, s) for _ in nav) + (slice(y0, y1), slice(x0, x1))]
    out_shape = sub.shape[:-2]
    if y1 <= y0 or x1 <= x0:
        return np.zeros(out_shape, np.float32), s
    m = mask(detector, data.shape[-2:], supersample)[y0:y1, x0:x1].ravel()
    area = (y1 - y0) * (x1 - x0)
    per_row = max(1, math.prod(out_shape[1:])) * area * 4
    rows = max(1, _ROWS_PER_STEP // per_row)
    out = np.empty(out_shape, np.float32)

    def work(lo: int, hi: int) -> None:
        buf = np.empty((min(rows, hi - lo),) + sub.shape[1:], np.float32)
        for i in range(lo, hi, rows):
            j = min(i + rows, hi)
            b = buf[: j - i]
            np.copyto(b, sub[i:j], casting="unsafe")
            np.matmul(b.reshape(-1, area), m, out=out[i:j].reshape(-1))

    n0 = out_shape[0]
    if threads > 1 and n0 > 1:
        edges = np.linspace(0, n0, min(threads, n0) + 1).astype(int)
        with ThreadPoolExecutor(len(edges) - 1) as pool:
            list(pool.map(lambda k: work(edges[k], edges[k + 1]), range(len(edges) - 1)))
    else:
        work(0, n0)
    return out, s
