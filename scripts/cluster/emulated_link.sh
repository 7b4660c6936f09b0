#!/usr/bin/env bash
# An emulated two-machine cluster on this host: two network namespaces joined by a veth pair, each end
# shaped to RATE with a token bucket (tc tbf; the netem qdisc, and so added delay, is not available
# here), and what Open MPI needs to start one rank in each: a hostfile of their addresses and a
# launch agent that runs a command inside the namespace owning an address. `ffbench run` calls it for
# a point with a "link" field; it needs root or CAP_NET_ADMIN, and iproute2.
#
# usage: emulated_link.sh up RATE     make it (RATE: 1gbit, 10gbit, ... or unshaped); prints the state folder
#        emulated_link.sh down        remove every namespace, link and qdisc it made (idempotent)
#        emulated_link.sh check       exit 0 when this process may make namespaces, else say why (exit 3)
#        emulated_link.sh mpirun ARGS run `mpirun ARGS` with the first rank's namespace as its home and the
#                                     ranks placed one per namespace (after `up`)
#        emulated_link.sh agent HOST CMD...   (Open MPI's plm_rsh_agent) run CMD inside HOST's namespace
set -euo pipefail
state=${FFBENCH_CLUSTER_STATE:-/run/ffbench-cluster}
prefix=ffb-n
subnet=10.213.77
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "emulated_link.sh: $*" >&2; exit "${2:-1}"; }

check() {
  command -v ip >/dev/null || die "ip (iproute2) is missing: apt-get install iproute2" 3
  command -v tc >/dev/null || die "tc (iproute2) is missing: apt-get install iproute2" 3
  local probe="${prefix}probe$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    die "cannot make a network namespace (needs root or CAP_NET_ADMIN): run as root, or skip the points with a link" 3
  fi
  ip netns del "$probe"
}

down() {
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${prefix}" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true   # deleting a namespace deletes its end of the veth pair, and the pair
  done
  rm -rf "$state"
}

# Bytes a token bucket at RATE may send at once: at least one timer tick's worth (250 Hz) and 64 KiB.
burst_bytes() {
  local rate=$1 bits
  case $rate in
    *gbit) bits=$(( ${rate%gbit} * 1000000000 )) ;;
    *mbit) bits=$(( ${rate%mbit} * 1000000 )) ;;
    *) die "unknown rate '$rate': give NNgbit, NNmbit or unshaped" 2 ;;
  esac
  local tick=$(( bits / 8 / 250 ))
  echo $(( tick > 65536 ? tick : 65536 ))
}

up() {
  local rate=$1
  [[ $rate == unshaped ]] || burst_bytes "$rate" >/dev/null
  check
  down
  mkdir -p "$state"
  for i in 0 1; do
    ip netns add "${prefix}$i"
    ip -n "${prefix}$i" link set lo up
  done
  ip link add "${prefix}v0" netns "${prefix}0" type veth peer name "${prefix}v1" netns "${prefix}1"
  for i in 0 1; do
    ip -n "${prefix}$i" addr add "${subnet}.$((i + 1))/24" dev "${prefix}v$i"
    ip -n "${prefix}$i" link set "${prefix}v$i" up
    if [[ $rate != unshaped ]]; then
      ip netns exec "${prefix}$i" tc qdisc add dev "${prefix}v$i" root tbf rate "$rate" burst "$(burst_bytes "$rate")" latency 100ms
    fi
    echo "${subnet}.$((i + 1)) ${prefix}$i" >>"$state/hosts"
    echo "${subnet}.$((i + 1)) slots=1" >>"$state/hostfile"
  done
  echo "$rate" >"$state/rate"
  echo "$state"
}

agent() {
  # Open MPI calls the agent as ssh: options may come before the host; the host is the first word
  # that is one of ours.
  local host="" ns
  while [[ $# -gt 0 ]]; do
    if grep -q "^$1 " "$state/hosts" 2>/dev/null; then host=$1; shift; break; fi
    shift
  done
  [[ -n $host ]] || die "agent: no host of $state/hosts among the arguments"
  ns=$(awk -v h="$host" '$1 == h {print $2}' "$state/hosts")
  exec ip netns exec "$ns" sh -c "$*"
}

run_mpirun() {
  [[ -f $state/hostfile ]] || die "no emulated cluster is up: emulated_link.sh up RATE first"
  local root=()
  [[ $(id -u) == 0 ]] && root=(--allow-run-as-root)
  # Ranks that spin in MPI calls leave no core for the kernel's network work on a small machine: they yield.
  exec ip netns exec "${prefix}0" mpirun "${root[@]}" --hostfile "$state/hostfile" \
    --mca plm_rsh_agent "$here/emulated_link.sh agent" --mca btl tcp,self \
    --mca btl_tcp_if_include "${subnet}.0/24" --mca oob_tcp_if_include "${subnet}.0/24" \
    --mca mpi_yield_when_idle 1 --bind-to none "$@"
}

case ${1:-} in
  up) [[ $# -eq 2 ]] || die "usage: emulated_link.sh up RATE" 2; up "$2" ;;
  down) down ;;
  check) check ;;
  agent) shift; agent "$@" ;;
  mpirun) shift; run_mpirun "$@" ;;
  -h|--help) sed -n 2,16p "$0" ;;
  *) die "unknown command '${1:-}' (up RATE, down, check, mpirun ARGS, agent HOST CMD; see --help)" 2 ;;
esac
