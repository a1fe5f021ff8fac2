"""``stemlab strain INPUT -o OUT.npz``: strain and rotation maps from the Bragg disks of a 4D-STEM scan."""

from __future__ import annotations

from .options import ProgressPrinter, add_calibration_options, calibration_kwargs


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "strain", help="strain (exx, eyy, exy), rotation, fit error and disk count maps of a 4D-STEM scan")
    p.add_argument("input", help="4D-STEM file (scan y, scan x, ky, kx)")
    p.add_argument("--probe", default="auto", metavar="vacuum.npy|auto",
                   help="probe template: a .npy image of the vacuum probe, 'auto' (the mean direct beam, "
                        "default), 'mean' or 'synthetic' (a disk of --disk-radius)")
    p.add_argument("--disk-radius", type=float, metavar="PX", help="probe disk radius in detector pixels "
                                                                   "(default: measured)")
    p.add_argument("--basis", nargs=2, metavar=("H1,K1", "H2,K2"),
                   help="the two basis reflections as indices on the automatic basis, e.g. 1,0 0,1")
    p.add_argument("--reference", metavar="Y0:Y1,X0:X1",
                   help="unstrained reference region in scan pixels (default: the whole scan)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--scheduler", help="dask.distributed scheduler address, e.g. tcp://host:8786")
    p.add_argument("-o", "--output", required=True, help="output .npz")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    add_calibration_options(p)
    p.set_defaults(func=run)


def parse_basis(pair):
    """['1,0', '0,1'] -> ((1, 0), (0, 1)); None -> None; errors name --basis."""
    from ..errors import ParameterError
    from ..strainmap.lattice import parse_indices

    if not pair:
        return None
    try:
        return parse_indices(pair)
    except ParameterError as error:
        raise ParameterError(f"--basis {' '.join(pair)}: {error}") from None


def parse_reference(text):
    """'Y0:Y1,X0:X1' -> (y0, y1, x0, x1); '' or None -> None."""
    from ..errors import ParameterError

    if not text:
        return None
    try:
        ys, xs = text.split(",")
        y0, y1 = (int(v) for v in ys.split(":"))
        x0, x1 = (int(v) for v in xs.split(":"))
    except ValueError:
        raise ParameterError(f"--reference {text}: write Y0:Y1,X0:X1 in scan pixels, e.g. 0:16,0:64.") from None
    if y1 <= y0 or x1 <= x0:
        raise ParameterError(f"--reference {text}: Y1 must exceed Y0 and X1 exceed X0.")
    return (y0, y1, x0, x1)


def parse_probe(text):
    """'auto' | 'mean' | 'synthetic' | path of a .npy image -> what :func:`stemlab.strainmap.strain` takes."""
    from pathlib import Path

    import numpy as np

    from ..errors import FileFormatError, ParameterError

    if text.lower() in ("auto", "mean", "synthetic"):
        return text.lower()
    path = Path(text)
    if path.suffix.lower() != ".npy":
        raise ParameterError(f"--probe {text}: give 'auto', 'mean', 'synthetic' or a vacuum probe image as .npy.")
    if not path.is_file():
        raise FileFormatError(f"--probe {text}: no such file; save the vacuum probe with numpy.save(PATH, image).")
    try:
        image = np.load(path)
    except (ValueError, OSError) as error:
        raise FileFormatError(f"--probe {text}: not a readable .npy file ({error}).") from None
    if image.ndim != 2:
        raise ParameterError(f"--probe {text}: holds an array of shape {image.shape}; the probe is one 2D pattern.")
    return image


def run(args) -> int:
    from ..errors import ParameterError
    from ..io import load_one
    from ..strainmap import strain

    if not str(args.output).lower().endswith(".npz"):
        raise ParameterError(f"-o {args.output}: strain maps are written as .npz; name it OUT.npz.")
    if args.disk_radius is not None and not args.disk_radius > 0:
        raise ParameterError(f"--disk-radius {args.disk_radius}: give a positive radius in detector pixels.")
    probe = parse_probe(args.probe)
    basis = parse_basis(args.basis)
    reference = parse_reference(args.reference)
    ds = load_one(args.input, **calibration_kwargs(args))
    if ds.ndim < 3 or len(ds.sig_axes) != 2:
        raise ParameterError(f"{args.input}: holds a {ds.kind} of shape {ds.shape}; stemlab strain needs a "
                             "4D-STEM scan (scan y, scan x, ky, kx).")
    if reference is not None and len(ds.nav_shape) == 2:
        ny, nx = ds.nav_shape
        if reference[1] > ny or reference[3] > nx:
            raise ParameterError(f"--reference {args.reference}: the scan is {ny} x {nx} positions; keep "
                                 f"Y1 <= {ny} and X1 <= {nx}.")
    result = strain(ds, probe=probe, disk_radius=args.disk_radius, basis=basis, reference=reference,
                    device=args.device, scheduler=args.scheduler,
                    progress=ProgressPrinter() if args.verbose else None)
    result.save(args.output)
    print(f"wrote exx, eyy, exy, theta, error, n_disks, mask to {args.output}")
    print(result.summary())
    return 0
