"""`tollgate sandbox`: the kernel-level half of the egress door (DESIGN.md §10).

`plan` holds the pure decisions (environment, nftables rules, durations, exit statuses),
`kernel` the syscalls of the child, `door` the calls to tollgate, `run` the supervisor and its
relay. Only the standard library is needed for `run --proxy`, so a non-root user can run it.
"""

from gateway.sandbox.cli import add_parser, main

__all__ = ["add_parser", "main"]
