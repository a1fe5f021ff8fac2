"""``stemlab live merlin://HOST[:DATA_PORT][?api_port=N] --scan NY,NX ...``: analyse a scan while the detector
records it; ``stemlab live --replay FILE --budget 0.25 -o replay.json``: simulate an adaptive acquisition."""

from __future__ import annotations

import argparse
import sys

from .options import add_calibration_options, calibration_kwargs


def register(subparsers) -> None:
    from ..live.sources import ARM_TIMEOUT_S

    p = subparsers.add_parser("live", help="receive a live scan from a detector and grow the maps while it runs; "
                                           "or replay an adaptive acquisition on a recorded scan")
    p.add_argument("detector_url", nargs="?", metavar="merlin://HOST[:DATA_PORT][?api_port=N]",
                   help="the detector: a Merlin/Medipix (data port 6342, control port 6341 by default)")
    p.add_argument("--scan", type=_scan_shape, metavar="NY,NX", help="scan shape: rows,columns (live mode)")
    p.add_argument("--phase", action="append", default=[], metavar="CIF",
                   help="CIF file or shipped phase name for orientation/phase maps; repeatable")
    p.add_argument("--detector", action="append", default=[], metavar="[NAME=]SPEC",
                   help="virtual detector disk:CY,CX,R | annulus:CY,CX,RIN,ROUT | rect:Y0,X0,Y1,X1 in detector "
                        "pixels ('c': the pattern centre); repeatable (default: BF disk and ADF annulus)")
    p.add_argument("--record", metavar="OUT.zarr|OUT.mib",
                   help="record every frame into this zarr store or Merlin .mib file (+ .hdr)")
    p.add_argument("--suggest", type=_positive, metavar="N",
                   help="write the N most informative positions to RESULTS/next_positions.csv (with --phase)")
    p.add_argument("--timeout", type=float, default=ARM_TIMEOUT_S, metavar="S",
                   help=f"seconds to wait for the acquisition to start after arming (default {ARM_TIMEOUT_S:g})")
    p.add_argument("--frame-time", type=float, metavar="S",
                   help="seconds between frames (the scan's dwell time), when the detector's own "
                        "ACQUISITIONTIME/ACQUISITIONPERIOD is not it (e.g. a scan generator triggers slower); "
                        "it sizes the receiver's stacks so the maps lag at most ~0.1 s")
    p.add_argument("--replay", metavar="FILE", help="replay mode: a recorded 4D-STEM scan")
    p.add_argument("--budget", type=float, default=0.25, help="replay: fraction of positions visited (default 0.25)")
    p.add_argument("-o", "--output", metavar="RESULTS",
                   help="live: folder of result maps (.tif, orientation.h5, live.json) or .npz; replay: replay.json")
    p.add_argument("-v", "--verbose", action="store_true", help="show progress")
    add_calibration_options(p)
    p.set_defaults(func=cmd_live)


def _scan_shape(text: str) -> tuple[int, int]:
    try:
        ny, nx = (int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give the scan's rows and columns, e.g. --scan 256,256") from None
    if ny < 1 or nx < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: rows and columns must be at least 1, e.g. --scan 256,256")
    return ny, nx


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of positions, e.g. --suggest 100")
    return value


def cmd_live(args) -> int:
    from ..errors import ParameterError

    if args.replay:
        return _replay(args)
    if not args.detector_url:
        raise ParameterError("give the detector (stemlab live merlin://HOST[:DATA_PORT][?api_port=N] --scan NY,NX) "
                             "or a recorded scan to replay (stemlab live --replay FILE -o replay.json).")
    if args.scan is None:
        raise ParameterError(f"{args.detector_url}: give the scan shape with --scan NY,NX (rows,columns), "
                             "e.g. --scan 256,256.")
    if args.suggest and not args.phase:
        raise ParameterError("--suggest ranks positions from the phase and orientation maps: give --phase too.")
    if args.suggest and not args.output:
        raise ParameterError("--suggest writes RESULTS/next_positions.csv: give the results folder with -o RESULTS.")
    return _live(args)


def _live(args) -> int:
    from pathlib import Path

    from ..diffraction import parse_detector
    from ..errors import ParameterError
    from ..live.session import acquire
    from ..live.sources import parse_source
    from .options import ProgressPrinter

    if args.output:
        from .options import check_output

        check_output(args.output, (".npz",), folder=True)
    if args.frame_time is not None and not args.frame_time > 0:
        raise ParameterError(f"--frame-time {args.frame_time:g}: give the seconds between frames, e.g. 0.001.")
    source = parse_source(args.detector_url, arm_timeout=args.timeout, frame_time=args.frame_time)
    specs = [spec.partition("=") if "=" in spec else ("", "", spec) for spec in args.detector]
    for _, _, spec in specs:  # refuse a mistyped detector before the detector is armed
        parse_detector(spec, (0.0, 0.0))
    detectors = {name or f"D{i}": spec for i, (name, _, spec) in enumerate(specs)} or None
    result = acquire(source, args.scan, detectors=detectors, phases=args.phase, record=args.record,
                     calibration=calibration_kwargs(args),
                     progress=ProgressPrinter() if args.verbose else None)
    if args.output:
        result.save(args.output)
        if args.suggest:
            from ..live.advice import where_next

            advice = where_next(result.orientation, pending=result.pending)
            advice.to_csv(Path(args.output) / "next_positions.csv", args.suggest, result.scan_axes)
    print(result.summary())
    if result.recording:
        print(f"recorded {result.status.received} frames to {result.recording}")
    if args.output:
        print(f"wrote {args.output}")
    if result.error:
        print(f"stemlab live: error: {result.error}", file=sys.stderr)
        return 2
    return 0


def _replay(args) -> int:
    from ..errors import ParameterError
    from ..io import load_one
    from ..live.replay import replay, write_replay
    from .options import ProgressPrinter

    if not args.output:
        raise ParameterError("--replay writes its report as JSON: give -o replay.json.")
    if not args.phase:
        raise ParameterError("--replay compares phase maps: give the phases with --phase (e.g. --phase Al --phase Cu).")
    if not 0 < args.budget <= 1:
        raise ParameterError(f"--budget {args.budget}: give the fraction of positions to visit, 0 < budget <= 1 "
                             "(e.g. 0.25).")
    ds = load_one(args.replay, **calibration_kwargs(args))
    report = replay(ds, args.phase, budget=args.budget, progress=ProgressPrinter() if args.verbose else None)
    write_replay(args.output, report)
    print(f"wrote {args.output}: adaptive {report['adaptive_phase_agreement']:.1%}, uniform "
          f"{report['uniform_phase_agreement']:.1%} of the full scan's phases at budget {report['budget']:g}")
    return 0
