"""Fitting a step-time model to profiled steps (numpy only).

The model prices a step in seconds from sums the simulator keeps for every step:

    time = dense(T) + c_prefill * [has prefill] + c_read * [reads cache] + c_seq * S
           + c_pre * A_pre + c_dec * A_dec + c_pack * T * K + c_max * D * M

with T new tokens, S sequences, A_pre = sum over prefill chunks of new * (cached + (new + 1) / 2)
(query-key pairs of causal attention per sequence), A_dec = decode context sum + decode count
(KV tokens read by decodes), [has prefill] = 1 when the step holds a prefill chunk (such steps
run eagerly where decode-only steps replay CUDA graphs), [reads cache] = 1 when it reads cached
KV (the engine's cache-gather path has a per-step cost), K = KV tokens the step reads in all (cached plus new, every sequence),
D decodes and M their longest context. ``dense`` is piecewise linear over T with non-negative
slopes between knots at powers of two: GEMM time bends at small T (weights are read once whatever
the batch) and is linear once compute-bound. ``T * K`` is the packed layout of paged SDPA, where
one masked attention spans every query against every key in the step; ``D * M`` is kernels that
pad decodes to the longest context. Which of these last two terms a profile needs is chosen by
held-out error (``select_form``). The strength of a weak smoothing penalty on the
dense slopes is chosen with the form. All coefficients are fitted non-negative (Lawson-Hanson NNLS on
relative error), so predicted time never falls when any token count grows.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from batchsim.simulator.profile_format import StepRecord

FORMS = {
    "per-sequence": (),
    "per-sequence+packed": ("pack",),
    "per-sequence+max": ("max",),
    "per-sequence+packed+max": ("pack", "max"),
}
LINEAR_TERMS = ("prefill_step", "read_step", "seq", "pre", "dec", "pack", "max")
ALWAYS_TERMS = ("prefill_step", "read_step", "seq", "pre", "dec")
SMOOTHINGS = (0.03, 0.3)
DEFAULT_CANDIDATE = "per-sequence/smooth-0.03"
# a candidate is a form with a smoothing strength, named "form/smooth-S"
CANDIDATES = {f"{form}/smooth-{strength}": (terms, strength)
              for form, terms in FORMS.items() for strength in SMOOTHINGS}


@dataclass(frozen=True)
class StepFeatures:
    """The sums a step is priced from, one array entry per step."""

    tokens: np.ndarray
    has_prefill: np.ndarray
    reads_cache: np.ndarray
    seqs: np.ndarray
    attn_prefill: np.ndarray
    attn_decode: np.ndarray
    packed: np.ndarray
    padded_decode: np.ndarray
    decodes: np.ndarray


@dataclass(frozen=True)
class FittedModel:
    """Coefficients of one fitted form: knots and cumulative dense time, linear terms in seconds."""

    form: str
    knots: tuple[float, ...]
    dense_at_knots: tuple[float, ...]  # seconds at each knot; linear beyond the last
    final_slope: float
    coefficients: dict


def pad_up(value: float, interval: int) -> float:
    """``value`` rounded up to a multiple of ``interval`` (an engine padding its inputs for CUDA graphs)."""
    return value if interval <= 1 else -(-value // interval) * interval


def features_of(chunks_list, decode_counts, context_sums, context_maxes, q_pad: int = 1,
                kv_pad: int = 1) -> StepFeatures:
    """Features of many steps given as parallel sequences. An engine that pads its inputs (to
    replay CUDA graphs) runs ``q_pad``-multiples of query tokens against ``kv_pad``-multiples of
    KV tokens: its dense work follows the padded tokens and its attention the padded KV."""
    tokens, has_prefill, reads, seqs, pre, dec, packed, padded, decodes = [], [], [], [], [], [], [], [], []
    for chunks, count, ctx_sum, ctx_max in zip(chunks_list, decode_counts, context_sums, context_maxes):
        new_total = pad_up(sum(new for new, _ in chunks) + count, q_pad)
        kv_true = sum(new + cached for new, cached in chunks) + ctx_sum + count
        kv_read = pad_up(kv_true, kv_pad)
        tokens.append(new_total)
        has_prefill.append(1.0 if chunks else 0.0)
        reads.append(1.0 if count or any(cached for _, cached in chunks) else 0.0)
        seqs.append(len(chunks) + count)
        pre.append(sum(new * (cached + (new + 1) / 2) for new, cached in chunks))
        # padded inputs: every step's attention reads the padded KV, prompt chunks' too
        dec.append(kv_read if kv_pad > 1 else ctx_sum + count)
        packed.append(new_total * kv_read)
        padded.append(count * ctx_max)
        decodes.append(count)
    as_array = lambda values: np.asarray(values, dtype=float)  # noqa: E731
    return StepFeatures(*(as_array(v) for v in (tokens, has_prefill, reads, seqs, pre, dec, packed, padded, decodes)))


def record_features(records: list[StepRecord], q_pad: int = 1, kv_pad: int = 1) -> StepFeatures:
    """Features of profiled steps."""
    return features_of([r.prefill_chunks for r in records], [r.decode_count for r in records],
                       [r.decode_context_sum for r in records], [r.decode_context_max for r in records],
                       q_pad, kv_pad)


def dense_knots(max_tokens: float) -> np.ndarray:
    """Knots at 0 and powers of two up to the first at or above ``max_tokens``."""
    top = max(1, int(np.ceil(np.log2(max(max_tokens, 1)))))
    return np.concatenate(([0.0], 2.0 ** np.arange(0, top + 1)))


def _ramps(tokens: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Column k is the part of T lying between knot k and knot k+1 (the last ramp is open)."""
    lows, highs = knots[:-1], np.append(knots[1:-1], np.inf)
    return np.clip(tokens[:, None] - lows[None, :], 0.0, highs[None, :] - lows[None, :])


def _design(feats: StepFeatures, knots: np.ndarray, terms: tuple[str, ...]) -> np.ndarray:
    linear = {"prefill_step": feats.has_prefill, "read_step": feats.reads_cache, "seq": feats.seqs, "pre": feats.attn_prefill, "dec": feats.attn_decode,
              "pack": feats.packed, "max": feats.padded_decode}
    used = [linear[name] for name in ALWAYS_TERMS + terms]
    return np.column_stack([np.ones_like(feats.tokens), _ramps(feats.tokens, knots), *used])


def _smoothing_rows(knots: np.ndarray, extra_terms: int, typical_s: float, strength: float) -> np.ndarray:
    """Penalty rows strength * (slope_k - slope_{k-1}) * span_k / typical time.

    Where no measured token count falls between two knots the data leaves that segment's slope
    free; this weak penalty then continues the neighbouring slopes (linear interpolation) instead
    of letting a kink land anywhere. Where data fixes the slopes it costs well under 1% error.
    """
    segments = len(knots) - 1
    rows = np.zeros((segments - 1, 1 + segments + len(ALWAYS_TERMS) + extra_terms))
    spans = np.diff(knots)
    for k in range(1, segments):
        weight = strength * spans[k] / typical_s
        rows[k - 1, 1 + k], rows[k - 1, k] = weight, -weight
    return rows


def nnls(a: np.ndarray, b: np.ndarray, max_iter: int = 500) -> np.ndarray:
    """Lawson-Hanson non-negative least squares: argmin ||a x - b|| subject to x >= 0."""
    n = a.shape[1]
    x, passive = np.zeros(n), np.zeros(n, dtype=bool)
    gradient = a.T @ (b - a @ x)
    tolerance = 1e-10 * max(1.0, float(np.abs(gradient).max(initial=0.0)))
    for _ in range(max_iter):
        if passive.all() or gradient[~passive].max(initial=-1.0) <= tolerance:
            break
        candidate = np.where(~passive, gradient, -np.inf)
        passive[int(np.argmax(candidate))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                break
            shrinking = passive & (z <= 0)
            alpha = np.min(x[shrinking] / (x[shrinking] - z[shrinking]))
            x = x + alpha * (z - x)
            passive &= x > 1e-15
            x[~passive] = 0.0
        x = z
        gradient = a.T @ (b - a @ x)
    return x


def _median(values: np.ndarray) -> float:
    # np.median's value (the middle one, or the mean of the middle two) without importing
    # numpy.ma, which np.median does on its first call: a tenth of a replay's start-up
    return float(statistics.median(np.asarray(values, dtype=np.float64).tolist()))


def fit(feats: StepFeatures, times_s: np.ndarray, form: str, max_tokens: float | None = None) -> FittedModel:
    """Fit one form on steps by non-negative least squares of relative error."""
    terms, strength = CANDIDATES[form]
    knots = dense_knots(max_tokens if max_tokens is not None else feats.tokens.max())
    weights = 1.0 / times_s
    design = np.vstack([_design(feats, knots, terms) * weights[:, None],
                        _smoothing_rows(knots, len(terms), _median(times_s), strength)])
    target = np.concatenate([np.ones_like(times_s), np.zeros(len(knots) - 2)])
    scale = np.linalg.norm(design, axis=0)
    scale[scale == 0] = 1.0
    solution = nnls(design / scale, target) / scale
    base, slopes, linear = solution[0], solution[1:len(knots)], solution[len(knots):]
    dense = base + np.concatenate(([0.0], np.cumsum(slopes[:-1] * np.diff(knots)[:-1])))
    names = ALWAYS_TERMS + terms
    coefficients = {name: 0.0 for name in LINEAR_TERMS}
    coefficients.update({name: float(value) for name, value in zip(names, linear)})
    return FittedModel(form, tuple(float(k) for k in knots[:-1]), tuple(float(v) for v in dense),
                       float(slopes[-1]), coefficients)


def predict(model: FittedModel, feats: StepFeatures) -> np.ndarray:
    """Vectorised prediction in seconds (the cost model's scalar path computes the same)."""
    knots = np.asarray(model.knots)
    index = np.clip(np.searchsorted(knots, feats.tokens, side="right") - 1, 0, len(knots) - 1)
    values = np.asarray(model.dense_at_knots)
    slopes = np.append(np.diff(values) / np.diff(knots), model.final_slope)
    dense = values[index] + slopes[index] * (feats.tokens - knots[index])
    c = model.coefficients
    return (dense + c["prefill_step"] * feats.has_prefill + c["read_step"] * feats.reads_cache + c["seq"] * feats.seqs + c["pre"] * feats.attn_prefill + c["dec"] * feats.attn_decode
            + c["pack"] * feats.packed + c["max"] * feats.padded_decode)


def anchor_rows(feats: StepFeatures) -> np.ndarray:
    """Rows holding a maximum of some feature: always fitted, so held-out points are interpolated."""
    anchors = np.zeros(len(feats.tokens), dtype=bool)
    for column in (feats.tokens, feats.seqs, feats.attn_prefill, feats.attn_decode,
                   feats.packed, feats.padded_decode):
        if column.max() > 0:
            anchors[np.argmax(column)] = True
    anchors[np.argmin(feats.tokens)] = True
    return anchors


def held_out_predictions(feats: StepFeatures, times_s: np.ndarray, form: str, folds: int = 10,
                         seed: int = 0) -> np.ndarray:
    """Seconds predicted for each row by a k-fold fit that left it out (NaN for anchors)."""
    anchors = anchor_rows(feats)
    candidates = np.flatnonzero(~anchors)
    order = np.random.default_rng(seed).permutation(candidates)
    predicted = np.full(len(times_s), np.nan)
    max_tokens = float(feats.tokens.max())
    for fold in range(min(folds, len(order))):
        test = order[fold::folds]
        train = np.setdiff1d(np.arange(len(times_s)), test)
        model = fit(_take(feats, train), times_s[train], form, max_tokens)
        predicted[test] = predict(model, _take(feats, test))
    return predicted


def held_out_errors(feats: StepFeatures, times_s: np.ndarray, form: str, folds: int = 10,
                    seed: int = 0) -> np.ndarray:
    """Absolute percentage errors of k-fold predictions on rows left out of the fit (NaN for anchors)."""
    return 100.0 * np.abs(held_out_predictions(feats, times_s, form, folds, seed) / times_s - 1.0)


# Regions of the step space whose held-out error is reported (and weighs equally in choosing the
# form): what a step holds, and whether its batch is large. A step is large from 64 sequences
# (decode or mixed) or from 2048 new tokens (prefill only).
REGIONS = ("prefill small", "prefill large", "decode small", "decode large", "mixed small", "mixed large")
LARGE_BATCH_SEQS = 64
LARGE_PREFILL_TOKENS = 2048


def regions_of(feats: StepFeatures) -> np.ndarray:
    """The region name of every step."""
    kind = np.where(feats.has_prefill == 0, "decode", np.where(feats.decodes > 0, "mixed", "prefill"))
    large = np.where(kind == "prefill", feats.tokens >= LARGE_PREFILL_TOKENS, feats.seqs >= LARGE_BATCH_SEQS)
    return np.char.add(np.char.add(kind, " "), np.where(large, "large", "small"))


def region_errors(feats: StepFeatures, errors: np.ndarray) -> dict:
    """Per region with held-out points: points, mean and worst absolute percentage error."""
    names = regions_of(feats)
    out = {}
    for region in REGIONS:
        chosen = (names == region) & ~np.isnan(errors)
        if chosen.any():
            out[region] = {"held_out_points": int(chosen.sum()),
                           "mean_ape_pct": round(float(errors[chosen].mean()), 3),
                           "worst_ape_pct": round(float(errors[chosen].max()), 3)}
    return out


def _take(feats: StepFeatures, rows: np.ndarray) -> StepFeatures:
    return StepFeatures(*(getattr(feats, name)[rows] for name in StepFeatures.__dataclass_fields__))


def select_form(feats: StepFeatures, times_s: np.ndarray) -> tuple[str, dict]:
    """The candidate with the lowest held-out error averaged over regions, each region's mean
    counting once, so that many small steps do not outvote the few large ones a loaded run
    visits (ties within 0.1 points go to fewer terms, then to weaker smoothing)."""
    report = {}
    for form in CANDIDATES:
        errors = held_out_errors(feats, times_s, form)
        held = errors[~np.isnan(errors)]
        regions = region_errors(feats, errors)
        report[form] = {"mean_ape_pct": round(float(held.mean()), 3) if held.size else None,
                        "worst_ape_pct": round(float(held.max()), 3) if held.size else None,
                        "held_out_points": int(held.size),
                        "region_mean_ape_pct": round(float(np.mean([r["mean_ape_pct"] for r in regions.values()])), 3)
                        if regions else None}
    scored = [(report[f]["region_mean_ape_pct"], len(CANDIDATES[f][0]), CANDIDATES[f][1], f)
              for f in CANDIDATES if report[f]["region_mean_ape_pct"] is not None]
    if not scored:
        return DEFAULT_CANDIDATE, report
    best_mean = min(score for score, _, _, _ in scored)
    return min((terms, strength, form) for score, terms, strength, form in scored if score <= best_mean + 0.1)[2], report
