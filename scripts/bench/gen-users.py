#!/usr/bin/env python3
"""Writes N users in the previous system's JSON format to stdout, the same bytes for the same N.

    scripts/bench/gen-users.py 1000000 > users-1m.json

Names are distinct strings of 7 ASCII letters (mixed case, up to 7 311 616 users); dates are real days
between 1930 and 2020. Streams, so a million users need no more memory than one.
"""

import random
import string
import sys


def name(i: int, rng: random.Random) -> str:
    # Three random letters spread the keys as real names would (so inserts do not arrive in
    # key order), then i as four base-52 letters: the fixed lengths make every name unique.
    letters = string.ascii_letters
    prefix = "".join(rng.choice(letters) for _ in range(3))
    suffix = ""
    for _ in range(4):
        i, digit = divmod(i, 52)
        suffix += letters[digit]
    return prefix + suffix


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: gen-users.py COUNT > users.json")
    count = int(sys.argv[1])
    if count > 52**4:
        sys.exit("at most 7311616 users: names are 3 random + 4 unique letters")
    rng = random.Random(20260501)
    out = sys.stdout
    out.write("{")
    for i in range(count):
        year, month, day = rng.randint(1930, 2020), rng.randint(1, 12), rng.randint(1, 28)
        separator = "\n" if i == 0 else ",\n"
        out.write(f'{separator}  "{name(i, rng)}": {{"dateOfBirth": "{year:04}-{month:02}-{day:02}"}}')
    out.write("\n}\n" if count else "}\n")


if __name__ == "__main__":
    main()
