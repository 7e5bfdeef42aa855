from tests.fakes.arm.fixtures import fake_arm, fake_arm_factory  # noqa: F401
from tests.fakes.graph.fixtures import fake_graph, fake_graph_factory  # noqa: F401
