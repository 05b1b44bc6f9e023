"""`python -m state_simulators.verify`: recompute, in this fresh process, every cached artifact
not yet verified, and stamp it verified when the bytes are the same.

Determinism is checked once per artifact version: the first build computes an artifact, this
command (a second, independent process) computes it again, and from then on the stamp beside
the cache entry says it was reproduced. Artifacts declared `machine_dependent` are exempt.
Exit status 1, with one line per artifact, when any differs; a differing entry is deleted, so
the next build computes it afresh instead of serving bytes that could not be reproduced.
"""

import json
import sys
from dataclasses import asdict, dataclass

from state_simulators import artifacts
from state_simulators.arguments import Parser


@dataclass
class Check:
    path: str
    status: str  # "verified now", "verified before", "exempt", "not built", "differs"


def check(artifact: artifacts.Artifact) -> Check:
    entry = artifacts.cached_path(artifact)
    if artifact.machine_dependent:
        return Check(artifact.path, "exempt")
    if not entry.exists():
        return Check(artifact.path, "not built")
    if artifacts.is_verified(artifact):
        return Check(artifact.path, "verified before")
    if artifacts.compute(artifact) != entry.read_bytes():
        entry.unlink()
        return Check(artifact.path, "differs")
    artifacts.verified_path(artifact).write_text("")
    return Check(artifact.path, "verified now")


def verify_all(only: list[str] | None = None) -> list[Check]:
    found = artifacts.discover()
    return [check(found[path]) for path in sorted(only or found)]


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m state_simulators.verify", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="site paths such as figures/next-token.svg (default: all)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.paths) - set(artifacts.discover()))
    if unknown:
        parser.error(f"unknown artifacts: {', '.join(unknown)} (see python -m snippets --help)")
    checks = verify_all(args.paths)
    if args.json:
        print(json.dumps([asdict(c) for c in checks]))
    else:
        for c in checks:
            print(f"{c.status:>16}  {c.path}")
    differing = [c.path for c in checks if c.status == "differs"]
    for path in differing:
        print(
            f"error: {path} differs when recomputed (not deterministic); its entry was deleted",
            file=sys.stderr,
        )
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
