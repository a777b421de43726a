#!/usr/bin/env bash
# Stop the local SLURM test cluster started by tests/slurm/setup.sh.
#
#   tests/slurm/teardown.sh           # stop slurmd, slurmctld, slurmdbd, mariadbd, munged
#   tests/slurm/teardown.sh --purge   # also remove packages, configs, job/accounting state
#                                     # (to time setup.sh from scratch)
#
# Daemons are stopped only through their pid files (the ones setup.sh's daemons write).
set -uo pipefail

[[ $(id -u) -eq 0 ]] || { echo "[slurm-teardown] ERROR: must run as root" >&2; exit 1; }

stop() {
    local name="$1" pidfile="$2" pid
    [[ -f "$pidfile" ]] || { echo "[slurm-teardown] $name: no pid file"; return 0; }
    pid=$(cat "$pidfile" 2>/dev/null)
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "[slurm-teardown] $name (pid $pid) did not stop, sending SIGKILL"
            kill -9 "$pid" 2>/dev/null
        fi
        echo "[slurm-teardown] stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
}

stop slurmd    /run/slurmd.pid
stop slurmctld /run/slurmctld.pid
stop slurmdbd  /run/slurmdbd.pid
stop mariadbd  /run/mysqld/mysqld.pid
stop munged    /run/munge/munged.pid

if [[ "${1:-}" == "--purge" ]]; then
    echo "[slurm-teardown] purging packages and state"
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq slurmctld slurmd slurmdbd slurm-client \
        slurm-wlm-basic-plugins munge libmunge2 mariadb-server 'mariadb-server-core*' \
        mariadb-client 'mariadb-client-core*' mariadb-common mysql-common >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get autoremove -y -qq >/dev/null 2>&1 || true
    rm -rf /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm \
        /var/lib/mysql /etc/mysql /etc/munge /var/log/munge /var/lib/munge
fi
echo "[slurm-teardown] done"
