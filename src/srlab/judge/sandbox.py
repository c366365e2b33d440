"""Run untrusted Python (a model's code) in a separate, limited process.

Two isolation modes, chosen once per process (``SRLAB_SANDBOX=bwrap|fallback`` forces one):

- ``bwrap`` (bubblewrap, Debian package ``bubblewrap``), used when ``bwrap`` is on PATH and
  works here: the whole filesystem is mounted read-only, ``/tmp`` is an empty tmpfs and only a
  fresh temp dir is writable; new user, network (no interfaces but loopback, nothing
  listening), PID, IPC and UTS namespaces; ``--die-with-parent``, so killing bwrap takes the
  whole PID namespace (every child) with it.
- ``fallback``: a plain subprocess in a fresh temp dir as cwd, in its own session. The network
  is isolated by a new network namespace when ``unshare(2)`` is permitted here, else it is
  *not* isolated (the verdict details say which). When running as root it drops to
  ``nobody``, so the filesystem is read-only except world-writable directories; otherwise it
  writes wherever the calling user can.

In both modes the process gets rlimits: CPU time, address space (memory), file size, no core
dumps and a process count (a fork bomb stops at ``nproc``; Linux does not enforce it for root,
hence the drop to ``nobody``, made only when ``nobody`` can run some Python here; otherwise it
stays root and ``nproc_enforced`` is False in the details). A wall-clock timeout kills the whole process group (and in
``bwrap`` mode the PID namespace); leftover children are killed when the program exits too.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODES = ("bwrap", "fallback")
MODE_ENV = "SRLAB_SANDBOX"
NOBODY = 65534
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
_OUTPUT_CHARS = 4000
_INSIDE = "/tmp/sandbox"  # the writable dir's path inside bwrap


@dataclass(frozen=True)
class SandboxLimits:
    """``timeout_s`` is wall-clock; ``cpu_s`` defaults to it (rounded up)."""

    timeout_s: float = 10.0
    memory_mb: int = 1024
    cpu_s: int | None = None
    nproc: int = 32
    fsize_mb: int = 16

    def cpu_limit(self) -> int:
        return self.cpu_s if self.cpu_s is not None else max(1, math.ceil(self.timeout_s))


@dataclass(frozen=True)
class SandboxResult:
    """``passed`` is True only for an exit status of 0 within the limits."""

    passed: bool
    status: str  # "passed", "failed", "timeout", "killed", "error"
    reason: str
    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float
    isolation: dict[str, Any] = field(default_factory=dict)


def _libc_unshare(flags: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _is_root() -> bool:
    return os.geteuid() == 0


def _own_process_count(uid: int) -> int:
    """Processes ``uid`` already runs: RLIMIT_NPROC counts them all, not just the sandbox's."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                continue
    return count


def _preexec(limits: SandboxLimits, nproc: int, drop: bool, unshare_flags: int) -> Any:
    cpu = limits.cpu_limit()
    memory = limits.memory_mb * 1024 * 1024
    fsize = limits.fsize_mb * 1024 * 1024

    def setup() -> None:  # runs in the child, after start_new_session's setsid
        if unshare_flags:
            _libc_unshare(unshare_flags)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        if drop:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)

    return setup


def _bwrap_command(workdir: str) -> list[str]:
    return [
        shutil.which("bwrap") or "bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        "--bind", workdir, _INSIDE,
        "--chdir", _INSIDE,
        "--unshare-user", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--die-with-parent", "--new-session",
        "--",
    ]  # fmt: skip


def _env(home: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


@functools.cache
def _net_unshare_flags() -> int | None:
    """The unshare flags that give the fallback a private network here, or None if refused."""
    flags = CLONE_NEWNET if _is_root() else CLONE_NEWUSER | CLONE_NEWNET
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "pass"],
            preexec_fn=_preexec(SandboxLimits(), 1 << 16, False, flags),
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return flags if probe.returncode == 0 else None


@functools.cache
def _interpreter() -> tuple[str, bool]:
    """A Python the sandbox can run, and whether it runs as ``nobody``.

    As root the code runs as ``nobody`` (so RLIMIT_NPROC holds), which needs an interpreter
    ``nobody`` can execute: a virtualenv under a private home often is not one, so the base
    interpreter and ``python3`` on PATH are tried too. With none, it stays root (no NPROC).
    """
    if not _is_root():
        return sys.executable, False
    candidates = [sys.executable, os.path.realpath(sys.executable), getattr(sys, "_base_executable", "")]
    candidates.append(shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "")
    for candidate in dict.fromkeys(c for c in candidates if c):
        try:
            probe = subprocess.run(
                [candidate, "-I", "-c", "pass"],
                preexec_fn=_preexec(SandboxLimits(), 1 << 16, True, 0),
                capture_output=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return candidate, True
    return sys.executable, False


@functools.cache
def _bwrap_works() -> bool:
    if shutil.which("bwrap") is None:
        return False
    result = run_python("print('ok')", SandboxLimits(timeout_s=30), mode="bwrap")
    return result.passed and result.stdout.strip() == "ok"


def isolation_mode() -> str:
    """``bwrap`` when bubblewrap is installed and works here, else ``fallback``."""
    forced = os.environ.get(MODE_ENV, "").strip()
    if forced:
        if forced not in MODES:
            raise ValueError(f"{MODE_ENV}={forced!r}; expected one of {', '.join(MODES)}")
        return forced
    return "bwrap" if _bwrap_works() else "fallback"


def _describe(mode: str, drop: bool, net_flags: int | None, limits: SandboxLimits) -> dict[str, Any]:
    if mode == "bwrap":
        network, filesystem = "isolated (bwrap network namespace)", "read-only except its temp dir"
    else:
        network = "isolated (network namespace)" if net_flags else "NOT isolated (unshare refused)"
        filesystem = (
            "writable only where 'nobody' may write" if drop else "writable wherever this user may"
        )
    return {
        "sandbox": mode,
        "network": network,
        "filesystem": filesystem,
        "user": "nobody" if drop else f"uid {os.geteuid()}",
        "timeout_s": limits.timeout_s,
        "cpu_s": limits.cpu_limit(),
        "memory_mb": limits.memory_mb,
        "nproc": limits.nproc,
        "nproc_enforced": drop or not _is_root(),  # Linux ignores RLIMIT_NPROC for root
        "fsize_mb": limits.fsize_mb,
    }


def _kill_group(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL the process's whole group (SIGKILL cannot be caught), then reap the process.

    The killed members are reaped by init; until then they still count against RLIMIT_NPROC,
    which ``_start`` waits out."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def _start(command: list[str], retry_s: float = 5.0, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen, retried while the process limit is still full of a previous run's dying processes."""
    deadline = time.monotonic() + retry_s
    while True:
        try:
            return subprocess.Popen(command, **kwargs)
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _tail(handle: Any) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")[-_OUTPUT_CHARS:]


def _classify(
    returncode: int, timed_out: bool, stderr: str, limits: SandboxLimits, mode: str
) -> tuple[str, str]:
    if timed_out:
        return "timeout", f"killed after the {limits.timeout_s:g}s wall-clock limit"
    if returncode == 0:
        return "passed", "exit status 0"
    signum = -returncode if returncode < 0 else 0
    if mode == "bwrap" and returncode > 128:  # bwrap exits 128+N when its child dies of signal N
        signum = returncode - 128
    if signum:
        name = signal.Signals(signum).name if signum in signal.valid_signals() else str(signum)
        if name == "SIGXCPU":
            return "killed", f"killed by {name} (CPU limit {limits.cpu_limit()}s)"
        return "killed", f"killed by {name}"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return "failed", f"exit status {returncode}" + (f": {lines[-1][:300]}" if lines else "")


def run_python(
    code: str,
    limits: SandboxLimits | None = None,
    *,
    mode: str | None = None,
    files: Mapping[str, str] | None = None,
) -> SandboxResult:
    """Run ``code`` as a Python script under ``limits``; never raises for what the code does.

    ``files`` (name -> text) are written beside the script first, e.g. test data too large to
    inline; they are written by the caller, so the sandbox's file-size limit does not apply."""
    limits = limits or SandboxLimits()
    mode = mode or isolation_mode()
    if mode not in MODES:
        raise ValueError(f"sandbox mode {mode!r}; expected one of {', '.join(MODES)}")
    python, drop = _interpreter()
    uid = NOBODY if drop else os.geteuid()
    nproc = limits.nproc + (_own_process_count(uid) if not drop else 0)
    net_flags = _net_unshare_flags() if mode == "fallback" else None
    isolation = _describe(mode, drop, net_flags, limits)
    workdir = tempfile.mkdtemp(prefix="srlab-sandbox-")
    try:
        Path(workdir, "main.py").write_text(code, encoding="utf-8")
        for name, text in (files or {}).items():
            if Path(name).name != name or name == "main.py":
                raise ValueError(f"sandbox file name {name!r} must be a plain name other than main.py")
            Path(workdir, name).write_text(text, encoding="utf-8")
        if drop:
            os.chown(workdir, NOBODY, NOBODY)
        if mode == "bwrap":
            command = [*_bwrap_command(workdir), python, "-I", "main.py"]
            env, cwd = _env(_INSIDE), None
        else:
            command = [python, "-I", "main.py"]
            env, cwd = _env(workdir), workdir
        preexec = _preexec(limits, nproc, drop, net_flags or 0)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            start = time.monotonic()
            try:
                process = _start(
                    command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=env,
                    start_new_session=True, preexec_fn=preexec,
                )  # fmt: skip
            except (OSError, subprocess.SubprocessError) as error:
                return SandboxResult(False, "error", f"sandbox did not start: {error}", None, "", "", 0.0, isolation)
            timed_out = False
            try:
                process.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            returncode = _kill_group(process)  # on timeout, and any children left behind on exit
            wall = time.monotonic() - start
            stdout, stderr = _tail(out), _tail(err)
        status, reason = _classify(returncode, timed_out, stderr, limits, mode)
        return SandboxResult(status == "passed", status, reason, returncode, stdout, stderr, round(wall, 3), isolation)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
