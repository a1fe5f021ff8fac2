"""``stemlab segment``: symmetry-descriptor segmentation of an image or video file."""

from __future__ import annotations

from .options import ProgressPrinter, add_calibration_options, calibration_kwargs, check_output


def register(subparsers):
    p = subparsers.add_parser("segment", help="segment an atomic-resolution image or video by local symmetry")
    p.add_argument("input", help="image or video file")
    p.add_argument("--segments", default="auto", help="'auto' (default) or the number of segments K")
    p.add_argument("--patch", help="patch size, e.g. 0.5nm or 20px (default: 2 lattice spacings)")
    p.add_argument("--window", help="search-window diameter, e.g. 0.8nm (default: 3 lattice spacings)")
    p.add_argument("--stride", type=int, help="descriptor grid step in px (default: spacing/4)")
    p.add_argument("--families", default="translations,rotations,mirrors",
                   help="comma-separated operation families (default: all three)")
    p.add_argument("--fit-frames", default="0", help="video frames to fit on, e.g. 0,10,20 (default: 0)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("-o", "--output", required=True, help="labels image (.tif, .npy, .npz, .zarr, .h5)")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    add_calibration_options(p)
    p.set_defaults(func=cmd_segment)


def cmd_segment(args) -> int:
    from ..errors import ParameterError
    from ..io import load_one
    from ..io.writers import WRITABLE
    from ..symmetry.segment import segment

    check_output(args.output, WRITABLE)
    ds = load_one(args.input, lazy=False, **calibration_kwargs(args))
    if args.segments == "auto":
        segments = "auto"
    else:
        try:
            segments = int(args.segments)
        except ValueError:
            raise ParameterError(f"--segments {args.segments!r}: use 'auto' or an integer.") from None
    if ds.ndim == 3 and ds.kind != "video":
        ds = ds.with_data(ds.data, kind="video")
    result = segment(ds, segments=segments, patch=args.patch, window=args.window, stride=args.stride,
                     families=tuple(f.strip() for f in args.families.split(",") if f.strip()),
                     fit_frames=[int(f) for f in args.fit_frames.split(",")] if ds.ndim == 3 else None,
                     device=args.device, progress=ProgressPrinter() if args.verbose else None)
    result.save(args.output)
    print(f"{result.summary()}; wrote {args.output}")
    return 0
