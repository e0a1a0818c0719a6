"""benchmarks/op_profile.py adds up each op once: shards run inside an op are part of it."""

import pytest

xplane_pb2 = pytest.importorskip("tensorflow.tsl.profiler.protobuf.xplane_pb2")

from benchmarks import op_profile  # noqa: E402


def trace(events, line_name="tf_Compute/1"):
    """An XSpace with one executor line of (name, start ps, duration ps) events."""
    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    line = plane.lines.add(name=line_name)
    for index, (name, start, duration) in enumerate(events, start=1):
        plane.event_metadata[index].id = index
        plane.event_metadata[index].name = name
        line.events.add(metadata_id=index, offset_ps=start, duration_ps=duration)
    return space


def test_nested_shards_and_executor_events_are_not_counted_twice():
    ms = 10**9  # picoseconds per millisecond
    space = trace([("ExecutorState::Process", 0, 300 * ms),
                   ("dropout/random:StatelessRandomUniformFullIntV2", 0, 100 * ms),
                   ("ParallelFor", 10 * ms, 50 * ms),
                   ("ParallelFor", 60 * ms, 40 * ms),
                   ("layer/MatMul:_MklMatMul", 120 * ms, 30 * ms)])
    times = op_profile.summed_op_times(space, calls=2)
    assert times == {("dropout/random:StatelessRandomUniformFullIntV2",
                      "dropout/random:StatelessRandomUniformFullIntV2"): 50.0,
                     ("layer/MatMul:_MklMatMul", "layer/MatMul:_MklMatMul"): 15.0}


def test_only_executor_lines_of_the_host_are_read():
    assert op_profile.summed_op_times(trace([("MatMul", 0, 10**9)], line_name="python"), calls=1) == {}
