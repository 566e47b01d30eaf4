"""YAML with line numbers: every key and item knows its line; bad text is a Problem."""

from __future__ import annotations

import textwrap

from podium.errors import Problem
from podium.settings.yaml_lines import Fields, LineDict, LineList, Problems, load_yaml, located


def load(text: str) -> tuple[object, list[Problem]]:
    return load_yaml(textwrap.dedent(text).lstrip("\n"), "f.yaml")


def test_keys_and_items_know_their_lines() -> None:
    doc, problems = load(
        """
        name: daily
        tasks:
          - id: a
            run: m:f
          - id: b
        """
    )
    assert problems == []
    assert isinstance(doc, LineDict)
    assert doc.line_of("name") == 1 and doc.line_of("tasks") == 2
    tasks = doc["tasks"]
    assert isinstance(tasks, LineList)
    assert tasks.item_lines == [3, 5]
    assert tasks[0].line_of("run") == 4
    assert doc == {"name": "daily", "tasks": [{"id": "a", "run": "m:f"}, {"id": "b"}]}


def test_scalars_are_typed_but_keys_stay_as_written() -> None:
    doc, _ = load("on: [1, 2.5, true, null, '3']\nyes: no\n")
    assert doc == {"on": [1, 2.5, True, None, "3"], "yes": False}


def test_syntax_error_is_a_problem_at_its_line() -> None:
    doc, problems = load("a: 1\nb: [1, 2\nc: 3\n")
    assert doc is None
    assert len(problems) == 1
    assert problems[0].file == "f.yaml" and problems[0].line == 3
    assert problems[0].message.startswith("invalid YAML:")


def test_tab_indentation_is_a_problem_not_a_traceback() -> None:
    _, problems = load("a:\n\t- b\n")
    assert [p.line for p in problems] == [2]


def test_duplicate_key_is_reported_at_the_second() -> None:
    _, problems = load("a: 1\nb: 2\na: 3\n")
    assert [str(p) for p in problems] == ["f.yaml:3: duplicate key 'a' (first written at line 1)"]


def test_merge_keys_fill_in_what_the_mapping_does_not_set() -> None:
    doc, problems = load(
        """
        base: &base {retries: 3, pool: p}
        task:
          <<: *base
          pool: q
        """
    )
    assert problems == []
    assert isinstance(doc, LineDict)
    assert doc["task"] == {"retries": 3, "pool": "q"}


def test_unknown_tag_is_a_problem() -> None:
    _, problems = load("a: !!python/object:os.system x\n")
    assert len(problems) == 1 and "unsupported YAML tag" in problems[0].message


def test_recursive_alias_is_a_problem() -> None:
    _, problems = load("a: &x [1, *x]\n")
    assert any("refers to itself" in p.message for p in problems)


def test_empty_text_is_none() -> None:
    assert load("") == (None, [])
    assert load("# only a comment\n") == (None, [])


def test_located_gives_plain_values_one_line() -> None:
    value = located({"a": {"b": 1}}, 7)
    assert isinstance(value, LineDict) and value.line_of("a") == 7
    assert located([1], 3).line_at(5) == 3
    assert located("x", 3) == "x"


def test_fields_report_and_fall_back_to_defaults() -> None:
    found: list[Problem] = []
    read = Fields(LineDict({"n": "x", "d": "soon", "c": "maybe"}, 4), Problems("f", found), "thing")
    assert read.integer("n", 5, minimum=0) == 5
    assert read.duration("d", 1.0) == 1.0
    assert read.choice("c", ("yes", "no"), "no") == "no"
    assert [p.line for p in found] == [4, 4, 4]
    assert found[0].message == "thing: n must be a whole number 0 or more, got 'x'"


def test_bool_is_not_an_integer() -> None:
    found: list[Problem] = []
    read = Fields(LineDict({"n": True}, 1), Problems("f", found))
    assert read.integer("n", 0) == 0
    assert found[0].message == "n must be a whole number, got True"
