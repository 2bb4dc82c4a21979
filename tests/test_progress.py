"""The run's progress files (transforms/common/progress.py), written by the threads of one process at once.

Beam may run several bundles of one DoFn on threads of one process (--direct_running_mode=multi_threading,
a Dataflow worker's harness threads); each bundle's end flushes the process's shared Progress. bench.worker_memory
with four threads failed on this: two threads replaced the same temporary counts file.
"""
import shutil
import threading
import uuid

from transforms.common import progress


def test_threads_of_one_process_flush_at_once_without_losing_a_line_or_a_count():
    run_id = uuid.uuid4().hex
    shared = progress.Progress.of(run_id)
    threads, per_thread = 8, 40
    start = threading.Barrier(threads)
    failures = []

    def work(k: int):
        start.wait()
        try:
            for i in range(per_thread):
                shared.planned()
                shared.finished(f"clip-{k}-{i}.mp4", "success", 10, 0.1)
                shared.flush()   # as every bundle's end does
        except Exception as exc:  # noqa: BLE001 - any failure of a thread is the test's failure
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert failures == []
        folder = progress.run_folder(run_id)
        assert progress.read_counts(folder) == {"planned": threads * per_thread, "done": threads * per_thread,
                                                "missing": 0, "reused": 0}
        with open(f"{folder}/{progress.LOG_FILE}") as log:
            lines = log.read().splitlines()
        assert len(lines) == threads * per_thread
        assert sorted(int(text[1:].split("/")[0]) for text in lines) == list(range(1, threads * per_thread + 1))
    finally:
        shutil.rmtree(progress.run_folder(run_id), ignore_errors=True)
