#!/usr/bin/env bash
# Install, configure and start a single-node SLURM cluster on this host (for CI and local tests).
#
#   sudo bash .ci/slurm/setup.sh        # idempotent: a second run only checks that the node is up
#   sudo bash .ci/slurm/setup.sh stop   # stop slurmd, slurmctld and munged (pid files)
#
# Debian's slurm-wlm and munge; one node = this host (CPUs and memory read from the machine),
# one default partition "ci", no accounting database (job states come from slurmctld via
# squeue, which keeps finished jobs for MinJobAge=3600 s), no cgroups (proctrack/linuxproc,
# task/none), daemons started directly (no systemd). The configuration is rendered from
# .ci/slurm/slurm.conf.in into /etc/slurm/slurm.conf; if it changed, running daemons are
# restarted. Exits non-zero with diagnostics if the node is not usable within
# $SLURM_SETUP_TIMEOUT seconds (default 90).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TEMPLATE="$HERE/slurm.conf.in"
CONF=/etc/slurm/slurm.conf
TIMEOUT="${SLURM_SETUP_TIMEOUT:-90}"
export PATH="/usr/sbin:/sbin:$PATH"

log() { echo "[slurm-setup] $*" >&2; }

diagnostics() {
  log "---- diagnostics ----"
  { command -v sinfo >/dev/null && sinfo -N -l; } >&2 2>&1 || true
  { command -v sinfo >/dev/null && sinfo -R; } >&2 2>&1 || true
  { command -v scontrol >/dev/null && scontrol show node; } >&2 2>&1 || true
  { munge -n | unmunge; } >&2 2>&1 || log "munge round trip FAILED"
  pgrep -a 'slurm|munge' >&2 || true
  for f in /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log /var/log/munge/munged.log; do
    if [ -f "$f" ]; then
      log "---- tail $f ----"
      tail -n 40 "$f" >&2 || true
    fi
  done
}

die() {
  log "ERROR: $*"
  diagnostics
  exit 1
}

if [ "$(id -u)" -ne 0 ]; then
  echo "[slurm-setup] ERROR: must run as root (installs packages, starts daemons)" >&2
  exit 1
fi

# ---------------------------------------------------------------- daemons
# pid of a running daemon: from its pid file if that process is the daemon, else by exact
# process name (a daemon left from an earlier run whose pid file was removed).
daemon_pids() {
  local name="$1" pidfile="$2" pid
  if [ -s "$pidfile" ]; then
    pid="$(cat "$pidfile")"
    if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$name" ]; then
      echo "$pid"
      return
    fi
  fi
  pgrep -x "$name" || true
}

stop_daemon() {
  local name="$1" pidfile="$2" pids
  pids="$(daemon_pids "$name" "$pidfile")"
  [ -n "$pids" ] || return 0
  log "stopping $name ($pids)"
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null || true
  for _ in $(seq 1 50); do
    # shellcheck disable=SC2086
    kill -0 $pids 2>/dev/null || break
    sleep 0.2
  done
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null || true
  rm -f "$pidfile"
}

if [ "${1:-}" = stop ]; then
  stop_daemon slurmd /run/slurmd.pid
  stop_daemon slurmctld /run/slurmctld.pid
  stop_daemon munged /run/munge/munged.pid
  exit 0
fi
[ $# -eq 0 ] || { echo "usage: $0 [stop]" >&2; exit 2; }

# ---------------------------------------------------------------- packages
installed() {
  local pkg
  for pkg in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || return 1
  done
}
if ! installed slurm-wlm munge ||
  ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
  fi
fi
for cmd in sbatch squeue sinfo scontrol slurmctld slurmd munged munge; do
  command -v "$cmd" >/dev/null || die "$cmd not found after installing slurm-wlm and munge"
done

# ---------------------------------------------------------------- munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating munge key"
  mungekey --create --keyfile /etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "starting munged"
  # --force: start even if a stale socket from a killed munged is left behind.
  runuser -u munge -- munged --force
  for _ in $(seq 1 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.2
  done
  munge -n | unmunge >/dev/null 2>&1 || die "munged does not answer"
fi

# ---------------------------------------------------------------- slurm.conf
HOST="$(hostname -s)"
NPROC="$(nproc)"
MEM_MB=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
# slurmd reports a little less than MemTotal; never configure more than it sees (the node
# would be drained), and leave headroom for the daemons and the snakemake controller.
SLURMD_MEM=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n 1)
if [ -n "$SLURMD_MEM" ] && [ "$SLURMD_MEM" -lt "$MEM_MB" ]; then MEM_MB=$SLURMD_MEM; fi
HEADROOM=$((MEM_MB / 10 > 1024 ? MEM_MB / 10 : 1024))
REAL_MEM=$((MEM_MB - HEADROOM))
[ "$REAL_MEM" -ge 1024 ] || die "too little memory for a SLURM node ($MEM_MB MB)"
# Use slurmd's view of the socket/core/thread layout when it agrees with nproc; a mismatch
# between configured and detected layout makes slurmctld mark the node invalid.
TOPOLOGY="CPUs=$NPROC"
LAYOUT="$(slurmd -C 2>/dev/null | head -n 1 || true)"
if [ "$(sed -n 's/.* CPUs=\([0-9]*\) .*/\1/p' <<<"$LAYOUT")" = "$NPROC" ]; then
  TOPOLOGY="$(grep -oE '(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+' \
    <<<"$LAYOUT" | tr '\n' ' ' | sed 's/ $//')"
fi

install -d -m 0755 /etc/slurm
NEW_CONF="$(mktemp)"
trap 'rm -f "$NEW_CONF"' EXIT
sed -e "s/@HOST@/$HOST/g" -e "s/@MEM@/$REAL_MEM/g" -e "s/@TOPOLOGY@/$TOPOLOGY/g" \
  "$TEMPLATE" >"$NEW_CONF"
CHANGED=0
if ! cmp -s "$NEW_CONF" "$CONF"; then
  log "writing $CONF (node $HOST: $TOPOLOGY RealMemory=$REAL_MEM)"
  install -m 0644 "$NEW_CONF" "$CONF"
  CHANGED=1
fi

install -d -o slurm -g slurm -m 0755 /var/spool/slurmctld /var/log/slurm
install -d -o root -g root -m 0755 /var/spool/slurmd

# ---------------------------------------------------------------- daemons
CTLD_PIDS="$(daemon_pids slurmctld /run/slurmctld.pid)"
SLURMD_PIDS="$(daemon_pids slurmd /run/slurmd.pid)"
if [ "$CHANGED" = 1 ] && { [ -n "$CTLD_PIDS" ] || [ -n "$SLURMD_PIDS" ]; }; then
  log "configuration changed: restarting the daemons"
  stop_daemon slurmd /run/slurmd.pid
  stop_daemon slurmctld /run/slurmctld.pid
  CTLD_PIDS=""
  SLURMD_PIDS=""
fi
if [ -z "$CTLD_PIDS" ]; then
  log "starting slurmctld"
  if [ "$CHANGED" = 1 ]; then
    # New configuration (e.g. another host name): do not recover stale job/node state.
    slurmctld -c || die "slurmctld failed to start"
  else
    slurmctld || die "slurmctld failed to start"
  fi
fi
if [ -z "$SLURMD_PIDS" ]; then
  log "starting slurmd"
  slurmd || die "slurmd failed to start"
fi

# ---------------------------------------------------------------- wait for the node
deadline=$((SECONDS + TIMEOUT))
resumed=0
state=""
while :; do
  state="$(sinfo -h -n "$HOST" -o '%t' 2>/dev/null | head -n 1 || true)"
  case "$state" in
  idle | mix | alloc | comp) break ;;
  drain* | drng | down* | fail*)
    # e.g. a node drained by an earlier run ("Kill task failed", "Not responding")
    if [ "$resumed" = 0 ]; then
      log "node $HOST is '$state'; resuming it"
      scontrol update NodeName="$HOST" State=RESUME || true
      resumed=1
    fi
    ;;
  esac
  if [ "$SECONDS" -ge "$deadline" ]; then
    die "node $HOST not usable after ${TIMEOUT}s (state: '${state:-no answer from slurmctld}')"
  fi
  sleep 1
done

# Smoke test: one real batch job through slurmctld -> slurmd -> slurmstepd.
if ! out="$(timeout 60 sbatch --parsable --wait --quiet -o /dev/null -t 1 --mem 10 \
  -J slurm-setup-smoke --wrap true 2>&1)"; then
  die "smoke-test job failed: $out"
fi
log "SLURM is up: node $HOST is $state; partition: $(sinfo -h -o '%P' | head -n 1)"
