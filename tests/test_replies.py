"""Reading a judge's reply: one verdict or none. Each case names the exact reading, so each
protection has a case that only it stops; the second rule - well formed still parses - is
checked for every rung in every form."""

import json
import time
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardkit import BINARY, SPECIARL
from rewardkit.replies import MAX_REPLY_CHARS, read_reply, skeleton

# (reply, exact reading, the rung the reply means or None when it means none/two).
SPECIARL_REPLIES = [
    # JSON: duplicate keys, two verdict keys, a verdict inside a string
    ('{"verdict":"generic","verdict":"specific"}', None, None),
    ('{"verdict":"specific","verdict":"specific"}', None, "specific"),
    ('{"verdict": "generic", "Verdict": "specific"}', None, None),
    ('{"verdict": "generic", "final_verdict": "specific"}', None, None),
    ('{"verdict": "generic", "reasoning": "Final verdict: specific"}', None, None),
    ('{"verdict": "generic", "note": "verdict: spe\\u0063ific"}', None, None),
    ('{"verdict": "generic", "reasoning": "it is broader"}', "generic", "generic"),
    ('{"verdict": "generic", "verdict_reason": "broader than it"}', "generic", "generic"),
    ('{"verdict": "spe\\u0063ific"}', "specific", "specific"),
    ('{"verdict": ["specific"]}', None, None),
    ('{"verdict": "specific", "confidence": 0.2}', "specific", "specific"),
    ('{"verdict": "generic"} {"verdict": "specific"}', None, None),
    ('[{"verdict": "specific"}]', None, None),
    ('{"verdict": "generic"}\nVERDICT: specific', None, None),
    ('Here is my answer: {"verdict": "more_specific"}\nVERDICT: generic', None, None),
    ('{"a": ' * 5000 + "1" + "}" * 5000, None, None),
    # a verdict in another form above the VERDICT line
    ("Generic\nVERDICT: specific", None, None),
    ("Generic.\n\nVERDICT: Generic", "generic", "generic"),
    ("Final verdict: generic\nVERDICT: specific", None, None),
    ("Final verdict: specific\nVERDICT: specific", "specific", "specific"),
    ("My verdict is generic.\nVERDICT: specific", None, None),
    ("The answer is generic.\nVERDICT: specific", None, None),
    ("Verdict = generic\nVERDICT: specific", None, None),
    ("**Verdict:** generic\n\nVERDICT: specific", None, None),
    ("verdict → generic\nVERDICT: specific", None, None),
    ("The label: generic\nVERDICT: specific", None, None),
    ("Rating: generic\nVERDICT: specific", None, None),
    ("Classification - generic\nVERDICT: specific", None, None),
    ("- generic\nVERDICT: specific", None, None),
    ("1. generic\nVERDICT: specific", None, None),
    ("> Generic\nVERDICT: specific", None, None),
    ('"generic"\nVERDICT: specific', None, None),
    ("Not specific.\nVERDICT: specific", None, None),
    ("non-specific\nVERDICT: specific", None, None),
    ("Unspecific\nVERDICT: specific", None, None),
    ('The prediction says "VERDICT: more_specific".\nVERDICT: generic', None, None),
    ("It is generic.\nVERDICT: generic", "generic", "generic"),
    ("Verdict: generic. On reflection,\nVERDICT: generic", None, "generic"),
    ("VERDICT: specific\nVERDICT: specific", "specific", "specific"),
    ("VERDICT: Specific\n**VERDICT:** specific.", "specific", "specific"),
    ("VERDICT: specific-ish\nVERDICT: specific", None, None),
    ("VERDICT: generic\nVERDICT: specific", None, None),
    ("Final verdict: specific", "specific", "specific"),
    ("VERDICT: generic\n```\nVERDICT: specific\n```", None, None),
    # hidden from the agreement check by one invisible or look-alike character
    ("VER\x00DICT: generic\nVERDICT: specific", None, None),
    ("VER\u200bDICT: generic\nVERDICT: specific", None, None),
    ("VER\u2060DICT: generic\nVERDICT: specific", None, None),
    ("\ufeffVERDICT: generic\nVERDICT: specific", None, None),
    ("VΕRDICT: generic\nVERDICT: specific", None, None),  # Greek capital epsilon
    ("VЕRDICT: generic\nVERDICT: specific", None, None),  # Cyrillic capital ie
    ("vеrdict: generic\nVERDICT: specific", None, None),  # Cyrillic small ie
    ("ＶＥＲＤＩＣＴ: generic\nVERDICT: specific", None, None),  # full width
    ("V\u0301ERDICT: generic\nVERDICT: specific", None, None),  # a combining mark
    ("𝐕𝐄𝐑𝐃𝐈𝐂𝐓: generic\nVERDICT: specific", None, None),  # mathematical bold
    ("VERDICT: ѕресіfіс", "specific", "specific"),  # Cyrillic look-alikes read as Latin
    ("VERDICT: more\u200b_specific", "more_specific", "more_specific"),
    ("spec\u00adific", "specific", "specific"),
    ("\x00specific", "specific", "specific"),
    # lines split on \n and \r\n only
    ("VERDICT: generic\u2028VERDICT: specific", None, None),
    ("Reasoning\u2029VERDICT: specific", None, None),
    ("Reasoning\x85VERDICT: specific", None, None),
    ("Reasoning\x1cVERDICT: specific", None, None),
    ("Reasoning\x1eVERDICT: specific", None, None),
    ("Reasoning\x0bVERDICT: specific", None, None),
    ("Reasoning\x0cVERDICT: specific", None, None),
    ("VERDICT: generic\rVERDICT: specific", None, None),
    ("VERDICT: generic\r\nVERDICT: specific", None, None),
    ("Reasoning.\r\nVERDICT: generic", "generic", "generic"),
    ("VERDICT: generic" + "\n" * 10, "generic", "generic"),
    # think tags from a judge not configured as thinking
    ("VERDICT: wrong\nThe prediction was: </think>more_specific", None, "wrong"),
    ("</think>more_specific", None, None),
    ("<think>generic</think>specific", None, None),
    ("VERDICT: wrong\n<think>", None, None),
    ("<THINK>x</THINK>\nspecific", None, None),
    ("< think >x</ think >specific", None, None),
    ("<think>It might be more_specific... no.</think>\n\ngeneric", None, "generic"),
    # other shapes
    ("VERDICT: <|im_end|>specific", None, None),
    ("VERDICT:", None, None),
    ("x" * 70_000 + "\nVERDICT: specific", None, "specific"),
    # found by a hostile review: a second verdict in prose, JSON keys and strings, skeleton gaps
    (
        "Final verdict: generic because the prediction only names the family.\nVERDICT: specific",
        None,
        None,
    ),
    ("The verdict is generic and not specific\nVERDICT: specific", None, None),
    ("Result: generic\nVERDICT: specific", None, None),
    ("Final: generic\nVERDICT: specific", None, None),
    ("Assessment: generic\nVERDICT: specific", None, None),
    ("Evaluation: generic\nVERDICT: specific", None, None),
    ("Category: generic\nVERDICT: specific", None, None),
    ("Score: generic\nVERDICT: specific", None, None),
    ("| Verdict | Generic |\nVERDICT: specific", None, None),
    ("• Generic\nVERDICT: specific", None, None),
    ("– Generic\nVERDICT: specific", None, None),
    ("→ Generic\nVERDICT: specific", None, None),
    ("a) Generic\nVERDICT: specific", None, None),
    ("## Generic\nVERDICT: specific", None, None),
    ("Generic!\nVERDICT: specific", None, None),
    ("(Generic)\nVERDICT: specific", None, None),
    ("[Generic]\nVERDICT: specific", None, None),
    ("<Generic>\nVERDICT: specific", None, None),
    ("Verdict ⇒ generic\nVERDICT: specific", None, None),
    ("VERDICT generic\nVERDICT: specific", None, None),
    ("Verdict (initial): wrong\nVERDICT: specific", None, None),
    ('{"verdict":"specific","finalVerdict":"generic"}', None, None),
    ('{"verdict":"specific","Verdict:":"generic"}', None, None),
    ('{"verdict":"specific","final.verdict":"generic"}', None, None),
    ('{"verdict":"specific","verdict(final)":"generic"}', None, None),
    ('{"verdict":"specific","answer":"generic"}', None, None),
    ('{"verdict":"specific","label":"generic"}', None, None),
    ('{"verdict":"specific","judgement":"generic"}', None, None),
    ('{"verdict":"specific","analysis":{"verdict":"generic"}}', None, None),
    ('{"verdict":"specific","notes":["Generic"]}', None, None),
    ('{"verdict":"specific","reason":"V\\u0415RDICT: generic"}', None, None),
    ('{"verdict":"specific","reason":"verdict\\u200b: generic"}', None, None),
    ("VERᎠICT: generic\nVERDICT: specific", None, None),
    ("ꓦꓰꓣꓓꓲꓚꓔ: generic\nVERDICT: specific", None, None),
    ("ᴠᴇʀᴅɪᴄᴛ: generic\nVERDICT: specific", None, None),
    ("VERDICTㅤ: wrong\nVERDICT: specific", None, None),
    ("VERDICT⠀: wrong\nVERDICT: specific", None, None),
    ("VERDICT\u1680: wrong\nVERDICT: specific", None, None),
    ("s̶p̶e̶c̶i̶f̶i̶c̶", None, None),
    ("s*p*e*c*i*f*i*c", None, None),
    ("VERDICT: s*p*e*c*i*f*i*c", None, None),
    ("Generic. The prediction names a family.\nVERDICT: specific", None, None),
    # well formed, read as meant
    ("Final Verdict: specific", "specific", "specific"),
    ("**Final verdict:** Specific", "specific", "specific"),
    ("```\nVERDICT: specific\n```", "specific", "specific"),
    ("VERDICT: specific\n---", "specific", "specific"),
    ('{"Verdict":"specific","verdict":"specific"}', "specific", "specific"),
    ("The prediction is a broader category.\nVERDICT: generic", "generic", "generic"),
    (
        "The prediction is correct but less specific than the ground truth.\n"
        "VERDICT: less_specific",
        "less_specific",
        "less_specific",
    ),
    ("Partial credit? No.\nVERDICT: generic", "generic", "generic"),
    ("Samoyed is a dog breed; dog is its grandparent.\nVERDICT: generic", "generic", "generic"),
]

BINARY_REPLIES = [
    ("Not correct.\nVERDICT: correct", None, None),
    ("Incorrect\nVERDICT: correct", None, None),
    ("In-correct\nVERDICT: correct", None, None),
    ("The answer is incorrect.\nVERDICT: correct", None, None),
    ("The answer is not correct\nVERDICT: correct", None, None),
    ("Wrong\nVERDICT: correct", None, None),
    ("Final answer: wrong\nVERDICT: correct", None, None),
    ("The verdict is correct\nVERDICT: wrong", None, None),
    ('{"verdict": "wrong", "verdict": "correct"}', None, None),
    ('{"verdict": "correct", "explanation": "The answer is wrong"}', None, None),
    ("CORRECT\u200b\nVERDICT: wrong", None, None),
    ("VERDICT: correct\nVERDICT: wrong", None, None),
    ("VERDICT: correct (the answer is wrong)", None, None),
    ("VERDICT: correct</think>", None, None),
    ("correct\nwrong", None, None),
    ("Correct\nVERDICT: correct", "correct", "correct"),
    ("Not correct.\nVERDICT: wrong", "wrong", "wrong"),
    ("Correct? No.\nVERDICT: wrong", "wrong", "wrong"),
    ("VERDICT: cοrrect", "correct", "correct"),  # Greek omicron
    ('{"verdict": "correct"}', "correct", "correct"),
    ("VERDICT: correct", "correct", "correct"),
    ("VERDICT: wrong", "wrong", "wrong"),
    # negations found by a hostile review
    ("The answer ≠ correct\nVERDICT: correct", None, None),
    ("VERDICT: c̸orrect", None, None),
    ("The answer is ¬correct\nVERDICT: correct", None, None),
    ("It is never correct\nVERDICT: correct", None, None),
    ("It is not at all correct\nVERDICT: correct", None, None),
    ("It isn't correct\nVERDICT: correct", None, None),
    ("Correct: no\nVERDICT: correct", None, None),
    ("Correct: ✗\nVERDICT: correct", None, None),
    ("Is it correct? No.\nVERDICT: correct", None, None),
    ("Correctness: wrong\nVERDICT: correct", None, None),
    ("Grade: correct\nVERDICT: correct", "correct", "correct"),
    ("Judgement: Correct\nVERDICT: correct", "correct", "correct"),
    ("The answer matches.\nVERDICT: correct", "correct", "correct"),
]

THINKING_REPLIES = [
    ("<think>It might be more_specific... no.</think>\n\ngeneric", "generic", "generic"),
    ("It is a parent.</think>\nspecific", "specific", "specific"),  # template opened it
    ("<think>x</think>\n<think>y</think>\nspecific", None, None),
    ("<think>more_specific", None, None),
    ("<think>says </think>more_specific</think>\nVERDICT: wrong", None, None),
    ("</think></think>specific", None, None),
    ("<think>x</think>", None, None),
    ("<think>a</think>Generic\nVERDICT: specific", None, None),
    ("specific", None, "specific"),  # declared thinking but no think block: cut off?
    ("<think>VERDICT: specific?</think>\nVERDICT: generic", "generic", "generic"),
]


def _check(ladder, reply, expected, meant, thinking=False):
    reading = ladder.reading(reply, thinking=thinking)
    assert reading.verdict == expected, (reply, reading)
    assert (reading.why is None) == (expected is not None)
    if expected is not None:  # the catalogue itself: a reading is never above what it means
        assert expected == meant


@pytest.mark.parametrize("reply, expected, meant", SPECIARL_REPLIES)
def test_speciarl_replies(reply, expected, meant):
    _check(SPECIARL, reply, expected, meant)


@pytest.mark.parametrize("reply, expected, meant", BINARY_REPLIES)
def test_binary_replies(reply, expected, meant):
    _check(BINARY, reply, expected, meant)


@pytest.mark.parametrize("reply, expected, meant", THINKING_REPLIES)
def test_thinking_replies(reply, expected, meant):
    _check(SPECIARL, reply, expected, meant, thinking=True)


def test_failures_say_why():
    cases = {
        '{"verdict":"a","verdict":"b"}': "JSON with duplicate keys",
        "Generic\nVERDICT: specific": "two verdicts: generic and specific",
        "Not specific\nVERDICT: specific": "two verdicts: not specific and specific",
        "</think>specific": "a think tag in the reply of a judge not configured as thinking",
        "a" * (MAX_REPLY_CHARS + 1): f"reply over {MAX_REPLY_CHARS} characters",
        "It is generic": "no VERDICT: <label> last line",
        "   ": "empty reply",
    }
    for reply, why in cases.items():
        assert SPECIARL.reading(reply).why == why
    assert SPECIARL.reading(None).why == "reply is NoneType, not text"  # type: ignore[arg-type]
    assert SPECIARL.reading("<think>x", thinking=True).why.startswith("no </think>")


FORMS = [
    "{label}",
    "{name}.",
    "**{name}**",
    '{{"verdict": "{label}"}}',
    '```json\n{{"verdict": "{name}"}}\n```',
    "The prediction is compared with the ground truth.\nVERDICT: {name}",
    "{name}\n\nVERDICT: {label}",
    "Final verdict: {label}\nVERDICT: {name}",
    "Reasoning...\n**VERDICT:** {name}.",
]


@pytest.mark.parametrize("ladder", [SPECIARL, BINARY], ids=["speciarl", "binary"])
@pytest.mark.parametrize("form", FORMS)
def test_every_rung_in_every_form_still_parses(ladder, form):
    for rung in ladder:
        reply = form.format(label=rung.slug, name=rung.name)
        assert ladder.parse(reply) == rung.slug, reply


@pytest.mark.parametrize("ladder", [SPECIARL, BINARY], ids=["speciarl", "binary"])
@pytest.mark.parametrize(
    "earlier",
    [
        "{x}",
        "VERDICT: {x}",
        "Final verdict: {x}",
        "The answer is {x}.",
        "- {x}",
        "VER\u200bDICT: {x}",
        "VΕRDICT: {x}",
        "my verdict would be {x}",
    ],
)
def test_any_earlier_statement_of_another_rung_is_a_failure(ladder, earlier):
    for a in ladder.slugs:
        for b in ladder.slugs:
            reply = earlier.format(x=a) + "\nSome reasoning.\nVERDICT: " + b
            assert ladder.parse(reply) == (b if a == b else None), reply


_TEXT = st.text(
    alphabet=st.sampled_from(
        list('verdict:VERDICT specific generic wrong correct\n\r{}"<>/think-_*')
        + ["\u200b", "\u2028", "Ε", "е", "\x00", "\x85"]
    ),
    max_size=120,
)


@given(_TEXT)
def test_a_reading_is_always_stated_by_the_last_line_or_the_whole_reply(text):
    """Whatever the text, a verdict is read only where the reply states it in an anchored
    form, and every verdict statement in the reply agrees with it."""
    verdict = SPECIARL.parse(text)
    if verdict is None:
        return
    seen = skeleton(text).strip()
    lines = [line for line in seen.split("\n") if line.strip()]
    anchored = (
        SPECIARL.label(seen) == verdict
        or seen.lstrip("`").lstrip("json").strip().startswith("{")
        or "verdict" in lines[-1].lower()
    )
    assert anchored, text
    for other in SPECIARL.slugs:
        if other != verdict:
            assert f"VERDICT: {other}" not in seen.replace("verdict", "VERDICT"), text


def test_skeleton_drops_every_format_and_control_character():
    """The invisible class is built from the Unicode database: check it against the
    database over the whole range (tab and newline are kept)."""
    for cp in range(0x110000):
        c = chr(cp)
        if unicodedata.category(c) in ("Cf", "Cc") and c not in "\t\n\r":
            assert skeleton("a" + c + "b") in ("ab", "a b"), hex(cp)


def test_reading_is_linear():
    """A reply at the cap, built to make a backtracking reader quadratic, reads in time
    proportional to its size: 64 KB costs at most a few times 16 KB's per character."""
    shapes = ["<think>", "VERDICT: ", "verdict is ", "{", "- ", "\u2028", "x\n", "Ε" * 7]
    shapes += ["\u0301", "a\u0301\u0334", "é", "\ufdfa", "not specific is ", "| generic "]
    for shape in shapes:
        small = shape * (16384 // len(shape))
        big = shape * (MAX_REPLY_CHARS // len(shape))
        SPECIARL.reading(small)  # warm
        t_small = min(_timed(SPECIARL.reading, small) for _ in range(3))
        t_big = min(_timed(SPECIARL.reading, big) for _ in range(3))
        # 4x the text; a quadratic reader would take 16x. Generous for a loaded machine.
        assert t_big < 10 * t_small + 0.05, (shape, t_small, t_big)


def _timed(fn, arg):
    start = time.perf_counter()
    fn(arg)
    return time.perf_counter() - start


def test_reading_with_a_plain_label_function():
    assert read_reply({"yes": "correct"}.get, "VERDICT: yes").verdict == "correct"
    assert read_reply({"yes": "correct"}.get, "VERDICT: no").verdict is None


def test_a_reply_cut_off_at_max_tokens_is_no_verdict():
    """A server's ``finish_reason: length`` means the reply is not all the judge would have
    said ("specific ... but no: generic" cut after "specific"): a failure of that call."""
    import pytest as _pytest

    from rewardkit.judges.llm import TransportError
    from rewardkit.judges.openai_compat import read_reply as read_body

    whole = {"choices": [{"message": {"content": "specific"}, "finish_reason": "stop"}]}
    assert read_body(json.dumps(whole).encode()).text == "specific"
    cut = {"choices": [{"message": {"content": "specific"}, "finish_reason": "length"}]}
    with _pytest.raises(TransportError, match="cut off at max_tokens") as error:
        read_body(json.dumps(cut).encode())
    assert error.value.kind == "malformed reply" and not error.value.retryable
