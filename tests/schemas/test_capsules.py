"""Capsule templates: Zun's format, its microversions, and every way a template can be wrong."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from dockyard.errors import (
    Invalid,
    InvalidParamInVersion,
    InvalidValue,
    SchemaValidationError,
)
from dockyard.schemas.capsules import CapsuleSpec, MemberSpec, parse_template

LATEST = (1, 40)

# The api-ref's capsule-create-req.json, with its Cinder volume replaced by a local one.
SAMPLE: dict[str, Any] = {
    "kind": "capsule",
    "metadata": {"name": "demo", "labels": {"app": "web"}, "annotations": {"key1": "value1"}},
    "spec": {
        "restartPolicy": "Always",
        "initContainers": [
            {
                "image": "busybox",
                "command": ["wget", "-O", "/work-dir/index.html", "https://www.openstack.org/"],
                "volumeMounts": [{"mountPath": "/work-dir", "name": "workdir"}],
                "resources": {"requests": {"cpu": 0.1, "memory": 128}},
            }
        ],
        "containers": [
            {
                "image": "nginx",
                "ports": [{"protocol": "TCP", "containerPort": 80}],
                "volumeMounts": [{"mountPath": "/usr/share/nginx/html", "name": "workdir"}],
                "resources": {"requests": {"cpu": 0.5, "memory": 512}},
            }
        ],
        "volumes": [{"name": "workdir"}],
    },
}

SAMPLE_YAML = """
kind: capsule
metadata:
  name: demo
  labels: {app: web}
  annotations: {key1: value1}
spec:
  restartPolicy: Always
  initContainers:
  - image: busybox
    command: [wget, -O, /work-dir/index.html, "https://www.openstack.org/"]
    volumeMounts:
    - {mountPath: /work-dir, name: workdir}
    resources: {requests: {cpu: 0.1, memory: 128}}
  containers:
  - image: nginx
    ports:
    - {protocol: TCP, containerPort: 80}
    volumeMounts:
    - {mountPath: /usr/share/nginx/html, name: workdir}
    resources: {requests: {cpu: 0.5, memory: 512}}
  volumes:
  - name: workdir
"""


def capsule(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A minimal valid template; one busybox container unless containers are given."""
    members = list(containers) or [{"image": "busybox"}]
    return {"kind": "capsule", "metadata": {"name": "cap"}, "spec": {"containers": members, **spec}}


def member(**overrides: Any) -> MemberSpec:
    fields: dict[str, Any] = {
        "name": "cap-container-0", "image": "busybox", "command": None, "environment": {},
        "workdir": None, "image_pull_policy": None, "cpu": None, "memory": None, "ports": [],
        "volume_mounts": [], "tty": False, "stdin": False,
    }  # fmt: skip
    return MemberSpec(**{**fields, **overrides})


# --- what a valid template becomes ---------------------------------------------------------


def test_api_ref_sample_parses() -> None:
    assert parse_template(SAMPLE, LATEST) == CapsuleSpec(
        name="demo",
        labels={"app": "web"},
        annotations={"key1": "value1"},
        restart_policy=("always", 0),
        volumes=["workdir"],
        init_containers=[
            member(
                name="demo-init-0",
                command=["wget", "-O", "/work-dir/index.html", "https://www.openstack.org/"],
                cpu=0.1,
                memory=128,
                volume_mounts=[("workdir", "/work-dir", False)],
            )
        ],
        containers=[
            member(
                name="demo-container-0",
                image="nginx",
                cpu=0.5,
                memory=512,
                ports=[(80, "tcp")],
                volume_mounts=[("workdir", "/usr/share/nginx/html", False)],
            )
        ],
        availability_zone=None,
        cpu=0.5,
        memory=512,
    )


def test_yaml_template_equals_json_template() -> None:
    assert parse_template(yaml.safe_load(SAMPLE_YAML), LATEST) == parse_template(SAMPLE, LATEST)


def test_template_as_json_string_equals_object() -> None:
    assert parse_template(json.dumps(SAMPLE), LATEST) == parse_template(SAMPLE, LATEST)


def test_parsing_does_not_mutate_the_input() -> None:
    before = copy.deepcopy(SAMPLE)
    parse_template(SAMPLE, LATEST)
    assert before == SAMPLE


def test_every_container_field_is_carried() -> None:
    spec = parse_template(
        capsule(
            {
                "name": "web",
                "image": "nginx:1.25",
                "command": ["nginx"],
                "args": ["-g", "daemon off;"],
                "env": {"A": "1", "EMPTY": ""},
                "workDir": "/srv",
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"name": "dns", "containerPort": 53, "hostPort": 53, "protocol": "UDP"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
                "stdin": True,
                "tty": True,
            },
            volumes=[{"name": "data", "emptyDir": {}}],
        )
        | {"availabilityZone": "az1", "capsuleVersion": "beta"},
        LATEST,
    )
    assert spec.availability_zone == "az1"
    assert spec.volumes == ["data"]
    assert spec.containers == [
        member(
            name="web",
            image="nginx:1.25",
            command=["nginx", "-g", "daemon off;"],
            environment={"A": "1", "EMPTY": ""},
            workdir="/srv",
            image_pull_policy="ifnotpresent",
            ports=[(53, "udp")],
            volume_mounts=[("data", "/data", True)],
            stdin=True,
            tty=True,
        )
    ]


def test_cinder_volumes_are_a_new_local_volume_or_a_named_one() -> None:
    mounts = [{"name": "scratch", "mountPath": "/s"}, {"name": "db", "mountPath": "/db"}]
    spec = parse_template(
        capsule(
            {"image": "busybox", "volumeMounts": mounts},
            volumes=[
                {"name": "scratch", "cinder": {"size": 1, "autoRemove": True}},
                {"name": "db", "cinder": {"volumeID": "my-data"}},
            ],
        ),
        LATEST,
    )
    assert spec.volumes == ["scratch"]  # the capsule's own: it goes with the capsule
    assert spec.named_volumes == {"db": "my-data"}
    assert spec.containers[0].volume_mounts == [("scratch", "/s", False), ("db", "/db", False)]


def test_args_are_appended_to_command() -> None:
    spec = parse_template(
        capsule({"image": "busybox", "command": ["sh", "-c"], "args": ["id"]}), LATEST
    )
    assert spec.containers[0].command == ["sh", "-c", "id"]


def test_args_alone_replace_the_image_command() -> None:
    spec = parse_template(capsule({"image": "busybox", "args": ["sleep", "60"]}), LATEST)
    assert spec.containers[0].command == ["sleep", "60"]


def test_empty_command_means_image_default() -> None:
    spec = parse_template(capsule({"image": "busybox", "command": [], "args": []}), LATEST)
    assert spec.containers[0].command is None


def test_capsule_requests_sum_containers_and_max_with_each_init_container() -> None:
    def requests(cpu: Any, memory: Any) -> dict[str, Any]:
        return {"image": "busybox", "resources": {"requests": {"cpu": cpu, "memory": memory}}}

    template = capsule(requests(0.5, 256), requests(0.25, "1G"), {"image": "busybox"})
    template["spec"]["initContainers"] = [requests(1, 128), requests("500m", "2Gi")]
    spec = parse_template(template, LATEST)
    assert (spec.cpu, spec.memory) == (1.0, 2048)  # max(0.75, 1, 0.5), max(1280, 128, 2048)
    assert [m.cpu for m in spec.init_containers] == [1.0, 0.5]
    assert [m.memory for m in spec.containers] == [256, 1024, None]


def test_containers_alone_are_summed() -> None:
    template = capsule(
        {"image": "busybox", "resources": {"requests": {"cpu": 0.5, "memory": "512M"}}},
        {"image": "busybox", "resources": {"requests": {"cpu": 0.75, "memory": "512Mi"}}},
    )
    spec = parse_template(template, LATEST)
    assert (spec.cpu, spec.memory) == (1.25, 1024)


def test_capsule_cpu_is_rounded_to_the_millicore() -> None:
    template = capsule(
        {"image": "busybox", "resources": {"requests": {"cpu": 0.1}}},
        {"image": "busybox", "resources": {"requests": {"cpu": 0.2}}},
    )
    assert parse_template(template, LATEST).cpu == 0.3


def test_no_requests_is_zero_for_the_caller_to_default() -> None:
    spec = parse_template(capsule(), LATEST)
    assert (spec.cpu, spec.memory) == (0.0, 0)


def test_init_containers_keep_template_order_and_unnamed_members_get_generated_names() -> None:
    template = capsule({"image": "nginx"}, {"name": "side", "image": "busybox"})
    template["spec"]["initContainers"] = [{"name": "first", "image": "a1"}, {"image": "a2"}]
    spec = parse_template(template, LATEST)
    assert [m.name for m in spec.init_containers] == ["first", "cap-init-1"]
    assert [m.image for m in spec.init_containers] == ["a1", "a2"]
    assert [m.name for m in spec.containers] == ["cap-container-0", "side"]


def test_volume_may_be_mounted_by_several_members() -> None:
    mount = {"name": "shared", "mountPath": "/shared"}
    template = capsule(
        {"image": "a1", "volumeMounts": [mount]},
        {"image": "a2", "volumeMounts": [mount | {"readOnly": True}]},
        volumes=[{"name": "shared"}],
    )
    spec = parse_template(template, LATEST)
    assert [m.volume_mounts for m in spec.containers] == [
        [("shared", "/shared", False)],
        [("shared", "/shared", True)],
    ]


# --- restart policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("Always", ("always", 0)), ("OnFailure", ("on-failure", 0)), ("Never", ("no", 0))],
)
def test_restart_policy_maps_to_docker_names(policy: str, expected: tuple[str, int]) -> None:
    assert parse_template(capsule(restartPolicy=policy), LATEST).restart_policy == expected


def test_nets_at_the_top_level_are_carried_as_on_a_container_create() -> None:
    """Zun reads a capsule's networks from the template's top-level `nets`; the entries are
    checked where a container's are (services), so the schema only carries them."""
    template = capsule({"image": "nginx"})
    template["nets"] = [{"network": "blue", "v4-fixed-ip": "10.0.0.5"}, {"port": "p1"}]
    spec = parse_template(template, LATEST)
    assert spec.nets == [{"network": "blue", "v4-fixed-ip": "10.0.0.5"}, {"port": "p1"}]
    assert parse_template(capsule({"image": "nginx"}), LATEST).nets == []


def test_restart_policy_defaults_to_always() -> None:
    assert parse_template(capsule(), LATEST).restart_policy == ("always", 0)


def test_top_level_restart_policy_is_accepted_before_1_16() -> None:
    template = capsule() | {"restartPolicy": "Never"}
    assert parse_template(template, (1, 15)).restart_policy == ("no", 0)


def test_spec_restart_policy_is_accepted_before_1_16() -> None:
    assert parse_template(capsule(restartPolicy="OnFailure"), (1, 1)).restart_policy == (
        "on-failure",
        0,
    )


def test_top_level_restart_policy_is_refused_from_1_16() -> None:
    template = capsule() | {"restartPolicy": "Never"}
    with pytest.raises(InvalidParamInVersion, match=r"restartPolicy \(top level\).*1\.16"):
        parse_template(template, (1, 16))


def test_restart_policy_in_both_places_is_refused() -> None:
    template = capsule(restartPolicy="Always") | {"restartPolicy": "Never"}
    with pytest.raises(InvalidValue, match="restartPolicy: give it at the top level or in spec"):
        parse_template(template, (1, 15))


@pytest.mark.parametrize("policy", ["always", "Unless-Stopped", ""])
def test_unknown_restart_policy_is_refused(policy: str) -> None:
    with pytest.raises(SchemaValidationError, match=r"spec\.restartPolicy: .*'OnFailure'"):
        parse_template(capsule(restartPolicy=policy), LATEST)


# --- microversions -------------------------------------------------------------------------


def _with_init(t: dict[str, Any]) -> None:
    t["spec"]["initContainers"] = [{"image": "busybox"}]


def _with_ports(t: dict[str, Any]) -> None:
    t["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]


def _with_tty(t: dict[str, Any]) -> None:
    t["spec"]["containers"][0]["tty"] = True


def _with_stdin(t: dict[str, Any]) -> None:
    t["spec"]["containers"][0]["stdin"] = False


def _with_init_ports(t: dict[str, Any]) -> None:
    t["spec"]["initContainers"] = [{"image": "busybox", "ports": [{"containerPort": 80}]}]


def _with_annotations(t: dict[str, Any]) -> None:
    t["metadata"]["annotations"] = {"a": "b"}


VERSIONED = [
    pytest.param(_with_init, (1, 34), "spec.initContainers", id="initContainers"),
    pytest.param(_with_ports, (1, 35), "spec.containers[0].ports", id="ports"),
    pytest.param(_with_init_ports, (1, 35), "spec.initContainers[0].ports", id="init-ports"),
    pytest.param(_with_stdin, (1, 37), "spec.containers[0].stdin", id="stdin"),
    pytest.param(_with_tty, (1, 37), "spec.containers[0].tty", id="tty"),
    pytest.param(_with_annotations, (1, 38), "metadata.annotations", id="annotations"),
]


@pytest.mark.parametrize(("add", "since", "param"), VERSIONED)
def test_newer_keys_are_refused_in_older_versions(
    add: Any, since: tuple[int, int], param: str
) -> None:
    template = capsule()
    add(template)
    older = (1, since[1] - 1)
    with pytest.raises(InvalidParamInVersion) as caught:
        parse_template(template, older)
    assert str(caught.value) == (
        f"Invalid param {param} because current request version is 1.{older[1]}."
    )


@pytest.mark.parametrize(("add", "since", "param"), VERSIONED)
def test_newer_keys_are_accepted_from_their_version(
    add: Any, since: tuple[int, int], param: str
) -> None:
    template = capsule()
    add(template)
    parse_template(template, since)


def test_sample_needs_1_38_for_its_annotations() -> None:
    with pytest.raises(InvalidParamInVersion, match=r"metadata\.annotations"):
        parse_template(SAMPLE, (1, 37))


# --- bad templates -------------------------------------------------------------------------


def _set(path: str, value: Any) -> dict[str, Any]:
    """A valid template with one key (dotted path, list indexes as numbers) set or removed."""
    template = capsule(volumes=[{"name": "vol"}])
    *parents, leaf = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = template
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return template


_DELETE = object()
C0 = "spec.containers.0"


def _cinder(cinder: dict[str, Any]) -> dict[str, Any]:
    return _set("spec.volumes", [{"name": "vol", "cinder": cinder}])


BAD: list[Any] = [
    # structure
    ("not-object", [1, 2], SchemaValidationError, "template: must be an object"),
    ("bad-json", '{"kind": ', SchemaValidationError, "template: invalid JSON"),
    ("json-array", "[]", SchemaValidationError, "template: must be an object"),
    ("json-nan", '{"kind": NaN}', SchemaValidationError, "NaN is not valid JSON"),
    ("kind-pod", _set("kind", "Pod"), SchemaValidationError, "kind: .*'Pod'"),
    ("kind-missing", _set("kind", _DELETE), SchemaValidationError, "kind: required"),
    ("metadata-missing", _set("metadata", _DELETE), SchemaValidationError, "metadata: required"),
    ("name-missing", _set("metadata.name", _DELETE), SchemaValidationError, "metadata.name: req"),
    ("name-pattern", _set("metadata.name", "-x"), SchemaValidationError, "metadata.name: .*'-x'"),
    ("name-short", _set("metadata.name", "x"), SchemaValidationError, "metadata.name"),
    ("labels-int", _set("metadata.labels", {"a": 1}), SchemaValidationError, "labels.a: must be"),
    ("version", _set("capsuleVersion", "v2"), SchemaValidationError, "capsuleVersion: .*'v2'"),
    ("spec-missing", _set("spec", _DELETE), SchemaValidationError, "spec: required"),
    ("spec-not-object", _set("spec", []), SchemaValidationError, "spec: must be an object"),
    ("no-containers", _set("spec.containers", []), SchemaValidationError, "spec.containers: "),
    ("containers-missing", _set("spec.containers", _DELETE), SchemaValidationError, "containers"),
    ("az-empty", _set("availabilityZone", ""), SchemaValidationError, "availabilityZone"),
    # unknown keys anywhere
    ("top-unknown", _set("apiVersion", "v1"), SchemaValidationError, r"^apiVersion: unknown key"),
    ("nets-not-list", _set("nets", {"network": "n"}), SchemaValidationError, r"^nets: must be a"),
    ("nets-entry-not-object", _set("nets", ["n"]), SchemaValidationError, r"^nets\[0\]: must be"),
    ("meta-unknown", _set("metadata.namespace", "x"), SchemaValidationError, "metadata.namespace"),
    ("spec-unknown", _set("spec.hostNetwork", True), SchemaValidationError, "spec.hostNetwork"),
    ("container-unknown", _set(f"{C0}.securityContext", {}), SchemaValidationError,
     r"spec.containers\[0\].securityContext: unknown key"),
    ("limits", _set(f"{C0}.resources", {"limits": {"cpu": 1}}), SchemaValidationError,
     r"spec.containers\[0\].resources.limits: unknown key"),
    ("requests-unknown", _set(f"{C0}.resources", {"requests": {"gpu": 1}}), SchemaValidationError,
     r"resources.requests.gpu: unknown key"),
    ("port-unknown", _set(f"{C0}.ports", [{"containerPort": 1, "hostIP": "x"}]),
     SchemaValidationError, r"ports\[0\].hostIP: unknown key"),
    ("mount-unknown",
     _set(f"{C0}.volumeMounts", [{"name": "vol", "mountPath": "/v", "subPath": "a"}]),
     SchemaValidationError, r"volumeMounts\[0\].subPath: unknown key"),
    ("volume-unknown", _set("spec.volumes", [{"name": "vol", "hostPath": {"path": "/"}}]),
     SchemaValidationError, r"spec.volumes\[0\].hostPath: unknown key"),
    ("emptydir-unknown", _set("spec.volumes", [{"name": "vol", "emptyDir": {"medium": "Memory"}}]),
     SchemaValidationError, r"emptyDir.medium: unknown key"),
    ("snake-case-key", _set(f"{C0}.work_dir", "/x"), SchemaValidationError, "work_dir: unknown"),
    # container fields
    ("image-missing", _set(f"{C0}.image", _DELETE), SchemaValidationError,
     r"spec.containers\[0\].image: required"),
    ("image-empty", _set(f"{C0}.image", ""), SchemaValidationError, r"containers\[0\].image"),
    ("container-name", _set(f"{C0}.name", "a b"), SchemaValidationError, r"\[0\].name: .*'a b'"),
    ("command-string", _set(f"{C0}.command", "sleep 1"), SchemaValidationError,
     r"\[0\].command: must be a list"),
    ("args-int", _set(f"{C0}.args", [1]), SchemaValidationError, r"args\[0\]: must be a string"),
    ("env-number", _set(f"{C0}.env", {"PORT": 8080}), SchemaValidationError,
     r"spec.containers\[0\].env.PORT: must be a string \(got 8080\)"),
    ("env-bool", _set(f"{C0}.env", {"DEBUG": True}), SchemaValidationError, "env.DEBUG: must be"),
    ("env-name", _set(f"{C0}.env", {"A=B": "c"}), SchemaValidationError,
     r"containers\[0\].env: invalid variable name 'A=B'"),
    ("env-k8s-list", _set(f"{C0}.env", [{"name": "A", "value": "1"}]), SchemaValidationError,
     r"containers\[0\].env: must be a mapping"),
    ("workdir-relative", _set(f"{C0}.workDir", "srv"), SchemaValidationError,
     r"workDir: must be an absolute path"),
    ("pull-policy", _set(f"{C0}.imagePullPolicy", "Sometimes"), SchemaValidationError,
     "imagePullPolicy: must be Always, IfNotPresent or Never"),
    ("cpu-bool", _set(f"{C0}.resources", {"requests": {"cpu": True}}), SchemaValidationError,
     r"requests.cpu: must be a number"),
    ("cpu-zero", _set(f"{C0}.resources", {"requests": {"cpu": 0}}), SchemaValidationError,
     r"requests.cpu"),
    ("cpu-word", _set(f"{C0}.resources", {"requests": {"cpu": "lots"}}), SchemaValidationError,
     r"requests.cpu: invalid cpu 'lots'"),
    ("memory-unit", _set(f"{C0}.resources", {"requests": {"memory": "1T"}}),
     SchemaValidationError, r"requests.memory: Invalid memory '1T'"),
    ("memory-zero", _set(f"{C0}.resources", {"requests": {"memory": 0}}), SchemaValidationError,
     r"requests.memory"),
    ("tty-string", _set(f"{C0}.tty", "yes"), SchemaValidationError, r"\.tty: must be a boolean"),
    # ports
    ("port-missing", _set(f"{C0}.ports", [{"name": "http"}]), SchemaValidationError,
     r"ports\[0\].containerPort: required"),
    ("port-zero", _set(f"{C0}.ports", [{"containerPort": 0}]), SchemaValidationError,
     r"ports\[0\].containerPort"),
    ("port-high", _set(f"{C0}.ports", [{"containerPort": 65536}]), SchemaValidationError,
     r"ports\[0\].containerPort"),
    ("port-string", _set(f"{C0}.ports", [{"containerPort": "80"}]), SchemaValidationError,
     r"containerPort: must be an integer"),
    ("host-port", _set(f"{C0}.ports", [{"containerPort": 80, "hostPort": 70000}]),
     SchemaValidationError, r"ports\[0\].hostPort"),
    ("protocol", _set(f"{C0}.ports", [{"containerPort": 80, "protocol": "SCTP"}]),
     SchemaValidationError, r"protocol: must be TCP or UDP \(got 'SCTP'\)"),
    # volumes and mounts
    ("cinder-both", _cinder({"size": 1, "volumeID": "v"}), InvalidValue,
     r"spec.volumes\[0\].cinder: give volumeID \(a named volume\) or size"),
    ("cinder-none", _cinder({}), InvalidValue, r"spec.volumes\[0\].cinder: give volumeID"),
    ("cinder-size", _cinder({"size": 0}), SchemaValidationError, r"cinder.size"),
    ("cinder-keep-new", _cinder({"size": 1, "autoRemove": False}), InvalidValue,
     r"autoRemove: a new volume goes with the capsule"),
    ("cinder-drop-named", _cinder({"volumeID": "v", "autoRemove": True}), InvalidValue,
     r"autoRemove: a named volume outlives the capsule"),
    ("cinder-extra", _cinder({"size": 1, "fsType": "xfs"}), SchemaValidationError, r"fsType"),
    ("volume-dup", _set("spec.volumes", [{"name": "vol"}, {"name": "vol"}]), InvalidValue,
     r"spec.volumes\[1\].name: duplicate volume name 'vol'"),
    ("volume-name", _set("spec.volumes", [{"name": "../etc"}]), SchemaValidationError,
     r"volumes\[0\].name"),
    ("volume-nameless", _set("spec.volumes", [{"emptyDir": {}}]), SchemaValidationError,
     r"volumes\[0\].name: required"),
    ("mount-undeclared", _set(f"{C0}.volumeMounts", [{"name": "data", "mountPath": "/d"}]),
     InvalidValue, r"volumeMounts\[0\].name: volume 'data' is not in spec.volumes"),
    ("mount-relative", _set(f"{C0}.volumeMounts", [{"name": "vol", "mountPath": "d"}]),
     SchemaValidationError, r"mountPath: must be an absolute path \(got 'd'\)"),
    ("mount-root", _set(f"{C0}.volumeMounts", [{"name": "vol", "mountPath": "/"}]),
     SchemaValidationError, r"mountPath: cannot mount a volume over '/'"),
    ("mount-path-missing", _set(f"{C0}.volumeMounts", [{"name": "vol"}]), SchemaValidationError,
     r"volumeMounts\[0\].mountPath: required"),
    ("mount-twice", _set(f"{C0}.volumeMounts",
                         [{"name": "vol", "mountPath": "/d"}, {"name": "vol", "mountPath": "/d/"}]),
     InvalidValue, r"volumeMounts\[1\].mountPath: '/d' is mounted twice"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("template", "error", "message"), [pytest.param(*b[1:], id=b[0]) for b in BAD]
)
def test_bad_template_is_refused_naming_the_culprit(
    template: Any, error: type[Invalid], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        parse_template(template, LATEST)
    assert "\n" not in str(caught.value)


def test_duplicate_names_across_containers_and_init_containers_are_refused() -> None:
    template = capsule({"name": "web", "image": "nginx"})
    template["spec"]["initContainers"] = [{"name": "web", "image": "busybox"}]
    with pytest.raises(
        InvalidValue,
        match=r"spec.containers\[0\].name: duplicate container name 'web' "
        r"\(see spec.initContainers\[0\]\)",
    ):
        parse_template(template, LATEST)


def test_duplicate_container_names_are_refused() -> None:
    template = capsule({"name": "web", "image": "a1"}, {"name": "web", "image": "a2"})
    with pytest.raises(InvalidValue, match=r"spec.containers\[1\].name: duplicate .*'web'"):
        parse_template(template, LATEST)


def test_explicit_name_colliding_with_a_generated_name_is_refused() -> None:
    template = capsule({"image": "a1"}, {"name": "cap-container-0", "image": "a2"})
    with pytest.raises(InvalidValue, match="duplicate container name 'cap-container-0'"):
        parse_template(template, LATEST)


def test_member_whose_container_name_would_pass_255_characters_is_refused() -> None:
    # the member's container is named capsule-<capsule>-<member>: 8 + 200 + 1 + 46 = 255 fits
    fits = capsule({"name": "m" * 46, "image": "busybox"})
    fits["metadata"]["name"] = "c" * 200
    assert parse_template(fits, LATEST).containers[0].name == "m" * 46
    fits["spec"]["containers"][0]["name"] = "m" * 47
    with pytest.raises(InvalidValue, match=r"spec.containers\[0\].name: .* 256 characters"):
        parse_template(fits, LATEST)


def test_two_containers_on_one_port_are_refused() -> None:
    template = capsule(
        {"image": "a1", "ports": [{"containerPort": 80}]},
        {"image": "a2", "ports": [{"containerPort": 80, "protocol": "tcp"}]},
    )
    with pytest.raises(
        InvalidValue,
        match=r"spec.containers\[1\].ports\[0\]: port 80/tcp is already used by "
        r"spec.containers\[0\].ports\[0\]",
    ):
        parse_template(template, LATEST)


def test_same_port_number_on_tcp_and_udp_is_fine() -> None:
    template = capsule(
        {"image": "a1", "ports": [{"containerPort": 53}]},
        {"image": "a2", "ports": [{"containerPort": 53, "protocol": "UDP"}]},
    )
    assert [m.ports for m in parse_template(template, LATEST).containers] == [
        [(53, "tcp")],
        [(53, "udp")],
    ]


def test_every_problem_is_reported_on_one_line() -> None:
    template = capsule({"image": "busybox", "env": {"A": 1}, "bogus": True})
    template["kind"] = "Pod"
    with pytest.raises(SchemaValidationError) as caught:
        parse_template(template, LATEST)
    text = str(caught.value)
    assert "kind: " in text
    assert "spec.containers[0].env.A: must be a string" in text
    assert "spec.containers[0].bogus: unknown key" in text
    assert "\n" not in text


def test_all_refusals_are_client_errors() -> None:
    for error in (SchemaValidationError, InvalidValue, InvalidParamInVersion):
        assert issubclass(error, Invalid)
