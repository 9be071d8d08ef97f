"""What the ``torchbasics`` process returns, for scripts that check it.

Its own module, below every command: the entry point returns them for what reaches it,
and a command returns them itself where the error cannot reach it (a training process
under torchrun that is not the one reporting).
"""

EXIT_BAD_INPUT = 2  # a TorchbasicsError: bad input or an unmet precondition, one line
EXIT_INTERRUPTED = 130  # 128 + SIGINT: Ctrl-C, as a shell reports it
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a Unix tool whose reader went away returns
