"""deploy/ cannot be run here (no Docker daemon, no cluster): check everything short of running it."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from index.settings import _ENV_NAMES, SECRET_FIELDS

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
BOT_PORT = 8080
# variables the deploy files may set that are not yanbao settings
OTHER_VARIABLES = {"HF_HOME", "TOKENIZERS_PARALLELISM", "ANONYMIZED_TELEMETRY", "HF_HUB_OFFLINE"}
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def load_yaml_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def assert_known_variables(names, where: str) -> None:
    known = set(_ENV_NAMES.values()) | OTHER_VARIABLES
    unknown = sorted(set(names) - known)
    assert not unknown, f"{where} sets variables yanbao does not read: {unknown}"


# ------------------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def read_only_targets(service: dict) -> set[str]:
    targets = set()
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) == 3 and "ro" in parts[2].split(","):
                targets.add(parts[1])
        elif volume.get("read_only"):
            targets.add(volume["target"])
    return targets


def test_compose_has_the_services(compose: dict) -> None:
    assert set(compose["services"]) == {"chroma", "redis", "slack", "feishu", "indexer", "watcher"}


def test_compose_watcher_is_optional_and_watches_the_reports(compose: dict) -> None:
    watcher = compose["services"]["watcher"]
    assert watcher["profiles"] == ["watch"]  # not started by a plain `up`
    assert watcher["command"][:2] == ["index", "--watch"] and watcher["command"][-1] == "/reports"
    assert watcher["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", ["slack", "feishu", "indexer", "watcher"])
def test_compose_yanbao_services_share_store_and_state(compose: dict, name: str) -> None:
    service = compose["services"][name]
    assert "/reports" in read_only_targets(service), f"{name}: reports folder must be mounted read-only"
    assert not any(
        (v if isinstance(v, str) else v.get("target", "")).startswith("/reports")
        and "/reports" not in read_only_targets(service)
        for v in service["volumes"]
    )
    env = service["environment"]
    assert env["YANBAO_CHROMA_URL"] == "http://chroma:8000"
    assert env["YANBAO_REDIS_URL"].startswith("redis://redis:6379")
    assert env["YANBAO_REPORT_DIRS"] == "/reports"
    assert_known_variables(env, f"compose service {name}")
    env_files = service["env_file"] if isinstance(service["env_file"], list) else [service["env_file"]]
    assert ".env" in env_files
    assert set(service["depends_on"]) == {"chroma", "redis"}
    assert service["build"]["context"] == ".."
    assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == (
        DEPLOY / "Dockerfile"
    )


@pytest.mark.parametrize("name,platform", [("slack", "slack"), ("feishu", "feishu")])
def test_compose_bots_serve_and_are_health_checked(compose: dict, name: str, platform: str) -> None:
    service = compose["services"][name]
    assert service["command"][:2] == ["serve", platform]
    assert service["command"][service["command"].index("--port") + 1] == str(BOT_PORT)
    assert any(str(p).endswith(f":{BOT_PORT}") for p in service["ports"])
    assert f"127.0.0.1:{BOT_PORT}/healthz" in " ".join(service["healthcheck"]["test"])


def test_compose_indexer_is_a_one_shot_prune(compose: dict) -> None:
    indexer = compose["services"]["indexer"]
    assert indexer["command"][0] == "index" and "--prune" in indexer["command"]
    assert indexer["command"][-1] == "/reports"
    assert indexer["restart"] == "no"


def test_compose_chroma_runs_the_tested_server_command(compose: dict) -> None:
    chroma = compose["services"]["chroma"]
    command = chroma["entrypoint"] + chroma["command"]
    assert command[:2] == ["chroma", "run"]
    assert command[command.index("--port") + 1] == "8000"
    assert "/api/v2/heartbeat" in " ".join(chroma["healthcheck"]["test"])
    declared = set(compose["volumes"])
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            if isinstance(volume, str) and not volume.startswith(("/", ".", "$")):
                assert volume.split(":")[0] in declared


def test_env_example_lists_only_real_settings() -> None:
    names = [
        line.split("=", 1)[0]
        for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "SLACK_BOT_TOKEN" in names and "FEISHU_APP_SECRET" in names
    assert_known_variables(names, "deploy/.env.example")
    # an example with a real-looking token would be a leak waiting to happen
    secret_variables = {_ENV_NAMES[name] for name in SECRET_FIELDS}
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        if name in secret_variables:
            assert value == "", f"deploy/.env.example: {name} must be empty"


# ---------------------------------------------------------------------------------- kubernetes

K8S_FILES = sorted(K8S.glob("*.yaml"))


def all_k8s_documents() -> list[tuple[Path, dict]]:
    return [(path, doc) for path in K8S_FILES for doc in load_yaml_documents(path)]


def documents_of(kind: str) -> list[dict]:
    return [doc for _, doc in all_k8s_documents() if doc["kind"] == kind]


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def test_k8s_has_the_manifests() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in all_k8s_documents()}
    for expected in [
        ("Deployment", "yanbao-slack"),
        ("Deployment", "yanbao-feishu"),
        ("StatefulSet", "yanbao-chroma"),
        ("Service", "yanbao-chroma"),
        ("Deployment", "yanbao-redis"),
        ("Service", "yanbao-redis"),
        ("CronJob", "yanbao-index"),
        ("Secret", "yanbao-secrets"),
        ("ConfigMap", "yanbao-config"),
    ]:
        assert expected in kinds, expected


@pytest.mark.parametrize("path", K8S_FILES, ids=lambda p: p.name)
def test_k8s_manifest_is_valid_yaml_with_required_fields(path: Path) -> None:
    documents = load_yaml_documents(path)
    assert documents, f"{path.name} is empty"
    for doc in documents:
        assert isinstance(doc.get("apiVersion"), str) and doc["apiVersion"], path.name
        assert isinstance(doc.get("kind"), str) and doc["kind"], path.name
        name = doc.get("metadata", {}).get("name")
        assert isinstance(name, str) and DNS_1123.match(name) and len(name) <= 63, (
            f"{path.name}: bad name {name!r}"
        )


@pytest.mark.parametrize("workload", ["Deployment", "StatefulSet", "CronJob"])
def test_k8s_selectors_match_their_pods(workload: str) -> None:
    for doc in documents_of(workload):
        if workload == "CronJob":
            continue
        selector = doc["spec"]["selector"]["matchLabels"]
        labels = doc["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), doc["metadata"]["name"]


def resolve_port(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p.get("name") == port)


@pytest.mark.parametrize("name", ["yanbao-slack", "yanbao-feishu"])
def test_k8s_bots_are_probed_on_healthz(name: str) -> None:
    [deployment] = [d for d in documents_of("Deployment") if d["metadata"]["name"] == name]
    [container] = pod_spec(deployment)["containers"]
    platform = name.removeprefix("yanbao-")
    assert container["args"][:2] == ["serve", platform]
    assert container["args"][container["args"].index("--port") + 1] == str(BOT_PORT)
    for probe in ("readinessProbe", "livenessProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] == "/healthz", f"{name} {probe}"
        assert resolve_port(container, http["port"]) == BOT_PORT, f"{name} {probe}"
    assert pod_spec(deployment)["securityContext"]["runAsNonRoot"] is True
    refs = {ref.get("configMapRef", ref.get("secretRef", {})).get("name") for ref in container["envFrom"]}
    assert refs == {"yanbao-config", "yanbao-secrets"}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/reports"]["readOnly"] is True


def test_every_k8s_deployment_has_probes() -> None:
    for deployment in documents_of("Deployment"):
        for container in pod_spec(deployment)["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, deployment["metadata"][
                "name"
            ]


def test_k8s_chroma_statefulset_keeps_its_data() -> None:
    [statefulset] = documents_of("StatefulSet")
    services = {s["metadata"]["name"]: s for s in documents_of("Service")}
    assert statefulset["spec"]["serviceName"] in services
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    [container] = pod_spec(statefulset)["containers"]
    assert any(m["name"] == claim["metadata"]["name"] for m in container["volumeMounts"])
    assert container["command"][:2] == ["chroma", "run"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v2/heartbeat"


def test_k8s_services_select_a_workload() -> None:
    pod_labels = [
        doc["spec"]["template"]["metadata"]["labels"]
        for doc in documents_of("Deployment") + documents_of("StatefulSet")
    ]
    for service in documents_of("Service"):
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in pod_labels), service["metadata"]["name"]


def test_k8s_cronjob_indexes_the_reports_folder() -> None:
    [cronjob] = documents_of("CronJob")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert len(cronjob["spec"]["schedule"].split()) == 5
    spec = pod_spec(cronjob)
    [container] = spec["containers"]
    assert container["args"] == ["index", "--prune", "/reports"]
    assert spec["restartPolicy"] in ("Never", "OnFailure")
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/reports"]["readOnly"] is True


def test_k8s_config_and_secret_hold_only_real_settings() -> None:
    [config] = documents_of("ConfigMap")
    [secret] = documents_of("Secret")
    assert_known_variables(config["data"], "k8s ConfigMap")
    assert_known_variables(secret["stringData"], "k8s Secret")
    assert all(isinstance(v, str) for v in config["data"].values()), "ConfigMap values must be strings"
    assert config["data"]["YANBAO_CHROMA_URL"] == "http://yanbao-chroma:8000"
    assert config["data"]["YANBAO_REDIS_URL"].startswith("redis://yanbao-redis:6379")


def test_kustomization_applies_everything_but_the_secret_template() -> None:
    [kustomization] = load_yaml_documents(K8S / "kustomization.yaml")
    resources = set(kustomization["resources"])
    for path in K8S_FILES:
        if path.name in ("kustomization.yaml", "secret.template.yaml"):
            assert path.name not in resources
        else:
            assert path.name in resources, f"{path.name} is not in kustomization.yaml"
    assert all((K8S / r).exists() for r in resources)


# ----------------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_args() -> dict[str, str]:
    args = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
    return args


def test_dockerfile_installs_cpu_torch_before_the_project() -> None:
    runs = [rest for keyword, rest in dockerfile_instructions() if keyword == "RUN"]
    torch_step = next(i for i, r in enumerate(runs) if "${TORCH_SPEC}" in r)
    project_step = next(i for i, r in enumerate(runs) if re.search(r"pip install \.(\s|$)", r))
    assert torch_step < project_step
    assert '--index-url "${TORCH_INDEX_URL}"' in runs[torch_step]
    args = dockerfile_args()
    assert args["TORCH_SPEC"] == "torch==2.13.0"
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"


def test_dockerfile_torch_matches_the_makefile() -> None:
    makefile = REPO / "Makefile"
    if not makefile.exists():
        pytest.skip("no Makefile yet: the Dockerfile's own order is checked above")
    text = makefile.read_text(encoding="utf-8")
    pins = set(re.findall(r"torch==[0-9][0-9.]*", text))
    assert pins, "the Makefile should pin torch (e.g. TORCH_SPEC ?= torch==2.13.0)"
    assert pins == {dockerfile_args()["TORCH_SPEC"]}
    if "download.pytorch.org" in text:
        assert dockerfile_args()["TORCH_INDEX_URL"] in text


def test_dockerfile_runs_as_non_root_with_volumes_and_entrypoint() -> None:
    instructions = dockerfile_instructions()
    keywords = [k for k, _ in instructions]
    user = [rest for k, rest in instructions if k == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    [volume] = [rest for k, rest in instructions if k == "VOLUME"]
    assert {"/data/yanbao", "/data/hf-cache"} <= set(yaml.safe_load(volume))
    env = " ".join(rest for k, rest in instructions if k == "ENV")
    assert "YANBAO_HOME=/data/yanbao" in env and "HF_HOME=/data/hf-cache" in env
    [entrypoint] = [rest for k, rest in instructions if k == "ENTRYPOINT"]
    assert yaml.safe_load(entrypoint) == ["yanbao"]
    assert dockerfile_instructions()[0][1].startswith("PYTHON_IMAGE=python:3.11-slim")


def test_dockerfile_can_bake_the_embedding_model() -> None:
    assert "EMBED_MODEL" in dockerfile_args()
    bake = [rest for k, rest in dockerfile_instructions() if k == "RUN" and "models pull" in rest]
    assert bake and '"${EMBED_MODEL}"' in bake[0] and "--to /opt/yanbao/model" in bake[0]
    env = " ".join(rest for k, rest in dockerfile_instructions() if k == "ENV")
    assert "YANBAO_EMBED_MODEL=${EMBED_MODEL:+/opt/yanbao/model}" in env


def test_dockerfile_copies_what_exists_and_what_the_ignore_file_lets_through() -> None:
    readme = tomllib.loads((REPO / "pyproject.toml").read_text())["project"].get("readme")
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    for keyword, rest in dockerfile_instructions():
        if keyword != "COPY":
            continue
        *sources, _dest = shlex.split(rest)
        for source in sources:
            assert f"!{source}" in ignore, f"{source} is excluded from the build context"
            if source == readme and not (REPO / source).exists():
                continue  # the project README is written by its owner; the build needs it
            assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"


# -------------------------------------------------------------------------------------- systemd

UNITS = sorted((DEPLOY / "systemd").glob("yanbao-*.service"))


def read_unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


@pytest.mark.parametrize("platform,port", [("slack", 8080), ("feishu", 8081)])
def test_systemd_bot_units(platform: str, port: int) -> None:
    unit = read_unit(DEPLOY / "systemd" / f"yanbao-{platform}.service")
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    exec_start = shlex.split(unit["Service"]["ExecStart"])
    assert exec_start[0].endswith("/bin/yanbao")
    assert exec_start[1:3] == ["serve", platform]
    assert exec_start[exec_start.index("--port") + 1] == str(port)
    assert unit["Service"]["User"] not in ("root", "0")
    assert unit["Service"]["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_units_verify() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the units were parsed as INI above")
    units = [str(p) for p in UNITS] + [str(DEPLOY / "systemd" / "yanbao-index.timer")]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *units], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        # the programs and the user exist only on the target box
        if line.strip() and "is not executable" not in line and "/opt/yanbao/" not in line
    ]
    assert not [p for p in problems if re.search(r"unknown|invalid|failed to parse|bad", p, re.IGNORECASE)], (
        problems
    )
