"""The fit: NNLS against hand-solved cases, exact recovery of a known model, monotone predictions."""
import numpy as np
import pytest

from batchsim.simulator import profile_fit
from batchsim.simulator.profile_format import StepRecord


def test_nnls_matches_unconstrained_solution_when_it_is_positive():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    x_true = np.array([3.0, 0.5])
    assert np.allclose(profile_fit.nnls(a, a @ x_true), x_true)


def test_nnls_clamps_a_negative_coefficient_to_zero():
    # b = 2*x1 - 1*x2 exactly; with x2 >= 0 the best fit drops x2 and least-squares x1 alone
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = a @ np.array([2.0, -1.0])
    x = profile_fit.nnls(a, b)
    assert x[1] == 0.0
    assert x[0] == pytest.approx(np.dot(a[:, 0], b) / np.dot(a[:, 0], a[:, 0]))


def _synthetic_records():
    """Steps timed by a known law: 5 ms + 2 us/token above 64 tokens, 1 ns per KV token read, 20 us/seq."""
    def law(chunks, contexts):
        tokens = sum(n for n, _ in chunks) + len(contexts)
        dense = 5e-3 + 2e-6 * max(0, tokens - 64)
        pre = sum(n * (c + (n + 1) / 2) for n, c in chunks)
        return dense + 1e-9 * (sum(contexts) + len(contexts)) + 3e-11 * pre + 2e-5 * (len(chunks) + len(contexts))
    records = []
    for n in (16, 32, 64, 128, 256, 512, 1024, 2048, 4096):
        records.append(([(n, 0)], []))
    for n, c in ((512, 1024), (1024, 4096), (256, 2048)):
        records.append(([(n, c)], []))
    for batch in (1, 2, 4, 8, 16, 32, 64, 128):
        for ctx in (128, 1024, 4096):
            records.append(([], [ctx] * batch))
    records += [([], [64] * 15 + [4096]), ([(512, 0)], [1024] * 32), ([(2048, 0)], [512] * 8)]
    out = []
    for chunks, contexts in records:
        t = law(chunks, contexts)
        kind = "mixed" if chunks and contexts else ("prefill" if chunks else "decode")
        out.append(StepRecord(kind, tuple(chunks), len(contexts), sum(contexts), max(contexts, default=0),
                              t, t, t, t, t, t, 5))
    return out, law


def test_fit_recovers_a_model_of_its_own_form():
    records, law = _synthetic_records()
    feats = profile_fit.record_features(records)
    times = np.array([r.wall_s for r in records])
    model = profile_fit.fit(feats, times, "per-sequence/smooth-0.03")
    unseen = profile_fit.features_of([((700, 300),), ()], [0, 48], [0, 48 * 700], [0, 700])
    expected = [law([(700, 300)], []), law([], [700] * 48)]
    assert np.allclose(profile_fit.predict(model, unseen), expected, rtol=1e-3)


def test_held_out_error_of_an_exact_law_is_tiny_and_anchors_stay_in_the_fit():
    records, _ = _synthetic_records()
    feats = profile_fit.record_features(records)
    times = np.array([r.wall_s for r in records])
    errors = profile_fit.held_out_errors(feats, times, "per-sequence/smooth-0.03")
    held = errors[~np.isnan(errors)]
    assert held.size == len(records) - profile_fit.anchor_rows(feats).sum()
    assert held.max() < 0.5


def test_select_form_prefers_the_packed_term_when_time_follows_queries_times_keys():
    records, _ = _synthetic_records()
    feats = profile_fit.record_features(records)
    times = np.array([r.wall_s for r in records]) + 2e-12 * feats.packed
    form, report = profile_fit.select_form(feats, times)
    assert "packed" in form
    assert report[form]["mean_ape_pct"] < report["per-sequence/smooth-0.03"]["mean_ape_pct"]


def test_predictions_never_fall_as_tokens_or_context_grow():
    records, _ = _synthetic_records()
    feats = profile_fit.record_features(records)
    noisy = np.array([r.wall_s for r in records]) * np.random.default_rng(1).uniform(0.9, 1.1, len(records))
    model = profile_fit.fit(feats, noisy, "per-sequence+packed+max/smooth-0.03")
    sizes = np.arange(1, 9000, 7)
    prefill = profile_fit.predict(model, profile_fit.features_of([((int(n), 0),) for n in sizes],
                                                                 [0] * len(sizes), [0] * len(sizes), [0] * len(sizes)))
    assert np.all(np.diff(prefill) >= 0)
    decode = profile_fit.predict(model, profile_fit.features_of([()] * 64, list(range(1, 65)),
                                                                [b * 1000 for b in range(1, 65)], [1000] * 64))
    assert np.all(np.diff(decode) >= 0)
