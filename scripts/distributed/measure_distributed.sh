#!/usr/bin/env bash
# Past one machine, measured: FF's layer pipeline and data parallelism (ff, bp) over MPI at np = 1
# and np = 2 (1 thread per rank), the network's alpha and beta (ping-pong), and the single-process
# runs the scaling model is calibrated on (scripts/distributed/scaling_model.py, bench/README.md "past one machine").
# Each configuration runs REPEATS times; the model and the note use the median of the last epoch.
#
# usage: scripts/distributed/measure_distributed.sh [--out DIR] [--repeats N] [--layers L] [--batch B]
#          [--limit-train N] [--epochs E] [--dataset D]
# default: ff and bp at 784,2000,2000,2000,2000, batch 256, 2 epochs of 6,400 MNIST images
# (synthetic when MNIST is not fetched), 3 repeats: about 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out="" repeats=3 layers=784,2000,2000,2000,2000 batch=256 limit=6400 epochs=2 dataset=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --layers) layers=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --limit-train) limit=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --dataset) dataset=$2; shift 2 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "measure_distributed: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
ffbench=${FFBENCH:-build/release/bench/ffbench}
[[ -x $ffbench ]] || { echo "measure_distributed: $ffbench not built: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "measure_distributed: mpirun not found: scripts/setup.sh installs Open MPI" >&2; exit 2; }
if [[ -z $dataset ]]; then
  if "$ffbench" list | grep -q "mnist .*available"; then dataset=mnist; else dataset=synthetic; fi
fi
out=${out:-reports/distributed/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
# Each rank bound to its own core (Open MPI's default for 2 ranks); one thread per rank.
mpi=(mpirun --bind-to core)
half=$((batch / 2))
common=(-d "$dataset" -l "$layers" -e "$epochs" --limit-train "$limit" --limit-test 1000 -t 1)
ff_pipe=(-a ff -o schedule=pipelined -o classifier=false)
ff_data=(-a ff -o classifier=false)
# name | launcher | ffbench arguments
configs=(
  "ff-pipeline-np1||${ff_pipe[*]} -b $batch"
  "ff-pipeline-np2|np2|${ff_pipe[*]} -b $batch --distributed pipeline"
  "ff-np1||${ff_data[*]} -b $batch"
  "ff-np1-half||${ff_data[*]} -b $half"
  "ff-data-np2|np2|${ff_data[*]} -b $batch --distributed data"
  "bp-np1||-a bp -b $batch"
  "bp-np1-half||-a bp -b $half"
  "bp-data-np2|np2|-a bp -b $batch --distributed data"
)
{
  echo "{\"layers\": \"$layers\", \"batch\": $batch, \"dataset\": \"$dataset\", \"limit_train\": $limit, \"epochs\": $epochs,"
  echo " \"repeats\": $repeats, \"cpu\": \"$(lscpu | sed -n 's/^Model name: *//p' | head -1)\", \"cores\": $(getconf _NPROCESSORS_ONLN),"
  echo " \"revision\": \"$(git rev-parse --short=12 HEAD)\", \"started\": \"$(date -u +%FT%TZ)\"}"
} >"$out/setup.json"
echo "measure_distributed: $dataset, layers $layers, batch $batch, $repeats repeats -> $out"
"${mpi[@]}" -np 2 "$ffbench" pingpong --json "$out/pingpong.json" | tail -n 1
for r in $(seq 1 "$repeats"); do
  for config in "${configs[@]}"; do
    IFS='|' read -r name launcher arguments <<<"$config"
    read -r -a args <<<"$arguments"
    file="$out/$name.r$r.json"
    started=$SECONDS
    if [[ $launcher == np2 ]]; then
      "${mpi[@]}" -np 2 "$ffbench" train "${args[@]}" "${common[@]}" --json "$file" >"$out/$name.r$r.log" 2>&1
    else
      "$ffbench" train "${args[@]}" "${common[@]}" --json "$file" >"$out/$name.r$r.log" 2>&1
    fi
    rate=$(/usr/bin/python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['epochs'][-1]['samples_per_second']))" "$file")
    echo "  repeat $r/$repeats $name: $rate samples/s (last epoch) in $((SECONDS - started)) s"
  done
done
echo "measure_distributed: done; model and validation: /usr/bin/python3 scripts/distributed/scaling_model.py $out"
