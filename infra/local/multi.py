"""A local multi-instance Ballast: PostgreSQL + Redis + N instances + nginx, all on 127.0.0.1.

    infra/local/multi.sh start [--instances N] [--port P] [--dir DIR] [--json]
    infra/local/multi.sh stop [--dir DIR]

Everything comes from Debian packages (postgresql, redis-server, nginx) and the project's venv. `start`
returns once every piece answers, leaving them running in the background; `stop` ends only the processes
this launcher recorded in DIR/state.json. Secrets come from the environment (PARSE_SERVER_MASTER_KEY,
PARSE_SERVER_APPLICATION_ID); a master key is generated and shown once when none is set.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NGINX_CONF = REPO / "infra" / "nginx" / "ballast.conf"
STATE = "state.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def need(binary: str, package: str) -> str:
    """The path of a binary, or a clear error naming the Debian package to install."""
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")
    if not found:
        sys.exit(f"{binary} is missing: apt-get install {package} (infra/test.sh installs it)")
    return found


def pg_bin() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        sys.exit("PostgreSQL server binaries are missing: apt-get install postgresql")
    return Path(candidates[0]).parent


def render_nginx(instances: list[int], port: int) -> str:
    """infra/nginx/ballast.conf with the local instances as upstream servers, listening on loopback."""
    text = NGINX_CONF.read_text()
    servers = "\n    ".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in instances)
    text, found = re.subn(r"(?m)^    server ballast:1337;$", "    " + servers, text)
    text, listens = re.subn(r"(?m)^    listen 8080;$", f"    listen 127.0.0.1:{port};", text)
    if found != 1 or listens != 1:
        raise RuntimeError(f"{NGINX_CONF} no longer has the lines the launcher replaces")
    return text


def nginx_main(prefix: Path, server_conf: Path) -> str:
    """A whole nginx.conf for a private prefix: pid, logs and temp files stay under it."""
    # as root the workers would drop to 'nobody', who cannot enter a private temp dir
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "\n".join(f"    {kind}_temp_path {prefix / ('tmp-' + kind)};"
                      for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\n    access_log off;\n{temps}\n"
            f"    include {server_conf};\n}}\n")


class Launcher:
    """Starts the pieces one by one, recording each pid so `stop` ends exactly those."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.state: dict[str, Any] = {"pids": {}}

    def save(self) -> None:
        (self.base / STATE).write_text(json.dumps(self.state, indent=2))

    def spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, cwd=REPO, start_new_session=True)
        self.state["pids"][name] = process.pid
        self.save()

    def postgres(self) -> str:
        binary = pg_bin()
        as_postgres = os.geteuid() == 0  # initdb refuses root; the data lives where 'postgres' can reach it
        data = Path(tempfile.mkdtemp(prefix="ballast-multi-pg-")) if as_postgres else self.base / "pg"
        data.mkdir(exist_ok=True)
        if as_postgres:
            shutil.chown(data, "postgres", "postgres")
        self.state["postgres"] = {"bin": str(binary), "dir": str(data), "as_postgres": as_postgres}
        self.save()

        def run(*args: str) -> None:
            command = [str(binary / args[0]), *args[1:]]
            subprocess.run(["runuser", "-u", "postgres", "--", *command] if as_postgres else command,
                           check=True, capture_output=True, timeout=180)

        run("initdb", "-D", str(data / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync")
        port = free_port()
        run("pg_ctl", "-D", str(data / "data"), "-l", str(data / "log"), "-w", "-t", "120", "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={data} -c max_connections=200",
            "start")
        self.state["postgres"]["port"] = port
        self.save()
        run("psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-qAt", "-c", "CREATE DATABASE ballast")
        return f"postgresql://postgres@127.0.0.1:{port}/ballast"

    def redis(self) -> str:
        port = free_port()
        (self.base / "redis").mkdir(exist_ok=True)
        self.spawn("redis", [need("redis-server", "redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(self.base / "redis")])
        wait_for(lambda: redis_ping(port), "redis-server")
        return f"redis://127.0.0.1:{port}/0"

    def instance(self, index: int, env: dict[str, str]) -> int:
        port = free_port()
        self.spawn(f"ballast-{index}", [str(Path(sys.executable)), "-m", "backend", "serve", "--port", str(port)],
                   env)
        return port

    def nginx(self, instances: list[int], port: int) -> None:
        prefix = self.base / "nginx"
        prefix.mkdir(exist_ok=True)
        (prefix / "ballast.conf").write_text(render_nginx(instances, port))
        (prefix / "nginx.conf").write_text(nginx_main(prefix, prefix / "ballast.conf"))
        binary = need("nginx", "nginx")
        subprocess.run([binary, "-t", "-q", "-p", str(prefix), "-c", str(prefix / "nginx.conf")], check=True)
        self.spawn("nginx", [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"])


def redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


def healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
        return bool(response.status == 200)


def wait_for(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


def instance_env(database: str, redis: str, public: str, data_dir: Path, master_key: str) -> dict[str, str]:
    env = {**os.environ, "PARSE_SERVER_DATABASE_URI": database, "REDIS_URL": redis,
           "PARSE_SERVER_SERVER_URL": public, "BALLAST_DATA_DIR": str(data_dir),
           "PARSE_SERVER_MASTER_KEY": master_key}
    env.setdefault("PARSE_SERVER_APPLICATION_ID", "ballast")
    return env


def start(base: Path, count: int, port: int | None, as_json: bool) -> int:
    if (base / STATE).exists():
        sys.exit(f"{base / STATE} exists: run `stop --dir {base}` first")
    base.mkdir(parents=True, exist_ok=True)
    master_key = os.environ.get("PARSE_SERVER_MASTER_KEY") or secrets.token_urlsafe(32)
    launcher = Launcher(base)
    try:
        lb_port = port or free_port()
        public = f"http://127.0.0.1:{lb_port}/parse"
        env = instance_env(launcher.postgres(), launcher.redis(), public, base / "data", master_key)
        ports = [launcher.instance(1, env)]
        # the first instance creates the schema alone; the others then find it ready
        wait_for(lambda: healthy(f"http://127.0.0.1:{ports[0]}/parse"), "ballast-1")
        ports += [launcher.instance(index, env) for index in range(2, count + 1)]
        for index, instance_port in enumerate(ports, 1):
            wait_for(lambda p=instance_port: healthy(f"http://127.0.0.1:{p}/parse"), f"ballast-{index}")
        launcher.nginx(ports, lb_port)
        wait_for(lambda: healthy(public), "nginx")
    except BaseException:
        stop(base)
        raise
    urls = {"balancer": public, "live_query": public.replace("http", "ws", 1),
            "mcp": f"http://127.0.0.1:{lb_port}/mcp", "instances": [f"http://127.0.0.1:{p}/parse" for p in ports],
            "postgres": env["PARSE_SERVER_DATABASE_URI"], "redis": env["REDIS_URL"],
            "application_id": env["PARSE_SERVER_APPLICATION_ID"]}
    launcher.state["urls"] = urls
    launcher.save()
    if as_json:
        print(json.dumps(urls))
        return 0
    for name, value in urls.items():
        print(f"{name:>15}: {', '.join(value) if isinstance(value, list) else value}")
    if "PARSE_SERVER_MASTER_KEY" not in os.environ:
        print(f"     master key: {master_key}  (shown once; pass PARSE_SERVER_MASTER_KEY to choose it)")
    print(f"logs under {base}; stop with: infra/local/multi.sh stop --dir {base}")
    return 0


def end(pid: int) -> None:
    """SIGTERM the process group we started (each child leads its own session), then SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:  # not our child (stop from another shell): poll for it instead
                if not Path(f"/proc/{pid}").exists() or "zombie" in _status(pid):
                    return
            time.sleep(0.05)


def _status(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/status").read_text().lower()
    return ""


def stop(base: Path) -> int:
    path = base / STATE
    if not path.exists():
        print(f"nothing to stop in {base}")
        return 0
    state = json.loads(path.read_text())
    for name in sorted(state["pids"], key=lambda n: n != "nginx"):  # the balancer first, then what it fronts
        end(int(state["pids"][name]))
    postgres = state.get("postgres")
    if postgres:
        command = [str(Path(postgres["bin"]) / "pg_ctl"), "-D", str(Path(postgres["dir"]) / "data"),
                   "-m", "fast", "-w", "stop"]
        if postgres["as_postgres"]:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, capture_output=True, timeout=60)
        if postgres["as_postgres"]:
            shutil.rmtree(postgres["dir"], ignore_errors=True)
    path.unlink()
    print(f"stopped what {base} recorded")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    default_dir = REPO / "data" / "multi"
    up = sub.add_parser("start", help="start PostgreSQL, Redis, N instances and nginx")
    up.add_argument("--instances", type=int, default=2, help="Ballast instances (default 2)")
    up.add_argument("--port", type=int, default=None, help="the balancer's port (default: a free one)")
    up.add_argument("--dir", type=Path, default=default_dir, help=f"state, logs, data (default {default_dir})")
    up.add_argument("--json", action="store_true", help="print the URLs as one JSON object")
    down = sub.add_parser("stop", help="stop what `start` recorded in --dir")
    down.add_argument("--dir", type=Path, default=default_dir)
    args = parser.parse_args(argv)
    if args.command == "start":
        if args.instances < 1:
            parser.error("--instances must be at least 1")
        return start(args.dir.resolve(), args.instances, args.port, args.json)
    return stop(args.dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
