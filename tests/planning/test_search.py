"""Galloping searches find the transition, verify both sides, and ask few questions."""
import math

import pytest

from batchsim.planning.search import fewest_meeting, highest_meeting_scale


class Counting:
    def __init__(self, answer):
        self.answer, self.asked = answer, []

    def __call__(self, value):
        self.asked.append(value)
        return self.answer(value)


@pytest.mark.parametrize("threshold", [1, 2, 3, 7, 25, 64, 100])
@pytest.mark.parametrize("guess", [1, 5, 30, 200])
def test_fewest_meeting_finds_the_threshold(threshold, guess):
    meets = Counting(lambda n: n >= threshold)
    assert fewest_meeting(meets, guess, limit=1024) == threshold
    assert threshold in meets.asked and (threshold == 1 or threshold - 1 in meets.asked)
    # gallop plus bisection: about 2 log2(distance) questions
    assert len(meets.asked) <= 2 * math.ceil(math.log2(abs(threshold - guess) + 2)) + 2


def test_a_good_guess_costs_two_questions():
    meets = Counting(lambda n: n >= 25)
    assert fewest_meeting(meets, 25) == 25
    assert meets.asked == [25, 24]


def test_fewest_meeting_gives_up_at_the_limit():
    with pytest.raises(ValueError, match="no count up to 16"):
        fewest_meeting(lambda n: False, 1, limit=16)


def test_non_monotone_answers_still_give_a_verified_transition():
    answers = {1: False, 2: True, 3: False, 4: True, 5: True, 6: True, 7: True, 8: True}
    found = fewest_meeting(lambda n: answers.get(n, True), 1, limit=8)
    assert answers[found] and not answers.get(found - 1, False)


def many(meets):
    return lambda scales: [meets(s) for s in scales]


@pytest.mark.parametrize("probes", [1, 2, 3])
@pytest.mark.parametrize("threshold", [0.013, 0.3, 1.0, 1.7, 9.5])
def test_highest_scale_brackets_the_threshold_to_tolerance(threshold, probes):
    meets = Counting(lambda s: s <= threshold)
    bracket = highest_meeting_scale(many(meets), 1.0, None, rel_tolerance=0.02, probes=probes)
    assert bracket.meeting <= threshold < bracket.failing
    assert bracket.failing / bracket.meeting <= 1.02
    assert meets(bracket.meeting) and not meets(bracket.failing)


def test_a_bracket_guess_is_checked_not_trusted():
    meets = Counting(lambda s: s <= 1.5)
    bracket = highest_meeting_scale(many(meets), 1.0, 1.1, rel_tolerance=0.05)  # 1.1 is wrong
    assert bracket.meeting <= 1.5 < bracket.failing


def test_highest_scale_none_when_nothing_meets_and_error_when_nothing_fails():
    assert highest_meeting_scale(many(lambda s: False), 1.0, lowest=1e-3) is None
    with pytest.raises(ValueError, match="still meets"):
        highest_meeting_scale(many(lambda s: True), 1.0, highest=64)


def test_more_probes_take_fewer_rounds():
    rounds = {}
    for probes in (1, 3):
        calls = []
        highest_meeting_scale(lambda scales: calls.append(scales) or [s <= 3.3 for s in scales],
                              1.0, None, rel_tolerance=0.01, probes=probes)
        rounds[probes] = len(calls)
    assert rounds[3] < rounds[1]


def test_a_known_meeting_guess_is_not_asked_again():
    asked = []
    bracket = highest_meeting_scale(lambda scales: asked.extend(scales) or
                                    [s <= 2.5 for s in scales], 1.0, None,
                                    rel_tolerance=0.05, probes=2, known_meeting=True)
    assert 1.0 not in asked and asked[:2] == [2.0, 4.0]
    assert bracket.meeting <= 2.5 < bracket.failing


@pytest.mark.parametrize("probes", [2, 3])
@pytest.mark.parametrize("threshold", [0.013, 0.3, 1.7, 9.5])
def test_a_lazy_answerer_gives_the_same_bracket_from_fewer_questions(threshold, probes):
    eager, lazy = Counting(lambda s: s <= threshold), Counting(lambda s: s <= threshold)
    for guess_known in (False, True):
        first = highest_meeting_scale(many(eager), min(1.0, threshold), None, 0.02,
                                      probes=probes, known_meeting=guess_known)
        second = highest_meeting_scale(lambda scales: (lazy(s) for s in scales),
                                       min(1.0, threshold), None, 0.02, probes=probes,
                                       known_meeting=guess_known)
        assert first == second
    # every answer the lazy search read was one the eager search asked for, and some were skipped
    assert set(lazy.asked) <= set(eager.asked) and len(lazy.asked) < len(eager.asked)


@pytest.mark.parametrize("threshold", [1, 2, 3, 7, 25, 64])
@pytest.mark.parametrize("guess", [1, 5, 30])
def test_the_count_below_a_known_meeting_one_is_asked_through_meets_below_known(threshold,
                                                                              guess):
    answers = {}

    def ask(how):
        def answer(n):
            assert n not in answers  # every count is asked once, whichever way
            answers[n] = (n >= threshold, how)
            return answers[n][0]
        return answer

    plain = Counting(lambda n: n >= threshold)
    assert fewest_meeting(ask("meets"), guess, 1024, ask("below_known")) == threshold
    fewest_meeting(plain, guess, 1024)
    assert list(answers) == plain.asked  # the same questions in the same order
    for n, (_, how) in answers.items():
        # asked in full only where n + 1 had already been seen to meet
        known = n + 1 in answers and list(answers).index(n + 1) < list(answers).index(n) \
            and answers[n + 1][0]
        assert (how == "below_known") == known
    if threshold > 1 and list(answers).index(threshold) < list(answers).index(threshold - 1):
        assert answers[threshold - 1][1] == "below_known"  # the evidence below, asked in full
