"""Peak anonymous memory of a call, for memory-bound tests and benchmarks (Linux /proc; psutil elsewhere)."""

from __future__ import annotations

import threading
import time

import psutil


def anonymous_rss() -> int:
    """Resident anonymous memory (bytes): what the process allocated, without the file pages
    a memory map keeps resident (those belong to the page cache and are dropped under pressure)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return psutil.Process().memory_info().rss


def peak_rss_growth(func):
    """(result, peak growth of anonymous RSS in bytes) of ``func()``, sampled every 5 ms."""
    base = anonymous_rss()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], anonymous_rss())
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        result = func()
    finally:
        done.set()
        thread.join()
    return result, peak[0] - base
