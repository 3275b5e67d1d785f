"""The scale-out topology of deploy/compose.yaml as processes on this machine, from Debian
and PyPI packages: one PostgreSQL server (the case store and Prefect's database), Redis,
two Prefect API servers without services behind nginx plus one process running Prefect's
background services, two `qingfeng up --no-migrate` replicas behind nginx (each with its
deadline worker and its runner child), and two `qingfeng runner` hosts.

nginx and Redis run unprivileged (as nobody when the tests run as root) with their
configuration, logs and temp files in a private directory; nginx's sites are the
deploy/ files with their container names and ports replaced by local ones.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from tests import postgres
from tests.processes import PATIENCE, wait_for

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
BIN = Path(sys.executable).parent
SECRET_KEY = "scale-out-test-secret-key-of-a-decent-length"
# What the Prefect processes share with each other (compose.yaml's x-prefect environment).
REDIS_MODULES = {
    "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
    "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
    "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
}
# Shared by every qingfeng process (compose's shared volume): the rest of data_dir
# (run/ with its lock and pid files, prometheus/) is each process's own.
SHARED = ("evidence", "case-files")
NGINX_HTTP = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
  log_format upstream '$msec $request_time $request_method $uri $status $upstream_addr';
  access_log {dir}/access.log upstream;
  client_body_temp_path {dir}/client_temp;
  proxy_temp_path {dir}/proxy_temp;
  fastcgi_temp_path {dir}/fastcgi_temp;
  uwsgi_temp_path {dir}/uwsgi_temp;
  scgi_temp_path {dir}/scgi_temp;
{site}
}}
"""


@dataclass
class Process:
    """One process of the topology, in a process group of its own, logging to ``log``."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    killed_at: float | None = None

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, *, group: bool) -> None:
        """SIGKILL of the process (``group``: and of every process of its group)."""
        assert self.popen is not None
        if group:
            os.killpg(self.pid, signal.SIGKILL)
        else:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()

    def stop(self, signum: signal.Signals = signal.SIGTERM, seconds: float = PATIENCE) -> None:
        """``signum``, then SIGKILL of the whole group if it has not ended in ``seconds``."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with suppress(ProcessLookupError):
                self.popen.send_signal(signum)
            with suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=seconds)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait()

    def tail(self, size: int = 4000) -> str:
        return f"--- {self.name} ({self.log}):\n" + self.log.read_text(errors="replace")[-size:]


@dataclass
class Topology:
    """The running topology: where its front doors are and its processes by role."""

    base: Path
    database_url: str  # the case store, psycopg
    prefect_database_url: str  # Prefect's, psycopg (for the checks)
    api_url: str  # nginx in front of the replicas
    prefect_url: str  # nginx in front of the Prefect API servers, …/api
    env: dict[str, str]  # a qingfeng process's environment (data_dir aside)
    replicas: list[Process] = field(default_factory=list)
    runners: list[Process] = field(default_factory=list)
    prefect_servers: list[Process] = field(default_factory=list)
    others: list[Process] = field(default_factory=list)  # redis, services, both nginx
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def processes(self) -> list[Process]:
        return [*self.replicas, *self.runners, *self.prefect_servers, *self.others]

    def tails(self) -> str:
        return "\n".join(p.tail(1500) for p in self.processes)

    def table(self) -> list[tuple[str, str, int | str]]:
        """(name, command, port) of every process, for the figures."""
        return [
            (p.name, " ".join(Path(a).name if a.startswith("/") else a for a in p.argv[:6]),
             self.ports.get(p.name, "-"))
            for p in self.processes
        ]  # fmt: skip


def _unprivileged(base: Path) -> list[str]:
    """The prefix that runs a command as nobody when we are root (nginx and Redis need
    no privilege); ``base`` becomes theirs."""
    if os.geteuid() != 0:
        return []
    shutil.chown(base, "nobody")
    return ["runuser", "-u", "nobody", "--"]


def nginx_config(template: Path, base: Path, port: int, upstreams: dict[str, int]) -> Path:
    """deploy/``template`` as a whole nginx.conf listening on ``port``, its upstream
    ``name:port`` entries pointing to the local ports in ``upstreams``."""
    site = template.read_text()
    assert "listen 80;" in site, template
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    for name, local in upstreams.items():
        assert f"server {name};" in site, (template, name)
        site = site.replace(f"server {name};", f"server 127.0.0.1:{local};")
    directory = base / template.stem
    directory.mkdir()
    path = directory / "nginx.conf"
    path.write_text(NGINX_HTTP.format(dir=directory, site=site))
    return path


def nginx(name: str, config: Path, port: int, as_nobody: list[str]) -> Process:
    directory = config.parent
    if as_nobody:
        shutil.chown(directory, "nobody")
    argv = [*as_nobody, shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(directory)]
    argv += ["-e", str(directory / "error.log"), "-c", str(config), "-g", "daemon off;"]
    return Process(name, argv, dict(os.environ), directory / "stdout.log")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _ready(url: str) -> bool:
    """A replica's /readyz: database ready and orchestration ready (Prefect reached)."""
    try:
        checks = httpx.get(f"{url}/readyz", timeout=5).json()["checks"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return bool(checks.get("database") == "ok" and checks.get("orchestration") == "ready")


def _ping(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def _must(process: Process, check_url: str, check: object = _answers) -> None:
    """Wait until ``check(check_url)`` holds, failing at once if ``process`` exits."""

    def done() -> bool:
        assert process.running(), process.tail()
        return bool(check(check_url))  # type: ignore[operator]

    assert wait_for(done, 3 * PATIENCE), process.tail()


def _prefect_env(
    base: Path, asyncpg_url: str, redis_port: int, name: str, *, migrate: bool = False
) -> dict[str, str]:
    home = base / name
    home.mkdir()
    return {
        **os.environ,
        **REDIS_MODULES,
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": asyncpg_url,
        "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": str(migrate).lower(),
        "PREFECT_REDIS_MESSAGING_HOST": "127.0.0.1",
        "PREFECT_REDIS_MESSAGING_PORT": str(redis_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",  # no browser here: spare the CPU of serving it
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }


def _data_dir(base: Path, name: str) -> Path:
    """A qingfeng process's own data_dir, with the shared parts linked to one place."""
    own = base / name
    own.mkdir()
    for part in SHARED:
        shared = base / "shared" / part
        shared.mkdir(parents=True, exist_ok=True)
        (own / part).symlink_to(shared)
    return own


@contextmanager
def topology(tmp_path: Path, env: dict[str, str]) -> Iterator[Topology]:
    """Starts everything (``env``: a qingfeng process's environment, data_dir and ports
    aside) and waits until every piece answers; stops it all on leaving."""
    bin_dir = postgres.binaries()
    assert bin_dir, "PostgreSQL is not installed (apt-get install postgresql)"
    for program in ("nginx", "redis-server"):
        assert shutil.which(program), f"{program} is not installed (apt-get install {program})"
    with ExitStack() as stack:
        admin = stack.enter_context(postgres.server(bin_dir))
        own = Path(tempfile.mkdtemp(prefix="qingfeng-scaleout-"))
        stack.callback(shutil.rmtree, own, True)
        found = Topology(
            base=tmp_path,
            database_url=postgres.create_database(admin, "qingfeng"),
            prefect_database_url=postgres.create_database(admin, "prefect"),
            api_url="",
            prefect_url="",
            env={},
        )
        stack.callback(_stop_all, found)
        _start_prefect(found, own)
        _start_qingfeng(found, own, env)
        yield found


def _start_prefect(found: Topology, own: Path) -> None:
    base, as_nobody = found.base, _unprivileged(own)
    port = postgres.free_port()
    found.ports["redis"] = port
    redis_argv = [*as_nobody, shutil.which("redis-server") or "redis-server", "--port", str(port)]
    redis_argv += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(own)]
    server = Process("redis", redis_argv, dict(os.environ), base / "redis.log").start()
    found.others.append(server)
    assert wait_for(lambda: _ping(port), PATIENCE), server.tail()
    asyncpg = found.prefect_database_url.replace("+psycopg://", "+asyncpg://", 1)
    prefect = str(BIN / "prefect")
    # The first server migrates the database and registers the block types; started
    # together on an empty database, two servers race on that and one exits.
    for n in (1, 2):
        name, api_port = f"prefect-api-{n}", postgres.free_port()
        found.ports[name] = api_port
        argv = [prefect, "server", "start", "--no-services", "--host", "127.0.0.1"]
        env = _prefect_env(base, asyncpg, port, name, migrate=n == 1)
        process = Process(name, [*argv, "--port", str(api_port)], env, base / f"{name}.log")
        found.prefect_servers.append(process.start())
        _must(process, f"http://127.0.0.1:{api_port}/api/health")
    services_env = _prefect_env(base, asyncpg, port, "prefect-services")
    services = Process(
        "prefect-services", [prefect, "server", "services", "start"], services_env,
        base / "prefect-services.log",
    )  # fmt: skip
    found.others.append(services.start())
    proxy_port = postgres.free_port()
    found.ports["prefect-api"] = proxy_port
    upstreams = {"prefect-api-1:4200": found.ports["prefect-api-1"]}
    upstreams["prefect-api-2:4200"] = found.ports["prefect-api-2"]
    config = nginx_config(DEPLOY / "nginx-prefect.conf", own, proxy_port, upstreams)
    proxy = nginx("prefect-api", config, proxy_port, as_nobody).start()
    found.others.append(proxy)
    found.prefect_url = f"http://127.0.0.1:{proxy_port}/api"
    _must(proxy, f"{found.prefect_url}/health")
    assert services.running(), services.tail()


def _start_qingfeng(found: Topology, own: Path, env: dict[str, str]) -> None:
    base = found.base
    found.env = {
        **env,
        "QINGFENG_DATABASE_URL": found.database_url,
        "QINGFENG_SECRET_KEY": SECRET_KEY,
        "PREFECT_API_URL": found.prefect_url,
        "QINGFENG_LOG_JSON": "true",
    }
    found.env.pop("QINGFENG_PREFECT_PORT", None)
    migrated = subprocess.run(
        [sys.executable, "-m", "api.cli", "migrate"],
        env={**found.env, "QINGFENG_DATA_DIR": str(_data_dir(base, "migrate"))},
        capture_output=True,
    )
    assert migrated.returncode == 0, migrated.stdout.decode() + migrated.stderr.decode()
    for n in (1, 2):
        name, port = f"api-{n}", postgres.free_port()
        found.ports[name] = port
        replica_env = {
            **found.env,
            "QINGFENG_DATA_DIR": str(_data_dir(base, name)),
            "QINGFENG_PORT": str(port),
            "QINGFENG_STAGE_RUNNER_THREADS": "1",
        }
        argv = [sys.executable, "-m", "api.cli", "up", "--no-migrate"]
        found.replicas.append(Process(name, argv, replica_env, base / f"{name}.log").start())
    for n in (1, 2):
        name = f"stage-runner-{n}"
        runner_env = {
            **found.env,
            "QINGFENG_DATA_DIR": str(_data_dir(base, name)),
            "QINGFENG_STAGE_RUNNER_THREADS": "4",
        }
        argv = [sys.executable, "-m", "api.cli", "runner"]
        found.runners.append(Process(name, argv, runner_env, base / f"{name}.log").start())
    proxy_port = postgres.free_port()
    found.ports["proxy"] = proxy_port
    upstreams = {"api-1:8000": found.ports["api-1"], "api-2:8000": found.ports["api-2"]}
    config = nginx_config(DEPLOY / "nginx-api.conf", own, proxy_port, upstreams)
    proxy = nginx("proxy", config, proxy_port, _unprivileged(own)).start()
    found.others.append(proxy)
    for replica in found.replicas:
        _must(replica, f"http://127.0.0.1:{found.ports[replica.name]}", _ready)
    found.api_url = f"http://127.0.0.1:{proxy_port}"
    _must(proxy, f"{found.api_url}/healthz")
    for runner in found.runners:
        assert runner.running(), runner.tail()


def _stop_all(found: Topology) -> None:
    """Ctrl-C for the qingfeng processes (they finish their runs in flight), then the
    Prefect servers, nginx and Redis; whatever does not end in time is killed."""
    for process in [*found.replicas, *found.runners]:
        if process.running():
            process.popen.send_signal(signal.SIGINT)  # type: ignore[union-attr]
    for process in [*found.replicas, *found.runners]:
        process.stop(signal.SIGINT)
    for process in [*found.prefect_servers, *reversed(found.others)]:
        process.stop(signal.SIGTERM, seconds=20)
