"""Slot assignment from per-request times, checked against hand-drawn occupancy."""
import pandas as pd

from batchsim.plots.slots import assign_slots, first_admitted


def requests(rows):
    """rows: (id, admitted_s, finish_s); arrival = admission (no queueing)."""
    return pd.DataFrame({"request_id": [r[0] for r in rows], "arrival_s": [r[1] for r in rows],
                         "queue_s": [0.0] * len(rows), "finish_s": [r[2] for r in rows],
                         "status": ["finished"] * len(rows)})


def test_continuous_refills_a_slot_when_its_request_finishes():
    bars = assign_slots(requests([(0, 0.0, 1.0), (1, 0.0, 3.0), (2, 1.0, 2.0), (3, 2.5, 4.0)]),
                        static=False)
    slots = {b.request_id: b.slot for b in bars}
    assert slots == {0: 0, 1: 1, 2: 0, 3: 0}
    assert all(b.release_s == b.finish_s for b in bars)


def test_static_batch_holds_every_slot_until_its_longest_request_ends():
    table = requests([(0, 0.0, 1.0), (1, 0.0, 3.0), (2, 0.0, 2.0), (3, 3.0, 4.0), (4, 3.0, 3.5)])
    bars = {b.request_id: b for b in assign_slots(table, static=True)}
    assert [bars[i].release_s for i in (0, 1, 2)] == [3.0, 3.0, 3.0]
    assert [bars[i].release_s for i in (3, 4)] == [4.0, 4.0]
    # the second batch starts when the first ends and reuses slots 0 and 1
    assert sorted(bars[i].slot for i in (3, 4)) == [0, 1]
    assert sorted(bars[i].slot for i in (0, 1, 2)) == [0, 1, 2]


def test_rounded_times_do_not_open_extra_slots():
    # requests.csv keeps 9 significant digits: the next batch may appear to start a hair early
    table = requests([(0, 1000.0, 1003.0), (1, 1002.9999995, 1005.0)])
    assert [b.slot for b in assign_slots(table, static=True)] == [0, 0]


def test_first_admitted_keeps_the_earliest_finished_requests():
    table = requests([(0, 5.0, 6.0), (1, 1.0, 2.0), (2, 3.0, 4.0)])
    table.loc[2, "status"] = "rejected"
    assert list(first_admitted(table, 5)["request_id"]) == [1, 0]
