"""The one output voice: plain lines to pipes, whole URLs in tables, questions through the environment."""

from __future__ import annotations

import io
import sys

from jhubctl.output import Environment, Output


def test_plain_streams_get_plain_lines_and_rich_is_not_even_imported() -> None:
    """An assistant runs exec through pipes dozens of times: no markup, no escape codes, no rich import cost."""
    out, err = io.StringIO(), io.StringIO()
    output = Output(Environment(stdout=out, stderr=err, environ={}))
    output.success("server alice/c1 ready [in 2 s]")
    output.warn("careful")
    output.error("it broke", "try again")
    output.ansi("\x1b[0;31mZeroDivisionError\x1b[0m: division by zero")
    output.data({"a": 1}, "http://hub/user/alice/c1/")
    assert err.getvalue() == ("✓ server alice/c1 ready [in 2 s]\nwarning: careful\nerror: it broke\nhint: try again\n"
                              "ZeroDivisionError: division by zero\n")
    assert out.getvalue() == "http://hub/user/alice/c1/\n"
    assert output._consoles == {}


def test_a_terminal_still_gets_colour() -> None:
    err = io.StringIO()
    Output(Environment(stderr=err, environ={}, stderr_isatty=True), color=None).error("x")
    assert "\x1b[" in err.getvalue() and "rich" in sys.modules


def test_a_table_never_cuts_the_url_column_even_on_a_narrow_terminal() -> None:
    out = io.StringIO()
    url = "http://127.0.0.1:46543/user/alice-with-a-long-name/conversation-with-a-long-id/"
    Output(Environment(stdout=out, environ={"COLUMNS": "40"}), color=True).table(
        ["USER", "CONVERSATION", "URL"], [["alice-with-a-long-name", "conversation-with-a-long-id", url]], whole=["URL"])
    assert url in out.getvalue()


def test_a_question_is_asked_on_stderr_and_answered_from_the_environments_stdin() -> None:
    for answer, expected in (("y\n", True), ("YES\n", True), ("n\n", False), ("", False), ("yep\n", False)):
        err = io.StringIO()
        output = Output(Environment(stdin=io.StringIO(answer), stdout=io.StringIO(), stderr=err))
        assert output.confirm("delete 3 resource(s)?") is expected
        assert err.getvalue() == "delete 3 resource(s)? [y/N]: "
