"""Calibration: fit a calibrated profile's coefficients to real runs from per-request times alone.

Mechanism: each run is re-simulated (its own arrivals and lengths, the engine's mirrored
settings) with steps priced by the roofline under candidate coefficients
(simulator.calibrated_cost), and the simulated requests are compared with the real ones on what
a user reads: the TTFT, TPOT and E2E distributions (deciles, P99 and mean) and output
throughput. The loss is the mean squared log ratio, simulated over real, of those numbers over
every fitted run, minimized by a Nelder-Mead search in log coordinates within physical bounds
(a fixed start at the roofline's defaults and a fixed budget of simulations: deterministic). Only each request's arrival, first-token and last-token times and lengths are
used: what a vLLM user can record from outside the engine.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from batchsim.planning.observed import ObservedRun
from batchsim.planning.validate import Comparison, compare
from batchsim.simulator.calibrated_cost import Coefficients, calibrated_cost_model
from batchsim.simulator.summary import request_table

QUANTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 99)
# (lowest, highest, first value tried when the coefficient is 0)
BOUNDS = {"host_s": (1e-4, 0.05, 1e-3), "hbm_fraction": (0.1, 1.0, 0.5),
          "flop_fraction": (0.1, 1.0, 0.5), "per_sequence_s": (0.0, 1e-3, 1e-5),
          "per_token_s": (0.0, 1e-4, 1e-6)}
START_FACTOR, MAX_EVALUATIONS = 1.6, 150


@dataclass
class CalibrationFit:
    """The fitted coefficients and how well they reproduce the fitted runs."""

    coefficients: Coefficients
    loss: float
    evaluations: int
    comparisons: list[Comparison]


def _summary_numbers(ttft, tpot, e2e, throughput) -> np.ndarray:
    numbers = [throughput]
    for values in (ttft, tpot, e2e):
        values = values[np.isfinite(values)]
        numbers += [float(np.mean(values))] + [float(np.percentile(values, q)) for q in QUANTILES]
    return np.array(numbers)


def real_numbers(run: ObservedRun) -> np.ndarray:
    """The numbers the loss compares, from the real requests (seconds; tokens/s)."""
    reqs = run.requests
    known = reqs.first_token_known & np.isfinite(reqs.last_token_s)
    multi = known & (reqs.output_tokens > 1)
    done = np.isfinite(reqs.last_token_s)
    duration = reqs.last_token_s[done].max() - reqs.arrival_s.min()
    return _summary_numbers(
        (reqs.first_token_s - reqs.arrival_s)[known],
        (reqs.last_token_s - reqs.first_token_s)[multi] / (reqs.output_tokens[multi] - 1),
        (reqs.last_token_s - reqs.arrival_s)[done], reqs.output_tokens[done].sum() / duration)


def simulated_numbers(comparison: Comparison) -> np.ndarray:
    """The same numbers from the simulated requests."""
    table = request_table(comparison.run.result)
    done = table["finished"]
    duration = table["finish_s"][done].max() - table["arrival_s"].min()
    return _summary_numbers(table["ttft_s"][done], table["tpot_s"][done], table["e2e_s"][done],
                            table["output_tokens"][done].sum() / duration)


def evaluate(coefficients: Coefficients, run: ObservedRun, name: str = "calibrated") -> Comparison:
    """Simulate ``run`` with these coefficients carried to its model and GPU."""
    return compare(run, cost_model=calibrated_cost_model(coefficients, run.model, run.gpu, name))


def loss(coefficients: Coefficients, runs: list[ObservedRun], targets: list[np.ndarray]) -> float:
    """Mean squared log ratio of simulated to real numbers over ``runs``."""
    errors = []
    for run, real in zip(runs, targets):
        simulated = simulated_numbers(evaluate(coefficients, run))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log(np.maximum(simulated, 1e-9) / np.maximum(real, 1e-9))
        errors.append(ratio)
    return float(np.mean(np.concatenate(errors) ** 2))


NAMES = tuple(BOUNDS)
_ZERO_FLOOR = {"per_sequence_s": 1e-7, "per_token_s": 1e-9}  # values at or below are zero


def _to_vector(coefficients: Coefficients) -> np.ndarray:
    """Search coordinates: the log of each coefficient (costs that may be zero start at a floor
    whose log stands for zero)."""
    return np.array([math.log(max(getattr(coefficients, name), _ZERO_FLOOR.get(name, 1e-12)))
                     for name in NAMES])


def _from_vector(x: np.ndarray) -> Coefficients:
    values = {}
    for name, value in zip(NAMES, np.exp(x)):
        low, high, _ = BOUNDS[name]
        value = float(min(max(value, low), high))
        values[name] = 0.0 if value <= _ZERO_FLOOR.get(name, 0.0) else value
    return Coefficients(**values)


def _simplex(x0: np.ndarray) -> list[np.ndarray]:
    """The starting simplex: the start and one point per coordinate a step away (costs that
    start at zero step to their seed value)."""
    points = [x0]
    for i, name in enumerate(NAMES):
        point = x0.copy()
        seed = math.log(BOUNDS[name][2])
        point[i] = seed if name in _ZERO_FLOOR and x0[i] <= math.log(_ZERO_FLOOR[name]) else x0[i] - math.log(START_FACTOR)
        points.append(point)
    return points


def fit(runs: list[ObservedRun], start: Coefficients | None = None,
        name: str = "calibrated", on_evaluation=None) -> CalibrationFit:
    """Nelder-Mead search, in log coordinates, for the coefficients that best reproduce ``runs``
    (see module docstring); deterministic: a fixed start, simplex and evaluation budget.
    ``on_evaluation()``, if given, is called after each evaluation (for a progress bar)."""
    if not runs:
        raise ValueError("calibration needs at least one run")
    targets = [real_numbers(run) for run in runs]

    def objective(x):
        value = loss(_from_vector(x), runs, targets)
        if on_evaluation:
            on_evaluation()
        return value

    points = _simplex(_to_vector(start or Coefficients()))
    values = [objective(p) for p in points]
    evaluations = len(points)
    while evaluations < MAX_EVALUATIONS:
        order = np.argsort(values, kind="stable")
        points, values = [points[i] for i in order], [values[i] for i in order]
        if values[-1] - values[0] < 1e-7:
            break
        centroid = np.mean(points[:-1], axis=0)
        reflected = centroid + (centroid - points[-1])
        value = objective(reflected)
        evaluations += 1
        if value < values[0]:
            expanded = centroid + 2.0 * (centroid - points[-1])
            expanded_value = objective(expanded)
            evaluations += 1
            points[-1], values[-1] = ((expanded, expanded_value) if expanded_value < value
                                      else (reflected, value))
        elif value < values[-2]:
            points[-1], values[-1] = reflected, value
        else:
            contracted = centroid + 0.5 * (points[-1] - centroid)
            contracted_value = objective(contracted)
            evaluations += 1
            if contracted_value < values[-1]:
                points[-1], values[-1] = contracted, contracted_value
            else:  # shrink toward the best point
                for i in range(1, len(points)):
                    points[i] = points[0] + 0.5 * (points[i] - points[0])
                    values[i] = objective(points[i])
                evaluations += len(points) - 1
    best = int(np.argmin(values))
    coefficients = _from_vector(points[best])
    return CalibrationFit(coefficients, values[best], evaluations,
                          [evaluate(coefficients, run, name) for run in runs])


def error_rows(comparison: Comparison) -> dict:
    """Metric -> relative error of one comparison (for calibration.yaml)."""
    return {row["metric"]: round(float(row["rel_error"]), 4) for row in comparison.rows()}


def calibration_meta(name: str, fitted: CalibrationFit, held_out: list[Comparison]) -> dict:
    """What calibration.yaml records: coefficients, the runs behind them, errors fitted and held out."""
    first = fitted.comparisons[0].record
    return {
        "name": name, "kind": "calibrated",
        "coefficients": {k: float(f"{v:.6g}") for k, v in asdict(fitted.coefficients).items()},
        "calibrated_on": {"gpu": asdict(first.gpu), "model": first.model.to_hf_config()},
        "carried_by": "fractions of the target GPU's datasheet FLOP/s and HBM bandwidth; host, "
                      "per-sequence and per-token times as they are",
        "fit": {"loss": round(fitted.loss, 6), "evaluations": fitted.evaluations,
                "runs": {c.record.source: error_rows(c) for c in fitted.comparisons}},
        "held_out": {c.record.source: error_rows(c) for c in held_out},
    }
