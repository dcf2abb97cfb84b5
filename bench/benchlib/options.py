"""Command-line pieces the scripts share: sizes like `10k`, lists like `20,200`, which
MTAs to run, `--json`."""

from __future__ import annotations

import argparse
import re

from .mta import MTA_NAMES

UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024 ** 2, "mb": 1024 ** 2}
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


def parse_size(text: str) -> int:
    """`10k` = 10 KiB, `1m` = 1 MiB, `512` = bytes."""
    match = SIZE.match(text.lower())
    if not match or match.group(2) not in UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 10k, 1m, 512)")
    return int(float(match.group(1)) * UNITS[match.group(2)])


def size_list(text: str) -> list[str]:
    """Sizes as written (`10k,100k`), each checked; the label stays as the user wrote it."""
    labels = [item.strip() for item in text.split(",") if item.strip()]
    for label in labels:
        parse_size(label)
    return labels


def int_list(text: str) -> list[int]:
    try:
        values = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}")
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError(f"need positive numbers: {text!r}")
    return values


def choice_list(choices: tuple[str, ...]):
    def parse(text: str) -> list[str]:
        values = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [value for value in values if value not in choices]
        if unknown or not values:
            raise argparse.ArgumentTypeError(
                f"{text!r}: choose from {', '.join(choices)}")
        return values
    return parse


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mta", choices=("both",) + MTA_NAMES, default="both",
                        help="which MTA to measure (default: both, side by side)")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON instead of a table")


def selected_mtas(option: str) -> list[str]:
    return list(MTA_NAMES) if option == "both" else [option]
