"""workbench/layout.py is the one place the instance's own paths are written: assets/layout.j2
reads them, and the Python side (render.Target's defaults, provisioning.STAMP_DIR) derives from
them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from workbench import layout, provisioning
from workbench.render import ASSETS, INSTANCE, INSTANCE_ROOT, _environment

ROOT = Path(__file__).resolve().parents[2]
# The roots the others derive from (the bundle's root excepted: a loopback target moves it).
ROOTS = (layout.STATE_DIR, layout.LOG_DIR, layout.ENV_FILE, layout.CERTBOT_VENV, layout.BUNDLE_ZIP)


def test_layout_j2_reads_layout_py():
    module = _environment().get_template("layout.j2").module
    for name, value in layout.TEMPLATE_PATHS.items():
        if hasattr(module, name):
            assert getattr(module, name) == value, name
    assert module.state_dir == layout.STATE_DIR
    assert module.stamp_dir == provisioning.STAMP_DIR
    assert INSTANCE.certbot == f"{module.certbot_venv}/bin/certbot"
    assert INSTANCE.tls_state == f"{module.state_dir}/tls"
    assert INSTANCE.jupyterhub_bin == f"{module.jupyterhub_venv}/bin"
    assert INSTANCE.root == INSTANCE_ROOT == layout.INSTANCE_ROOT


def test_no_python_module_spells_a_layout_path_again():
    for path in sorted((ROOT / "workbench").rglob("*.py")) + sorted((ROOT / "stacks").glob("*.py")):
        if path.name == "layout.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                spelled = [r for r in (*ROOTS, INSTANCE_ROOT) if node.value.startswith(r)]
                assert not spelled, f"{path.relative_to(ROOT)}:{node.lineno} spells {spelled[0]}"


def test_no_template_sets_a_layout_path_of_its_own():
    assignment = re.compile(r'{%-?\s*set\s+\w+\s*=\s*"([^"]*)"')
    for path in sorted(ASSETS.rglob("*.j2")):
        for value in assignment.findall(path.read_text()):
            assert not value.startswith(ROOTS), f"{path.relative_to(ROOT)} sets {value}"


def test_the_templates_spell_no_layout_path_but_in_comments():
    """The bootstrap (rendered apart from the bundle) and the bundle's templates take these from
    layout.j2; only a comment may name one, as documentation."""
    for path in sorted(ASSETS.rglob("*.j2")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith(("#", "{#")):
                continue
            spelled = [r for r in (*ROOTS, INSTANCE_ROOT) if r in line]
            assert not spelled, f"{path.relative_to(ROOT)}:{number} spells {spelled[0]}"
