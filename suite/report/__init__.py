"""Report generator: measure everything in the registry and write a self-contained HTML report.

`generate(out, ...)` checks `out` before measuring anything, writes into a temporary folder beside it and
moves that into place only when every file is written, so a crash, Ctrl-C or SIGTERM never leaves a
half-written report. `compare(dirs, out)` puts several machines' reports side by side (e.g. reports/cpu and
reports/cuda-h100).

The output folder is replaced only when it is recognisably an earlier output of this package: it holds the
marker file `.neurophys-report` (JSON: generator, format version, kind, and the files written) and nothing
else, or it is a report from before the marker (only the files a report or comparison consists of, with
our results.json / index.html). Anything else - a folder with other files, the current directory, the
project root, a file - is refused with `OutputError` before any work starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from suite import __version__
from suite.report.collect import Progress, Results, collect
from suite.report.render import BaselineError, load_baseline, write_all, write_comparison

__all__ = ["generate", "compare", "collect", "write_all", "Results", "OutputError", "Terminated", "BaselineError",
           "load_baseline",
           "check_output", "write_atomically", "MARKER", "MARKER_FORMAT"]

MARKER = ".neurophys-report"
MARKER_FORMAT = 1
_GENERATOR = "neurophys-suite"
# What outputs written before the marker existed consist of: (files that must be there, files that may).
_LEGACY = {
    "report": ({"index.html", "results.json", "machine.json"}, {"results.csv"}),
    "compare": ({"index.html", "claims.csv"}, {"accuracy.csv", "speed.csv"}),
}
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class OutputError(ValueError):
    """The output folder is one the report must not replace, or one it cannot write."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while a report was being made; raised like Ctrl-C so every cleanup runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into `Terminated` for the duration (main thread, default handler only; then restored)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def _raise(signum, frame):
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block is done (the two renames of a swap are not torn apart)."""
    held = {signal.SIGINT, signal.SIGTERM}
    can = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held) if can else None
    try:
        yield
    finally:
        if can:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _entries(folder: Path) -> set[str]:
    """Every path below `folder`, relative and '/'-separated; folders end in '/'."""
    return {p.relative_to(folder).as_posix() + ("/" if p.is_dir() and not p.is_symlink() else "")
            for p in folder.rglob("*")}


def _marker(folder: Path) -> dict | None:
    """The folder's marker when it is ours (a JSON object naming this generator), else None."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("generator") == _GENERATOR and isinstance(data.get("format"), int) \
        and isinstance(data.get("files"), list)
    return data if ok else None


def _legacy_kind(folder: Path, entries: set[str]) -> str | None:
    """'report' or 'compare' when `entries` are exactly what such an output written before the marker holds."""
    for kind, (required, optional) in _LEGACY.items():
        if required <= entries <= required | optional and _written_by_us(folder, kind):
            return kind
    return None


def _written_by_us(folder: Path, kind: str) -> bool:
    try:
        if kind == "report":
            data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            return isinstance(data, dict) and "machine" in data and "claims" in data
        return "<title>neurophys-suite" in (folder / "index.html").read_text(encoding="utf-8")[:2000]
    except (OSError, ValueError):
        return False


def _foreign(folder: Path) -> list[str]:
    """What in `folder` is not part of an earlier output of ours ([] when the folder may be replaced)."""
    entries = _entries(folder)
    if not entries:
        return []
    marker = _marker(folder)
    if marker is not None:
        ours = set(marker["files"]) | {MARKER}
        return sorted(entries - ours)
    if MARKER in entries:
        return [MARKER + " (not a neurophys-suite marker)"]
    return [] if _legacy_kind(folder, entries) else sorted(entries)


def _is_at_or_above(path: Path, other: Path) -> bool:
    return path == other or path in other.parents


def _protected(out: Path) -> str | None:
    """Why `out` may never be replaced, whatever it holds (None when it may be)."""
    places = {"the current directory": Path.cwd().resolve(), "the neurophys-suite project root": _PROJECT_ROOT}
    with contextlib.suppress(RuntimeError, KeyError):  # no home directory known
        places["your home directory"] = Path.home().resolve()
    for what, place in places.items():
        if _is_at_or_above(out, place):
            return f"it is {what}" if out == place else f"it holds {what}"
    return None


def _sibling(out: Path, kind: str) -> Path:
    """A name `.<name>.<kind>-<pid>-<hex>` beside `out` that nothing has yet (kind: tmp or old)."""
    while True:
        path = out.with_name(f".{out.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")
        if not os.path.lexists(path):
            return path


def _left_by_dead_run(out: Path, kind: str) -> list[Path]:
    """Folders `.<name>.<kind>-<pid>-<hex>` whose process is gone (and the untagged names of older
    versions: `.<name>.tmp-<random>` from tempfile.mkdtemp, `.<name>.old`), newest first."""
    found = []
    for path in out.parent.glob(f".{out.name}.{kind}*"):
        tag = path.name[len(f".{out.name}.{kind}"):]
        if not path.is_dir() or path.is_symlink() or not (tag == "" or tag.startswith("-")):
            continue
        pid_text = tag[1:].split("-", 1)[0]
        if pid_text.isdigit() and _running(int(pid_text)):
            continue
        found.append(path)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by another user
        pass
    return True


def _clean_stale(out: Path) -> None:
    """Remove what a killed run left beside `out`, and put back an earlier report a kill left as `.old`.

    Only folders that are recognisably ours are touched: a `.<name>.old*` holding anything else is kept.
    """
    for old in _left_by_dead_run(out, "old"):
        if _foreign(old):
            continue
        if out.exists():
            shutil.rmtree(old)
        else:
            old.rename(out)
    for tmp in _left_by_dead_run(out, "tmp"):
        shutil.rmtree(tmp, ignore_errors=True)


def check_output(out: str | Path, *, inputs: list[Path] = ()) -> Path:
    """The resolved output folder, after refusing one that is not ours to replace (raises OutputError).

    `inputs` are folders the output must not replace or contain (the reports a comparison reads).
    Stale temporary folders of the same target are removed, and a folder is made and removed where the
    output will go (its nearest existing parent), so an unwritable target fails now, not after measuring.
    """
    out = Path(out).expanduser().resolve()
    why = _protected(out)
    if why is None:
        for d in inputs:
            if _is_at_or_above(out, Path(d).resolve()):
                why = f"it is or holds the input report {d}"
    if why:
        raise OutputError(f"--out {out}: refusing to replace this folder ({why}); choose a new folder")
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: is a file, not a folder; choose a folder for the report")
    if out.parent.is_dir():
        _clean_stale(out)
    if out.is_dir():
        foreign = _foreign(out)
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise OutputError(f"--out {out}: refusing to replace a folder that is not an earlier neurophys "
                              f"report (it holds {shown}); choose a new or empty folder")
    _probe_writable(out)
    return out


def _probe_writable(out: Path) -> None:
    """Make and remove a folder in the nearest existing parent of `out` (raises OutputError if it cannot)."""
    base = next(p for p in out.parents if p.exists())
    probe = base / f".{out.name}.probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write there ({exc.strerror or exc} in {base})") from None


def _missing_parents(out: Path) -> list[Path]:
    """The folders above `out` that do not exist yet, outermost first."""
    return [p for p in reversed(out.parents) if not p.exists()]


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _make_temp(out: Path) -> Path:
    """A new folder `.<name>.tmp-<pid>-<hex>` beside `out`, created with the umask's usual permissions.

    (tempfile.mkdtemp would make it 0700, and the rename would keep that: unreadable to a web server.)
    """
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        while True:
            tmp = _sibling(out, "tmp")
            with contextlib.suppress(FileExistsError):
                os.mkdir(tmp, 0o777)
                return tmp
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace `out` by `tmp` with renames; a kill between them leaves `.<name>.old-*`, restored next run."""
    if out.exists():
        old = _sibling(out, "old")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


@contextlib.contextmanager
def _staging(out: str | Path, kind: str, *, inputs: list[Path] = ()) -> Iterator[Path]:
    """Check `out`, make its temporary folder (so an unwritable target fails now), yield it, then swap it in.

    On any exception - Ctrl-C and SIGTERM included - the temporary folder is removed and `out` is untouched.
    """
    with _terminate_as_interrupt():
        target = check_output(out, inputs=inputs)
        created = _missing_parents(target)
        try:
            tmp = _make_temp(target)
        except OutputError:
            _remove_empty(created)
            raise
        done = False
        try:
            yield tmp
            marker = {"generator": _GENERATOR, "format": MARKER_FORMAT, "kind": kind, "version": __version__,
                      "files": sorted(_entries(tmp))}
            (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
            with _signals_deferred():
                _swap_in(tmp, target)
            done = True
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if not done:
                _remove_empty(created)


def write_atomically(out: str | Path, writer: Callable[[Path], None], *, kind: str = "report") -> Path:
    """Let `writer` fill a temporary folder beside `out`, then swap it in for `out` (see `check_output`)."""
    with _staging(out, kind) as tmp:
        writer(tmp)
    return Path(out).expanduser().resolve()


def generate(out: str | Path, *, devices: list[str], quick: bool = False, only: list[str] | None = None,
             seed: int = 0, timeout: float | None = None, progress: Progress = lambda s: None,
             speed: bool = True, baseline: str | Path | None = None) -> Results:
    """Measure (see `collect`) and write the report into `out`; `out` and `baseline` (an earlier report
    whose verdicts the page compares with, see `load_baseline`) are checked before anything is measured."""
    earlier = load_baseline(baseline)
    with _staging(out, "report") as tmp:
        res = collect(devices=devices, quick=quick, only=only, seed=seed, timeout=timeout, progress=progress,
                      speed=speed)
        write_all(res, tmp, earlier)
    return res


def compare(report_dirs: list[str | Path], out: str | Path) -> Path:
    """One page with the given reports' accuracy, speed and verdicts as columns side by side."""
    dirs = [Path(d) for d in report_dirs]
    for d in dirs:
        if not (d / "results.json").is_file():
            raise FileNotFoundError(f"report_dirs: {d} has no results.json (is it a `neurophys report` folder?)")
    with _staging(out, "compare", inputs=dirs) as tmp:
        write_comparison(dirs, tmp)
    return Path(out).expanduser().resolve()
