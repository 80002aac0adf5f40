"""What `rewardkit judge` says to pass for a missing option comes from the options the judge
declares: an option of another judge it builds (a fallback) is not one of its flags."""

import io
import sys

from rewardkit.cli import main


def test_an_option_the_fallback_misses_is_not_said_to_be_a_flag(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"label": "1", "prediction": "1"}\n'))
    code = main(["judge", "--judge", "math", "--fallback", '{"judge": "openai"}'])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    # --model is the openai judge's flag, but it would reach the math judge, which refuses it
    assert err.splitlines() == [
        "rewardkit judge: error: judge 'openai' needs option 'model' (judge model)"
    ]
