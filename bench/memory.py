"""This process's memory as Linux reports it (/proc/self/status), for the benchmarks that measure their own.

VmRSS is the resident memory now; VmHWM the peak since the process started, or since
reset_peak() (so one step's peak can be measured after an earlier, larger one).
"""
from __future__ import annotations

from typing import Dict


def own_memory_mib() -> Dict[str, float]:
    """{"VmRSS": now, "VmHWM": peak}, in MiB."""
    found = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found


def reset_peak() -> None:
    """Start VmHWM again from the memory resident now (writing 5 to clear_refs; Linux ≥ 4.0)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
