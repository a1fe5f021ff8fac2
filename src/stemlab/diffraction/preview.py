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
    Reading the crop is memory-latency bound (one short run of bytes per pattern row), so
    ``threads`` workers split the scan rows of the compiled kernel.
    """
    from .kernels import crop_dot

    if not isinstance(data, np.ndarray) or data.ndim < 3:
        raise ParameterError("preview_virtual_image needs an in-memory numpy array with >= 1 scan axis "
                             "and 2 pattern axes; use virtual_images for lazy data.")
    plan = preview_plan(data.shape, data.dtype.itemsize, detector, budget_bytes)
    y0, x0, y1, x1 = plan["bbox"]
    s = plan["stride"]
    nav = data.shape[:-2]
    scan = data[tuple(slice(None, None, s) for _ in nav)]
    out_shape = scan.shape[:-2]
    if y1 <= y0 or x1 <= x0:
        return np.zeros(out_shape, np.float32), s
    scan = scan.reshape((-1,) + scan.shape[-3:]) if scan.ndim > 3 else scan[None]
    scan = scan[..., y0:y1, x0:x1]  # a view: the kernel reads only the detector's bounding box
    weights = mask(detector, data.shape[-2:], supersample)[y0:y1, x0:x1]
    out = np.empty(scan.shape[:2], np.float32)
    edges = np.linspace(0, scan.shape[0], min(threads, scan.shape[0]) + 1).astype(int)
    parts = [(scan[a:b], out[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    if len(parts) > 1:
        with ThreadPoolExecutor(len(parts)) as pool:
            list(pool.map(lambda part: crop_dot(part[0], weights, part[1]), parts))
    else:
        crop_dot(scan, weights, out)
    return out.reshape(out_shape), s


def preview_source(data, budget_bytes: float = 256e6, progress=None, cancel=None):
    """``(array, stride)``: an in-memory copy of a (lazy) 4D array for live previews.

    Every ``stride``-th scan position along both scan axes, with ``stride`` the smallest
    that fits ``budget_bytes``; read in row blocks so progress and Cancel work.
    """
    from ..backend.progress import check, report

    stride = 1
    while data.nbytes / stride**2 > budget_bytes:
        stride += 1
    rows = range(0, data.shape[0], stride)
    out = np.empty((len(rows), -(-data.shape[1] // stride)) + tuple(data.shape[2:]), data.dtype)
    step = max(1, len(rows) // 20)
    for done in range(0, len(rows), step):
        check(cancel)
        block = data[rows.start + done * stride: rows.start + (done + step) * stride: stride, ::stride]
        out[done:done + step] = np.asarray(block)
        report(progress, min(done + step, len(rows)), len(rows), "reading preview data")
    return out, stride
