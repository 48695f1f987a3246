"""The multi-host example of ``deploy/``: the compose file says what docs/deployment.md says,
and its nginx site, run for real in front of two ``simgate serve`` processes on one
PostgreSQL database (the session's, see conftest.py), carries phones' WebSockets and API calls
to both without sticky sessions.

Docker is not available where the suite runs, so the compose file is checked by reading it; the
nginx site is checked by nginx itself when nginx is installed (``apt-get install nginx-light``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.scale.conftest import Gateway
from tests.support.devices import RunningAgent
from tests.support.processes import (
    free_port,
    make_tenants,
    outbox_lines,
    server_up,
    wait_until,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
# `make test` installs nginx; in CI a missing one fails these tests instead of skipping them.
needs_nginx = pytest.mark.skipif(
    NGINX is None and not os.environ.get("CI"), reason="nginx is not installed (make browser)"
)

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


class TestComposeFile:
    def test_postgresql_two_simgate_services_and_nginx(self, compose: dict[str, Any]) -> None:
        assert set(compose["services"]) == {"db", "simgate1", "simgate2", "nginx"}
        assert compose["services"]["db"]["image"].startswith("postgres:")
        assert compose["services"]["nginx"]["ports"] == ["80:80"]
        assert "pgdata" in compose["volumes"]

    def test_every_service_has_a_healthcheck_and_waits_for_what_it_needs(
        self, compose: dict[str, Any]
    ) -> None:
        services = compose["services"]
        for name, service in services.items():
            assert service["healthcheck"]["test"], name
        for name in ("simgate1", "simgate2"):
            assert services[name]["depends_on"] == {"db": {"condition": "service_healthy"}}
            assert "/readyz" in " ".join(services[name]["healthcheck"]["test"])
        assert services["nginx"]["depends_on"] == {
            "simgate1": {"condition": "service_healthy"},
            "simgate2": {"condition": "service_healthy"},
        }

    def test_the_simgate_services_share_one_database_one_secret_key_and_the_image(
        self, compose: dict[str, Any]
    ) -> None:
        one, two = (compose["services"][name] for name in ("simgate1", "simgate2"))
        assert one["environment"] == two["environment"]
        env = one["environment"]
        assert env["SIMGATE_DATABASE_URL"].startswith("postgresql+asyncpg://simgate:")
        assert env["SIMGATE_DATABASE_URL"].endswith("@db:5432/simgate")
        assert "SIMGATE_SECRET_KEY" in env
        assert env["SIMGATE_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container
        assert one["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert (DEPLOY / "Dockerfile").exists()
        assert 'CMD ["simgate", "serve"]' in (DEPLOY / "Dockerfile").read_text()

    def test_nginx_gets_the_site_of_this_folder(self, compose: dict[str, Any]) -> None:
        mounts = compose["services"]["nginx"]["volumes"]
        assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in mounts
        site = (DEPLOY / "nginx.conf").read_text()
        assert "simgate1:8000" in site
        assert "simgate2:8000" in site
        assert "sticky" not in site.split("#")[0]


def site_for(port: int, upstreams: list[int], root: Path) -> Path:
    """deploy/nginx.conf on ``port`` with the compose services replaced by local ports, inside
    a minimal main configuration writing only under ``root``."""
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    for index, upstream in enumerate(upstreams, start=1):
        site = site.replace(f"simgate{index}:8000", f"127.0.0.1:{upstream}")
    assert "simgate1:" not in site
    assert "simgate2:" not in site
    (root / "site.conf").write_text(site)
    main = root / "nginx.conf"
    main.write_text(
        f"pid {root}/nginx.pid;\n"
        f"error_log {root}/error.log;\n"
        "daemon off;\n"
        "events {}\n"
        "http {\n"
        "    access_log off;\n"
        f"    client_body_temp_path {root}/body;\n"
        f"    proxy_temp_path {root}/proxy;\n"
        f"    include {root}/site.conf;\n"
        "}\n"
    )
    return main


@needs_nginx
def test_the_nginx_site_is_valid_for_nginx(tmp_path: Path) -> None:
    assert NGINX is not None
    main = site_for(free_port(), [free_port(), free_port()], tmp_path)
    checked = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


@pytest.fixture
def nginx_in_front(gateway: Gateway, tmp_path: Path) -> Iterator[str]:
    """deploy/nginx.conf run by nginx in front of the session's two servers; its URL."""
    assert NGINX is not None
    front = free_port()
    nginx = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(site_for(front, gateway.ports, tmp_path))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{front}"
        wait_until(lambda: server_up(url), 10, "nginx answers")
        yield url
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


@needs_nginx
@pytest.mark.postgres
def test_phones_and_clients_through_nginx_reach_either_process(
    gateway: Gateway, nginx_in_front: str, tmp_path: Path
) -> None:
    """A phone connects through nginx's WebSocket upgrade; API calls through nginx are spread
    over both processes (round robin, no stickiness), and every message reaches the phone
    within a second whichever process accepted it."""
    url = nginx_in_front
    [tenant] = make_tenants(gateway.database_url, [1], prefix="nginx")
    outbox = tmp_path / "outbox.jsonl"

    def accepted() -> list[int]:
        return [
            gateway.processes.output(name).count("path='/sendsms/' status=200")
            for name in ("a", "b")
        ]

    before = accepted()
    agent = RunningAgent(url, tenant.tokens[0], tmp_path / "agent", outbox_file=outbox).start()
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            for n in range(8):
                data = {"apikey": tenant.api_key, "recipients": "+32470000001", "message": f"{n}"}
                response = http.post("/sendsms/", data=data)
                assert response.status_code == 200, response.text
                [guid] = response.json()["result"]["ids"]
                wait_until(
                    lambda guid=guid: any(line["guid"] == guid for line in outbox_lines([outbox])),
                    1.0,
                    f"message {n} transmitted",
                    0.01,
                )
    finally:
        agent.stop()
    spread = [after - earlier for after, earlier in zip(accepted(), before, strict=True)]
    assert sum(spread) == 8
    assert min(spread) >= 2, f"nginx spread the requests as {spread}"
