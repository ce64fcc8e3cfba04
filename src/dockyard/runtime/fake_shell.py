"""The FakeRuntime's tiny shell: what the fake "runs" in place of real programs.

It models `echo`, `exit N`, `true`, `false`, `:`, `hostname`, `cat FILE`, `trap 'exit N' SIG`
and `>`, `>>`, `>&2` redirections (in `sh -c` scripts or as argv); at the first statement it
does not model, the program blocks, i.e. runs until stopped or killed.
"""

from __future__ import annotations

import shlex
import signal as signals
from dataclasses import dataclass, field
from typing import Protocol

from dockyard import errors
from dockyard.runtime.specs import signal_number

STDOUT, STDERR = "stdout", "stderr"
_UNMODELLED = (">&", "&", "|", "&&", "||", "<", ">", ">>", "(", ")")


@dataclass
class Run:
    """What running a program produced: output lines, exit code (None: still running), traps."""

    output: list[tuple[str, bytes]] = field(default_factory=list)
    exit_code: int | None = None
    traps: dict[int, int] = field(default_factory=dict)  # signal number → exit code


class Files(Protocol):
    """A container's view of files (its own layer, /dev/shm, volumes)."""

    def read(self, path: str) -> bytes | None:
        """The file's content, or None if it does not exist."""
        ...

    def write(self, path: str, data: bytes, *, append: bool) -> str | None:
        """Write the file; an error ("Read-only file system") or None."""
        ...


@dataclass
class Machine:
    """What a program sees of the container it runs in."""

    hostname: str
    files: Files


def interpret(argv: list[str], *, interactive: bool, machine: Machine) -> Run:
    """Run argv (a container's command, or an exec) as far as the fake models it."""
    if not argv:
        return Run()  # the image's default command: not modelled, so it runs
    if argv[0].rsplit("/", 1)[-1] in ("sh", "ash", "bash"):
        if len(argv) >= 3 and argv[1] == "-c":
            return _interpret_statements(_split_script(argv[2]), machine)
        # A shell with no script reads stdin: it waits if stdin is open, else ends at once.
        return Run() if interactive else Run(exit_code=0)
    run = _interpret_statements([list(argv)], machine)
    if run.exit_code is None and not run.output:
        # A program the fake does not model, e.g. a server: announce it, and let it shut
        # down cleanly on SIGTERM/SIGINT as servers do.
        run.output.append((STDOUT, shlex.join(argv).encode() + b"\n"))
        run.traps = {signals.SIGTERM: 0, signals.SIGINT: 0}
    return run


def _split_script(script: str) -> list[list[str]]:
    lexer = shlex.shlex(script.replace("\n", ";"), posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    statements: list[list[str]] = [[]]
    for token in lexer:
        if token == ";":  # noqa: S105 - a shell token, not a secret
            statements.append([])
        else:
            statements[-1].append(token)
    return [words for words in statements if words]


def _interpret_statements(statements: list[list[str]], machine: Machine) -> Run:
    run, status = Run(), 0
    for statement in statements:
        words, stream, target = _redirection(statement)
        if not words or any(word in _UNMODELLED for word in words):
            return run  # not modelled: blocks here
        name, args = words[0], words[1:]
        if name == "exit":
            run.exit_code = int(args[0]) % 256 if args else status
            return run
        if name == "trap" and len(args) >= 2 and args[0].startswith("exit"):
            code = int(args[0].split()[1]) if len(args[0].split()) > 1 else 0
            run.traps.update({_trap_signal(sig): code for sig in args[1:]})
            status = 0
            continue
        result = _command(name, args, machine)
        if result is None:
            return run  # not modelled: blocks here
        status = _emit(run, result, stream, target, machine)
    run.exit_code = status
    return run


def _redirection(words: list[str]) -> tuple[list[str], str, tuple[str, bool] | None]:
    """(the command's words, the stream its output goes to, (file, append) or None)."""
    if words[-2:] == [">&", "2"]:
        return (words[:-3] if words[-3:-2] == ["1"] else words[:-2]), STDERR, None
    if len(words) >= 3 and words[-2] in (">", ">>") and words[-3] not in ("1", "2"):
        return words[:-2], STDOUT, (words[-1], words[-2] == ">>")
    return words, STDOUT, None


def _command(name: str, args: list[str], machine: Machine) -> tuple[int, bytes, bytes] | None:
    """(status, stdout, stderr) of one modelled command, or None if it is not modelled."""
    if name == "echo":
        return 0, " ".join(args).encode() + b"\n", b""
    if name in ("true", ":"):
        return 0, b"", b""
    if name == "false":
        return 1, b"", b""
    if name == "hostname" and not args:
        return 0, machine.hostname.encode() + b"\n", b""
    if name == "cat" and args:
        out, err = b"", b""
        for path in args:
            data = machine.files.read(path)
            if data is None:
                err += f"cat: can't open '{path}': No such file or directory\n".encode()
            out += data or b""
        return (1 if err else 0), out, err
    return None


def _emit(
    run: Run, result: tuple[int, bytes, bytes], stream: str, target: tuple[str, bool] | None,
    machine: Machine,
) -> int:  # fmt: skip
    status, out, err = result
    if target is not None:
        path, append = target
        problem = machine.files.write(path, out, append=append)
        if problem is not None:  # the shell opens the file first and never runs the command
            status, err = 1, f"sh: can't create {path}: {problem}\n".encode()
        out = b""
    if out:
        run.output.append((stream, out))
    if err:
        run.output.append((STDERR, err))
    return status


def _trap_signal(name: str) -> int:
    # EXIT (0) and unknown names trap nothing a kill could deliver.
    try:
        return signal_number(name)
    except errors.InvalidValue:
        return 0
