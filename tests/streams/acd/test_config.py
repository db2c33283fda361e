"""The connector file: unknown keys, credentials only from the environment or a file,
mappings, identities; the example files of the README load and work."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rta.states import BUSY_OTHER, NOT_READY
from streams.acd.config import ConnectorConfig, ConnectorConfigError, load_any
from streams.local.fake_ccai import FakeCcai
from streams.local.fake_omni import FakeOmni
from tests.support.acd import T0, Driver
from tests.support.acd import ccai_record as record

ROOT = Path(__file__).resolve().parents[3]
CCAI_ENV = {"RTA_CCAI_TOKEN": "t0ken"}
OMNI_ENV = {"RTA_OMNI_API_KEY": "k3y", "RTA_OMNI_PASSWORD": "pw"}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "connector.toml"
    p.write_text(text)
    return p


BASE = '[connector]\ntenant = "t"\nbase_url = "http://x"\n'


def test_unknown_keys_name_the_key_and_the_file(tmp_path: Path) -> None:
    p = write(tmp_path, BASE + 'pol_seconds = 3\n[ccai]\nsubdomain = "a"\n')
    with pytest.raises(ConnectorConfigError, match=r"connector\.toml: connector\.pol_seconds: "
                                                   "unknown key"):
        ConnectorConfig.load("ccai", p, CCAI_ENV)
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\npage_size = 3\n')
    with pytest.raises(ConnectorConfigError, match=r"ccai\.page_size: unknown key"):
        ConnectorConfig.load("ccai", p, CCAI_ENV)
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\n[colours]\n')
    with pytest.raises(ConnectorConfigError, match="colours: unknown key"):
        ConnectorConfig.load("ccai", p, CCAI_ENV)


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match=r"not found: .*nope\.toml"):
        ConnectorConfig.load("ccai", tmp_path / "nope.toml", CCAI_ENV)


@pytest.mark.parametrize("key", ["token", "api_key", "password"])
def test_credentials_in_the_file_are_refused(tmp_path: Path, key: str) -> None:
    source = "ccai" if key == "token" else "omni"
    text = BASE + f'[{source}]\n{key} = "s3cret"\n'
    with pytest.raises(ConnectorConfigError, match=f"{key}: credentials are not kept") as err:
        ConnectorConfig.load(source, write(tmp_path, text), {})
    assert "s3cret" not in str(err.value)


def test_credentials_from_the_environment_or_a_secrets_file(tmp_path: Path) -> None:
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\n')
    with pytest.raises(ConnectorConfigError, match="RTA_CCAI_TOKEN"):
        ConnectorConfig.load("ccai", p, {})
    assert ConnectorConfig.load("ccai", p, CCAI_ENV).secret("token") == "t0ken"
    (tmp_path / "token").write_text("from-file\n")
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\ntoken_file = "token"\n')
    cfg = ConnectorConfig.load("ccai", p, {})
    assert cfg.secret("token") == "from-file"
    assert "from-file" not in repr(cfg)
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\ntoken_file = "missing"\n')
    with pytest.raises(ConnectorConfigError, match=r"token_file .*missing"):
        ConnectorConfig.load("ccai", p, {})


def test_the_source_must_match(tmp_path: Path) -> None:
    p = write(tmp_path, BASE + 'source = "omni"\n[ccai]\nsubdomain = "a"\n')
    with pytest.raises(ConnectorConfigError, match="source is 'omni', not 'ccai'"):
        ConnectorConfig.load("ccai", p, CCAI_ENV)
    p = write(tmp_path, BASE + '[omni]\n')
    with pytest.raises(ConnectorConfigError, match=r"\[omni\]: this is a ccai connector"):
        ConnectorConfig.load("ccai", p, CCAI_ENV)
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\n')
    with pytest.raises(ConnectorConfigError, match="source: must be one of"):
        load_any(p, CCAI_ENV)


def test_bad_mappings_and_identities(tmp_path: Path) -> None:
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\n[mapping]\n"45" = "LUNCHING"\n')
    with pytest.raises(ConnectorConfigError, match=r"mapping\.45.*unknown state 'LUNCHING'"):
        ConnectorConfig.load("ccai", p, CCAI_ENV)
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\n[identities]\n'
                               '"118" = { kind = "Fax", value = "1" }\n')
    with pytest.raises(ConnectorConfigError, match=r"identities\.118: .*Fax"):
        ConnectorConfig.load("ccai", p, CCAI_ENV)
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\n[identities]\n'
                               '"118" = { kind = "Phone", value = "12x" }\n')
    with pytest.raises(ConnectorConfigError, match=r"identities\.118: .*phone"):
        ConnectorConfig.load("ccai", p, CCAI_ENV)


def test_urls_with_credentials_are_refused(tmp_path: Path) -> None:
    p = write(tmp_path, '[connector]\ntenant = "t"\nbase_url = "https://a:b@x"\n'
                        '[ccai]\nsubdomain = "a"\n')
    with pytest.raises(ConnectorConfigError, match="must not hold credentials"):
        ConnectorConfig.load("ccai", p, CCAI_ENV)


def _example(name: str, url: str, tmp_path: Path) -> Path:
    """The README's example file, pointed at the loopback platform."""
    text = (ROOT / "examples" / name).read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith(("base_url", "history_url")):
            line = f'{line.split("=")[0].strip()} = "{url}"'
        if line.startswith("rate_limit_per_second"):
            line = "rate_limit_per_second = 50.0"
        lines.append(line)
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def test_the_ccai_example_works(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeCcai(subdomain="acme", token="t0ken", rate_per_second=1000).start()
    try:
        fake.add_logs([record(118, T0, 45), record(119, T0, 30)])
        cfg = load_any(_example("connect-ccai.toml", fake.url, tmp_path), CCAI_ENV)
        caplog.set_level(logging.INFO)
        got = {e["acdAgentId"]: (e["gisStateIdentifier"], e["reasonCode"])
               for e in Driver(cfg).run()}
        assert got == {"phone:4678": (NOT_READY, "LUNCH"), "119": (BUSY_OTHER, None)}
    finally:
        fake.stop()


def test_the_omni_example_works(tmp_path: Path) -> None:
    fake = FakeOmni(api_key="k3y", login="rta@acme.example", password="pw",
                    organizations=[{"id": "org-1", "name": "Acme"}]).start()
    try:
        fake.add_rows([{"agent_id": "1", "agente": "Ana", "agent": "ana@acme.example",
                        "evento": "Treinamento", "data_inicio": "2026-03-07 09:00:00",
                        "data_fim": None}])
        fake.set_dashboard([{"agent": "ana", "user_short_name": "Ana", "capacity": 2,
                             "status": "pause", "attendance": []}])
        cfg = load_any(_example("connect-omni.toml", fake.url, tmp_path), OMNI_ENV)
        events = Driver(cfg).run()
        assert {(e["acdAgentId"], e["gisStateIdentifier"]) for e in events} == {
            ("username:ana@acme.example", BUSY_OTHER), ("username:ana@acme.example", NOT_READY)}
    finally:
        fake.stop()


def test_rta_connect_names_a_bad_file_and_exits_2(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from streams.cli.main import main

    assert main(["connect", "ccai", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml" in capsys.readouterr().err
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\nextra = 1\n')
    assert main(["connect", "ccai", "--config", str(p)]) == 2
    assert "ccai.extra: unknown key" in capsys.readouterr().err


def test_an_empty_variable_leaves_the_secrets_file(tmp_path: Path) -> None:
    """docker-compose's ${RTA_CCAI_TOKEN:-} sets the variable empty: the file counts."""
    (tmp_path / "token").write_text("from-file\n")
    p = write(tmp_path, BASE + '[ccai]\nsubdomain = "a"\ntoken_file = "token"\n')
    assert ConnectorConfig.load("ccai", p, {"RTA_CCAI_TOKEN": ""}).secret("token") == "from-file"
