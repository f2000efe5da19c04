#!/usr/bin/env bash
# Fuzzes one target with libFuzzer for SECONDS (default 60), starting from Fuzz/corpus/TARGET:
#
#     Fuzz/run.sh framer|message-line|login [SECONDS] [libFuzzer options...]
#
# The fuzzer build (-sanitize=fuzzer,address) lives in its own scratch path, .build-fuzz, so the
# package's normal build and tests are untouched. New inputs go to a temporary directory, not the
# committed corpus; a crash is saved as .build-fuzz/artifacts/TARGET-crash-*, and replayed with
# the plain build's `.build/debug/chat-fuzz TARGET FILE`. Exit status 0 when nothing was found.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: Fuzz/run.sh framer|message-line|login [SECONDS] [libFuzzer options...]"
target=${1:-}
case "$target" in
framer | message-line | login) ;;
*)
    echo "$usage" >&2
    exit 64
    ;;
esac
seconds=${2:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "$usage" >&2
    exit 64
fi
shift $(($# < 2 ? $# : 2))

swift build --scratch-path .build-fuzz -c release --product chat-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
binary=$(swift build --scratch-path .build-fuzz -c release --show-bin-path)/chat-fuzz

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p .build-fuzz/artifacts
# Swift's own crash reporter would take the signal from libFuzzer, which then saves nothing.
SWIFT_BACKTRACE=enable=no "$binary" "$target" "$work" "Fuzz/corpus/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=".build-fuzz/artifacts/$target-" -print_final_stats=1 "$@"
