#!/usr/bin/env bash
# Prints (or, with "run", runs) requests and commands to try against the example.
#   examples/credit/try.sh print|run [HOST] [PORT]
set -euo pipefail
mode=${1:-print}; host=${2:-127.0.0.1}; port=${3:-8080}
base="http://$host:$port"
# One applicant, one input per feature (categoricals as strings, null = unknown).
applicant='{"id":"application-0001","inputs":[
 {"name":"Seniority","datatype":"INT32","shape":[1],"data":[9]},
 {"name":"Home","datatype":"BYTES","shape":[1],"data":["rent"]},
 {"name":"Time","datatype":"INT32","shape":[1],"data":[60]},
 {"name":"Age","datatype":"INT32","shape":[1],"data":[30]},
 {"name":"Marital","datatype":"BYTES","shape":[1],"data":["married"]},
 {"name":"Records","datatype":"BYTES","shape":[1],"data":["no"]},
 {"name":"Job","datatype":"BYTES","shape":[1],"data":["freelance"]},
 {"name":"Expenses","datatype":"INT32","shape":[1],"data":[73]},
 {"name":"Income","datatype":"INT32","shape":[1],"data":[129]},
 {"name":"Assets","datatype":"INT32","shape":[1],"data":[0]},
 {"name":"Debt","datatype":"INT32","shape":[1],"data":[0]},
 {"name":"Amount","datatype":"INT32","shape":[1],"data":[800]},
 {"name":"Price","datatype":"INT32","shape":[1],"data":[null]}]}'
applicant=$(tr -d '\n' <<<"$applicant")
commands=(
  "curl -s $base/v2/models/credit"
  "curl -s -X POST $base/v2/models/credit/infer -H 'Content-Type: application/json' -d '$applicant'"
  "curl -s -X POST $base/v2/models/credit/feedback -d '{\"id\": \"application-0001\", \"label\": \"good\"}'"
  "curl -s $base/metrics | grep -E 'vigil_inference_requests_total|vigil_prediction_log_written_total'"
  "build/vigil log --store examples/credit/vigil.db --model credit --hours 1 --limit 5"
  "build/vigil versions credit --store examples/credit/vigil.db"
  "curl -s $base/api/models/credit/history"
  "build/vigil events --model credit --store examples/credit/vigil.db"
)
if [[ $mode == run ]]; then
  for c in "${commands[@]}"; do echo "\$ $c"; eval "$c"; echo; done
else
  echo
  echo "Vigil is starting on $base with the credit-scoring example. Try, from another terminal:"
  echo
  for c in "${commands[@]}"; do echo "  $c"; echo; done
  echo "Stop the server with Ctrl-C (it finishes in-flight requests first)."
  echo
fi
