"""Bans and expulsions over the REST API: refused without the admin token, the same as the
command line with it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from moot.app import Moot
from moot.core.member import Member
from moot.storage.lists import get_config
from moot.storage.store import now_utc
from tests.web.test_admin_api import AUTH, LIST, client  # noqa: F401 - fixture


def test_bans_and_expulsions_over_the_api(client: TestClient, moot: Moot) -> None:  # noqa: F811
    moot.store.create_list(LIST)
    with moot.engine.begin() as conn:
        config = get_config(conn, LIST)
        moot.membership.subscribe_now(conn, config, Member("troll@example.net"), now_utc(),
                                      welcome=False)
    base = f"/api/v1/lists/{LIST}"
    for method, url, body in (("get", f"{base}/bans", None),
                              ("post", f"{base}/bans", {"pattern": "*@spam.example"}),
                              ("delete", f"{base}/bans/x@example.org", None),
                              ("post", f"{base}/expel", {"email": "troll@example.net",
                                                         "reason": "x"}),
                              ("post", f"{base}/readmit", {"email": "troll@example.net"}),
                              ("get", "/api/v1/lists/site/bans", None)):
        assert client.request(method, url, json=body).status_code == 401, url
    r = client.post(f"{base}/bans", json={"pattern": "*@Spam.example", "reason": "spam",
                                          "days": 7}, headers=AUTH)
    assert r.status_code == 201 and r.json() == {"banned": "*@spam.example"}
    assert client.post(f"{base}/bans", json={"pattern": "*@spam.example"},
                       headers=AUTH).status_code == 409
    bad = client.post(f"{base}/bans", json={"pattern": "spam*"}, headers=AUTH)
    assert bad.status_code == 400 and "use an address" in bad.json()["error"]
    assert client.post("/api/v1/lists/site/bans", json={"pattern": "^.*@junk\\.example$"},
                       headers=AUTH).status_code == 201
    [site] = client.get("/api/v1/lists/site/bans", headers=AUTH).json()["bans"]
    assert site["pattern"] == "^.*@junk\\.example$" and site["by"] == "api"
    r = client.post(f"{base}/expel", json={"email": "troll@example.net", "reason": "abuse"},
                    headers=AUTH)
    assert r.status_code == 200
    found = {b["pattern"]: b for b in client.get(f"{base}/bans", headers=AUTH).json()["bans"]}
    assert found["troll@example.net"]["expulsion"] is True
    assert found["*@spam.example"]["expires"] is not None
    assert client.delete(f"{base}/bans/*@spam.example", headers=AUTH).status_code == 200
    assert client.delete(f"{base}/bans/*@spam.example", headers=AUTH).status_code == 404
    assert client.post(f"{base}/readmit", json={"email": "troll@example.net"},
                       headers=AUTH).status_code == 200
    assert client.get(f"{base}/bans", headers=AUTH).json() == {"bans": []}
