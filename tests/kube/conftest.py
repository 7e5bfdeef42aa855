from tests.fakes.kube.fixtures import fake_kube, fake_kube_factory, kubeconfig  # noqa: F401
