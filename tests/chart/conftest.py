from tests.cluster.conftest import cluster_env, make_cluster_env, tiny_lock  # noqa: F401
from tests.fakes.tools.fixtures import tools  # noqa: F401
