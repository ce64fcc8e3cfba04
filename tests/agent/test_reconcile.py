"""Pure reconcile logic: which engine steps bring a container to its desired state."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from dockyard.agent.reconcile import Step, plan, report_of, run_spec, zun_status
from dockyard.domain.containerspec import ContainerSpec, Healthcheck, RestartPolicy
from dockyard.runtime.base import EngineContainer
from dockyard.schemas.agent import Assignment, SandboxRef
from dockyard.schemas.netplane import PortBinding

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPEC_FIELDS = {f.name for f in fields(ContainerSpec)}


def desired(state: str = "running", **kw: Any) -> Assignment:
    """An assignment; keywords that name a ContainerSpec field go into its spec."""
    spec: dict[str, Any] = {"image": "img", "cpu": 1.0, "memory": 64}
    spec.update({k: kw.pop(k) for k in SPEC_FIELDS & set(kw)})
    base: dict[str, Any] = {
        "uuid": "u1", "project_id": "p", "generation": 2, "observed_generation": 1,
        "desired_state": state, "state_requested_at": T0, "status": "Creating",
        "spec": ContainerSpec(**spec),
    }  # fmt: skip
    base.update(kw)
    return Assignment(**base)


def engine(state: str, started: datetime | None = None, **kw: Any) -> EngineContainer:
    return EngineContainer(id="e1", uuid="u1", state=state, started_at=started, **kw)


def test_new_container_to_run_is_created_then_started() -> None:
    assert plan(desired(), None, pending=True) == [Step.CREATE, Step.START]


def test_new_container_to_create_only_is_not_started() -> None:
    assert plan(desired("created"), None, pending=True) == [Step.CREATE]


def test_container_removed_behind_our_back_is_not_recreated() -> None:
    assert plan(desired(container_id="e1"), None, pending=True) == []


def test_created_container_asked_to_run_is_started() -> None:
    assert plan(desired(), engine("created"), pending=True) == [Step.START]


def test_container_that_exited_after_its_start_is_left_alone() -> None:
    exited = engine("exited", started=T0 + timedelta(seconds=1))
    assert plan(desired(), exited, pending=True) == []


def test_container_stopped_before_a_new_start_request_is_started() -> None:
    exited = engine("exited", started=T0 - timedelta(seconds=5))
    assert plan(desired(), exited, pending=True) == [Step.START]


def test_running_container_is_restarted_once_for_a_reboot() -> None:
    reboot_at = T0 + timedelta(seconds=10)
    before = engine("running", started=T0)
    after = engine("running", started=reboot_at + timedelta(seconds=1))
    want = desired(reboot_requested_at=reboot_at)
    assert plan(want, before, pending=True) == [Step.RESTART]
    assert plan(want, after, pending=True) == []


def test_paused_container_asked_to_run_is_unpaused_not_restarted() -> None:
    paused = engine("paused", started=T0 - timedelta(seconds=5))
    assert plan(desired(), paused, pending=True) == [Step.UNPAUSE]


def test_running_container_asked_to_stop_is_stopped_and_then_left_alone() -> None:
    assert plan(desired("stopped"), engine("running", T0), pending=True) == [Step.STOP]
    assert plan(desired("stopped"), engine("exited", T0), pending=True) == []


def test_running_container_asked_to_pause_is_paused() -> None:
    assert plan(desired("paused"), engine("running", T0), pending=True) == [Step.PAUSE]


def test_deleted_container_is_removed_when_it_exists() -> None:
    assert plan(desired("deleted"), engine("running", T0), pending=True) == [Step.REMOVE]
    assert plan(desired("deleted"), None, pending=True) == []


def test_stale_resources_are_applied_before_other_steps() -> None:
    steps = plan(desired("stopped"), engine("running", T0), pending=True, resources_stale=True)
    assert steps == [Step.UPDATE_RESOURCES, Step.STOP]


def test_drift_without_pending_intent_is_observed_not_fought() -> None:
    paused_by_hand = engine("paused", started=T0 + timedelta(seconds=1))
    started_by_hand = engine("running", started=T0 + timedelta(seconds=1))
    assert plan(desired(), paused_by_hand, pending=False) == []
    assert plan(desired("stopped"), started_by_hand, pending=False) == []
    assert plan(desired("deleted"), started_by_hand, pending=False) == [Step.REMOVE]


def test_engine_states_map_to_zun_statuses() -> None:
    expected = {
        "created": "Created", "running": "Running", "paused": "Paused",
        "restarting": "Restarting", "exited": "Stopped", "dead": "Dead", "weird": "Unknown",
    }  # fmt: skip
    assert {s: zun_status(engine(s)).value for s in expected} == expected


def test_report_carries_addresses_and_exit_code_of_a_stopped_container() -> None:
    stopped = engine("exited", T0, exit_code=3, ip_addresses=["172.17.0.5"], ports=[80])
    report = report_of(desired(), stopped)
    assert report.status == "Stopped"
    assert report.exit_code == 3
    assert report.addresses == {
        "default": [
            {"addr": "172.17.0.5", "version": 4, "port": None, "subnet_id": None,
             "preserve_on_delete": False}
        ]
    }  # fmt: skip
    assert report.ports == [80]


def test_run_spec_translates_restart_policy_ports_and_healthcheck() -> None:
    spec = run_spec(
        desired(
            restart_policy=RestartPolicy("on-failure", 3),
            exposed_ports=["80/tcp", "53/udp"],
            healthcheck=Healthcheck("true", interval=2, retries=1, timeout=1),
        ),
        host="h1",
    )
    assert (spec.restart_policy.name, spec.restart_policy.maximum_retry_count) == ("on-failure", 3)
    assert spec.exposed_ports == [(80, "tcp"), (53, "udp")]
    assert spec.healthcheck is not None
    assert spec.healthcheck.interval == 2
    assert spec.host == "h1"
    assert spec.memory_mib == 64


def test_only_a_standalone_container_on_tenant_networks_is_held() -> None:
    port = PortBinding(
        port_id="p1", network_id="n1", ip="10.0.0.5", prefixlen=24, mac="02:00:00:00:00:05"
    )
    alone = run_spec(desired(ports=[port]), host="h1")
    assert alone.hold  # its namespace is made by its start
    assert not alone.engine_network
    boxed = run_spec(desired(sandbox=SandboxRef(uuid="s1")), host="h1", sandbox_engine_id="e0")
    assert not boxed.hold  # its sandbox's ports are plugged before it joins
    assert not run_spec(desired(), host="h1").hold  # on the engine's network: nothing to wait


def test_events_that_confirm_what_is_known_are_not_news() -> None:
    from dockyard.agent.reconcile import event_is_news

    running = engine("running", T0)
    assert not event_is_news("start", running)
    assert not event_is_news("create", running)
    assert event_is_news("die", running)
    assert event_is_news("pause", running)
    assert event_is_news("destroy", running)
    assert not event_is_news("destroy", None)
    assert event_is_news("create", None)
    assert event_is_news("health_status", running)


def made_at(generation: int, state: str = "running") -> EngineContainer:
    return engine(state, T0, labels={"io.dockyard.generation": str(generation)})


def test_rebuild_remakes_a_container_made_before_it_in_the_asked_for_state() -> None:
    asked = desired(rebuild_generation=2)
    assert plan(asked, made_at(1), pending=True) == [Step.REMOVE, Step.CREATE, Step.START]
    stopped = desired("stopped", rebuild_generation=2)
    assert plan(stopped, made_at(1, "exited"), pending=True) == [Step.REMOVE, Step.CREATE]


def test_rebuild_leaves_a_container_the_rebuild_or_a_later_change_made() -> None:
    assert plan(desired(rebuild_generation=2), made_at(2), pending=True) == []
    assert plan(desired(rebuild_generation=2, generation=3), made_at(3), pending=True) == []


def test_rebuild_interrupted_after_the_remove_creates_the_container() -> None:
    # the control plane clears container_id with the rebuild, so a missing one is made
    assert plan(desired(rebuild_generation=2), None, pending=True) == [Step.CREATE, Step.START]
