#!/usr/bin/env python3
"""Run a command that reads a passphrase from its terminal (Debian's `age -p`, `age -d` of a
passphrase-encrypted file) under a pseudo-terminal and answer its prompts.

usage: age_pty.py [--prompts N] [--timeout S] PASSFILE -- CMD [ARG...]

The passphrase is the first line of PASSFILE (never argv). Every time the command's terminal output
ends with a prompt that mentions a passphrase ("Enter passphrase...:", "Confirm passphrase:"), the
passphrase and a newline are typed. The command must take its input and output as files (`age -p -o
OUT IN`): its stdin and stdout are the terminal. What it printed on the terminal goes to our stderr
(the terminal does not echo the passphrase), followed by "age_pty: N prompt(s) answered".

Exit status: the command's (128+signal when killed); 124 when it ran longer than --timeout
(default 120 s; it is killed); 3 when --prompts N is given and a different number of prompts came.
"""
import os
import pty
import re
import select
import signal
import sys
import time

PROMPT = re.compile(rb"passphrase[^\n]*:\s*$", re.IGNORECASE)


def usage():
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def main():
    args = sys.argv[1:]
    want_prompts = None
    timeout = 120.0
    while args and args[0].startswith("--") and args[0] != "--":
        opt = args.pop(0)
        if not args:
            usage()
        if opt == "--prompts":
            want_prompts = int(args.pop(0))
        elif opt == "--timeout":
            timeout = float(args.pop(0))
        else:
            usage()
    if len(args) < 3 or args[1] != "--":
        usage()
    with open(args[0], "rb") as f:
        passphrase = f.readline().rstrip(b"\r\n")
    cmd = args[2:]

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            os.write(2, ("age_pty: cannot run %s: %s\n" % (cmd[0], e)).encode())
        os._exit(127)

    deadline = time.monotonic() + timeout
    pending = b""  # terminal output since the last answer
    prompts = 0
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the command has exited and the terminal is gone
            break
        if not data:
            break
        sys.stderr.buffer.write(data)
        sys.stderr.flush()
        pending += data
        if PROMPT.search(pending):
            os.write(fd, passphrase + b"\n")
            prompts += 1
            pending = b""
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    sys.stderr.write("\nage_pty: %d prompt(s) answered\n" % prompts)
    if timed_out:
        sys.stderr.write("age_pty: timed out after %.0f s\n" % timeout)
        sys.exit(124)
    if want_prompts is not None and prompts != want_prompts:
        sys.stderr.write("age_pty: expected %d prompt(s)\n" % want_prompts)
        sys.exit(3)
    if os.WIFSIGNALED(status):
        sys.exit(128 + os.WTERMSIG(status))
    sys.exit(os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
