# Shell functions shared by the benchmark scripts (bench/run, bench/rollout,
# bench/neural): sourced, they define functions only.

log() { echo "bench: $*" >&2; }
die() { echo "bench: FAILED: $*" >&2; exit 1; }

# The port `vigil serve --port 0` (process PID, output in LOG) listens on, from
# the line it prints once it does; dies if it exits first or prints none
# within 30 s. NAME names it in the message.
listening_port() {   # pid log name
  local port=""
  for _ in $(seq 300); do
    kill -0 "$1" 2>/dev/null || die "$3 exited during start-up"
    port=$(grep -om1 'listening on http://127\.0\.0\.1:[0-9]*' "$2" | sed 's/.*://' || true)
    [[ -n "$port" ]] && { echo "$port"; return 0; }
    sleep 0.1
  done
  die "$3 printed no 'listening on' line in 30 s"
}

to_ms() {         # wrk latency (e.g. 812.00us, 1.23ms, 1.05s, 1.00m) -> ms
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.0f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.0f", v * 1000 }
    else print "?" }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
