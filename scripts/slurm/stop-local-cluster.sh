#!/usr/bin/env bash
# Stop the single-node SLURM cluster of start-local-cluster.sh: slurmd, slurmctld, munged,
# each by the process id in its pid file. Jobs still running are killed with slurmd; the
# packages and /etc/slurm stay, so the next start takes a few seconds.
#   scripts/slurm/stop-local-cluster.sh
set -euo pipefail

stop() {  # stop <name> <pid file>
    local pid
    pid=$(cat "$2" 2>/dev/null) || { echo "[stop-local-cluster] $1 not running"; return 0; }
    if kill -0 "$pid" 2>/dev/null; then
        echo "[stop-local-cluster] stopping $1 ($pid)"
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    else
        echo "[stop-local-cluster] $1 not running"
    fi
    rm -f "$2"
}

[ "$(id -u)" -eq 0 ] || { echo "[stop-local-cluster] error: must run as root" >&2; exit 1; }
stop slurmd /run/slurm/slurmd.pid
stop slurmctld /run/slurm/slurmctld.pid
stop munged /run/munge/munged.pid
