"""Terminal tables wrap long cells between words and never cut them short."""
from batchsim.cli.tables import render_table


def test_a_long_cell_wraps_whole_words_and_keeps_every_character():
    reason = ("no room for a KV cache: weights 141.1 GB in 126.9 GB usable; use more GPUs per "
              "replica or a larger gpu_memory_utilization")
    text = render_table(["policy", "knobs", "note"],
                        [["continuous", "max_num_seqs=256\nmax_num_batched_tokens=8192", reason]],
                        align="lll", width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "max_num_batched_tokens=8192" in text  # never folded mid-word
    assert text.count("gpu_memory_utilization") == 1
    words = text.split()
    for word in reason.split():
        assert word in words


def test_output_is_plain_and_the_same_every_time():
    rows = [["static", "17"], ["chunked", "1"]]
    first = render_table(["policy", "GPUs"], rows, width=40)
    assert first == render_table(["policy", "GPUs"], rows, width=40)
    assert first.isascii() and "\x1b" not in first
    assert first.splitlines()[0].split() == ["policy", "GPUs"]
