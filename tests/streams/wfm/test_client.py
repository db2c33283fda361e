"""The WFM file and the WFM client's session handling, against the loopback WFM."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from streams.wfm.client import Permanent, Transient, WfmClient
from streams.wfm.config import WfmConfig, WfmConfigError
from tests.support.fake_wfm import FakeWfm

BASE = {"wfm": {"base_url": "http://127.0.0.1:1", "tenant": "northwind", "user_id": "rta-api"}}


def config(url: str, **wfm: Any) -> WfmConfig:
    return WfmConfig.from_mapping({"wfm": {**BASE["wfm"], "base_url": url, **wfm}},
                                  env={"RTA_WFM_PASSWORD": "pw"})


def test_config_errors_name_the_file_and_key(tmp_path: Path) -> None:
    with pytest.raises(WfmConfigError, match=r"not found: .*nope\.toml"):
        WfmConfig.load(tmp_path / "nope.toml")
    with pytest.raises(WfmConfigError, match=r"password: credentials are not kept"):
        WfmConfig.from_mapping({"wfm": {**BASE["wfm"], "password": "x"}}, "f.toml", env={})
    with pytest.raises(WfmConfigError, match=r"f.toml: forward.batch_size: Extra inputs"):
        WfmConfig.from_mapping({**BASE, "forward": {"batch_size": 3}}, "f.toml",
                               env={"RTA_WFM_PASSWORD": "x"})
    with pytest.raises(WfmConfigError, match="no WFM password"):
        WfmConfig.from_mapping(BASE, "f.toml", env={})
    with pytest.raises(WfmConfigError, match=r"7 -> 8: the WFM documents states"):
        WfmConfig.from_mapping({**BASE, "forward": {"state_map": {"7": 8}}}, "f.toml",
                               env={"RTA_WFM_PASSWORD": "x"})
    with pytest.raises(WfmConfigError, match=r"password_file .*missing"):
        WfmConfig.from_mapping({"wfm": {**BASE["wfm"], "password_file": "missing"}},
                               str(tmp_path / "f.toml"), env={})
    (tmp_path / "pw").write_text("s3cret\n")
    c = WfmConfig.from_mapping({"wfm": {**BASE["wfm"], "password_file": "pw"},
                                "forward": {"state_map": {"9": 1}}},
                               str(tmp_path / "f.toml"), env={"RTA_WFM_USER_ID": "env-user"})
    assert c.password.get_secret_value() == "s3cret" and c.user_id == "env-user"
    assert c.forward.state_map == {7: 4, 8: 3, 9: 1}
    assert "s3cret" not in repr(c) and "s3cret" not in str(c.file)
    # an empty variable (docker-compose's ${RTA_WFM_PASSWORD:-}) leaves the file
    c = WfmConfig.from_mapping({"wfm": {**BASE["wfm"], "password_file": "pw"}},
                               str(tmp_path / "f.toml"), env={"RTA_WFM_PASSWORD": ""})
    assert c.password.get_secret_value() == "s3cret"


def test_session_renewed_on_401_and_before_the_idle_timeout() -> None:
    wfm = FakeWfm(users={"rta-api": "pw"}, idle_seconds=100).start()
    now = [0.0]
    try:
        client = WfmClient(config(wfm.url, session_idle_seconds=100), clock=lambda: now[0])

        async def run() -> None:
            item = {"acdAgentId": "a", "gisStateIdentifier": "3", "timestamp": 1,
                    "reasonCode": None}
            await client.post_states("1", [item])
            assert wfm.logins == 1
            wfm.expire_sessions()  # the WFM ended it: 401, a new session, sent again
            await client.post_states("1", [item])
            assert wfm.logins == 2 and wfm.unauthorized == 1
            now[0] += 96  # within the margin of the 100 s idle timeout: renewed first
            await client.post_states("1", [item])
            assert wfm.logins == 3 and wfm.unauthorized == 1
            # not the data: retried, never refused; a redirect (to a login page) is
            # not an acceptance
            for status in (503, 403, 404, 429, 302):
                wfm.faults.fail_next = [status]
                with pytest.raises(Transient):
                    await client.post_states("1", [item])
            wfm.faults.reject_agents = {"a"}
            with pytest.raises(Permanent) as refused:
                await client.post_states("1", [item])
            assert refused.value.status == 400 and "unknown acdAgentId a" in refused.value.answer
            await client.close()
            assert wfm.logouts == 1

        asyncio.run(run())
        assert len(wfm.received_items()) == 3
    finally:
        wfm.stop()


def test_wrong_password_and_unreachable_wfm_are_transient() -> None:
    wfm = FakeWfm(users={"rta-api": "other"}).start()
    try:
        async def run() -> None:
            client = WfmClient(config(wfm.url))
            with pytest.raises(Transient, match="refused the login") as e:
                await client.post_states("1", [])
            assert "pw" not in str(e.value) and "rta-api" not in str(e.value)
            await client.close()
            gone = WfmClient(config("http://127.0.0.1:9", timeout_seconds=1))
            with pytest.raises(Transient, match="authorize"):
                await gone.agents()
            await gone.close()

        asyncio.run(run())
    finally:
        wfm.stop()
