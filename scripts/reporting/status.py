"""A point's status as result files write it. The C++ harness serialises it in one place
(bench/harness/point_status.hpp: to_string); this is its one reader and the PyTorch peer's one writer.
A str enum: `p.get("status") == Status.OK` compares with the file's text."""
from enum import Enum


class Status(str, Enum):
    OK = "ok"                # finished: every epoch or window measured
    DIVERGED = "diverged"    # the loss became NaN or infinite
    COLLAPSED = "collapsed"  # finished, but the accuracy stayed at chance (the run says for how long)
    SKIPPED = "skipped"      # not run here, with the reason (a missing peer, an unsupported option)
    FAILED = "failed"        # an error stopped it, with the message

    def __str__(self):  # printed and formatted as the file's text ("ok"), not "Status.OK"
        return self.value

    __format__ = str.__format__


FINISHED = (Status.OK, Status.COLLAPSED)  # points whose epochs are all recorded
