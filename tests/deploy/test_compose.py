"""docker-compose.yml, checked offline (no Docker engine here): the Compose
Specification's schema, health checks, its variables, its RTA_* settings, its rta
command lines, and its broker's configuration against the test broker's."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jsonschema
import pytest

from rta.config import TenantsConfig
from streams.cli.main import build_parser
from streams.local.kafka import BASE_PROPERTIES
from tests.support.deploy import (
    COMPOSE,
    COMPOSE_SCHEMA,
    ENV_EXAMPLE,
    InterpolationError,
    bind_mounts,
    command,
    compose,
    compose_raw,
    documented_variables,
    env_file,
    environment,
    interpolate,
    is_rta,
    named_volumes,
    settings_variables,
    variables,
)


def test_interpolation_as_compose_does_it() -> None:
    env = {"A": "a", "E": ""}
    assert interpolate("$$A ${A} $A ${B:-b} ${E:-e} ${E-e} ${A:+x} ${B:+x}.", env) == \
        "$A a a b e  x ."
    with pytest.raises(InterpolationError, match="set it"):
        interpolate("${E:?set it}", env)
    assert variables("$${X} ${Y:-1} $Z") == {"Y", "Z"}


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.validate(compose(), schema, cls=jsonschema.Draft202012Validator)
    wrong = compose()
    wrong["services"]["worker-1"]["comand"] = ["worker"]  # the schema does catch a typo
    with pytest.raises(jsonschema.ValidationError, match="comand"):
        jsonschema.validate(wrong, schema, cls=jsonschema.Draft202012Validator)


def test_the_required_secrets_must_be_set() -> None:
    env = env_file()
    for name in ("RTA_CLUSTER_SECRET", "POSTGRES_PASSWORD"):
        with pytest.raises(InterpolationError, match=name):
            compose({k: v for k, v in env.items() if k != name})


def test_every_long_running_service_has_a_health_check_and_a_restart_policy() -> None:
    services = compose()["services"]
    for name, svc in services.items():
        assert "restart" in svc, f"{name}: no restart policy"
        check = svc.get("healthcheck", {})
        if svc["restart"] == "no":  # one-shot: the image's check means nothing there
            continue
        assert check.get("test") and not check.get("disable"), f"{name}: no health check"
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"
    one_shot = {n for n, s in services.items() if s["restart"] == "no"}
    assert one_shot == {"migrate", "demo"}
    # the workers start once the migration has completed
    for name in ("worker-1", "worker-2"):
        deps = services[name]["depends_on"]
        assert deps["migrate"] == {"condition": "service_completed_successfully"}
        assert deps["kafka"] == {"condition": "service_healthy"}


def test_the_workers_answer_their_health_check_on_their_api_port() -> None:
    services = compose()["services"]
    for name in ("worker-1", "worker-2"):
        svc = services[name]
        port = environment(svc)["RTA_WEB_PORT"]
        assert f"http://127.0.0.1:{port}/livez" in " ".join(svc["healthcheck"]["test"])
    published = {name: services[name]["ports"] for name in ("worker-1", "worker-2")}
    assert published == {"worker-1": ["6066:6066"], "worker-2": ["6067:6066"]}


def test_volumes_are_named_and_declared() -> None:
    c = compose()
    declared = set(c["volumes"])
    used = set()
    for name, svc in c["services"].items():
        for volume in named_volumes(svc).values():
            assert volume in declared, f"{name}: volume {volume} is not declared"
            used.add(volume)
        for target in bind_mounts(svc):
            assert target.startswith(("/etc/rta/", "/run/")), f"{name}: bind mount {target}"
    assert used == declared
    for name in ("worker-1", "worker-2"):  # the RocksDB store on its own volume
        svc = c["services"][name]
        env = environment(svc)
        assert env["RTA_STORE"] == "rocksdb://"
        assert named_volumes(svc)[env["RTA_DATA_DIR"]] == f"{name}-data"
        assert bind_mounts(svc)[env["RTA_TENANTS_FILE"]]


def test_every_variable_is_in_env_example_and_every_example_is_used() -> None:
    used = variables(COMPOSE.read_text())
    example = set(env_file())
    assert used - example == set(), f"not in {ENV_EXAMPLE.name}"
    assert example - used == set(), f"in {ENV_EXAMPLE.name} but not used"


def test_env_example_holds_placeholders_only() -> None:
    env = env_file()
    secrets = {k: v for k, v in env.items()
               if any(w in k for w in ("SECRET", "PASSWORD", "TOKEN", "API_KEY"))
               and not k.endswith("_FILE")}
    assert secrets and all(v.startswith("replace-with-") for v in secrets.values()), secrets
    assert len(env["RTA_CLUSTER_SECRET"]) >= 16  # what the workers require


def test_every_rta_variable_is_a_real_setting() -> None:
    known = settings_variables() | documented_variables()
    named = set(env_file()) | variables(COMPOSE.read_text())
    for svc in compose()["services"].values():
        named |= set(environment(svc))
    rta = {n for n in named if n.startswith("RTA_")}
    assert rta - known == set(), "RTA_* variables that nothing reads"
    # the ones the services set are settings or credentials a command reads
    assert {"RTA_BROKER_URL", "RTA_CLUSTER_SECRET", "RTA_WEB_ADVERTISED_URL"} <= rta


def test_every_rta_command_line_parses() -> None:
    parser = build_parser()
    services = {n: s for n, s in compose()["services"].items() if is_rta(s)}
    assert set(services) == {"migrate", "worker-1", "worker-2", "forward", "schedules-sync",
                             "connect-ccai", "connect-omni", "demo"}
    for name, svc in services.items():
        argv = command(svc)
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{name}: rta {' '.join(argv)} does not parse")
        assert args.func is not None


def test_the_mounted_files_load() -> None:
    """The default tenants, WFM and connector files each service mounts are files the
    commands accept (credentials given as the services give them)."""
    from streams.acd.config import ConnectorConfig
    from streams.wfm.config import WfmConfig

    services = compose()["services"]
    tenants = bind_mounts(services["worker-1"])["/etc/rta/tenants.toml"]
    assert "northwind" in TenantsConfig.from_toml(Path(tenants).read_text()).tenants
    wfm = bind_mounts(services["forward"])["/etc/rta/wfm.toml"]
    WfmConfig.load(wfm, env={"RTA_WFM_PASSWORD": "x"})
    for source in ("ccai", "omni"):
        svc = services[f"connect-{source}"]
        path = bind_mounts(svc)[command(svc)[command(svc).index("--config") + 1]]
        ConnectorConfig.load(source, path, env=environment(svc))


def test_the_broker_is_configured_like_the_test_broker() -> None:
    """The broker settings the engine relies on are the same in compose as on the
    Apache Kafka the suite runs on (streams/local/kafka.py)."""
    env = environment(compose()["services"]["kafka"])
    props = {k.removeprefix("KAFKA_").lower().replace("_", "."): v
             for k, v in env.items() if k.startswith("KAFKA_")}
    same = ["process.roles", "node.id", "controller.listener.names",
            "inter.broker.listener.name", "auto.create.topics.enable",
            "offsets.topic.replication.factor", "transaction.state.log.replication.factor",
            "transaction.state.log.min.isr"]
    assert {k: props.get(k) for k in same} == {k: BASE_PROPERTIES[k] for k in same}
    # a KRaft cluster id is a UUID in URL-safe base64, as kafka-storage random-uuid prints
    cluster_id = env["CLUSTER_ID"]
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    image = compose_raw()["services"]["kafka"]["image"]
    from streams.local.kafka import KAFKA_VERSION
    assert image == f"apache/kafka:{KAFKA_VERSION}"
    # the containers reach the broker on its container listener
    assert "PLAINTEXT://kafka:19092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "localhost:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    for name, svc in compose()["services"].items():
        if is_rta(svc) and command(svc)[0] != "migrate":  # (migrate: the database only)
            assert environment(svc).get("RTA_BROKER_URL") == "kafka://kafka:19092", name
