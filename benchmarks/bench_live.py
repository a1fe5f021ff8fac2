"""Live throughput: LiberTEM-live's Merlin simulator at increasing frame rates -> stemlab live.

Part 1, receiving + recording + virtual detectors: a 32 x 32 scan of 256 x 256 uint16 frames (12-bit
Merlin, 128 KiB a frame, 128 MiB a scan) replayed by ``libertem-live-mib-sim --cached mem`` at each
dwell time (0: as fast as it can send), received with ``stemlab.live.acquire`` recording to zarr and
computing a BF disk, an ADF annulus, the CoM and the mean pattern. Reported: frames/s offered by the
detector, frames/s received, dropped frames, whether the recording and the virtual detectors kept pace
(finished within 0.5 s of the last frame).

Part 2, orientation: a 16 x 16 two-phase scan (128 x 128) received at full speed with orientation
mapping (Al + alpha-Fe, 1 degree library), patterns indexed per second, against ``stemlab orient``
offline on the same file (library cached in both, start-up included for the offline command).

Part 3: the same indexing back to back in one process (warm library and torch), live thread against
``index_orientations``; run with ``OMP_NUM_THREADS=1`` on a loaded machine (spinning OpenMP threads
otherwise slow the offline call most).

``--lag`` instead: the lag of the maps at 5, 10 and 20 frames/s (an 8 x 8 scan of 64 x 64 uint8 frames): for
every frame, seconds from the simulator sending it to the session's snapshot (what the scan view shows)
holding it, the snapshot polled every 0.1 s; with the frame time unknown (the simulator reports none),
given, and with the old 16-frame stacks.

Part 1 also gives the CPU per frame of this process (user + system, every thread: the receiver's too), the
same scan received without recording, what the page cache absorbs (the scan's bytes written to a file in the
recording's 32-frame chunks, best of 3).

Run: ``python benchmarks/bench_live.py [--quick] [--receive-only] | --lag`` (needs
``pip install 'napari-stemlab[live]'``); ``--quick --receive-only`` takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "live"))
from simulator import MerlinSimulator, write_mib  # noqa: E402


def scan_file(folder: Path, nav=(32, 32), sig=(256, 256)) -> Path:
    rng = np.random.default_rng(0)
    frames = rng.poisson(2.0, (nav[0] * nav[1], *sig)).astype(np.uint16)
    return write_mib(folder / "bench.mib", frames, nav[1])


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads, the receiver's Rust threads too)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def receive_at(hdr: Path, nav, dwell_us: int, folder: Path, record: bool = True) -> dict:
    import stemlab.live as live

    sim = MerlinSimulator(hdr, nav, dwelltime_us=dwell_us or None)
    try:
        sim.report_frame_time(dwell_us / 1000 or 0.01)  # as a Merlin does; sizes the receiver's stacks
        # first scan fills the simulator's memory cache (and imports zarr: its import is not counted below)
        live.acquire(sim.url, nav, record=folder / f"warm_{dwell_us}.zarr" if record else None)
        cpu = cpu_seconds()
        result = live.acquire(sim.url, nav, record=folder / f"rec_{dwell_us}.zarr" if record else None,
                              detectors={"BF": "disk:c,c,12", "ADF": "annulus:c,c,30,120"})
        cpu = cpu_seconds() - cpu
    finally:
        sim.stop()
    t = result.timings
    n = result.status.received
    return {"dwell_us": dwell_us, "offered_fps": 1e6 / dwell_us if dwell_us else float("nan"),
            "received_fps": n / t["received"], "dropped": result.status.dropped, "received": n,
            "recorded_fps": n / t["recorded"] if "recorded" in t else float("nan"),
            "recording_lag_s": t.get("recorded", float("nan")) - t["received"],
            "virtual_lag_s": t["analysed"] - t["received"], "cpu_us_per_frame": 1e6 * cpu / n}


def page_cache_rate(folder: Path, n_frames: int, sig=(256, 256), chunk_frames: int = 32) -> dict:
    """Frames/s and CPU per frame of writing ``n_frames`` uint16 frames to a new file, ``chunk_frames`` a write
    (the recording's chunk: one scan row), no fsync: what the page cache absorbs on this machine."""
    chunk = np.random.default_rng(1).poisson(2.0, (chunk_frames, *sig)).astype(np.uint16)
    path = folder / "page_cache.raw"
    best = {}
    for _ in range(3):
        cpu, t0 = cpu_seconds(), time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            for _ in range(n_frames // chunk_frames):
                view = memoryview(chunk).cast("B")
                while view:
                    view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu
        path.unlink()
        if not best or wall < best["wall"]:
            best = {"wall": wall, "fps": n_frames / wall, "cpu_us_per_frame": 1e6 * cpu / n_frames}
    return best


def lag_at(sim: MerlinSimulator, dwell: float, nav=(8, 8), **source_options) -> dict:
    """Lag of every frame from the simulator sending it to the snapshot showing it, and snapshots with news per s."""
    from stemlab.live.session import LiveSession
    from stemlab.live.sources import MerlinSource

    n = nav[0] * nav[1]
    updates = []

    def on_update(session):
        snap = session.snapshot()
        updates.append((session.status.elapsed, int(np.isfinite(snap["BF"]).sum()) if "BF" in snap else 0))

    source = MerlinSource("127.0.0.1", sim.data_port, sim.control_port, arm_timeout=60, **source_options)
    LiveSession(source, nav, on_update=on_update).run()  # elapsed counts from the acquisition header
    sent = np.maximum(0, np.arange(n) - 1) * dwell  # the simulator sends frames 0 and 1 at once, then one a dwell
    t, seen = np.array([u[0] for u in updates]), np.array([u[1] for u in updates])
    lag = np.array([t[np.argmax(seen > i)] for i in range(n)]) - sent
    news = t[np.flatnonzero(np.diff(seen) > 0) + 1]
    rate = (len(news) - 1) / (news[-1] - news[0]) if len(news) > 1 else float("nan")
    return {"stack": source.stack, "max_lag_s": lag.max(), "median_lag_s": float(np.median(lag)), "updates_per_s": rate}


def lag_table(folder: Path) -> None:
    frames = np.random.default_rng(0).poisson(3, (64, 64, 64)).astype(np.uint8)
    hdr = write_mib(folder / "lag.mib", frames, 8)
    print("| frames/s | frame time | stack | max lag (s) | median lag (s) | view updates/s |")
    print("|---|---|---|---|---|---|")
    for fps in (5, 10, 20):
        dwell = 1.0 / fps
        sim = MerlinSimulator(hdr, (8, 8), dwelltime_us=int(dwell * 1e6))
        try:
            for label, options in (("unknown", {}), ("given", {"frame_time": dwell}), ("16-frame stacks",
                                                                                      {"stack_size": 16})):
                time.sleep(1.5)  # the simulator serves one connection at a time: let it see the last one close
                r = lag_at(sim, dwell, **options)
                print(f"| {fps} | {label} | {r['stack']} | {r['max_lag_s']:.2f} | {r['median_lag_s']:.2f} | "
                      f"{r['updates_per_s']:.1f} |", flush=True)
        finally:
            sim.stop()


def orientation_rates(folder: Path) -> dict:
    import subprocess

    import stemlab.live as live
    from stemlab.simulate.fourd import two_phase_scan

    ds = two_phase_scan(scan_shape=(16, 16), n_grains=12, seed=4)
    hdr = write_mib(folder / "orient.mib", np.asarray(ds.data).reshape(-1, 128, 128), 16)
    cal = {"calibration": f"{ds.axes[-1].scale}/angstrom", "scan_step": "2nm", "voltage": "200kV"}
    sim = MerlinSimulator(hdr, (16, 16))
    try:
        sim.report_frame_time(0.01)  # sent as fast as it can: 16-frame stacks
        live.acquire(sim.url, (16, 16))  # warm the simulator
        result = live.acquire(sim.url, (16, 16), phases=["Al", "alpha-Fe"], calibration=cal)
    finally:
        sim.stop()
    live_rate = result.status.indexed / (result.timings["indexed"])
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stemlab.cli", "orient", str(hdr.with_suffix(".mib")), "--phase", "Al",
                    "--phase", "alpha-Fe", "--calibration", cal["calibration"], "--voltage", "200",
                    "-o", str(folder / "orient.h5")], check=True, capture_output=True)
    offline = time.perf_counter() - t0
    return {"live_patterns_per_s": live_rate, "offline_patterns_per_s": 256 / offline}


def orientation_back_to_back() -> tuple[float, float]:
    """Patterns/s of the live orientation thread and of ``index_orientations`` offline, in one process, warm."""
    import stemlab
    import stemlab.live as live
    from stemlab.simulate.fourd import two_phase_scan

    ds = two_phase_scan(scan_shape=(16, 16), n_grains=12, seed=4)
    cal = {"calibration": f"{ds.axes[-1].scale}/angstrom", "scan_step": "2nm", "voltage": "200kV"}
    stemlab.index_orientations(ds, ["Al", "alpha-Fe"])  # library and torch warm for both
    t0 = time.perf_counter()
    stemlab.index_orientations(ds, ["Al", "alpha-Fe"])
    offline = 256 / (time.perf_counter() - t0)
    result = live.acquire(live.ArraySource(np.asarray(ds.data)), (16, 16), phases=["Al", "alpha-Fe"],
                          calibration=cal)
    return 256 / result.timings["indexed"], offline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="two rates only")
    parser.add_argument("--lag", action="store_true", help="only the lag of the maps at 5, 10 and 20 frames/s")
    parser.add_argument("--receive-only", action="store_true",
                        help="part 1 only: receiving + recording + virtual detectors, and the page cache")
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba-bench-live"))
    print(f"load average before: {open('/proc/loadavg').read().split()[:3]}, cores: {os.cpu_count()}")
    if args.lag:
        with tempfile.TemporaryDirectory() as tmp:
            lag_table(Path(tmp))
        print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")
        return
    dwells = [0, 1000] if args.quick else [0, 2000, 1000, 500, 250]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        hdr = scan_file(folder)
        print("| dwell (us) | offered (frames/s) | received (frames/s) | recorded (frames/s) | dropped | "
              "recording lag (s) | virtual detectors lag (s) | CPU per frame (us) |")
        print("|---|---|---|---|---|---|---|---|")
        for dwell in dwells:
            r = receive_at(hdr, (32, 32), dwell, folder)
            print(f"| {dwell or 'none'} | {r['offered_fps']:.0f} | {r['received_fps']:.0f} | {r['recorded_fps']:.0f} | "
                  f"{r['dropped']} | {r['recording_lag_s']:.2f} | {r['virtual_lag_s']:.2f} | "
                  f"{r['cpu_us_per_frame']:.0f} |", flush=True)
        r = receive_at(hdr, (32, 32), 0, folder, record=False)
        print(f"| none, not recorded | - | {r['received_fps']:.0f} | - | {r['dropped']} | - | "
              f"{r['virtual_lag_s']:.2f} | {r['cpu_us_per_frame']:.0f} |", flush=True)
        page = page_cache_rate(folder, 32 * 32)
        print(f"\npage cache: {page['fps']:.0f} frames/s of 256 x 256 uint16 written to a file in 32-frame chunks "
              f"(the recording's), {page['cpu_us_per_frame']:.0f} us CPU a frame", flush=True)
        if args.receive_only:
            print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")
            return
        o = orientation_rates(folder)
        print(f"\norientation: live {o['live_patterns_per_s']:.1f} patterns/s (128 x 128), "
              f"stemlab orient offline {o['offline_patterns_per_s']:.1f} patterns/s (whole command)")
        live_rate, offline_rate = orientation_back_to_back()
        print(f"orientation back to back in one process (warm, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}): "
              f"live {live_rate:.1f}, offline {offline_rate:.1f} patterns/s")
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
