#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine (Debian 12, as root), for the tests in
# tests/e2e/test_slurm.py and for trying the SLURM profile without a real cluster (its sizes
# ask more than a small machine has: cut them to the node as tests/e2e/test_slurm.py does)
#
#   scripts/slurm/start-local-cluster.sh     # install if needed, configure, start; idempotent
#   scripts/slurm/stop-local-cluster.sh      # stop the daemons again
#
# What it sets up (Debian's slurm-wlm 22.05 and munge, daemons started directly: no systemd):
# - munged, slurmctld and slurmd on this host, all as root (SlurmUser=SlurmdUser=root);
# - one node with every CPU of the machine and its memory less 1 GiB, and one GRES `gpu`
#   without a device file: the scheduler accepts --gpus=1 / --gres=gpu:1 requests (the
#   GPU rules of a GPU preset), the job sees no CUDA device and runs on the CPU;
# - partitions `main` (the default) and `gpu`, the names profiles/slurm/config.yaml uses;
# - no accounting storage (sacct does not work); finished jobs stay visible to squeue for a
#   day (MinJobAge), which is what the executor plugin's `squeue` status command needs.
#
# Running it again while the cluster is up with the same configuration does nothing and
# exits 0 within a second or so; a changed configuration restarts the daemons. An
# /etc/slurm/slurm.conf that this script did not write is left alone (exit status 3).
# Logs: /var/log/slurm/{slurmctld,slurmd}.log, /var/log/munge/munged.log.
set -euo pipefail

CONF_DIR=/etc/slurm
RUN_DIR=/run/slurm
LOG_DIR=/var/log/slurm
SPOOL_DIR=/var/spool/slurm
NODE=$(hostname -s)

say() { echo "[start-local-cluster] $*"; }
die() { echo "[start-local-cluster] error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts daemons)"
# Never take over a real cluster's configuration: exit 3 (tests/e2e/test_slurm.py then skips).
MARK="# Written by scripts/slurm/start-local-cluster.sh"
if [ -e $CONF_DIR/slurm.conf ] && ! head -n 1 $CONF_DIR/slurm.conf | grep -qF "$MARK"; then
    echo "[start-local-cluster] $CONF_DIR/slurm.conf is not ours: leaving it alone" >&2
    exit 3
fi

# --- 1. packages (skipped when installed) ---------------------------------------------
need=()
for pkg in munge slurmctld slurmd slurm-client; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "apt-get not found: install ${need[*]} by hand"
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # the packages' scripts must not try to start services (there is no init system here)
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.local-cluster
    chmod +x /usr/sbin/policy-rc.d.local-cluster
    [ -e /usr/sbin/policy-rc.d ] || ln -s policy-rc.d.local-cluster /usr/sbin/policy-rc.d
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    [ "$(readlink /usr/sbin/policy-rc.d || true)" != policy-rc.d.local-cluster ] ||
        rm -f /usr/sbin/policy-rc.d
    rm -f /usr/sbin/policy-rc.d.local-cluster
fi

# --- 2. configuration -----------------------------------------------------------------
cpus=$(nproc)
# slurmd refuses a node that claims more memory than it has: take what it measures, less
# 1 GiB for the daemons and the login-node side of the workflow.
measured_mb=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
real_mb=$((measured_mb - 1024))

wanted=$(mktemp)
trap 'rm -f "$wanted" "$wanted.gres"' EXIT
cat > "$wanted" <<CONF
$MARK: a single-node test cluster.
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$SPOOL_DIR/ctld
SlurmdSpoolDir=$SPOOL_DIR/d
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups, no accounting: processes tracked by parent id, finished jobs kept in slurmctld
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
MinJobAge=86400
# CPUs and memory are consumable: a job gets the cores and MB it asks for
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mb Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
CONF
# A GPU the scheduler can hand out. slurmd 22.05 drops a GPU without a device file
# ("Removing file-less GPU"), so it gets /dev/null: nothing is bound (no cgroups), the job
# sees CUDA_VISIBLE_DEVICES set but no CUDA device, and torch runs on the CPU.
cat > "$wanted.gres" <<CONF
$MARK: one GPU in name only (no device).
NodeName=$NODE Name=gpu File=/dev/null
CONF

changed=0
cmp -s "$wanted" $CONF_DIR/slurm.conf || changed=1
cmp -s "$wanted.gres" $CONF_DIR/gres.conf || changed=1

running() { local pid; pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
# a state with a trailing * (not responding) does not count
node_up() { sinfo -h -n "$NODE" -o %T 2>/dev/null | grep -qxE 'idle|mixed|allocated|completing'; }

if [ $changed -eq 0 ] && running /run/munge/munged.pid && running $RUN_DIR/slurmctld.pid &&
    running $RUN_DIR/slurmd.pid && node_up; then
    say "already up: $(sinfo -h -o '%P %D %T %c CPUs %m MB %G' | tr '\n' ';')"
    exit 0
fi

if [ $changed -eq 1 ]; then
    say "writing $CONF_DIR/slurm.conf and gres.conf (node $NODE: $cpus CPUs, $real_mb MB, gpu:1)"
    mkdir -p $CONF_DIR
    install -m 644 "$wanted" $CONF_DIR/slurm.conf
    install -m 644 "$wanted.gres" $CONF_DIR/gres.conf
    # daemons started with an older configuration are restarted below
    for pidfile in $RUN_DIR/slurmd.pid $RUN_DIR/slurmctld.pid; do
        if running "$pidfile"; then
            kill "$(cat "$pidfile")"
            for _ in $(seq 50); do running "$pidfile" || break; sleep 0.1; done
        fi
    done
fi

# --- 3. daemons -------------------------------------------------------------------------
mkdir -p $RUN_DIR $LOG_DIR $SPOOL_DIR/ctld $SPOOL_DIR/d
if ! running /run/munge/munged.pid; then
    [ -s /etc/munge/munge.key ] || mungekey --create --keyfile /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
    install -d -o munge -g munge -m 755 /run/munge
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n </dev/null | unmunge >/dev/null || die "munged does not answer (/var/log/munge/munged.log)"

if ! running $RUN_DIR/slurmctld.pid; then
    say "starting slurmctld"
    slurmctld
fi
for _ in $(seq 100); do scontrol ping >/dev/null 2>&1 && break; sleep 0.1; done
scontrol ping | grep -q UP || die "slurmctld is not up ($LOG_DIR/slurmctld.log)"

if ! running $RUN_DIR/slurmd.pid; then
    say "starting slurmd"
    slurmd
fi
# a node that was down (e.g. the machine restarted under a running cluster) is resumed
for _ in $(seq 150); do
    node_up && break
    if sinfo -h -n "$NODE" -o %T | grep -qE 'down|drain'; then
        scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true
    fi
    sleep 0.2
done
node_up || die "node $NODE is not up: $(sinfo -h -N -o '%N %T %E') ($LOG_DIR/slurmd.log)"
say "up: $(sinfo -h -o '%P %D %T %c CPUs %m MB %G' | tr '\n' ';')"
