#!/usr/bin/env python3
"""Runs Debian's `age` with a passphrase typed on a pseudo-terminal: age reads passphrases from /dev/tty only.
usage: [AGEPTY_STDOUT=OUTFILE] age_pty.py PASSFILE age ARGS...
The child's stdin and stdout are the pty, so give the input file as an argument, and the output with
AGEPTY_STDOUT (age creates an -o file only on its first write, so an empty plaintext leaves none).
PASSFILE: the passphrase, one trailing newline dropped. Answers each "passphrase" prompt (encrypting
asks twice). Exits with age's status; on failure prints what age wrote to the terminal."""
import os, pty, sys, select

def main():
    pw = open(sys.argv[1], 'rb').read().rstrip(b'\n')
    argv = sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        # age creates -o files only on the first write: for an empty plaintext send stdout to a file.
        if os.environ.get('AGEPTY_STDOUT'):
            o = os.open(os.environ['AGEPTY_STDOUT'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(o, 1)
        os.execvp(argv[0], argv)
    out = b''
    answered = 0
    while True:
        try:
            r, _, _ = select.select([fd], [], [], 30)
            if not r:
                break
            data = os.read(fd, 1024)
        except OSError:
            break
        if not data:
            break
        out += data
        # One answer per prompt: "Enter passphrase...:" and, when encrypting, "Confirm passphrase:".
        while out.count(b'passphrase') > answered:
            os.write(fd, pw + b'\n')
            answered += 1
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(out.decode(errors='replace'))
    sys.exit(code)

main()
