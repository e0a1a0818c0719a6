"""Runs a stream of tasks in worker processes, with a bounded number queued at a time.

The tasks come from a callable, so the caller may make a task only when it may start
(create_pretraining_data's chunks, for example, wait for the blocks they need).
"""

import concurrent.futures
import ctypes
import multiprocessing
import os

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h


def run_tasks(next_task, num_workers):
    """Runs tasks until `next_task()` has none left and none is running.

    Args:
        next_task: returns a (function, args, on_done) triple for a task that may start now,
            or None. `on_done(function(*args))` runs in this process, in completion order.
        num_workers: processes; 1 runs every task in this process, in order.

    Raises:
        RuntimeError: a worker process died. Any exception of a task or of `on_done` is raised
            here, after the tasks still running are stopped.
    """
    if num_workers == 1:
        while task := next_task():
            function, args, on_done = task
            on_done(function(*args))
        return
    # "spawn": fresh workers, safe whatever threads (tokenizers, TensorFlow) this process runs.
    executor = concurrent.futures.ProcessPoolExecutor(
        num_workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
    )
    running = {}
    failed = True
    try:
        while True:
            while len(running) < 2 * num_workers and (task := next_task()):
                function, args, on_done = task
                running[executor.submit(function, *args)] = on_done
            if not running:
                break
            finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                running.pop(future)(future.result())
        failed = False
    except concurrent.futures.process.BrokenProcessPool:
        raise RuntimeError("a worker process died (killed, or out of memory?)") from None
    finally:
        if failed:
            # Stop the tasks still running; the executor has no public way to do so before Python 3.14.
            for process in list(executor._processes.values()):
                process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)


def _init_worker():
    # The workers already fill the cores; the tokenizers' own thread pool would only contend.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    keep_freed_memory()


def keep_freed_memory():
    """Lets glibc's malloc reuse freed memory instead of returning it to the system.

    Every chunk allocates and frees arrays of a few MB. By default each comes from a
    fresh mmap, whose pages the kernel then zero-fills on first touch: a fifth of the
    chunk's time. Peak memory is unchanged. Does nothing without glibc.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)
