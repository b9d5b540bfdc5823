#!/usr/bin/env bash
# Builds the Java helper (clients/java) with plain javac and runs its tests with the JUnit console
# launcher: no Maven, no Gradle, no network. The jars come from $JARS (default /usr/share/java,
# Debian's junit5 and jackson packages); classes and reports go to <repo>/target/java.
#
# Usage: clients/java/build.sh [--examples]
#   --examples  also compile and run examples/java/PartnerTest.java (the reference Java partner,
#               started by the test, against the simulator), with the helper on the class path.
# Which simulator: BENECAFE_SIM_URL (a running one; SIM_CONTROL_TOKEN for its token), else one
# started per test class from BENECAFE_SIM_BIN, else `benecafe-sim` on PATH.
# Exit status: 0 when every test passed, else non-zero.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
JARS="${JARS:-/usr/share/java}"
JAVAC="${JAVAC:-javac}"
JAVA="${JAVA:-java}"

examples=0
for arg in "$@"; do
  case "$arg" in
    --examples) examples=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

jar() {
  local f="$JARS/$1"
  if [ ! -f "$f" ]; then echo "build.sh: missing $f (set JARS to the folder holding it)" >&2; exit 2; fi
  printf '%s' "$f"
}
# compiling: the JUnit Jupiter API (and what its annotations name) and Jackson
compile_cp="$(jar junit-jupiter-api.jar):$(jar apiguardian-api.jar):$(jar opentest4j.jar):$(jar junit-platform-commons.jar)"
jackson="$(jar jackson-databind.jar):$(jar jackson-core.jar):$(jar jackson-annotations.jar)"
compile_cp="$compile_cp:$jackson"
launcher="$(jar junit-platform-console-standalone.jar)" # carries the Jupiter API and engine itself

out="$repo/target/java"
classes="$out/classes"
test_classes="$out/test-classes"
example_classes="$out/example-classes"
rm -rf "$classes" "$test_classes" "$example_classes" "$out/reports"
mkdir -p "$classes" "$test_classes" "$out/reports"

javac_flags=(--release 11 -encoding UTF-8 -Xlint:all,-processing -Werror)
launcher_flags=(--details=tree --disable-banner --fail-if-no-tests)
[ -t 1 ] || launcher_flags+=(--disable-ansi-colors) # plain text in logs and pipes

echo "== compiling the helper ($here/src/main/java)"
mapfile -t main_sources < <(find "$here/src/main/java" -name '*.java' | sort)
"$JAVAC" "${javac_flags[@]}" -d "$classes" -cp "$compile_cp" "${main_sources[@]}"

echo "== compiling its tests ($here/src/test/java)"
mapfile -t test_sources < <(find "$here/src/test/java" -name '*.java' | sort)
"$JAVAC" "${javac_flags[@]}" -d "$test_classes" -cp "$classes:$compile_cp" "${test_sources[@]}"

status=0
echo "== running benecafe.sim tests"
"$JAVA" -Dbenecafe.cases="$repo/clients/cases.json" -jar "$launcher" \
  --class-path "$test_classes:$classes:$jackson" \
  --select-package benecafe.sim "${launcher_flags[@]}" \
  --reports-dir "$out/reports/helper" || status=$?

if [ "$examples" = 1 ]; then
  mkdir -p "$example_classes"
  echo "== compiling examples/java/PartnerTest.java"
  "$JAVAC" "${javac_flags[@]}" -d "$example_classes" -cp "$classes:$compile_cp" "$repo/examples/java/PartnerTest.java"
  echo "== running PartnerTest (the reference Java partner)"
  "$JAVA" -Dbenecafe.partner="$repo/examples/java/Partner.java" -jar "$launcher" \
    --class-path "$example_classes:$classes:$jackson" \
    --select-class PartnerTest "${launcher_flags[@]}" \
    --reports-dir "$out/reports/examples" || status=$?
fi

if [ "$status" = 0 ]; then echo "== build.sh: all tests passed"; else echo "== build.sh: tests failed (status $status)" >&2; fi
exit "$status"
