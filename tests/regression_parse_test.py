#!/usr/bin/python3
"""The regression check's reading of callgrind_annotate's output: every line, whatever its share
(under 10 % the share is printed with a leading space), and glibc's allocator entry points picked out
by name and library (scripts/regression/measure.py)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from regression.measure import ANNOTATE_LINE, allocator_instructions  # noqa: E402

TEXT = """\
1,834,822 (100.0%)  ???:ffb::Algorithm::train_step(float const*, int const*) [/b/ffbench]
1,628,198 (88.74%)  ???:ffb::Matmul::run(void const*, void const*, float*, float const*, void*) const [/b/ffbench]
   10,227 ( 0.56%)  ./malloc/./malloc/malloc.c:_mid_memalign.constprop.0 [/usr/lib/x86_64-linux-gnu/libc.so.6]
    8,100 ( 0.44%)  ./malloc/./malloc/malloc.c:free [/usr/lib/x86_64-linux-gnu/libc.so.6]
    6,812 ( 0.37%)  ./malloc/./malloc/malloc.c:memalign [/usr/lib/x86_64-linux-gnu/libc.so.6]
    3,665 ( 0.20%)  ./malloc/./malloc/malloc.c:posix_memalign [/usr/lib/x86_64-linux-gnu/libc.so.6]
    3,372 ( 0.18%)  ???:operator new(unsigned long) [/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30]
    2,553 ( 0.14%)  ./malloc/./malloc/malloc.c:malloc [/usr/lib/x86_64-linux-gnu/libc.so.6]
      900 ( 0.05%)  ???:my::free [/b/ffbench]
"""


def main():
    rows = []
    for line in TEXT.splitlines():
        match = ANNOTATE_LINE.match(line)
        assert match, f"not read: {line!r}"
        rows.append((int(match.group(1).replace(",", "")), match.group(2)))
    assert len(rows) == 9 and rows[2][0] == 10227 and rows[0][0] == 1834822, rows
    # free + memalign + posix_memalign + malloc; not their internals (_mid_memalign, called by both
    # memalign and posix_memalign), not operator new (it calls malloc), not a 'free' of another library.
    assert allocator_instructions(rows) == 8100 + 6812 + 3665 + 2553, allocator_instructions(rows)
    assert allocator_instructions([]) == 0
    print("ok")


if __name__ == "__main__":
    main()
