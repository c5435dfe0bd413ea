#!/usr/bin/env bash
# Mutation scores of every rule module with its fast tests (issue 18, item 9; target ≥ 85 % killed).
# One module at a time, one mutmut child each: about 20 minutes on two cores. Not part of the CI suite.
# Prints one line per module; survivors of each are listed in .work/mutation/<module>/survivors.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# module | its fast tests (no broker, no database)
RULE_MODULES=(
    "services/agency/domain.py|tests/agency/test_domain.py tests/agency/test_domain_rules.py"
    "services/agency/policy.py|tests/agency/test_domain.py tests/agency/test_domain_rules.py tests/agency/test_closure.py"
    "services/tracker/domain.py|tests/tracker/test_fold.py tests/tracker/test_domain_rules.py"
    "services/turnaround/domain.py|tests/turnaround/test_clock_rules.py"
    "services/shared/calendar.py|tests/unit/test_calendar.py tests/unit/test_postal_limits.py"
    "services/shared/postal_limits.py|tests/unit/test_postal_limits.py"
    "services/shared/legal_rules.py|tests/unit/test_legal_rules.py"
    "services/shared/timeliness.py|tests/unit/test_timeliness.py"
    "contracts/values.py|tests/unit/test_contract_values.py tests/unit/test_times.py tests/unit/test_time_convention.py"
)

status=0
for entry in "${RULE_MODULES[@]}"; do
    module=${entry%%|*}
    # shellcheck disable=SC2086 # the test files are separate words
    bash scripts/mutation.sh "$module" ${entry#*|} | head -n 1 || status=1
done
exit $status
