"""Fixtures for the Graph emulator's own tests: a running emulator and a tiny raw Graph client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import requests
from graph_emulator import EmulatorConfig, GraphEmulator

DAY = "2024-03-04"  # a Monday
DATA = "/v1.0/communications/callRecords/getDirectRoutingCalls"
DIRECT_ROUTING = "getDirectRoutingCalls"
PSTN = "getPstnCalls"


def at(text: str) -> datetime:
    """A UTC datetime from ``2024-03-04`` or ``2024-03-04T09:00:00``."""
    return datetime.fromisoformat(text if "T" in text else text + "T00:00:00").replace(tzinfo=UTC)


@dataclass
class Client:
    """Raw HTTP against one emulator (``verify`` passed per request: REQUESTS_CA_BUNDLE would override a session's)."""

    emu: GraphEmulator
    token: str = ""

    def fetch_token(self, tenant: str | None = None, **form: str) -> requests.Response:
        cfg = self.emu.config
        data = {
            "grant_type": "client_credentials",
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
            "scope": f"{self.emu.graph_root}/.default",
        } | form
        return requests.post(
            f"{self.emu.authority}/{tenant or cfg.tenant_id}/oauth2/v2.0/token",
            data=data,
            verify=self.emu.ca_path,
            timeout=10,
        )

    def login(self) -> Client:
        self.token = self.fetch_token().json()["access_token"]
        return self

    def get(self, path_or_url: str, **kwargs) -> requests.Response:
        url = path_or_url if path_or_url.startswith("https://") else self.emu.graph_root + path_or_url
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return requests.get(
            url, headers=headers | kwargs.pop("headers", {}), verify=self.emu.ca_path, timeout=10, **kwargs
        )

    @staticmethod
    def window(start: str, end: str, version: str = "v1.0", report: str = DIRECT_ROUTING) -> str:
        return f"/{version}/communications/callRecords/{report}(fromDateTime={start},toDateTime={end})"

    def pull(self, start: str, end: str, version: str = "v1.0", report: str = DIRECT_ROUTING) -> tuple[list[dict], int]:
        """All rows of a window by following nextLink; (rows, pages)."""
        url, rows, pages = self.window(start, end, version, report), [], 0
        while url:
            response = self.get(url)
            assert response.status_code == 200, response.text
            page = response.json()
            assert page["@odata.count"] == len(page["value"])
            rows += page["value"]
            pages += 1
            url = page.get("@odata.nextLink")
        return rows, pages


@pytest.fixture
def make_emulator():
    """Factory: ``make_emulator(**config)`` starts an emulator (no throttling unless asked); stopped afterwards."""
    started: list[GraphEmulator] = []

    def start(**config) -> GraphEmulator:
        config.setdefault("budget_requests", None)
        config.setdefault("weekday_profile", False)
        config.setdefault("rows_per_day", 2500)
        emu = GraphEmulator(EmulatorConfig(**config)).start()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture
def emu(make_emulator) -> GraphEmulator:
    return make_emulator()


@pytest.fixture
def client(emu) -> Client:
    return Client(emu).login()
