"""The GitHub Actions workflow is valid and runs what the README tells a reader to run."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = yaml.safe_load((ROOT / ".github/workflows/site.yml").read_text())
STEPS = WORKFLOW["jobs"]["test-and-build"]["steps"]
RUNS = [step["run"] for step in STEPS if "run" in step]


def test_triggers_and_jobs():
    triggers = WORKFLOW[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"]["branches"] == ["main"] and "pull_request" in triggers
    assert WORKFLOW["jobs"]["deploy"]["needs"] == "test-and-build"
    assert "refs/heads/main" in WORKFLOW["jobs"]["deploy"]["if"]


def test_it_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    makes = [run for run in RUNS if run.startswith("make ")]
    assert makes == ["make test", "make build"]
    for command in makes:
        assert command in readme, f"the README does not tell readers to run {command}"
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_it_caches_the_model_wheel_and_deploys_the_built_site():
    cached = [step["with"]["path"] for step in STEPS if step.get("uses", "").startswith("actions/cache")]
    assert ".cache/downloads" in cached
    upload = next(step for step in STEPS if "upload-pages-artifact" in step.get("uses", ""))
    assert upload["with"]["path"] == "site"
    assert re.search(r"--site-dir site\b", (ROOT / "Makefile").read_text())
    deploy = WORKFLOW["jobs"]["deploy"]["steps"]
    assert any("actions/deploy-pages" in step.get("uses", "") for step in deploy)


def test_the_hosted_address_is_set_for_the_build():
    build = next(step for step in STEPS if step.get("run") == "make build")
    site_url = build["env"]["SITE_URL"]
    assert site_url.startswith("https://") and site_url.endswith("/")
    assert "!ENV [SITE_URL," in (ROOT / "mkdocs.yml").read_text()
