#!/usr/bin/env bash
# Bring up a single-node SLURM cluster (with sacct accounting) on localhost.
#
#   sudo tests/slurm/setup.sh        # first run: apt-get install + start (~1-2 min)
#   sudo tests/slurm/setup.sh        # already up: only health checks (~1 s)
#
# Target: a fresh Debian 12 (bookworm) container or VM, running as root, with
# no systemd and no cgroup delegation.  Installs Debian's slurm 22.05 packages
# (slurmctld, slurmd, slurmdbd, slurm-client), munge and mariadb-server, writes
# a one-node config (node "localhost", partition "debug", Default=YES) and
# starts every daemon directly (no service manager).  Idempotent: safe to run
# any number of times; a daemon that is already running is left alone, and a
# daemon is only restarted when its config file content changed.
#
# Environment knobs:
#   SLURM_CLUSTER_NAME   cluster name in slurm.conf / slurmdbd (default: localcluster)
#   SLURM_PARTITION      partition name (default: debug)
#   SLURM_SETUP_TIMEOUT  seconds to wait for each daemon (default: 60)
#   SLURM_SKIP_INSTALL=1 never call apt-get (fail if packages are missing)
#   SLURM_FAKE_GPU=0     do not configure the fake GPU (default 1: one GRES
#                        "gpu:fake:1" backed by /dev/null, so that jobs with
#                        --gpus=1 / --gpus=fake:1 can be scheduled and show up as
#                        gres/gpu in sacct; no real GPU is involved)
#
# Exit status: 0 when `sinfo` shows node "localhost" idle and `sacct` works;
# non-zero with an "ERROR:" line otherwise (logs are in /var/log/slurm,
# /var/log/munge and /var/log/mysql).
set -Eeuo pipefail

CLUSTER="${SLURM_CLUSTER_NAME:-localcluster}"
PARTITION="${SLURM_PARTITION:-debug}"
TIMEOUT="${SLURM_SETUP_TIMEOUT:-60}"
FAKE_GPU="${SLURM_FAKE_GPU:-1}"
NODE=localhost
DB_USER=slurm
DB_PASS=slurmdbpass
DB_NAME=slurm_acct_db
ETC=/etc/slurm
LOG=/var/log/slurm

T0=$(date +%s)
log() { printf '[slurm-setup %3ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
die() {
    printf '[slurm-setup] ERROR: %s\n' "$*" >&2
    for f in "$LOG"/slurmdbd.log "$LOG"/slurmctld.log "$LOG"/slurmd.log \
             /var/log/munge/munged.log /var/log/mysql/mariadbd.log; do
        if [[ -s "$f" ]]; then
            printf '  --- last lines of %s ---\n' "$f" >&2
            tail -n 15 "$f" >&2 || true
        fi
    done
    exit 1
}

# wait_for <description> <command...>: poll a command until it succeeds.
wait_for() {
    local what="$1"; shift
    local deadline=$(( $(date +%s) + TIMEOUT ))
    until "$@" >/dev/null 2>&1; do
        (( $(date +%s) < deadline )) || die "timed out after ${TIMEOUT}s waiting for: $what"
        sleep 0.5
    done
}

# running <exact process name>: is the daemon alive?
running() { pgrep -x "$1" >/dev/null 2>&1; }

# stop_daemon <name> <pidfile>: stop a daemon we started (by its pid file only).
stop_daemon() {
    local name="$1" pidfile="$2" pid
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        log "restarting $name (config changed): stopping pid $pid"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    rm -f "$pidfile"
}

# install_file <dest> <mode> <owner> : write stdin to <dest> if content differs.
# Returns 0 when the file changed, 1 when it was already up to date.
install_file() {
    local dest="$1" mode="$2" owner="$3" tmp
    tmp=$(mktemp)
    cat >"$tmp"
    if [[ -f "$dest" ]] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"; return 1
    fi
    install -m "$mode" -o "$owner" -g "$owner" "$tmp" "$dest"
    rm -f "$tmp"
    return 0
}

trap 'die "unexpected failure (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

[[ $(id -u) -eq 0 ]] || die "must run as root (slurm daemons and apt-get need root)"

# --------------------------------------------------------------------------
# 0. Fast path: everything already up?
# --------------------------------------------------------------------------
healthy() {
    running munged && running slurmdbd && running slurmctld && running slurmd \
        && [[ "$(sinfo -h -n "$NODE" -o %t 2>/dev/null)" =~ ^(idle|mix|alloc)$ ]] \
        && sacct -n -X -S now-1minute >/dev/null 2>&1
}

# --------------------------------------------------------------------------
# 1. Packages
# --------------------------------------------------------------------------
PKGS=(slurmctld slurmd slurmdbd slurm-client munge mariadb-server procps)
need_install=0
for bin in slurmctld slurmd slurmdbd sbatch sacct sacctmgr munged mariadbd pgrep; do
    command -v "$bin" >/dev/null 2>&1 || [[ -x /usr/sbin/$bin ]] || need_install=1
done
if (( need_install )); then
    [[ "${SLURM_SKIP_INSTALL:-0}" == 1 ]] && die "slurm packages missing and SLURM_SKIP_INSTALL=1"
    command -v apt-get >/dev/null || die "apt-get not found: need a Debian/Ubuntu system"
    log "installing ${PKGS[*]} (apt-get) ..."
    # Keep maintainer scripts from trying to start services (no systemd here).
    policy_created=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_created=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt_log=$(mktemp)
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PKGS[@]}"; } >"$apt_log" 2>&1; then
        tail -n 30 "$apt_log" >&2
        (( policy_created )) && rm -f /usr/sbin/policy-rc.d
        die "apt-get install failed (see output above)"
    fi
    (( policy_created )) && rm -f /usr/sbin/policy-rc.d
    rm -f "$apt_log"
    log "packages installed: $(dpkg-query -W -f='${Package} ${Version}\n' slurmctld | tr '\n' ' ')"
else
    log "slurm packages already installed"
fi
export PATH="/usr/sbin:/sbin:$PATH"

# --------------------------------------------------------------------------
# 2. Config files
# --------------------------------------------------------------------------
mkdir -p "$ETC" "$LOG" /var/spool/slurmctld /var/spool/slurmd /run/munge /var/log/munge /run/mysqld
chown munge:munge /run/munge /var/log/munge 2>/dev/null || true
chown mysql:mysql /run/mysqld 2>/dev/null || true

NCPU=$(nproc)
AVAIL_MB=$(awk '/^MemAvailable:/ {print int($2/1024)}' /proc/meminfo)
TOTAL_MB=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)
# A bit less than what is available now, rounded down to 1 GiB; never below 1 GiB.
MEM_MB=$(( (AVAIL_MB - 2000) / 1024 * 1024 ))
(( MEM_MB >= 1024 )) || MEM_MB=1024
# Keep the value of an existing config as long as it is still valid (slurmd only
# drains the node when RealMemory exceeds the physical memory), so that memory
# fluctuations do not rewrite slurm.conf and restart the daemons on every run.
OLD_MEM=$(sed -n 's/^NodeName=.* RealMemory=\([0-9]*\).*/\1/p' "$ETC/slurm.conf" 2>/dev/null | head -n1 || true)
if [[ -n "$OLD_MEM" ]] && (( OLD_MEM >= 1024 && OLD_MEM <= TOTAL_MB - 1000 )); then
    MEM_MB=$OLD_MEM
fi

if [[ "$FAKE_GPU" == 1 ]]; then
    GRES_CONF="GresTypes=gpu
AccountingStorageTRES=gres/gpu"
    NODE_GRES=" Gres=gpu:fake:1"
else
    GRES_CONF="" NODE_GRES=""
fi

changed_ctl=0 changed_dbd=0
if install_file "$ETC/slurm.conf" 0644 root <<EOF
# Generated by tests/slurm/setup.sh - single node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$NODE
# Everything runs as root in the test container.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
# No cgroups needed (no systemd / no cgroup delegation in CI containers).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
# Accounting (sacct) via slurmdbd -> local MariaDB.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$NODE
# Store the job comment: the snakemake plugin puts "rule_<name>" there.
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
MailProg=/bin/true
# GPUs as generic resources (a fake one unless SLURM_FAKE_GPU=0), recorded by sacct.
$GRES_CONF
# Scheduling: cores + memory are consumable, so jobs share the node.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Keep finished jobs visible to squeue for a while (sacct is the primary source).
MinJobAge=300
# A node that rebooted / registered with valid config becomes usable again.
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldTimeout=60
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
Waittime=0
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$MEM_MB State=UNKNOWN$NODE_GRES
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
then changed_ctl=1; log "wrote $ETC/slurm.conf (CPUs=$NCPU RealMemory=${MEM_MB}MB partition=$PARTITION)"; fi

if install_file "$ETC/gres.conf" 0644 root <<EOF
# Generated by tests/slurm/setup.sh
$( [[ "$FAKE_GPU" == 1 ]] && echo "NodeName=$NODE Name=gpu Type=fake File=/dev/null" )
EOF
then changed_ctl=1; log "wrote $ETC/gres.conf (fake GPU: $FAKE_GPU)"; fi

# cgroup.conf is read by slurmd even when no cgroup plugin is used in some
# versions; keep a harmless minimal one.
if install_file "$ETC/cgroup.conf" 0644 root <<EOF
# Generated by tests/slurm/setup.sh - cgroups are not used (proctrack/linuxproc, task/none).
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=no
EOF
then changed_ctl=1; log "wrote $ETC/cgroup.conf"; fi

if install_file "$ETC/slurmdbd.conf" 0600 root <<EOF
# Generated by tests/slurm/setup.sh
AuthType=auth/munge
DbdHost=$NODE
DbdPort=6819
SlurmUser=root
DebugLevel=info
LogFile=$LOG/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF
then changed_dbd=1; log "wrote $ETC/slurmdbd.conf"; fi

if healthy && (( !changed_ctl && !changed_dbd )); then
    log "done: cluster already up and config unchanged"
    exit 0
fi

if (( changed_dbd )); then stop_daemon slurmdbd /run/slurmdbd.pid; fi
if (( changed_ctl || changed_dbd )); then
    stop_daemon slurmd /run/slurmd.pid
    stop_daemon slurmctld /run/slurmctld.pid
    # Daemons not started by us (no pid file) at least re-read their config.
    if running slurmctld; then scontrol reconfigure >/dev/null 2>&1 || true; fi
fi

# --------------------------------------------------------------------------
# 3. munge
# --------------------------------------------------------------------------
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating munge key"
    if command -v mungekey >/dev/null; then
        mungekey --create --force
    else
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! running munged; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged </dev/null >/dev/null 2>&1 || die "munged failed to start"
fi
wait_for "munge round trip" sh -c 'munge -n | unmunge'
log "munge ok"

# --------------------------------------------------------------------------
# 4. MariaDB + accounting database
# --------------------------------------------------------------------------
if [[ ! -d /var/lib/mysql/mysql ]]; then
    log "initialising MariaDB data directory"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1 || die "mariadb-install-db failed"
fi
if ! running mariadbd; then
    log "starting mariadbd"
    mkdir -p /var/log/mysql && chown mysql:mysql /var/log/mysql
    setsid nohup /usr/sbin/mariadbd --user=mysql --skip-networking=0 --bind-address=127.0.0.1 \
        --log-error=/var/log/mysql/mariadbd.log </dev/null >/dev/null 2>&1 &
fi
wait_for "mariadb to accept connections" mariadb -e 'SELECT 1'
mariadb <<SQL || die "could not create the accounting database/user in MariaDB"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
log "mariadb ok (database $DB_NAME)"

# --------------------------------------------------------------------------
# 5. slurmdbd, cluster/account registration
# --------------------------------------------------------------------------
if ! running slurmdbd; then
    log "starting slurmdbd"
    /usr/sbin/slurmdbd </dev/null >>"$LOG/slurmdbd.stdout" 2>&1 || die "slurmdbd failed to start"
fi
wait_for "slurmdbd (sacctmgr show cluster)" sacctmgr -n -P show cluster
if [[ -z "$(sacctmgr -n -P show cluster "$CLUSTER" format=cluster)" ]]; then
    log "registering cluster $CLUSTER in slurmdbd"
    sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr add cluster failed"
fi
# sacctmgr adds account "root" with user root together with the cluster; make
# sure the association exists (the snakemake plugin validates accounts with
# `sacctmgr -n -s list user root`).
if [[ -z "$(sacctmgr -n -P show assoc cluster="$CLUSTER" user=root format=account)" ]]; then
    sacctmgr -i add user root account=root cluster="$CLUSTER" >/dev/null || die "sacctmgr add user root failed"
fi
log "slurmdbd ok (cluster $CLUSTER, accounts: $(sacctmgr -n -P show assoc user=root format=account | sort -u | tr '\n' ' '))"

# --------------------------------------------------------------------------
# 6. slurmctld + slurmd
# --------------------------------------------------------------------------
if ! running slurmctld; then
    log "starting slurmctld"
    /usr/sbin/slurmctld </dev/null >>"$LOG/slurmctld.stdout" 2>&1 || die "slurmctld failed to start"
fi
wait_for "slurmctld (scontrol ping)" sh -c 'scontrol ping | grep -q UP'
if ! running slurmd; then
    log "starting slurmd (node $NODE)"
    /usr/sbin/slurmd -N "$NODE" </dev/null >>"$LOG/slurmd.stdout" 2>&1 || die "slurmd failed to start"
fi

node_state() { sinfo -h -n "$NODE" -o %t 2>/dev/null | head -n1; }
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
    st=$(node_state)
    case "$st" in
        idle|mix|alloc) break ;;
        down*|drain*|drng*|fail*|inval*)
            # e.g. after a restart with changed config; reason in `sinfo -R`
            log "node state '$st' ($(sinfo -h -R -n "$NODE" -o %E)); resuming"
            scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
    esac
    (( $(date +%s) < deadline )) || die "node $NODE not idle after ${TIMEOUT}s (state: '${st:-?}'; $(sinfo -h -R -o '%E' 2>/dev/null))"
    sleep 1
done
log "node $NODE is $(node_state)"
wait_for "sacct" sacct -n -X -S now-1minute
log "done: SLURM $(sinfo -V | awk '{print $2}') up; partition $PARTITION, sacct works"
