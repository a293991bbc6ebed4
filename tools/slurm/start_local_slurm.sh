#!/usr/bin/env bash
# A one-node SLURM on this machine (Debian's packages), for the test of the HPC recipe
# (tests/experiment/test_slurm.py, docs/hpc.md): this host is the controller and the one
# compute node, with all its CPUs in the partition "debug". Run as root; idempotent: it
# installs only what is missing, rewrites slurm.conf only when it differs (restarting the
# daemons then), starts only the daemons that are not running, and returns once the node
# takes jobs -- in about a second when everything is already up.
#
# Made to run in a container without systemd or cgroup delegation: no cgroup plugin
# (processes tracked through /proc, no task binding), no accounting database (so no
# sacct), the daemons started by hand. Not a configuration for a real cluster.
set -euo pipefail

conf=/etc/slurm/slurm.conf
run=/run/slurm
log=/var/log/slurm

say() { echo "start_local_slurm: $*"; }
die() { echo "start_local_slurm: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts daemons)"

# 1. The packages, only when a program is missing.
missing=0
for prog in munged slurmctld slurmd sbatch; do
  command -v "$prog" >/dev/null 2>&1 || missing=1
done
if [ "$missing" -eq 1 ]; then
  say "installing slurmctld slurmd slurm-client munge (Debian's packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi

# 2. Munge, which signs every message between the commands and the daemons.
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
fi
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
  munge -n | unmunge >/dev/null || die "munged does not answer"
fi

# 3. slurm.conf: this host (by its short name, reached on the loopback address) is the
# controller and the node. Memory is rounded down to whole GiB less one, so that it stays
# the same from boot to boot (a changed file restarts the daemons).
host=$(hostname -s)
cpus=$(nproc)
mem_mib=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
real_mem=$(( (mem_mib / 1024 - 1) * 1024 ))
new=$(mktemp)
trap 'rm -f "$new"' EXIT
cat >"$new" <<EOF
# Written by tools/slurm/start_local_slurm.sh: a one-node SLURM for tests.
ClusterName=icsim-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$log/slurmctld.log
SlurmdLogFile=$log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
# No cgroups: processes found through /proc, tasks not bound to CPUs.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
# Cores are the consumable resource, so jobs of one core each share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
# A cancelled job's processes get SIGTERM, then SIGKILL after KillWait seconds.
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

# A daemon runs when its pid file names a live process of that name (a file left by a
# daemon that was killed may name another process by now).
running() {
  local pidfile=$run/$1.pid
  [ -s "$pidfile" ] && [ "$(cat "/proc/$(cat "$pidfile")/comm" 2>/dev/null)" = "$1" ]
}
stop_daemon() {  # by its pid file only
  if running "$1"; then
    kill "$(cat "$run/$1.pid")"
    for _ in $(seq 100); do running "$1" || break; sleep 0.1; done
  fi
}

install -d -m 0755 /etc/slurm
install -d -o slurm -g slurm -m 0755 "$run" "$log" /var/lib/slurm/slurmctld
install -d -m 0755 /var/lib/slurm/slurmd
if ! cmp -s "$new" "$conf"; then
  say "writing $conf"
  stop_daemon slurmd
  stop_daemon slurmctld
  install -m 0644 "$new" "$conf"
fi

# 4. The daemons, unless both run. The controller starts with a clean state (-c): jobs
# it recorded before it or the node's daemon went away (when a session ends, say) would
# otherwise be recovered as running, holding the CPUs with no process behind them.
if ! running slurmctld || ! running slurmd; then
  stop_daemon slurmd
  stop_daemon slurmctld
  say "starting slurmctld (clean state) and slurmd"
  slurmctld -c
  slurmd
fi

# 5. Ready when the controller answers and the node is idle (or running jobs).
state=""
for _ in $(seq 150); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
  case "$state" in idle*|mixed*|allocated*|completing*) break ;; esac
  sleep 0.2
done
case "$state" in
  idle*|mixed*|allocated*|completing*) ;;
  *) die "node $host is '${state:-not answering}' after 30 s; see $log/slurmctld.log and $log/slurmd.log" ;;
esac
say "$(sinfo --version): partition debug, node $host ($cpus CPUs) $state"
