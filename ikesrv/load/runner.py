"""``ikesrv load`` (DESIGN §7): checks the options, runs one or several generator
processes, shows progress, prints the report.

Owns: ``main(args) -> int`` (args: the argparse Namespace of ikesrv.cli's load options),
the split of client numbers, concurrency and rate over ``--processes`` forked workers,
the pipe protocol between them (a line ``P <counts>`` for progress, ``R <result>`` at the
end, both JSON), the progress line on stderr (when stderr is a terminal, or with
--progress), and the exit status: 0 when every client got its SA up, 1 when some did not
(the report says why), 2 for options that cannot work.

Imports ikesrv.load.{clients,engine,report}; the clients' IKE work is theirs.
"""

from __future__ import annotations

import json
import math
import os
import select
import sys
import time

from .. import gc_policy
from .clients import UsageError, kind_for
from .engine import Engine, cpu_seconds, source_address
from .report import ProcessResult, Report, format_text, progress_line

DEFAULT_TIMEOUT = 300.0


def main(args) -> int:
    try:
        kind, opts = prepare(args)
    except UsageError as e:
        print(f"ikesrv load: {e}", file=sys.stderr)
        return 2
    show = getattr(args, "progress", None)
    if show is None:
        show = sys.stderr.isatty()
    progress = Progress(sys.stderr, opts["clients"], tty=sys.stderr.isatty()) if show else None
    cpu0 = cpu_seconds()
    if opts["processes"] == 1:
        parts = [run_engine(kind, opts, 0, progress.update if progress else None)]
    else:
        parts = run_forked(kind, opts, progress)
    if progress is not None:
        progress.finish()
    report = Report(options=opts, parts=parts,
                    cpu_parent_s=(cpu_seconds() - cpu0) if opts["processes"] > 1 else 0.0)
    d = report.to_dict()
    target = getattr(args, "json", None)
    if target == "-":
        sys.stdout.write(json.dumps(d, indent=2) + "\n")
    else:
        sys.stdout.write(format_text(d))
        if target:
            with open(target, "w") as f:
                f.write(json.dumps(d, indent=2) + "\n")
    sys.stdout.flush()
    return 0 if d["established"] == d["clients"] else 1


def prepare(args) -> tuple[object, dict]:
    """The client kind and the run's options as a plain dict (they go into the report);
    UsageError for anything that cannot work."""
    if args.clients < 1:
        raise UsageError("--clients must be at least 1")
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.rate is not None and args.rate <= 0:
        raise UsageError("--rate must be positive")
    processes = args.processes
    if processes < 1:
        raise UsageError("--processes must be at least 1")
    processes = min(processes, args.clients)
    hold = getattr(args, "hold", None)
    if hold is not None and hold <= 0:
        hold = None  # 0 means the same as no --hold: SAs stay up
    if args.rekey and hold is None:
        raise UsageError("--rekey happens while an SA is held: give --hold SECONDS")
    dpd = getattr(args, "dpd", None)
    if dpd is not None and (dpd <= 0 or hold is None):
        raise UsageError("--dpd needs a positive interval and --hold SECONDS")
    timeout = getattr(args, "timeout", None) or DEFAULT_TIMEOUT
    if timeout <= 0:
        raise UsageError("--timeout must be positive")
    kind = kind_for(args)
    source = getattr(args, "source", None)
    if source is None:
        try:
            source = source_address(args.target, args.port)
        except OSError as e:
            raise UsageError(f"no route to --target {args.target}: {e.strerror or e}") from None
    opts = {
        "target": args.target, "port": args.port, "source": source,
        "version": args.version, "auth": args.auth,
        "proposals": kind.opts.ike_proposals, "esp_proposals": kind.opts.esp_proposals,
        "local_id": args.local_id, "remote_id": args.remote_id,
        "clients": args.clients, "concurrency": args.concurrency, "rate": args.rate,
        "hold": hold, "rekey": bool(args.rekey), "dpd": dpd,
        "processes": processes, "timeout": timeout,
        "dh_reuse": not kind.opts.fresh_dh,
    }
    return kind, opts


def run_engine(kind, opts: dict, index: int, progress=None) -> ProcessResult:
    """Process ``index`` of ``opts['processes']``: clients index+1, index+1+P, ..."""
    p = opts["processes"]
    numbers = range(index + 1, opts["clients"] + 1, p)
    gc_policy.tune()  # thousands of clients alive at once: see ikesrv.gc_policy
    engine = Engine(
        kind, numbers, target=opts["target"], port=opts["port"], source=opts["source"],
        concurrency=max(1, math.ceil(opts["concurrency"] / p)),
        rate=opts["rate"] / p if opts["rate"] else None,
        hold=opts["hold"], rekey=opts["rekey"], dpd=opts["dpd"], timeout=opts["timeout"],
        progress=progress)
    return engine.run()


def run_forked(kind, opts: dict, progress) -> list[ProcessResult]:
    """Fork one worker per process; gather progress and results over pipes."""
    children = []
    for index in range(opts["processes"]):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(r)
            code = 1
            try:
                out = os.fdopen(w, "w", buffering=1)

                def report_progress(counts: dict, out=out) -> None:
                    out.write("P " + json.dumps(counts) + "\n")

                result = run_engine(kind, opts, index, report_progress if progress else None)
                out.write("R " + result.to_json() + "\n")
                out.flush()
                code = 0
            except BaseException as e:  # the parent reports a worker that died
                try:
                    print(f"ikesrv load: worker {index}: {e!r}", file=sys.stderr)
                finally:
                    os._exit(1)
            finally:
                os._exit(code)
        os.close(w)
        children.append({"pid": pid, "fd": r, "buf": b"", "counts": None, "result": None})
    open_fds = {c["fd"]: c for c in children}
    deadline = time.monotonic() + opts["timeout"] + 60  # the workers stop themselves before
    while open_fds and time.monotonic() < deadline:
        ready, _, _ = select.select(list(open_fds), [], [], 0.5)
        for fd in ready:
            c = open_fds[fd]
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                os.close(fd)
                del open_fds[fd]
                continue
            c["buf"] += chunk
            *lines, c["buf"] = c["buf"].split(b"\n")
            for line in lines:
                if line.startswith(b"P "):
                    c["counts"] = json.loads(line[2:])
                elif line.startswith(b"R "):
                    c["result"] = ProcessResult.from_json(line[2:].decode())
        if progress is not None:
            counts = [c["counts"] for c in children if c["counts"]]
            if counts:
                progress.update({k: sum(x[k] for x in counts) for k in counts[0]})
    parts = []
    for c in children:
        if c["fd"] in open_fds:
            os.close(c["fd"])
        os.waitpid(c["pid"], 0)
        if c["result"] is None:
            # a worker that died: its clients count as unfinished, not as silently absent
            lost = ProcessResult(clients=len(range(len(parts) + 1, opts["clients"] + 1,
                                                   opts["processes"])))
            lost.unfinished = lost.clients
            parts.append(lost)
        else:
            parts.append(c["result"])
    return parts


class Progress:
    """The progress line: rewritten in place on a terminal, one line per second otherwise."""

    def __init__(self, stream, total: int, *, tty: bool):
        self.stream, self.total, self.tty = stream, total, tty
        self.t0 = time.monotonic()
        self.last = 0.0
        self.shown = False
        self.counts: dict | None = None

    def update(self, counts: dict) -> None:
        self.counts = counts
        now = time.monotonic()
        if not self.tty and now - self.last < 1.0:
            return
        self.last = now
        line = progress_line(counts, now - self.t0, self.total)
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else (line + "\n"))
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        """End the line on a terminal; elsewhere, the final counts once more."""
        if self.tty and self.shown:
            self.stream.write("\n")
        elif not self.tty and self.counts is not None:
            self.stream.write(progress_line(self.counts, time.monotonic() - self.t0,
                                            self.total) + "\n")
        self.stream.flush()
