"""``podium up``: the engine loop in a thread, the HTTP API in the main thread.

SIGTERM or Ctrl-C drains: the engine stops claiming, waits for running attempts (up to the
lease timeout) and records them; what is still running then is taken over by the next
engine when its lease expires. SIGKILL loses nothing: see the crash-recovery guarantee.

A store that goes away does not stop it: the engine waits and steps again, the API answers
503, and a line on stderr says when the store went away and when it came back (see
docs/operations.md).
"""

from __future__ import annotations

import gc
import ipaddress
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn

from podium import clock
from podium.core.masking import Masker
from podium.core.workflow import Project
from podium.engine.loop import Engine
from podium.errors import UsageError
from podium.notify.runner import Subscribers
from podium.observe.logs import say, use_json_logs
from podium.observe.wiring import Observers
from podium.observe.worker import fan_out
from podium.server import access, auth
from podium.server.api import create_app
from podium.server.readiness import engine_probe
from podium.server.reload import WorkflowWatch
from podium.server.subscribers import subscribers_for
from podium.store.database import Database
from podium.store.retention import Pruner, RetentionPolicy


def serve(project: Project, db: Database, *, host: str, port: int, log_format: str = "text") -> int:
    public = _require_loopback(host, project, db)
    _require_free_port(host, port)
    if log_format == "json":
        use_json_logs(Masker(project.secrets))
    tell = say(log_format)
    engine = Engine(project, db)
    engine.start(what=f"podium up on {host}:{port}")
    subscribers = Subscribers(db, subscribers_for(project, db), poll=0.5)
    subscribers.start()
    pruner = Pruner(
        db,
        project.retention or RetentionPolicy(),
        now=clock.time,
        report=lambda line: tell(line, True),
    )
    pruner.start()
    observers = Observers(
        project,
        db,
        engine_log=log_format == "json",
        clock=engine.clock,
        report=lambda line: tell(f"podium up: {line}", True),
    )
    # alerts go out at once; metrics, lineage and json logs on their own threads
    engine.on_events = fan_out(lambda _events: subscribers.wake(), observers.on_events)
    engine.on_outage = _OutageReport(engine.clock, tell)
    engine.reload = WorkflowWatch(project, tell)  # workflow files edited: no restart needed
    stop = threading.Event()
    failure: list[BaseException] = []

    def loop() -> None:
        try:
            engine.run(until=lambda: False, stop=stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)
            server.should_exit = True

    app = create_app(
        project, db, engine.poke, engine_probe=engine_probe(engine), metrics=observers.metrics
    )
    if public:
        auth.enforce(app)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    if log_format == "json":  # uvicorn's own lines go through our JSON handler
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, log_config=None
        )
    server = _Server(config)
    gc.freeze()  # what startup made lives as long as the server: no GC pass walks it again
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: setattr(server, "should_exit", True))
    thread = threading.Thread(target=loop, name="podium-engine", daemon=True)
    thread.start()
    tell(
        f"podium up: engine {engine.owner} serving {len(project.workflows)} workflows;"
        f" UI on http://{host}:{port}/ (API docs at /docs)",
        False,
    )
    tell(f"podium up: {auth.describe(project.server, db)}", False)
    try:
        server.run()
    finally:
        _drain(engine, stop, thread, project.engine.lease_timeout, tell)
        subscribers.stop()
        pruner.stop()
        observers.close()
    if failure:
        raise failure[0]
    tell("podium up: stopped", False)
    return 0


class _OutageReport:
    """Tells the operator (stderr) when the store went away and when it came back."""

    def __init__(self, clock: Callable[[], float], tell: Callable[[str, bool], None]) -> None:
        self.clock, self.tell = clock, tell
        self.since: float | None = None

    def __call__(self, reason: str | None) -> None:
        now = self.clock()
        if reason is not None:
            self.since = now
            self.tell(
                f"podium up: {reason}. Running tasks go on; the API answers 503 until the"
                " store is back",
                True,
            )
        elif self.since is not None:
            self.tell(
                f"podium up: the store is back after {now - self.since:.1f}s; carrying on", True
            )
            self.since = None


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: podium drains the engine on SIGTERM."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _drain(
    engine: Engine,
    stop: threading.Event,
    thread: threading.Thread,
    grace: float,
    tell: Callable[[str, bool], None],
) -> None:
    engine.drain()
    deadline = time.monotonic() + grace
    while engine.busy and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    stop.set()
    engine.poke()
    thread.join(timeout=5)
    if engine.busy:
        tell(
            f"podium up: {len(engine._inflight)} attempts still running; the next engine"
            " takes them over when their leases expire",
            True,
        )
    engine.close()


def _require_free_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port}: {exc.strerror} (another podium up, or"
                " something else, uses that port); pick another with --port"
            ) from None


def _require_loopback(host: str, project: Project, db: Database) -> bool:
    """Whether ``host`` reaches beyond this machine; refused then without access control."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return False
    if auth.auth_mode(project.server) == "off":
        raise UsageError(
            f"--host {host} would expose podium beyond this machine, but podium.yaml sets"
            " server: {auth: off}; remove that setting (users then have to log in), or bind"
            " to 127.0.0.1 (the default)"
        )
    if not access.has_users(db):
        raise UsageError(
            f"--host {host} would expose podium beyond this machine, and access control is"
            " not configured (no users); create an admin first: `podium users add alice"
            f" --role admin`, then `podium up --host {host}`; or bind to 127.0.0.1 (the"
            " default)"
        )
    return True
