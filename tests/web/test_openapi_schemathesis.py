"""The REST API against its own OpenAPI document, with schemathesis: every operation the
document lists is called with generated requests (valid ones and some that are not), once with
the site's admin token and once without a token, and each answer must be no server error, match
the documented schema when its status is documented, and, when it is an error, be JSON
``{"error": TEXT}``.

The database holds a list, members, an archived post, a held one and a ban, and part of the
requests use their real names in the path, so the calls reach the code behind the look-ups and
not only the "no such list" answers.  The run is short and the same every time (a few examples
per operation, derandomized)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from moot.app import Moot
from moot.core.address import parse_recipient
from moot.core.member import Member
from moot.core.parse import parse_message
from moot.inbound.service import Job
from moot.storage.lists import get_config
from moot.storage.store import Incoming, sha256
from moot.web.app import create_app
from tests.helpers import make_message

LIST = "dev@example.org"
TOKEN = "s3cret-admin-token-for-schemathesis"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
# Real names for the path parameters, used beside whatever the generator invents.
REAL = {"address": LIST, "list_address": LIST, "email": "bob@example.org",
        "message_id": "root@example.org", "msgid": "root@example.org", "hold_id": 1,
        "pattern": "*@spam.example", "name": "footer"}


def _seed(moot: Moot) -> None:
    """A list with an owner, a moderator and a member, one archived post, one held post and
    one ban: enough for every operation to have something real to find."""
    moot.store.create_list(LIST)
    with moot.engine.begin() as conn:
        config = get_config(conn, LIST)
        assert config is not None
        for who, role in (("owner@example.org", "owner"), ("mod@example.org", "moderator"),
                          ("bob@example.org", "member")):
            moot.membership.subscribe_now(conn, config, Member(who, role=role),
                                          moot.inbound.clock(), welcome=False)
    raw = make_message("root@example.org", sender="Bob <bob@example.org>", subject="Plans")
    moot.store.add_messages(config.id, [Incoming(raw, parse_message(raw), sha256(raw))])
    moot.search.catch_up()
    held = make_message("held@example.org", sender="Eve <eve@example.org>", subject="Offer")
    held = held.replace(b"To: list@example.org", f"To: {LIST}".encode())
    target = parse_recipient(LIST, {LIST}.__contains__)
    assert target is not None
    with moot.engine.begin() as conn:
        assert moot.inbound.handle(conn, Job("eve@example.org", target, held)).status == "held"
        from moot.expulsion import ban

        ban(conn, config, "*@spam.example", reason="spam", by="test",
            now=moot.inbound.clock())


@pytest.fixture
def api(moot: Moot) -> Any:
    """The app's API as schemathesis sees it: its document, fetched from the running app,
    and the app to call."""
    moot.settings = dataclasses.replace(moot.settings, admin_token=TOKEN)
    _seed(moot)
    app = create_app(moot)
    with TestClient(app) as client:
        r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200, r.text
    schema = schemathesis.openapi.from_dict(r.json())
    schema.app = app
    return schema


def errors_are_json_with_an_error_key(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx answer is JSON ``{"error": TEXT, ...}`` that tells the caller what to do."""
    if response.status_code < 400:
        return None
    kind = response.headers.get("content-type", [""])
    kind = kind[0] if isinstance(kind, list) else kind
    assert kind.startswith("application/json"), (
        f"{response.status_code} answered as {kind!r}, not JSON: {response.text[:200]!r}")
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], (
        f"{response.status_code} without an 'error' text: {response.text[:300]!r}")
    return True


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance,
          errors_are_json_with_an_error_key]


def run_every_operation(schema: Any, headers: dict[str, str]) -> None:
    """Each operation with a few generated requests: valid ones with invented and with real
    path parameters, and invalid ones; every failing operation is reported, not only the
    first."""
    failures: list[str] = []
    seen: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(operation.label)
        names = {p.name for p in operation.path_parameters}
        real = {k: v for k, v in REAL.items() if k in names}
        strategies = [operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE)]
        if real:
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE,
                                                    path_parameters=real))

        @FEW
        @given(case=st.one_of(strategies))
        def call(case: Any) -> None:
            # ``headers`` win over generated ones; a generated bearer token is a wrong one.
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            call()
        except (Exception, FailureGroup) as exc:  # every operation's failures are collected
            failures.append(f"{operation.label}: {exc}")
    assert len(seen) >= 15, f"the document lists too few operations: {seen}"
    assert not failures, "\n\n".join(failures)


FEW = settings(max_examples=10, derandomize=True, deadline=None, database=None,
               suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])


def test_every_operation_as_a_site_admin(api: Any) -> None:
    """With the admin token (some invalid requests leave it out on purpose: schemathesis
    checks that a missing token is refused too)."""
    run_every_operation(api, ADMIN)


def test_every_operation_without_a_token(api: Any) -> None:
    run_every_operation(api, {})
