#!/usr/bin/env bash
# The native addon under AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer.
#
#   scripts/sanitize.sh                 build, check the tools, run the native tests, print counts
#   scripts/sanitize.sh --build-only    only build the sanitizer addon and smoke-test it
#   scripts/sanitize.sh --no-build      reuse the last build
#   scripts/sanitize.sh test/x.test.ts  run only these test files
#
# Build: binding.gyp through node-gyp (the second build path the README documents, so CI's node-gyp
# build is this one and costs no extra build), from a copy of the tree in $SGDR_SANITIZE_DIR
# (default build-asan/) with g++'s -fsanitize=address,undefined at -O1 with frame pointers and line
# tables (-g1: every report names file:line, at half the compile time of -g). node-gyp's Makefile
# appends $CXXFLAGS/$LDFLAGS after binding.gyp's flags, so -O1 overrides its -O3. The copy keeps file
# times (cp -a), so a rerun recompiles only what changed.
#
# Run: every node process the tests start gets libasan (and libubsan) preloaded: an addon built with
# ASan needs the ASan runtime loaded before anything else, and node itself is not built with it.
# Node, V8 and LibTorch are not instrumented: ASan still sees every malloc/free they make (the runtime
# replaces them), but checks loads and stores only in our code.
#
# Leaks: LeakSanitizer checks each test worker after its file's tests (test/setup/sanitizer.ts;
# vitest kills its workers, so the check at exit would never run there) and every other process at
# exit. Node and V8 always leave some memory unreachable to LSan; a leak counts as ours by where it
# was allocated (scripts/sanitizer-report.js).
#
# Counts: the tests' own pass/fail; sanitizer error reports (ASan, UBSan: each aborts its process);
# leak reports whose allocation site is in our addon. Before the tests, deliberate defects
# (native/binding/sanitizer_probes.cc, compiled into this build only) must each be reported: a heap
# overflow, a use after free, a signed overflow, and a leak that must be attributed to our code. So
# a count of 0 means the tools were live and found nothing, not that they never ran.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS

build=1
run_tests=1
tests=()
for a in "$@"; do
  case "$a" in
    --build-only) run_tests=0 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) tests+=("$a") ;;
  esac
done

# The native tests: the test files that load the addon and, together, reach every native/**/*.cc:
#   binding/tensor_wrap, addon                  all of them
#   binding/model_wrap, core/resnet             native-resnet, native-errors (forward, state dicts, loads)
#   binding/optimizer_wrap, train_step_wrap,    native-optim (SGD/Adam/AdamW steps and state), native-errors
#     core/optim, core/fused_sgd
#   binding/lr_scheduler_wrap, core/lr_scheduler native-scheduler
#   data/*, binding/data_wrap                   data-* (IDX, CIFAR, JPEG/PNG folders, fast decode, the loader,
#                                               hostile IDX headers and gzip bombs, PNG transparency, symlinks)
#   binding/trainer_wrap                        train-fit (fit(): epochs, resume, abort, divergence), native-limits
#   perf/*, binding/bench_wrap                  bench-levers (each lever against the plain path), and every step
# The CLI and experiment tests are left out: they drive the same native code through child
# processes for many minutes more (runTraining is fit(); the CLI's own code is TypeScript). So is
# native-memory (RSS over 1,000 forwards): under ASan, RSS holds the quarantine of freed memory (up
# to 256 MB, filled as the test frees its outputs), so its 5% bound measures ASan; the leak checks
# here and scripts/soak.js cover what it guards. And crafted-files, whose CLIs run under ulimit -v
# 2 GB: ASan reserves terabytes of address space for its shadow memory and cannot start there.
if [ ${#tests[@]} -eq 0 ]; then
  tests=(
    test/native-errors.test.ts test/native-limits.test.ts test/native-optim.test.ts test/native-resnet.test.ts
    test/native-scheduler.test.ts
    test/data-idx.test.ts test/data-idx-hostile.test.ts test/data-cifar.test.ts test/data-folder.test.ts
    test/data-folder-links.test.ts test/data-image-trns.test.ts test/data-fast-decode.test.ts
    test/data-loader.test.ts test/data-spec.test.ts
    test/train-fit.test.ts test/train-units.test.ts test/bench-levers.test.ts
  )
fi

dir=$root/${SGDR_SANITIZE_DIR:-build-asan}
src=$dir/src
addon=$src/build/Release/sgdr_native.node
logs=$dir/logs
# -fno-sanitize-recover=all: the first UBSan finding aborts, like an ASan one, so none can scroll by.
# float-cast-overflow (a double out of an integer's range cast to it) is not part of "undefined".
SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all"
export CXXFLAGS="$SAN -fno-omit-frame-pointer -g1 -O1 -DSGDR_SANITIZER_PROBES"
export LDFLAGS="-fsanitize=address,undefined"
nodedir=$(dirname "$(dirname "$(command -v node)")")

if [ $build -eq 1 ]; then
  echo "sanitize: building $addon (node-gyp, $CXXFLAGS)"
  mkdir -p "$src"
  # A change of flags needs a clean build (make does not see it).
  if [ "$(cat "$dir/flags" 2>/dev/null)" != "$CXXFLAGS $LDFLAGS" ]; then rm -rf "$src/build"; fi
  rm -rf "$src/native" "$src/scripts"
  cp -a native scripts binding.gyp package.json "$src"/
  ln -sfn "$root/node_modules" "$src/node_modules"
  build_start=$SECONDS
  (
    cd "$src"
    [ -f build/Makefile ] || npx node-gyp configure --nodedir="$nodedir" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; exit 1; }
    npx node-gyp build -j "$(nproc)" --nodedir="$nodedir" >"$dir/build.log" 2>&1 || { tail -40 "$dir/build.log"; exit 1; }
  )
  echo "$CXXFLAGS $LDFLAGS" > "$dir/flags"
  echo "sanitize: built in $((SECONDS - build_start)) s"
fi
[ -f "$addon" ] || { echo "sanitize: $addon is missing (run without --no-build)" >&2; exit 1; }

libasan=$(g++ -print-file-name=libasan.so)
libubsan=$(g++ -print-file-name=libubsan.so)
for f in "$libasan" "$libubsan"; do
  [ -e "$f" ] || { echo "sanitize: $f is missing (Debian: apt-get install libasan8 libubsan1)" >&2; exit 1; }
done

rm -rf "$logs"
mkdir -p "$logs"
# Where each of the options below matters:
# - abort_on_error: an ASan or UBSan report aborts its process (SIGABRT), so no test can pass over one.
# - exitcode=0 with detect_leaks=1: LeakSanitizer checks every process at exit and writes its report,
#   but does not change the exit status. Node and V8 leave memory behind at exit by design (objects
#   of V8's heap, which LSan does not scan, are never collected then), in every process, ours or not
#   (vitest's own, `sort`): the reports are counted below by where the leaked memory was allocated.
# - log_path: one report file per process, read by the counts below. (UBSan ignores its log_path when
#   it runs beside ASan: its reports go to stderr, which is kept in $logs/*.out for the counts.)
# - stack_trace_format: each frame with its module, which the leak count goes by.
# - malloc_context_size=16: the allocating frames (ours are within the first few) and their callers.
#   Deeper stacks reach V8's JIT code, whose addresses belong to no module, and g++ 12's runtime
#   rereads /proc/self/maps for every such address: at the default depth of 30 one leak check took
#   ~30 s (V8 leaves ~500 reports per process), at 16 it takes ~8 s.
# - use_tls=0 (LSan): g++ 12's LeakSanitizer crashes scanning the dynamic TLS of dlopen()ed
#   libraries on this glibc ("Tracer caught signal 11" in ScanRangeForPointers, reproducibly in a
#   process that exits as the addon loads, and now and then in a test worker). Without it, memory
#   only TLS points to may look leaked: the reports seen so far are ld.so's TLS blocks and libgomp's
#   and glib's per-thread data, none allocated by us (data.cc's thread_local scratch buffers, grown
#   on the main thread and checked with use_tls=0, are not reported: their TLS block is reachable).
# No suppressions: the count goes by allocation site (above), so nothing needs hiding. Not set:
# detect_odr_violation, alloc_dealloc_mismatch, new_delete_type_mismatch (defaults: on): no report
# of theirs has come from the uninstrumented libraries in these runs, so none is turned off.
asan_options="abort_on_error=1:detect_leaks=1:exitcode=0:log_path=$logs/asan:malloc_context_size=16"
asan_options+=":stack_trace_format='    #%n %p %F %L {%m}'"
lsan_options="use_tls=0"
ubsan_options="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$logs/ubsan"
sanitized() {
  SGDR_SANITIZE=1 SGDR_ADDON_PATH="$addon" LD_PRELOAD="$libasan:$libubsan" \
    ASAN_OPTIONS="$asan_options" LSAN_OPTIONS="$lsan_options" UBSAN_OPTIONS="$ubsan_options" "$@"
}

npx tsc -p tsconfig.build.json
# The smoke test of the node-gyp build path (what CI's node-gyp line proves: binding.gyp builds,
# links and loads), under the sanitizers; its reports are counted with the tests'.
rc=0
sanitized node scripts/smoke-test.js 2>"$logs/smoke.out" || rc=$?
cat "$logs/smoke.out" >&2
[ $rc -eq 0 ] || { echo "sanitize: the smoke test failed (exit $rc)"; exit 1; }
[ $run_tests -eq 1 ] || exit 0

# 1. The tools must see our deliberate defects.
probe_fail=0
for kind in heap-buffer-overflow heap-use-after-free signed-integer-overflow leak; do
  plogs=$dir/probe-logs
  rm -rf "$plogs"; mkdir -p "$plogs"
  rc=0
  # The probe runs a moment after loading: LSan's exit-time tracer crashes in a process that exits
  # the instant the addon (and LibTorch's threads) started (sanitizer-report.js counts such crashes).
  # In a subshell with its stderr dropped, and not its last command (bash would exec node in its
  # place), so that bash's own "Aborted" line for the probe's abort goes to /dev/null.
  ( SGDR_SANITIZE=1 LD_PRELOAD="$libasan:$libubsan" \
    ASAN_OPTIONS="${asan_options//$logs/$plogs}" LSAN_OPTIONS="$lsan_options" UBSAN_OPTIONS="${ubsan_options//$logs/$plogs}" \
    node -e "const a = require(process.argv[1]); setTimeout(() => a.sanitizerProbe(process.argv[2]), 300)" "$addon" "$kind" \
    >/dev/null 2>"$plogs/stderr.out"; exit $? ) 2>/dev/null || rc=$?
  report=$(cat "$plogs"/* 2>/dev/null || true)
  case "$kind" in
    leak) pattern="Direct leak of 4000 byte" ;;
    signed-integer-overflow) pattern="runtime error: signed integer overflow" ;;
    *) pattern="ERROR: AddressSanitizer: $kind" ;;
  esac
  if grep -q "$pattern" <<<"$report" && grep -q "sanitizer_probes.cc" <<<"$report" &&
     { [ "$kind" = leak ] || [ $rc -ne 0 ]; } &&
     { [ "$kind" != leak ] || node scripts/sanitizer-report.js --ours-only "$plogs" | grep -q '^1$'; }; then
    echo "sanitize: probe $kind: reported (exit $rc), as it must be"
  else
    echo "sanitize: probe $kind: NOT reported as expected (exit $rc):"
    sed 's/^/  | /' <<<"$report" | head -30
    probe_fail=1
  fi
done
rm -rf "$dir/probe-logs"
[ $probe_fail -eq 0 ] || { echo "sanitize: the sanitizers are not working; no counts can be trusted"; exit 1; }

# 2. The native tests under the sanitizers.
tests_start=$SECONDS
results=$dir/vitest.json
rm -f "$results"
rc=0
set +e
sanitized npx vitest run "${tests[@]}" --reporter=default --reporter=json --outputFile.json="$results" 2>&1 | tee "$logs/vitest.out"
rc=${PIPESTATUS[0]}
set -e
tests_seconds=$((SECONDS - tests_start))

# 3. The counts.
node scripts/sanitizer-report.js "$logs" --results "$results" --seconds "$tests_seconds" --total-seconds $((SECONDS - start)) || rc=$?
exit $rc
