"""Code fingerprints (the cache identity of canonicalisers and parsers), pinned exactly: what
changes a fingerprint, what does not, what is refused and the text simple values are named by -
the cases `make mutate` found the suite let change.

Twin functions are compiled from source into namespaces of their own (same module name and
qualified name), so two fingerprints differ only by what the test changes."""

import functools
import re
import threading
from functools import cached_property, lru_cache

import pytest

from rewardkit.fingerprint import _name, _value, _Walker, fingerprint

MODULE = __name__  # "tests.test_mutants_fingerprint": package "tests"


def twin(source, name="canon", module=MODULE, **names):
    """The function ``name`` defined by ``source`` in a fresh namespace of module ``module``."""
    namespace = {"__name__": module, **names}
    exec(compile(source, f"<{module}>", "exec"), namespace)
    return namespace[name]


def hash_of(fn, **options):
    name, _, digest = fingerprint(fn, **options).partition("@")
    assert re.fullmatch(r"[0-9a-f]{16}", digest), digest
    return digest


# -- the text of simple values -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "None"),
        (True, "True"),
        (3, "3"),
        (0.5, "0.5"),
        (1j, "1j"),
        ("é", "'é'"),
        (b"x", "b'x'"),
        (..., "Ellipsis"),
        (re.compile("a+", re.I), "re.compile('a+', 34)"),
        ((1, "a"), "tuple(1, 'a')"),
        ([1, [2]], "list(1, list(2))"),
        ({"b", "a", "c"}, "set('a', 'b', 'c')"),  # sorted: the same under any hash seed
        (frozenset({2, 1}), "frozenset(1, 2)"),
        ({"b": (1,), "a": None}, "{'a': None, 'b': tuple(1)}"),
        ({}, "{}"),
        ((), "tuple()"),
    ],
)
def test_simple_values_are_named_by_their_text(value, text):
    assert _value(value) == text


@pytest.mark.parametrize(
    "value",
    [object(), [1, object()], {"a": object()}, {object(): 1}, (1, {2: [object()]})],
    ids=["object", "in a list", "a dict value", "a dict key", "deep"],
)
def test_a_value_holding_anything_else_has_no_text(value):
    assert _value(value) is None


def test_containers_nest_17_deep_not_18():
    def nest(depth, inner):
        for _ in range(depth):
            inner = [inner]
        return inner

    assert _value(nest(17, 1)) == "list(" * 17 + "1" + ")" * 17  # the innermost at depth 16
    assert _value(nest(18, 1)) is None
    # A dict's keys and values are one level deeper than the dict.
    assert _value(nest(15, {(1,): [2]})) == "list(" * 15 + "{tuple(1): list(2)}" + ")" * 15
    assert _value(nest(16, {(1,): 2})) is None
    assert _value(nest(16, {1: [2]})) is None
    assert _value(nest(16, {1: 2})) == "list(" * 16 + "{1: 2}" + ")" * 16


# -- names ---------------------------------------------------------------------------------------


class Unnamed:
    """A callable whose instances have no name of their own."""

    def __call__(self, text):
        return text

    def __repr__(self):
        return "Unnamed()"


def test_names():
    assert _name(len) == "builtins.len"
    assert _name(str.upper) == "builtins.str.upper"
    assert _name(functools.partial(str.upper)) == "functools.partial(builtins.str.upper)"
    assert _name(twin("def canon(t):\n    return t")) == f"{MODULE}.canon"
    assert _name(Unnamed()) == f"{MODULE}.Unnamed()"


# -- fingerprints of builtins and partials: the whole value is pinned ----------------------------


def test_builtins_are_named_and_bound_ones_hashed_with_their_object():
    assert fingerprint(len) == "builtins.len"
    assert fingerprint(str.casefold) == "builtins.str.casefold"
    upper_a, upper_b = fingerprint("a".upper), fingerprint("b".upper)
    assert upper_a.startswith("builtins.str.upper@") and upper_a != upper_b


def test_a_partial_of_builtins_has_one_fingerprint_everywhere():
    # Nothing in it depends on the Python version: the text and its hash are pinned.
    fp = fingerprint(functools.partial(str.replace, "é", "e"))
    assert fp == "functools.partial(builtins.str.replace)@f424f86360d7a4db"


# -- what changes a fingerprint ------------------------------------------------------------------


@pytest.mark.parametrize(
    "one, other",
    [
        ("def canon(t):\n    return t + 'a'", "def canon(t):\n    return t + 'b'"),  # a constant
        ("def canon(t, /):\n    return t", "def canon(t):\n    return t"),  # the signature
        ("def canon(t, n=1):\n    return t", "def canon(t, n=2):\n    return t"),  # a default
        ("def canon(t, *, n=1):\n    return t", "def canon(t, *, n=2):\n    return t"),
        ("def canon(t, k=int):\n    return t", "def canon(t, k=float):\n    return t"),
        ("def canon(t, k='a'.upper):\n    return t", "def canon(t, k='b'.upper):\n    return t"),
    ],
    ids=["constant", "signature", "default", "keyword default", "class default", "bound method"],
)
def test_what_a_function_is_changes_its_fingerprint(one, other):
    assert hash_of(twin(one)) != hash_of(twin(other))


def test_a_builtin_default_is_named():
    assert hash_of(twin("def canon(t, measure=len):\n    return t"))


def test_a_global_that_is_none_is_not_a_missing_global():
    source = "def canon(t):\n    return FLAG or t"
    assert hash_of(twin(source, FLAG=None)) != hash_of(twin(source))


HELPER_SOURCE = "def helper(t):\n    return t.{}()"
CANON_CALLS_HELPER = "def canon(t):\n    return helper(t)"


@pytest.mark.parametrize("module", [MODULE, "tests"], ids=["a module of the package", "its root"])
def test_a_function_of_the_same_package_it_calls_is_part_of_it(module):
    lower = twin(HELPER_SOURCE.format("lower"), "helper", module)
    upper = twin(HELPER_SOURCE.format("upper"), "helper", module)
    assert hash_of(twin(CANON_CALLS_HELPER, helper=lower)) != hash_of(
        twin(CANON_CALLS_HELPER, helper=upper)
    )
    cached = lru_cache(maxsize=8)(upper)
    assert hash_of(twin(CANON_CALLS_HELPER, helper=lru_cache(maxsize=8)(lower))) != hash_of(
        twin(CANON_CALLS_HELPER, helper=cached)
    )


def test_a_function_of_another_package_counts_by_name_only():
    lower = twin(HELPER_SOURCE.format("lower"), "helper", "otherpkg.mod")
    upper = twin(HELPER_SOURCE.format("upper"), "helper", "otherpkg.mod")
    assert hash_of(twin(CANON_CALLS_HELPER, helper=lower)) == hash_of(
        twin(CANON_CALLS_HELPER, helper=upper)
    )


def _make_unfinished():
    def unfinished(t):
        return t + later  # noqa: F821 - an empty cell: later is never assigned

    return unfinished
    later = ""  # noqa: F841 - unreachable: makes later a cell of this function


def test_a_callee_made_by_a_function_may_hold_an_empty_cell():
    # Reached as a callee (not the fingerprinted function itself): local functions pass.
    helper = _make_unfinished()
    canon = twin(CANON_CALLS_HELPER, helper=helper)
    empty = hash_of(canon)
    assert hash_of(canon) == empty
    helper.__closure__[0].cell_contents = "!"
    assert hash_of(canon) != empty


def recursive(text):
    return recursive(text[1:]) if text.startswith(".") else text


def test_a_recursive_function_is_walked_once():
    assert fingerprint(recursive).startswith(f"{MODULE}.recursive@")


def cached_canon(text):
    return text.strip()


def test_a_cached_function_is_the_function():
    cached = lru_cache(maxsize=16)(cached_canon)
    assert fingerprint(cached) == fingerprint(cached_canon)


# -- methods reached through self ----------------------------------------------------------------


class Parser:
    def parse(self, text):
        return self.clean(text) + self.suffix + self.tail + self.marker(text)

    def clean(self, text):
        return text.strip()

    suffix = property(lambda self: "")

    @cached_property
    def tail(self):
        return ""

    @staticmethod
    def marker(text):
        return ""


class OtherClean(Parser):
    def clean(self, text):
        return text.lower()


class OtherSuffix(Parser):
    @property
    def suffix(self):
        return "."


class OtherTail(Parser):
    @cached_property
    def tail(self):
        return "!"


class OtherMarker(Parser):
    @staticmethod
    def marker(text):
        return text[:1]


class HoldsALock(Parser):
    def clean(self, text, lock=threading.Lock()):  # noqa: B008 - counted by type only
        return text


@pytest.mark.parametrize("kind", [OtherClean, OtherSuffix, OtherTail, OtherMarker])
def test_a_method_the_parser_reaches_through_self_is_part_of_it(kind):
    base = hash_of(Parser.parse, owner=Parser)
    assert hash_of(Parser.parse, owner=kind) != base
    assert hash_of(Parser.parse, owner=Parser) == base


class UpperClean(Parser):
    def clean(self, text):
        return text.upper()


def test_two_subclasses_differing_only_in_a_method_body_differ():
    # The same classes above Parser, the same names: only what clean() does tells them apart.
    assert hash_of(Parser.parse, owner=OtherClean) != hash_of(Parser.parse, owner=UpperClean)


def test_methods_reached_through_self_are_read_leniently():
    assert hash_of(Parser.parse, owner=HoldsALock)


def test_a_class_defined_in_a_function_is_refused_as_owner():
    class Local(Parser):
        pass

    with pytest.raises(ValueError) as e:
        fingerprint(Parser.parse, what="ladder class", owner=Local)
    assert str(e.value) == (
        "ladder class test_a_class_defined_in_a_function_is_refused_as_owner.<locals>.Local "
        "is defined inside another function: define it by name at module level, so that a "
        "cache identity can name it and it pickles"
    )


# -- what is refused -----------------------------------------------------------------------------


def test_refusals_name_the_problem_exactly():
    with pytest.raises(ValueError) as e:
        fingerprint(lambda t: t)
    assert str(e.value) == (
        "function test_refusals_name_the_problem_exactly.<locals>.<lambda> is a lambda: define "
        "it by name at module level, so that a cache identity can name it and it pickles"
    )
    held = twin("def canon(t, key=None):\n    return t", key=None)
    held.__defaults__ = (object(),)
    with pytest.raises(ValueError) as e:
        fingerprint(held, what="the canonicaliser")
    assert str(e.value) == (
        "the canonicaliser holds a object (a default), which a cache identity cannot name; use "
        "a named module-level function of simple values"
    )
    keyword = twin("def canon(t, *, key=None):\n    return t")
    keyword.__kwdefaults__ = {"key": object()}
    with pytest.raises(ValueError, match=r"^function holds a object \(key\), "):
        fingerprint(keyword)
    lam = twin("def canon(t, key=None):\n    return t")
    lam.__defaults__ = (lambda s: s,)
    with pytest.raises(ValueError) as e:
        fingerprint(lam, what="the parser")
    assert str(e.value).startswith("the parser test_refusals_name_the_problem_exactly.<locals>")
    assert str(e.value).endswith(
        "<lambda> is a lambda: define it by name at module level, so "
        "that a cache identity can name it and it pickles"
    )
    local = _make_unfinished()
    with pytest.raises(ValueError) as e:
        fingerprint(local)
    assert str(e.value) == (
        "function _make_unfinished.<locals>.unfinished is defined inside another function: "
        "define it by name at module level, so that a cache identity can name it and it pickles"
    )


def test_a_callable_object_is_refused_by_type():
    with pytest.raises(ValueError) as e:
        fingerprint(Unnamed(), what="the canonicaliser")
    assert str(e.value) == (
        "the canonicaliser holds a Unnamed object, which a cache identity cannot name; use a "
        "named module-level function of simple values"
    )


# -- the walk's own record, less the bytecode (which changes with the Python version) ------------


def test_the_record_of_a_function():
    canon = twin(
        "def canon(t, n=1, k=int, *, fold='a'.upper, m=None):\n    return helper(t) + SEP",
        helper=twin(HELPER_SOURCE.format("lower"), "helper"),
        SEP="-",
    )
    name, _code, defaults, kwdefaults, cells, named = _Walker("f", "tests", None).callable(
        canon, True
    )
    assert name == f"{MODULE}.canon"
    assert defaults == ["1", ["class", "builtins.int"]]
    assert kwdefaults == [["fold", ["builtin", "builtins.str.upper", "'a'"]], ["m", "None"]]
    assert cells == []
    assert named[0] == ["SEP", [["=", "'-'"]]]
    assert named[1][0] == "helper" and named[1][1][0][0] == f"{MODULE}.helper"
    assert len(named) == 2  # str.lower and the builtins are not globals


def test_the_record_of_what_cannot_be_walked_strictly():
    walker = _Walker("f", "tests", None)
    assert walker.refuse("thing", False) == ["object", "thing"]
    again = twin("def canon(t):\n    return t")
    walker.function(again, False)
    assert walker.function(again, False) == ["again", f"{MODULE}.canon"]
    cell = _Walker("f", "tests", None).function(_make_unfinished(), False)
    assert cell[4] == [["later", "<empty>"]]


# -- bound builtins, partials and classmethods holding what cannot be named ----------------------

REFUSAL = "{} holds a {}, which a cache identity cannot name; use a named module-level function of simple values"  # noqa: E501


def plain(text, key=None):
    return text


@pytest.mark.parametrize(
    "fn, held",
    [
        (threading.Lock().acquire, "lock (its object)"),  # a builtin bound to an object
        (functools.partial(plain, threading.Lock()), "lock (an argument)"),
        (functools.partial(plain, key=threading.Lock()), "lock (key)"),
    ],
)
def test_what_a_bound_builtin_or_a_partial_holds_is_refused_by_name(fn, held):
    with pytest.raises(ValueError) as e:
        fingerprint(fn, what="the canonicaliser")
    assert str(e.value) == REFUSAL.format("the canonicaliser", held)


def test_a_partials_keyword_values_are_part_of_it():
    one, two = functools.partial(plain, key=1), functools.partial(plain, key=2)
    assert hash_of(one) != hash_of(two)
    assert hash_of(one) == hash_of(functools.partial(plain, key=1))


class Maker:
    SUFFIX = ""

    @classmethod
    def make(cls, text):
        return text + cls.SUFFIX


class DotMaker(Maker):
    SUFFIX = "."


def test_a_classmethod_is_its_function_bound_to_its_class():
    assert fingerprint(Maker.make).startswith(f"{MODULE}.Maker.make@")
    assert hash_of(Maker.make) == hash_of(Maker.make)
    assert hash_of(DotMaker.make) != hash_of(Maker.make)  # the same function, another class


def test_a_classmethod_of_a_local_class_is_refused_inside_a_partial():
    class Local:
        @classmethod
        def make(cls, text):
            return text

    with pytest.raises(ValueError) as e:
        fingerprint(functools.partial(Local.make))
    assert str(e.value) == (
        "function test_a_classmethod_of_a_local_class_is_refused_inside_a_partial.<locals>."
        "Local.make is defined inside another function: define it by name at module level, so "
        "that a cache identity can name it and it pickles"
    )
