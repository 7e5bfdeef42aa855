"""Cluster checks on the fake Kubernetes API: one test per failure scenario, the healthy world all ok."""

from __future__ import annotations

from tests.diagnose.world import World, findings, one


def test_a_healthy_cluster_gives_all_ok(world: World) -> None:
    report = world.diagnose("cluster")
    assert {f.code: f.status for f in report.findings} == {code: "ok" for code in (
        "JH301", "JH302", "JH303", "JH304", "JH305", "JH306", "JH307", "JH311", "JH315", "JH316", "JH317", "JH318",
        "JH320", "JH321")}, [f for f in report.findings if f.status != "ok"]
    assert report.exit_code == 0


# -- crash loops: the waiting reason, the previous log, the cause, the fix ---------------------------------------
HUB_LABELS = {"app": "jupyterhub", "component": "hub", "release": "jhub"}


def crash_hub(world: World, log: str) -> None:
    from tests.diagnose.world import pod, waiting

    name = "hub-5d4f8c7b9-x2k7q"
    world.kube.seed(pod(name, waiting("hub", world.hub_image, "CrashLoopBackOff",
                                      "back-off 5m0s restarting failed container=hub", restarts=7, exit_code=1),
                        labels=HUB_LABELS))
    world.kube.set_pod_log("jhub", name, log, "hub", previous=True)


def test_exec_format_error_in_the_hub_is_the_architecture_and_the_fix_rebuilds(world: World) -> None:
    crash_hub(world, "exec /usr/bin/tini: exec format error\n")
    report = world.diagnose("cluster")
    found = one(report, "JH312")
    assert found.status == "fail" and "exec format error" in found.summary
    assert "pod hub-5d4f8c7b9-x2k7q container hub: CrashLoopBackOff: back-off 5m0s restarting failed container=hub, " \
           "7 restarts, last exit 1 (Error)" in found.evidence
    assert "previous log of hub-5d4f8c7b9-x2k7q: exec /usr/bin/tini: exec format error" in found.evidence
    assert found.fix == "`jhubctl build-hub-image` builds for the nodes' architecture, then `jhubctl deploy-hub`"
    assert not findings(report, "JH311")  # the cause has its own code
    assert report.exit_code == 1


def test_a_missing_module_in_the_hub_image_names_the_module(world: World) -> None:
    crash_hub(world, "Traceback (most recent call last):\n  File \"<frozen runpy>\", line 198\n"
                     "ModuleNotFoundError: No module named 'jupyterhub_idle_culler'\n")
    found = one(world.diagnose("cluster"), "JH313")
    assert found.summary == "hub-5d4f8c7b9-x2k7q/hub crash-looping: the image lacks the module jupyterhub_idle_culler"
    assert "previous log of hub-5d4f8c7b9-x2k7q: ModuleNotFoundError: No module named 'jupyterhub_idle_culler'" \
        in found.evidence
    assert found.fix.startswith("the hub image lacks jupyterhub_idle_culler:")


def test_a_config_traceback_points_at_the_last_values_change(world: World) -> None:
    crash_hub(world, "[E 2024-05-01 10:00:01 JupyterHub application:1016] Exception while loading config file "
                     "/usr/local/etc/jupyterhub/jupyterhub_config.py\n    Traceback (most recent call last):\n"
                     '      File "/usr/local/etc/jupyterhub/jupyterhub_config.py", line 512, in <module>\n'
                     "    NameError: name 'cc' is not defined\n")
    found = one(world.diagnose("cluster"), "JH314")
    assert "NameError: name 'cc' is not defined" in found.summary
    assert "`helm rollback jhub --namespace jhub`" in found.fix and "`jhubctl deploy-hub`" in found.fix


def test_an_unexplained_crash_of_a_user_pod_sends_to_its_previous_log(world: World) -> None:
    from tests.diagnose.world import user_pod, waiting

    world.kube.seed(user_pod("user0", "c0", world.user_image,
                             waiting("notebook", world.user_image, "CrashLoopBackOff", restarts=4, exit_code=137)))
    world.kube.set_pod_log("jhub", "jupyter-user0--c0", "starting\nKilled\n", "notebook", previous=True)
    found = one(world.diagnose("cluster"), "JH311")
    assert found.status == "fail" and found.summary == "jupyter-user0--c0/notebook crash-looping (its last log shows " \
                                                       "no known cause)"
    assert "previous log of jupyter-user0--c0: Killed" in found.evidence
    assert found.fix == "read the whole log of its last run: `jhubctl logs user0 c0 --previous`"


def test_logs_are_read_once_per_crashing_container_and_image_and_never_for_healthy_pods(world: World) -> None:
    from tests.diagnose.world import add_users, user_pod, waiting

    add_users(world, 20, start=10)
    for i in range(3):  # three user pods crash the same way: one log read
        world.kube.seed(user_pod(f"user{i}", f"c{i}", world.user_image,
                                 waiting("notebook", world.user_image, "CrashLoopBackOff", restarts=2, exit_code=1)))
        world.kube.set_pod_log("jhub", f"jupyter-user{i}--c{i}", "exec /opt/conda/bin/python: exec format error",
                               "notebook", previous=True)
    crash_hub(world, "exec /usr/bin/tini: exec format error\n")
    report = world.diagnose("cluster")
    logs = [r for r in world.kube.requests if r.subresource == "log"]
    assert len(logs) == 2 and all(r.query.get("previous") == "true" for r in logs)
    crashes = findings(report, "JH312")
    assert sorted(len([e for e in f.evidence if e.startswith("pod ")]) for f in crashes) == [1, 3]
    user = next(f for f in crashes if "3 containers" in f.summary)
    assert user.fix == ("`jhubctl build-singleuser-image` builds for the nodes' architecture (or set "
                        "registry.singleuser_image to an image published for linux/amd64), then `jhubctl deploy-hub`")


# -- other waiting reasons ---------------------------------------------------------------------------------------
def test_image_pull_back_off_is_grouped_by_image_with_the_kubelets_message(world: World) -> None:
    from tests.diagnose.world import user_pod, waiting

    message = (f'Back-off pulling image "{world.user_image}": rpc error: code = Unknown desc = failed to authorize: '
               "401 Unauthorized")
    for i in range(3):
        world.kube.seed(user_pod(f"user{i}", f"c{i}", world.user_image,
                                 waiting("notebook", world.user_image, "ImagePullBackOff", message), phase="Pending"))
    report = world.diagnose("cluster")
    found = one(report, "JH315")
    assert found.summary == f"3 containers cannot pull {world.user_image}"
    assert f"pod jupyter-user1--c1 container notebook: ImagePullBackOff: {message}, 0 restarts" in found.evidence
    assert found.fix.startswith(f"the nodes may not pull from {world.registry.host}:")
    assert one(report, "JH317").status == "ok"  # a pull problem is not a scheduling problem


def test_a_hub_image_that_is_not_in_the_registry_says_build_it(world: World) -> None:
    from tests.diagnose.world import pod, waiting

    world.kube.seed(pod("hub-5d4f8c7b9-x2k7q", waiting("hub", world.hub_image, "ErrImagePull",
                                                       f'failed to pull "{world.hub_image}": not found'),
                        labels=HUB_LABELS, phase="Pending"))
    found = one(world.diagnose("cluster"), "JH315")
    assert found.fix == "the image is not in the registry: `jhubctl build-hub-image`, then `jhubctl deploy-hub`"


def test_create_container_config_error_names_the_missing_secret(world: World) -> None:
    from tests.diagnose.world import pod, waiting

    world.kube.seed(pod("hub-5d4f8c7b9-x2k7q", waiting("hub", world.hub_image, "CreateContainerConfigError",
                                                       'secret "hub" not found'), labels=HUB_LABELS, phase="Pending"))
    found = one(world.diagnose("cluster"), "JH316")
    assert found.status == "fail"
    assert 'pod hub-5d4f8c7b9-x2k7q container hub: CreateContainerConfigError: secret "hub" not found, 0 restarts' \
        in found.evidence
    assert found.fix == "`jhubctl deploy-hub`"


def test_pending_pods_show_their_scheduling_events(world: World) -> None:
    from tests.diagnose.world import event, user_pod

    reason = "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available."
    for i in range(2):
        world.kube.seed(user_pod(f"user{i}", f"c{i}", world.user_image, phase="Pending"))
        world.kube.seed(event("Pod", f"jupyter-user{i}--c{i}", "FailedScheduling", reason, n=i))
    found = one(world.diagnose("cluster"), "JH317")
    assert found.summary == f"2 pods cannot be scheduled: {reason}"
    assert f"event FailedScheduling: {reason}" in found.evidence
    assert found.fix == "`kubectl --namespace jhub describe pod jupyter-user0--c0`"


def test_a_pending_pod_without_events_is_only_starting(world: World) -> None:
    from tests.diagnose.world import user_pod

    world.kube.seed(user_pod("user0", "c0", world.user_image, phase="Pending"))
    found = one(world.diagnose("cluster"), "JH317")
    assert found.status == "ok" and "1 starting" in found.summary


def test_many_restarts_of_a_running_container_is_a_warning(world: World) -> None:
    from tests.diagnose.world import pod, running

    world.kube.seed(pod("hub-5d4f8c7b9-x2k7q", running("hub", world.hub_image, restarts=12), labels=HUB_LABELS))
    report = world.diagnose("cluster")
    found = one(report, "JH318")
    assert found.status == "warn" and found.fix == "read the whole log of its last run: `jhubctl logs hub --previous`"
    assert report.exit_code == 0  # a warning is not a failure


# -- images, storage, release ---------------------------------------------------------------------------------
def test_an_arm64_hub_image_on_amd64_nodes_fails_before_it_crashes(world: World) -> None:
    world.registry.push("k8s-hub", "3.1.0-0123456789ab", "linux/arm64")
    found = one(world.diagnose("cluster"), "JH303")
    assert found.status == "fail"
    assert found.summary == "the hub image has no build for the nodes' amd64 (exec format error)"
    assert "nodes: 2 amd64" in found.evidence and f"hub image {world.hub_image}: linux/arm64" in found.evidence
    assert found.fix == "`jhubctl build-hub-image` builds for the nodes' architecture, then `jhubctl deploy-hub`"


def test_a_user_image_without_the_nodes_arch_names_the_platform(make_world) -> None:
    world = make_world(arch="arm64")
    world.registry.push("singleuser", "3.1.0", "linux/amd64")
    found = one(world.diagnose("cluster"), "JH303")
    assert found.fix == ("`jhubctl build-singleuser-image` builds for the nodes' architecture (or set "
                        "registry.singleuser_image to an image published for linux/arm64), then `jhubctl deploy-hub`")


def test_without_an_image_of_your_own_the_deployed_user_image_is_checked(make_world) -> None:
    world = make_world(arch="arm64")
    world.write_config({"registry": {"singleuser_image": None}})
    world.registry.push("singleuser", "3.1.0-0123456789ab", "linux/amd64")
    built = f"{world.registry.host}/singleuser:3.1.0-0123456789ab"
    world.journal("build-singleuser-image", image=built, platform="linux/amd64")
    found = one(world.diagnose("cluster"), "JH303")
    assert f"user image {built}: linux/amd64" in found.evidence
    assert found.fix.startswith("`jhubctl build-singleuser-image` builds for the nodes' architecture")
    deployed = f"{world.registry.host}/singleuser:3.1.0"  # what deploy-hub put in the values wins
    world.journal("deploy-hub", release="jhub", namespace="jhub", revision=2, image=world.hub_image,
                  singleuser_image=deployed)
    assert f"user image {deployed}: linux/amd64, linux/arm64" in one(world.diagnose("cluster"), "JH303").evidence


def test_an_unreadable_registry_is_a_skip_with_the_reason(world: World) -> None:
    world.registry.anonymous_pull = False
    found = one(world.diagnose("cluster"), "JH303")
    assert found.status == "skip" and "gave no pull token anonymously" in found.summary


def test_the_csi_driver_with_the_default_policy_fails_with_the_field_seen(world: World) -> None:
    from tests.fakes.kube.objects import aks_blob_csidriver

    world.kube.seed(aks_blob_csidriver())
    found = one(world.diagnose("cluster"), "JH304")
    assert found.status == "fail"
    assert found.evidence == ("csidriver blob.csi.azure.com: spec.fsGroupPolicy=ReadWriteOnceWithFSType",)
    assert found.fix == ("`kubectl patch csidriver blob.csi.azure.com --type merge --patch "
                         "'{\"spec\":{\"fsGroupPolicy\":\"File\"}}'`")


def test_a_pending_claim_shows_its_events(world: World) -> None:
    from tests.diagnose.world import event

    world.kube.controllers.bind_claims = False
    claim = world.kube.get_object("persistentvolumeclaims", "azure-blob-nfs-pvc", "jhub")
    claim["status"] = {"phase": "Pending"}
    world.kube.seed(claim)
    world.kube.seed(event("PersistentVolumeClaim", "azure-blob-nfs-pvc", "VolumeMismatch",
                          'Cannot bind to requested volume "azure-blob-nfs-pv": storageClassName does not match'))
    found = one(world.diagnose("cluster"), "JH305")
    assert found.status == "fail" and found.summary == "claim jhub/azure-blob-nfs-pvc is Pending: user pods cannot start"
    assert ('event: VolumeMismatch: Cannot bind to requested volume "azure-blob-nfs-pv": storageClassName does not '
            "match") in found.evidence
    assert found.fix == "`jhubctl apply-storage`"


def test_a_release_left_pending_by_ctrl_c_is_rolled_back(world: World) -> None:
    world.set_release(status="pending-upgrade", revision=3)
    found = one(world.diagnose("cluster"), "JH306")
    assert found.status == "fail" and "pending-upgrade" in found.summary
    assert found.evidence == ("release jhub: revision 3, pending-upgrade, chart jupyterhub-3.1.0",)
    assert found.fix.startswith("`helm rollback jhub --namespace jhub`")


def test_a_release_on_another_chart_version_is_redeployed(world: World) -> None:
    world.set_release(chart="jupyterhub-3.2.1")
    found = one(world.diagnose("cluster"), "JH306")
    assert found.status == "fail" and "jupyterhub-3.2.1" in found.summary and found.fix == "`jhubctl deploy-hub`"


def test_a_release_changed_outside_jhubctl_is_a_warning(world: World) -> None:
    world.set_release(revision=5)
    found = one(world.diagnose("cluster"), "JH306")
    assert found.status == "warn" and "it recorded 2" in found.summary


def test_the_seeds_hub_image_of_another_version_than_the_chart_fails(world: World) -> None:
    from tests.diagnose.world import deployment

    seed_image = f"{world.registry.host}/k8s-hub:3.2.1"
    world.kube.seed(deployment("hub", seed_image))
    world.registry.push_index("k8s-hub", "3.2.1", ("linux/amd64",))
    found = one(world.diagnose("cluster"), "JH307")
    assert found.status == "fail"
    assert found.summary == "the hub image is version 3.2.1 on chart 3.1.0: the hub fails on config it does not know"
    assert f"hub image: {seed_image}" in found.evidence


# -- services ---------------------------------------------------------------------------------------------------
def test_a_service_without_ready_endpoints_names_its_selector(world: World) -> None:
    from tests.diagnose.world import endpoints

    world.kube.seed(endpoints("hub", [], ["hub-5d4f8c7b9-x2k7q"]))
    found = one(world.diagnose("cluster"), "JH320")
    assert found.status == "fail"
    assert "service hub (component=hub,release=jhub): 0 ready, 1 not ready" in found.evidence
    assert found.fix == "`jhubctl logs hub`"


def test_proxy_public_without_an_address_shows_its_events_and_the_likely_cause(world: World) -> None:
    from tests.diagnose.world import event, service

    world.kube.controllers.load_balancer_ip = None
    world.kube.seed(service("proxy-public", {"component": "proxy", "release": "jhub"}, "LoadBalancer"))
    world.kube.seed(event("Service", "proxy-public", "SyncLoadBalancerFailed",
                          "Error syncing load balancer: failed to ensure load balancer: no public IP address quota left"))
    found = one(world.diagnose("cluster"), "JH321")
    assert found.summary == "proxy-public has no external address: the subscription has no public IP left"
    assert "status.loadBalancer.ingress: <pending>" in found.evidence
    assert any("SyncLoadBalancerFailed" in line for line in found.evidence)
    assert found.fix == "free a public IP or raise the quota: `az network public-ip list --output table`"


def test_proxy_public_pending_without_any_event_suspects_no_load_balancer_controller(world: World) -> None:
    from tests.diagnose.world import service

    world.kube.controllers.settle = 10**6  # no controller acts: no event at all
    world.kube.seed(service("proxy-public", {"component": "proxy", "release": "jhub"}, "LoadBalancer"))
    found = one(world.diagnose("cluster"), "JH321")
    assert "no load-balancer controller" in found.summary
    assert found.fix == "`kubectl --namespace jhub describe service proxy-public`"


def test_a_node_not_ready_is_named_with_its_condition(world: World) -> None:
    from tests.diagnose.world import node

    world.kube.seed(node("aks-nodepool1-1", ready=False))
    found = one(world.diagnose("cluster"), "JH302")
    assert found.summary == "1 of 2 nodes are not Ready"
    assert ("node aks-nodepool1-1: Ready=False (KubeletNotReady: container runtime network not ready: "
            "NetworkReady=false)") in found.evidence
    assert found.fix == "`kubectl describe node aks-nodepool1-1`"


# -- an unreachable cluster, and what it costs ----------------------------------------------------------------------
def test_an_unreachable_cluster_fails_jh301_and_skips_the_rest_with_the_reason(world: World) -> None:
    world.kube.stop()
    report = world.diagnose("cluster")
    first = one(report, "JH301")
    assert first.status == "fail" and "cannot reach the Kubernetes API" in first.summary
    assert first.fix.startswith("check the kubeconfig and context: `kubectl --kubeconfig ")
    others = [f for f in report.findings if f.code != "JH301"]
    assert others and all(f.status == "skip" and "(JH301)" in f.summary for f in others), others
    world.kube.start()  # the fixture stops it again


def test_a_missing_kubeconfig_is_the_same_skip_not_a_crash(world: World) -> None:
    world.write_config({"kubernetes": {"kubeconfig": str(world.root / "nope")}})
    report = world.diagnose("cluster")
    assert one(report, "JH301").status == "fail" and "no such file" in one(report, "JH301").summary
    assert all(f.status == "skip" for f in report.findings if f.code != "JH301")


def test_the_api_calls_do_not_grow_with_healthy_pods(make_world) -> None:
    def calls(users: int) -> list[tuple[str, str]]:
        world = make_world(f"w{users}", users=users)
        world.diagnose("cluster")
        return sorted((r.verb or r.method, r.resource or r.path) for r in world.kube.requests)

    small, big = calls(2), calls(60)
    assert small == big
    lists = [c for c in big if c[0] == "list"]
    assert sorted(lists) == sorted({c for c in lists})  # one list per kind


def test_a_log_line_carrying_the_api_token_is_redacted(world: World) -> None:
    from tests.diagnose.world import TOKEN, user_pod, waiting

    world.kube.seed(user_pod("user0", "c0", world.user_image,
                             waiting("notebook", world.user_image, "CrashLoopBackOff", restarts=4, exit_code=1)))
    world.kube.set_pod_log("jhub", "jupyter-user0--c0", f"env JUPYTERHUB_API_TOKEN={TOKEN}\nsome other {TOKEN}\nbye\n",
                           "notebook", previous=True)
    found = one(world.diagnose("cluster"), "JH311")
    assert TOKEN not in str(found.as_dict())
    assert "previous log of jupyter-user0--c0: env JUPYTERHUB_API_TOKEN=<redacted>" in found.evidence
    assert "previous log of jupyter-user0--c0: some other <redacted>" in found.evidence
