"""The README stays true: the tier matrix it shows is the one in blueprints/tiers.py, and it
documents every CLI verb and the two commands."""

import re

from blueprints.cli import app
from blueprints.tiers import matrix_markdown
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_tier_matrix_in_readme_is_generated_from_the_data():
    block = README.split("<!-- tiers:start -->\n")[1].split("<!-- tiers:end -->")[0]
    assert block == matrix_markdown()


def test_every_cli_verb_has_an_example():
    verbs = sorted(c.name or c.callback.__name__ for c in app.registered_commands)
    assert verbs == ["check", "cost", "diff", "new", "plan", "tiers", "validate"]
    for verb in verbs:
        assert re.search(rf"`blueprint {verb}[ `]", README), verb


def test_the_two_commands_and_the_real_path_are_documented():
    for text in ("make demo", "make test", "pulumi login", "pulumi config set --secret", "pulumi preview", "pulumi up"):
        assert text in README
