#!/usr/bin/env bash
# Mutation testing of one rule module with its fast tests (issue 18, item 9). Not part of the CI suite:
# it runs for minutes to an hour per module.
#
#   bash scripts/mutation.sh services/agency/domain.py tests/agency/test_domain.py [more test files…]
#
# It copies the working tree (tracked and untracked files, so unfinished tests count) to
# .work/mutation/<module>/, runs mutmut there with only that module mutated and only the given tests,
# and prints the score: (killed + timed out) / (those + survived + mutants no test reaches). The surviving
# mutants stay browsable afterwards: cd .work/mutation/<module> && ../venv/bin/mutmut show <name>.
# mutmut lives in its own venv under .work/mutation/venv (it is a tool, not a project dependency) that
# sees the project's .venv through a .pth file, so the tests run against the locked dependencies.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MUTMUT_VERSION=${MUTMUT_VERSION:-3.8.1}
CHILDREN=${MUTATION_CHILDREN:-1}

if [ $# -lt 2 ]; then
    echo "usage: scripts/mutation.sh MODULE.py TEST_FILE [TEST_FILE…]" >&2
    exit 2
fi
module=$1
shift
[ -f "$module" ] || { echo "mutation: no such module: $module" >&2; exit 2; }
for test in "$@"; do
    [ -e "${test%%::*}" ] || { echo "mutation: no such test file: $test" >&2; exit 2; }
done

base=.work/mutation
venv=$base/venv
if [ ! -x "$venv/bin/mutmut" ] || ! "$venv/bin/mutmut" --version 2>/dev/null | grep -q "$MUTMUT_VERSION"; then
    python3.11 -m venv "$venv"
    "$venv/bin/python" -m pip install -q "mutmut==$MUTMUT_VERSION"
fi
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import site; site.addsitedir('$site')" >"$(ls -d "$venv"/lib/python3.11/site-packages)/dossier_project.pth"

slug=$(echo "$module" | tr '/.' '__')
work=$base/$slug
rm -rf "$work"
mkdir -p "$work"
# The working tree as it is, without build output, caches or other runs.
git ls-files -co --exclude-standard -z \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$work"

tests_list=$(printf '    %s\n' "$@")
cat >"$work/setup.cfg" <<EOF
[mutmut]
source_paths =
    contracts
    services
only_mutate =
    $module
also_copy =
    deploy
    README.md
pytest_add_cli_args =
    -p
    no:cacheprovider
    -q
    -x
pytest_add_cli_args_test_selection =
$tests_list
EOF

cd "$work"
set +e
"$ROOT/$venv/bin/mutmut" run --max-children "$CHILDREN" >mutmut.log 2>&1
status=$?
set -e
if [ $status -ne 0 ]; then
    tail -n 30 mutmut.log >&2
    echo "mutation: mutmut run failed ($status); log in $work/mutmut.log" >&2
    exit $status
fi
"$ROOT/$venv/bin/mutmut" export-cicd-stats >/dev/null
"$ROOT/$venv/bin/mutmut" results >survivors.txt 2>&1 || true
python3 - "$module" <<'EOF'
import json, sys
s = json.load(open("mutants/mutmut-cicd-stats.json"))
judged = s["killed"] + s["survived"] + s["timeout"] + s["no_tests"] + s["suspicious"]
# A mutant that makes the tests time out was detected too (it is counted as killed, and shown).
score = 100.0 * (s["killed"] + s["timeout"]) / judged if judged else 0.0
print(f"{sys.argv[1]}: {s['killed'] + s['timeout']}/{judged} killed = {score:.1f} % "
      f"(survived {s['survived']}, no tests {s['no_tests']}, timeout {s['timeout']}, "
      f"suspicious {s['suspicious']}, skipped {s['skipped']}, total {s['total']})")
EOF
echo "survivors: $work/survivors.txt"
