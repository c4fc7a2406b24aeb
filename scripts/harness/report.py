"""How a drill reports: one summary line per run on standard output as it ends, then every problem as a FAIL line
on standard error, the results as JSON (--results), and the exit status: 0 only if no run had a problem."""

import argparse
import json
import math
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def percentile(values: Iterable[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary_line(name: str, fields: Mapping[str, object]) -> str:
    """`NAME key=value ...`, with dicts and lists as compact JSON, and left out when empty."""
    words = [name]
    for key, value in fields.items():
        if isinstance(value, dict | list):
            if value:
                words.append(f"{key}={json.dumps(value, separators=(',', ':'))}")
        else:
            words.append(f"{key}={value}")
    return " ".join(words)


def parser(description: str | None) -> argparse.ArgumentParser:
    """An entry point's command line: its docstring as help, and --results."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, help="also write the results as JSON here")
    return parser


class Results:
    """Every run's result and problems, in the order the runs ended."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.results: list[dict[str, Any]] = []
        self.problems: list[str] = []

    def add(self, result: dict[str, Any], problems: Iterable[str], label: str) -> None:
        """A run's result, and what is wrong with it (each problem reported as `FAIL LABEL: problem`)."""
        self.results.append(result)
        self.problems += [f"{label}: {problem}" for problem in problems]

    def finish(self) -> int:
        """Writes the results file and the FAIL lines; returns the process's exit status."""
        if self.path:
            self.path.write_text(json.dumps(self.results, indent=2) + "\n")
        for problem in self.problems:
            print(f"FAIL {problem}", file=sys.stderr)
        return 1 if self.problems else 0
